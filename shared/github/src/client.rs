//! The client: configuration, headers, the retry loop, redirects and pagination.

use crate::policy::{self, Decision};
use crate::rate_limit::{Counters, RateLimit, Stats};
use crate::{API_VERSION, Config, Error};
use bytes::Bytes;
use chrono::Utc;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, USER_AGENT};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

/// Redirect hops followed for one request (GitHub needs one, for log downloads).
const MAX_REDIRECTS: usize = 5;
/// Rate-limit sleeps within one call before giving up, whatever their length.
const MAX_RATE_LIMIT_WAITS: u32 = 4;
/// Pages followed by one list call (100 items a page).
const MAX_PAGES: usize = 1000;
/// `per_page` for list endpoints: GitHub's maximum.
const PER_PAGE: &str = "100";

/// Async GitHub REST client. Cheap to clone; clones share the connection pool, the rate-limit snapshot,
/// the token and the counters.
#[derive(Clone)]
pub struct GitHub {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// Validated, without a trailing slash in the path.
    base: Url,
    user_agent: HeaderValue,
    auth: RwLock<Option<HeaderValue>>,
    config: Config,
    rate_limit: Mutex<Option<RateLimit>>,
    counters: Counters,
}

/// A final (non-redirect) response with its body read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Where the body of a successful (2xx) response goes. Error bodies are always read into memory
/// (they are small, and the retry policy reads GitHub's message from them).
pub(crate) enum Sink<'a> {
    Memory,
    /// Streamed into `file` (rewound and truncated at the start of every attempt), refusing more
    /// than `max_bytes`: memory stays bounded whatever the size of a job log.
    File {
        file: &'a mut tokio::fs::File,
        max_bytes: u64,
    },
}

/// How one attempt (a request and its redirect hops) ended without a response.
enum AttemptError {
    Fatal(Error),
    Transport { error: reqwest::Error, post_safe: bool },
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub").field("base_url", &self.inner.base.as_str()).finish_non_exhaustive()
    }
}

impl GitHub {
    /// Validates the configuration and builds the client. Nothing is sent.
    pub fn new(config: Config) -> Result<Self, Error> {
        let base = config.validated_base()?;
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .ok()
            .filter(|_| !config.user_agent.trim().is_empty())
            .ok_or_else(|| Error::InvalidConfig("user_agent must be a non-empty header value".into()))?;
        let auth = bearer(&config.token)?;
        let http = reqwest::Client::builder()
            // Redirects are followed by hand: only the API origin gets the token and the GitHub
            // headers, an https → http downgrade is refused, and a signed log URL never reaches a log line.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| Error::InvalidConfig(format!("cannot build the http client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                user_agent,
                auth: RwLock::new(auth),
                config,
                rate_limit: Mutex::new(None),
                counters: Counters::default(),
            }),
        })
    }

    /// The base URL requests are built on, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str().trim_end_matches('/')
    }

    /// The primary rate limit from the latest API response that carried `x-ratelimit-*` headers.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.inner.rate_limit.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Requests, retries and rate-limit waits since the client was built.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// Whether requests carry a token. Without one, GitHub answers only public reads, at 60 an hour.
    pub fn has_credentials(&self) -> bool {
        self.inner.auth.read().unwrap_or_else(PoisonError::into_inner).is_some()
    }

    /// Replaces the token for later requests (GitHub App installation tokens expire after an hour).
    pub fn set_token(&self, token: &str) -> Result<(), Error> {
        let auth = bearer(token)?;
        *self.inner.auth.write().unwrap_or_else(PoisonError::into_inner) = auth;
        Ok(())
    }

    /// `{base}/repos/{owner}/{name}/{tail}`, after checking that `repo` is a plain `owner/name`.
    pub(crate) fn repo_url(&self, repo: &str, tail: &str) -> Result<Url, Error> {
        if !valid_repo(repo) {
            return Err(Error::InvalidRepo(repo.to_owned()));
        }
        let raw = match tail {
            "" => format!("{}/repos/{repo}", self.base_url()),
            tail => format!("{}/repos/{repo}/{tail}", self.base_url()),
        };
        Url::parse(&raw).map_err(|e| Error::InvalidConfig(format!("cannot build a request url: {e}")))
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, Error> {
        self.call_json(Method::GET, url).await
    }

    /// Sends without a body and decodes the JSON answer.
    pub(crate) async fn call_json<T: DeserializeOwned>(&self, method: Method, url: Url) -> Result<T, Error> {
        let label = label(&method, &url);
        let reply = self.send(method, url, None).await?;
        decode(&label, &reply.body)
    }

    pub(crate) async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: &B,
    ) -> Result<T, Error> {
        let label = label(&method, &url);
        // Cannot fail for this crate's request types (no maps with non-string keys); mapped, not unwrapped.
        let body = serde_json::to_vec(body).map_err(|source| Error::Decode { request: label.clone(), source })?;
        let reply = self.send(method, url, Some(Bytes::from(body))).await?;
        decode(&label, &reply.body)
    }

    /// For endpoints answering 201/204 with nothing we need.
    pub(crate) async fn send_empty(&self, method: Method, url: Url) -> Result<(), Error> {
        self.send(method, url, None).await.map(drop)
    }

    /// GETs `url` with `per_page=100&page=1`, then follows `Link: <...>; rel="next"` until there is none.
    /// `items` takes the list out of one page's envelope.
    pub(crate) async fn paginate<P: DeserializeOwned, T>(
        &self,
        mut url: Url,
        items: impl Fn(P) -> Vec<T>,
    ) -> Result<Vec<T>, Error> {
        url.query_pairs_mut().append_pair("per_page", PER_PAGE).append_pair("page", "1");
        let first = label(&Method::GET, &url);
        let failed = |reason: &str| Error::Pagination { request: first.clone(), reason: reason.to_owned() };
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            seen.insert(url.to_string());
            let page_label = label(&Method::GET, &url);
            let reply = self.send(Method::GET, url.clone(), None).await?;
            let batch = items(decode(&page_label, &reply.body)?);
            let empty = batch.is_empty();
            all.extend(batch);
            let Some(next) = policy::next_link(&reply.headers) else { return Ok(all) };
            if empty {
                return Ok(all);
            }
            let next = url.join(&next).map_err(|_| failed("the next link is not a url"))?;
            if next.origin() != self.inner.base.origin() {
                // Following it would hand the token to another host.
                return Err(failed("the next link points outside the api origin"));
            }
            if !seen.insert(next.to_string()) {
                return Err(failed("the next link repeats a page already fetched"));
            }
            url = next;
        }
        Err(failed(&format!("more than {MAX_PAGES} pages")))
    }

    /// One call: waits for an exhausted quota, sends (following redirects), and retries or waits as
    /// the policy says. See the crate documentation for the policy.
    pub(crate) async fn send(&self, method: Method, url: Url, body: Option<Bytes>) -> Result<Reply, Error> {
        self.send_to(method, url, body, &mut Sink::Memory).await
    }

    /// [`send`](Self::send), with a successful body going to `sink`.
    pub(crate) async fn send_to(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        sink: &mut Sink<'_>,
    ) -> Result<Reply, Error> {
        let config = &self.inner.config;
        let label = label(&method, &url);
        // PATCH is repeated too: our patches set absolute values, so applying one twice is harmless.
        let idempotent = method != Method::POST;
        let mut retries = 0u32;
        let mut rate_limit_waits = 0u32;
        loop {
            self.wait_for_quota(&label).await?;
            let decision = match self.attempt(&method, &url, body.as_ref(), sink).await {
                Ok((reply, api_origin)) => {
                    let verdict = policy::classify_response(
                        reply.status,
                        &reply.headers,
                        &reply.body,
                        api_origin,
                        Utc::now(),
                        rate_limit_waits,
                    );
                    match verdict {
                        None => return Ok(reply),
                        Some(decision) => decision,
                    }
                }
                Err(AttemptError::Fatal(error)) => return Err(error),
                Err(AttemptError::Transport { error, post_safe }) => {
                    Decision::Retry { error: Error::Transport(error), post_safe, after: None }
                }
            };
            match decision {
                Decision::Fail(error) => return Err(error),
                Decision::RateLimited { wait, error } => {
                    if wait > config.max_wait || rate_limit_waits >= MAX_RATE_LIMIT_WAITS {
                        self.inner.counters.rate_limited();
                        tracing::warn!(
                            request = %label,
                            wait_s = wait.as_secs_f64(),
                            max_wait_s = config.max_wait.as_secs_f64(),
                            "github rate limit: giving up ({error})"
                        );
                        return Err(error);
                    }
                    rate_limit_waits += 1;
                    self.inner.counters.wait(wait);
                    tracing::warn!(
                        request = %label,
                        wait_s = wait.as_secs_f64(),
                        "github rate limit: waiting before retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                Decision::Retry { error, post_safe, after } => {
                    if !idempotent && !post_safe {
                        tracing::warn!(request = %label, "not retrying: the request may have been applied ({error})");
                        return Err(error);
                    }
                    if retries >= config.max_retries {
                        tracing::warn!(request = %label, retries, "giving up after retries ({error})");
                        return Err(error);
                    }
                    let mut delay =
                        policy::backoff_delay(retries, config.backoff_base, config.backoff_cap, policy::jitter());
                    if let Some(after) = after {
                        if after > config.max_wait {
                            tracing::warn!(
                                request = %label,
                                retry_after_s = after.as_secs(),
                                "giving up: retry-after beyond max_wait ({error})"
                            );
                            return Err(error);
                        }
                        delay = delay.max(after);
                    }
                    retries += 1;
                    self.inner.counters.retry();
                    tracing::warn!(
                        request = %label,
                        retry = retries,
                        delay_ms = delay.as_millis() as u64,
                        "retrying after {error}"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// When the last snapshot says the quota is spent and the reset lies ahead, sleep until then
    /// (within `max_wait`) instead of sending a request GitHub will refuse.
    async fn wait_for_quota(&self, label: &str) -> Result<(), Error> {
        let Some(snapshot) = self.rate_limit() else { return Ok(()) };
        let Some(wait) = snapshot.exhausted_for(Utc::now()) else { return Ok(()) };
        if wait > self.inner.config.max_wait {
            self.inner.counters.rate_limited();
            tracing::warn!(request = %label, reset_at = %snapshot.reset_at, "github quota exhausted: not sending");
            return Err(Error::RateLimited { reset_at: Some(snapshot.reset_at), retry_after: None });
        }
        self.inner.counters.wait(wait);
        tracing::warn!(
            request = %label,
            wait_s = wait.as_secs_f64(),
            "github quota exhausted: waiting for the reset"
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Sends once and follows redirects by hand. Returns the final response and whether it came from
    /// the API origin.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Bytes>,
        sink: &mut Sink<'_>,
    ) -> Result<(Reply, bool), AttemptError> {
        let mut url = url.clone();
        let mut last_status = StatusCode::FOUND;
        for hop in 0..=MAX_REDIRECTS {
            let api_origin = url.origin() == self.inner.base.origin();
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .timeout(self.inner.config.timeout)
                .header(USER_AGENT, self.inner.user_agent.clone());
            if api_origin {
                request =
                    request.header(ACCEPT, "application/vnd.github+json").header("x-github-api-version", API_VERSION);
                if let Some(auth) = self.inner.auth.read().unwrap_or_else(PoisonError::into_inner).clone() {
                    request = request.header(AUTHORIZATION, auth);
                }
                if let Some(body) = body {
                    request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
                }
            }
            self.inner.counters.request();
            let started = Instant::now();
            let shown = if api_origin { url.path().to_owned() } else { format!("redirect to {}", host_of(&url)) };
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    tracing::debug!(%method, target = %shown, hop, "github request failed: {error}");
                    return Err(transport(error, api_origin));
                }
            };
            let status = response.status();
            if api_origin {
                if let Some(snapshot) = RateLimit::from_headers(response.headers()) {
                    *self.inner.rate_limit.lock().unwrap_or_else(PoisonError::into_inner) = Some(snapshot);
                }
            }
            tracing::debug!(
                %method,
                target = %shown,
                hop,
                status = status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "github request"
            );
            if status.is_redirection() {
                last_status = status;
                if let Some(next) = redirect_target(method, status, &url, response.headers(), api_origin)? {
                    url = next;
                    continue;
                }
            }
            let headers = response.headers().clone();
            let body = match sink {
                Sink::File { file, max_bytes } if status.is_success() => {
                    stream_to_file(response, file, *max_bytes, api_origin).await?;
                    Bytes::new()
                }
                _ => response.bytes().await.map_err(|error| transport(error, api_origin))?,
            };
            return Ok((Reply { status, headers, body }, api_origin));
        }
        Err(AttemptError::Fatal(Error::Status { status: last_status.as_u16(), message: "too many redirects".into() }))
    }
}

/// Writes the body of `response` into `file` from its start, chunk by chunk.
async fn stream_to_file(
    mut response: reqwest::Response,
    file: &mut tokio::fs::File,
    max_bytes: u64,
    api_origin: bool,
) -> Result<(), AttemptError> {
    use tokio::io::{AsyncSeekExt, AsyncWriteExt};
    let io = |e: std::io::Error| AttemptError::Fatal(Error::Io(e));
    file.set_len(0).await.map_err(io)?;
    file.rewind().await.map_err(io)?;
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|error| transport(error, api_origin))? {
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(AttemptError::Fatal(Error::TooLarge { limit: max_bytes }));
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)
}

/// `Ok(None)`: not a redirect this client follows; the 3xx becomes the final response.
fn redirect_target(
    method: &Method,
    status: StatusCode,
    current: &Url,
    headers: &HeaderMap,
    api_origin: bool,
) -> Result<Option<Url>, AttemptError> {
    let fail = |message: &str| AttemptError::Fatal(Error::Status { status: status.as_u16(), message: message.into() });
    let keeps_method = matches!(status, StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT);
    let follows = match status {
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER => *method == Method::GET,
        _ => keeps_method,
    };
    if !follows {
        return Ok(None);
    }
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| fail("redirect without a location header"))?;
    let next = current.join(location).map_err(|_| fail("redirect to an invalid location"))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(fail("redirect to a non-http location"));
    }
    if current.scheme() == "https" && next.scheme() == "http" {
        return Err(fail("refusing a redirect from https to http"));
    }
    if *method != Method::GET && keeps_method && (!api_origin || next.origin() != current.origin()) {
        // A body is only ever replayed to the API origin.
        return Err(fail("refusing to replay a request body to another origin"));
    }
    Ok(Some(next))
}

fn transport(error: reqwest::Error, api_origin: bool) -> AttemptError {
    // Redirect targets are signed URLs: keep them out of error messages.
    let error = if api_origin { error } else { error.without_url() };
    match policy::classify_transport(&error) {
        Some(post_safe) => AttemptError::Transport { error, post_safe },
        None => AttemptError::Fatal(Error::Transport(error)),
    }
}

fn bearer(token: &str) -> Result<Option<HeaderValue>, Error> {
    let token = token.trim();
    if token.is_empty() {
        return Ok(None);
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Error::InvalidConfig("the token contains characters not allowed in a header".into()))?;
    value.set_sensitive(true);
    Ok(Some(value))
}

fn decode<T: DeserializeOwned>(request: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|source| Error::Decode { request: request.to_owned(), source })
}

/// `GET /repos/o/r/actions/runs/1`: for logs and errors (the query is left out).
fn label(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => String::new(),
    }
}

/// `owner/name` with GitHub's alphabets: owners are alphanumerics and `-`, names add `.` and `_`.
fn valid_repo(repo: &str) -> bool {
    let Some((owner, name)) = repo.split_once('/') else { return false };
    let owner_ok = (1..=39).contains(&owner.len()) && owner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let name_ok = (1..=100).contains(&name.len())
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    owner_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_are_checked() {
        for good in ["octo-org/octo-repo", "a/b", "rust-lang/rust.vim", "o/.github", "o/x_y"] {
            assert!(valid_repo(good), "{good}");
        }
        for bad in ["", "a", "a/", "/b", "a/b/c", "../b", "a/..", "a/.", "a b/c", "a/b?x=1", "a/b#f", "a/%2e%2e"] {
            assert!(!valid_repo(bad), "{bad}");
        }
    }

    #[test]
    fn urls_are_built_under_the_base_path() -> Result<(), Error> {
        let gh = GitHub::new(Config::new("https://ghe.example.com/api/v3/", "t"))?;
        assert_eq!(gh.base_url(), "https://ghe.example.com/api/v3");
        let url = gh.repo_url("o/r", "actions/runs/1")?;
        assert_eq!(url.as_str(), "https://ghe.example.com/api/v3/repos/o/r/actions/runs/1");
        let gh = GitHub::new(Config::new("https://api.github.com/", "t"))?;
        assert_eq!(gh.repo_url("o/r", "issues")?.as_str(), "https://api.github.com/repos/o/r/issues");
        assert!(matches!(gh.repo_url("../x", "issues"), Err(Error::InvalidRepo(_))));
        Ok(())
    }

    #[test]
    fn tokens_with_newlines_are_rejected_and_never_shown() {
        assert!(matches!(GitHub::new(Config::new("https://x", "a\nb")), Err(Error::InvalidConfig(_))));
        let gh = GitHub::new(Config::new("https://x", "ghp_secret")).expect("client");
        assert!(!format!("{gh:?}").contains("ghp_secret"));
    }

    fn headers(location: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LOCATION, HeaderValue::from_str(location).expect("header"));
        h
    }

    #[test]
    fn redirect_rules() {
        let api = Url::parse("https://api.github.com/repos/o/r/actions/jobs/1/logs").expect("url");
        let blob = "https://blob.example.net/logs/1?sig=abc";
        let found = StatusCode::FOUND;
        let ok = redirect_target(&Method::GET, found, &api, &headers(blob), true);
        assert!(matches!(ok, Ok(Some(ref u)) if u.as_str() == blob));
        let downgrade = redirect_target(&Method::GET, found, &api, &headers("http://blob.example.net/x"), true);
        assert!(matches!(downgrade, Err(AttemptError::Fatal(Error::Status { status: 302, .. }))));
        let post = redirect_target(&Method::POST, found, &api, &headers(blob), true);
        assert!(matches!(post, Ok(None)));
        let replay = redirect_target(&Method::POST, StatusCode::TEMPORARY_REDIRECT, &api, &headers(blob), true);
        assert!(matches!(replay, Err(AttemptError::Fatal(_))));
        let moved = redirect_target(
            &Method::POST,
            StatusCode::TEMPORARY_REDIRECT,
            &api,
            &headers("/repos/o/renamed/actions/runs/1/rerun"),
            true,
        );
        assert!(matches!(moved, Ok(Some(ref u)) if u.path() == "/repos/o/renamed/actions/runs/1/rerun"));
        let missing = redirect_target(&Method::GET, found, &api, &HeaderMap::new(), true);
        assert!(matches!(missing, Err(AttemptError::Fatal(_))));
    }
}
