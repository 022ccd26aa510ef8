//! GitHub REST client for the healer and logscan.
//!
//! [`GitHub`] talks to api.github.com, a GitHub Enterprise Server (`https://HOST/api/v3`) or the
//! project's simulator on loopback, with `Authorization: Bearer <token>`,
//! `Accept: application/vnd.github+json` and `X-GitHub-Api-Version: 2022-11-28`. It covers what the
//! platform calls: runs and jobs ([`GitHub::get_run`], [`GitHub::get_job`], [`GitHub::list_jobs`]),
//! logs ([`GitHub::job_log`], [`GitHub::run_logs_zip`]), reruns ([`GitHub::rerun`],
//! [`GitHub::rerun_failed_jobs`]), caches ([`GitHub::list_caches`], [`GitHub::delete_cache`],
//! [`GitHub::delete_caches_by_key`]), issues ([`GitHub::list_issues`], [`GitHub::create_issue`],
//! [`GitHub::update_issue`], [`GitHub::comment_issue`]) and check runs ([`GitHub::create_check_run`], [`GitHub::update_check_run`]).
//! Job logs can also be streamed to a file with a size limit ([`GitHub::job_log_to_file`]).
//!
//! Auth is a token (personal or installation), or a GitHub App ([`AppCredentials`]: an RS256 JWT
//! from the App's private key) whose per-installation clients come from [`Installations`], with
//! their installation tokens cached and refreshed five minutes before they expire.
//!
//! # What happens to one call
//!
//! 1. **Quota check.** If the last response said `x-ratelimit-remaining: 0` and its
//!    `x-ratelimit-reset` lies ahead, the client sleeps until the reset when that is within
//!    [`Config::max_wait`], and otherwise returns [`Error::RateLimited`] without sending.
//! 2. **Send**, with the per-request [`Config::timeout`]. Redirects are followed by hand (at most 5
//!    hops): the token and the GitHub headers go to the API origin only, so the signed blob URL of a
//!    log download never sees them; an https → http redirect is refused; 301/302/303 are followed
//!    for GET only, 307/308 replay the method and body to the API origin only.
//! 3. **Rate limits** (403 or 429, any method, since GitHub did not act on the request):
//!    - `retry-after: N` → sleep N s and resend;
//!    - `x-ratelimit-remaining: 0` → sleep until `x-ratelimit-reset` (1 s if that is already past) and resend;
//!    - otherwise a 429, or a 403 whose message mentions a (secondary) rate limit → sleep at least
//!      60 s, doubling on each further hit within the same call, as GitHub asks.
//!
//!    A wait longer than `max_wait` is not slept: the call returns [`Error::RateLimited`] at once.
//!    At most 4 rate-limit sleeps per call. Any other 403 is [`Error::Forbidden`].
//! 4. **Retries** of 5xx and transport errors, up to [`Config::max_retries`] times, after
//!    exponential backoff with jitter (`backoff_base` doubling up to `backoff_cap`, half fixed, half
//!    random; a `retry-after` on a 5xx is honoured as a minimum):
//!    - GET, DELETE and PATCH: 500, 502, 503, 504, and any transport error (connect, timeout, reset).
//!      PATCH bodies set absolute values, so applying one twice is harmless.
//!    - **POST** (rerun, rerun failed jobs, create issue, comment, create check run): only 502, 503,
//!      504 (a gateway answered; the request most likely never reached the application) and connect
//!      errors (refused, DNS, connect timeout: nothing was sent). A 500 or a timeout after sending
//!      may have been applied, and repeating it could rerun a workflow twice or open a duplicate
//!      issue, so it is returned to the caller, who can check and decide. A 504 is the residual risk:
//!      GitHub may still finish a request its gateway timed out.
//!    - Other 5xx (501, 505, ...) are not retried.
//! 5. **Errors**: 401 [`Error::Unauthorized`], 404 [`Error::NotFound`], other 4xx [`Error::Status`]
//!    with GitHub's `message` (and the `errors` of a 422), 5xx after retries [`Error::Server`],
//!    transport failures [`Error::Transport`], unexpected bodies [`Error::Decode`].
//!
//! Every API response updates the rate-limit snapshot ([`GitHub::rate_limit`]); requests, retries
//! and waits are counted ([`GitHub::stats`]). Each request is logged at `debug`, each retry and wait
//! at `warn` (path only: never the token, never a signed URL).
//!
//! List calls fetch every page: `per_page=100&page=1`, then the `Link: <...>; rel="next"` URL, which
//! must stay on the API origin (the token is never sent elsewhere).

mod actions;
mod app;
mod caches;
mod checks;
mod client;
mod config;
mod error;
mod issues;
mod policy;
mod rate_limit;

pub use actions::{Job, Step, WorkflowRun};
pub use app::{AppCredentials, Installations};
pub use caches::ActionsCache;
pub use checks::{CheckConclusion, CheckOutput, CheckRun, CheckRunOutput, CheckRunPatch, CheckStatus, NewCheckRun};
pub use client::GitHub;
pub use config::{API_VERSION, Config, GITHUB_API_URL};
pub use error::Error;
pub use issues::{Issue, IssueComment, IssuePatch, IssueQuery, IssueState, IssueStateFilter, NewIssue};
pub use rate_limit::{RateLimit, Stats};
