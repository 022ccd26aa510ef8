//! Webhook payloads and REST bodies, rendered from the [`model`](crate::model) records with the
//! shape GitHub gives them: same field names, nesting, nullability and `*_url` fields.
//!
//! - [`run_object`] is the `workflow_run` object: the `workflow_run` of a webhook and the body of
//!   `GET /repos/{owner}/{repo}/actions/runs/{run_id}`, so a delivery and a later API read agree.
//! - [`job_object`] is the `workflow_job` object, likewise for `GET .../actions/jobs/{job_id}`.
//! - [`workflow_run_event`] and [`workflow_job_event`] are the webhook bodies; [`sign`] gives their
//!   `X-Hub-Signature-256`.
//! - [`repository_object`] is the event's `repository` (and our `GET /repos/{owner}/{repo}`).
//!
//! Everything GitHub would assign that the model does not carry (repository, owner, installation
//! and pull request ids, node ids, creation dates, the default branch) is derived from names by
//! hashing, so the same record always renders to the same JSON. The building blocks
//! ([`RepoIdentity`], [`user_object`], [`node_id`], [`pseudo_sha`], [`timestamp`], ...) are public
//! for other generators of GitHub-shaped data, such as the root crate's benchmark fixtures.
//!
//! The payloads validate against the JSON Schemas of octokit/webhooks (see this crate's
//! `tests/it/payloads.rs`).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use ring::hmac;
use serde_json::{Map, Value, json};

use crate::model::{JobInfo, PullRequestRef, RunInfo, Status, StepInfo};
pub use crate::rng::fnv1a;

const API: &str = "https://api.github.com";
const WEB: &str = "https://github.com";

/// The `workflow_run` object for `run`: the webhook's `workflow_run` and the REST body of
/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}`.
///
/// A pull-request run lists its pull request in `pull_requests`, except when the head is a fork
/// (GitHub leaves the list empty then); `head_repository` is the repository the head commit lives
/// in, the fork for outside contributions. `previous_attempt_url` points at attempt `n - 1` from
/// the second attempt on.
pub fn run_object(run: &RunInfo) -> Value {
    let repo = RepoIdentity::new(&run.repo);
    let run_id = run.run_id;
    let run_api = format!("{}/actions/runs/{run_id}", repo.api_url);
    let previous_attempt_url =
        if run.attempt > 1 { json!(format!("{run_api}/attempts/{}", run.attempt - 1)) } else { Value::Null };
    let (pull_requests, head_repository) = match &run.pull_request {
        Some(pr) if pr.head_repo != run.repo => (vec![], repository_lite(&pr.head_repo, true)),
        Some(pr) => (vec![pull_request_ref(&repo, pr)], repository_lite(&run.repo, false)),
        None => (vec![], repository_lite(&run.repo, false)),
    };
    let actor = user_object(&run.actor);
    json!({
        "id": run_id,
        "name": run.workflow_name,
        "node_id": node_id("WorkflowRun", run_id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.workflow_path,
        "display_title": run.display_title,
        "run_number": run.run_number,
        "event": run.event,
        "status": run.status.label(),
        "conclusion": run.conclusion,
        "workflow_id": run.workflow_id,
        "check_suite_id": run.check_suite_id,
        "check_suite_node_id": node_id("CheckSuite", run.check_suite_id),
        "url": run_api,
        "html_url": format!("{}/actions/runs/{run_id}", repo.html_url),
        "pull_requests": pull_requests,
        "created_at": timestamp(run.created_at),
        "updated_at": timestamp(run.updated_at),
        "actor": actor,
        "run_attempt": run.attempt,
        "referenced_workflows": [],
        "run_started_at": timestamp(run.run_started_at),
        "triggering_actor": actor,
        "jobs_url": format!("{run_api}/jobs"),
        "logs_url": format!("{run_api}/logs"),
        "check_suite_url": format!("{}/check-suites/{}", repo.api_url, run.check_suite_id),
        "artifacts_url": format!("{run_api}/artifacts"),
        "cancel_url": format!("{run_api}/cancel"),
        "rerun_url": format!("{run_api}/rerun"),
        "previous_attempt_url": previous_attempt_url,
        "workflow_url": format!("{}/actions/workflows/{}", repo.api_url, run.workflow_id),
        "head_commit": head_commit(run),
        "repository": repository_lite(&run.repo, false),
        "head_repository": head_repository,
    })
}

/// The `workflow_job` object for `job`: the webhook's `workflow_job` and the REST body of
/// `GET /repos/{owner}/{repo}/actions/jobs/{job_id}`. Runner fields are `null` until a runner
/// picks the job up.
pub fn job_object(job: &JobInfo) -> Value {
    let repo = RepoIdentity::new(&job.repo);
    let job_id = job.job_id;
    let runner = job.runner.as_ref();
    json!({
        "id": job_id,
        "run_id": job.run_id,
        "workflow_name": job.workflow_name,
        "head_branch": job.head_branch,
        "run_url": format!("{}/actions/runs/{}", repo.api_url, job.run_id),
        "run_attempt": job.run_attempt,
        "node_id": node_id("CheckRun", job_id),
        "head_sha": job.head_sha,
        "url": format!("{}/actions/jobs/{job_id}", repo.api_url),
        "html_url": format!("{}/actions/runs/{}/job/{job_id}", repo.html_url, job.run_id),
        "status": job.status.label(),
        "conclusion": job.conclusion,
        "created_at": timestamp(job.created_at),
        "started_at": timestamp(job.started_at),
        "completed_at": job.completed_at.map(timestamp),
        "name": job.name,
        "steps": job.steps.iter().map(step_object).collect::<Vec<_>>(),
        "check_run_url": format!("{}/check-runs/{job_id}", repo.api_url),
        "labels": job.labels,
        "runner_id": runner.map(|r| r.id),
        "runner_name": runner.map(|r| r.name.as_str()),
        "runner_group_id": runner.map(|r| r.group_id),
        "runner_group_name": runner.map(|r| r.group_name.as_str()),
    })
}

/// A `workflow_run` webhook body for `action` (`requested`, `in_progress` or `completed`).
/// The status and conclusion are the run's own: GitHub sends `requested` with status `queued`,
/// and `completed` with a conclusion.
pub fn workflow_run_event(action: &str, run: &RunInfo) -> Value {
    let repo = RepoIdentity::new(&run.repo);
    let mut body = Map::new();
    body.insert("action".into(), json!(action));
    body.insert("workflow_run".into(), run_object(run));
    body.insert("workflow".into(), workflow_object(run));
    event_context(&mut body, &repo, &run.actor);
    Value::Object(body)
}

/// A `workflow_job` webhook body for `action` (`queued`, `waiting`, `in_progress` or `completed`).
///
/// The model has no `waiting` status: a job waiting for a deployment approval is `queued` in the
/// model and reported with status `waiting` in the `waiting` delivery, as GitHub does. The sender
/// is the repository's [`RepoIdentity::default_actor`], since a job record does not say who
/// triggered its run.
pub fn workflow_job_event(action: &str, job: &JobInfo) -> Value {
    let repo = RepoIdentity::new(&job.repo);
    let mut object = job_object(job);
    if action == "waiting" && job.status == Status::Queued {
        object["status"] = json!("waiting");
    }
    let mut body = Map::new();
    body.insert("action".into(), json!(action));
    body.insert("workflow_job".into(), object);
    let sender = repo.default_actor();
    event_context(&mut body, &repo, &sender);
    Value::Object(body)
}

/// The full repository object for `full_name` (`owner/name`): an event's `repository`, with its
/// counters, dates, flags and every `*_url` template. Also served for `GET /repos/{owner}/{repo}`.
pub fn repository_object(full_name: &str) -> Value {
    let repo = RepoIdentity::new(full_name);
    let Value::Object(mut m) = repository_lite(full_name, false) else {
        return Value::Null;
    };
    let h = repo.id;
    let stars = h % 5_000;
    let issues = h % 120;
    let fields = [
        ("created_at", json!(timestamp(repo.created_at))),
        ("updated_at", json!(timestamp(repo.created_at + Duration::days(400)))),
        ("pushed_at", json!(timestamp(repo.created_at + Duration::days(401)))),
        ("git_url", json!(format!("git://github.com/{full_name}.git"))),
        ("ssh_url", json!(format!("git@github.com:{full_name}.git"))),
        ("clone_url", json!(format!("{}.git", repo.html_url))),
        ("svn_url", json!(repo.html_url)),
        ("mirror_url", Value::Null),
        ("license", Value::Null),
        ("topics", json!([])),
        ("custom_properties", json!({})),
        ("has_downloads", json!(true)),
        ("has_wiki", json!(false)),
        ("has_pages", json!(false)),
        ("has_projects", json!(false)),
        ("has_discussions", json!(false)),
        ("is_template", json!(false)),
        ("web_commit_signoff_required", json!(false)),
        ("homepage", Value::Null),
        ("size", json!(100 + h % 90_000)),
        ("stargazers_count", json!(stars)),
        ("watchers_count", json!(stars)),
        ("language", json!("Rust")),
        ("has_issues", json!(true)),
        ("forks_count", json!(stars / 10)),
        ("archived", json!(false)),
        ("disabled", json!(false)),
        ("open_issues_count", json!(issues)),
        ("visibility", json!("public")),
        ("forks", json!(stars / 10)),
        ("open_issues", json!(issues)),
        ("watchers", json!(stars)),
        ("default_branch", json!(repo.default_branch)),
    ];
    for (field, value) in fields {
        m.insert(field.into(), value);
    }
    Value::Object(m)
}

/// `X-Hub-Signature-256` value for `body`: `sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// What GitHub would have assigned a repository, derived from its `owner/name`.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoIdentity {
    pub full_name: String,
    pub owner: String,
    pub name: String,
    pub id: u64,
    pub owner_id: u64,
    /// Organisations and users both own repositories; which one is picked stably from the owner.
    pub owner_is_org: bool,
    /// The id of our GitHub App's installation on the owner.
    pub installation_id: u64,
    pub default_branch: &'static str,
    pub created_at: DateTime<Utc>,
    /// `https://api.github.com/repos/{owner}/{name}`.
    pub api_url: String,
    /// `https://github.com/{owner}/{name}`.
    pub html_url: String,
}

/// Logins that are always people (never organisations); they also push to organisations' repositories.
const PEOPLE: [&str; 6] = ["mona", "hubot", "octocat", "nat", "ada-l", "linus-t"];

impl RepoIdentity {
    pub fn new(full_name: &str) -> Self {
        let (owner, name) = full_name.split_once('/').unwrap_or(("octo-org", full_name));
        let h = fnv1a(full_name.as_bytes());
        let owner_h = fnv1a(owner.as_bytes());
        let owner_is_org = !PEOPLE.contains(&owner) && (owner.contains("org") || owner_h % 3 != 0);
        let created_at =
            DateTime::<Utc>::from_timestamp(1_400_000_000 + (h % 300_000_000) as i64, 0).unwrap_or_default();
        Self {
            full_name: full_name.to_owned(),
            owner: owner.to_owned(),
            name: name.to_owned(),
            id: 10_000_000 + h % 800_000_000,
            owner_id: account_id(owner),
            owner_is_org,
            installation_id: 1_000_000 + owner_h % 60_000_000,
            default_branch: if h % 4 == 0 { "master" } else { "main" },
            created_at,
            api_url: format!("{API}/repos/{full_name}"),
            html_url: format!("{WEB}/{full_name}"),
        }
    }

    /// Who pushes to the repository when nobody says otherwise: the owner of a personal
    /// repository, one of a few people (picked stably) for an organisation's.
    pub fn default_actor(&self) -> String {
        if self.owner_is_org {
            PEOPLE[(fnv1a(self.full_name.as_bytes()) % PEOPLE.len() as u64) as usize].to_owned()
        } else {
            self.owner.clone()
        }
    }
}

/// The account id GitHub would have given `login` (users and organisations alike).
pub fn account_id(login: &str) -> u64 {
    1_000_000 + fnv1a(login.as_bytes()) % 150_000_000
}

/// A user as embedded in events and REST bodies (`actor`, `sender`, ...); logins ending in
/// `[bot]` are of type `Bot`.
pub fn user_object(login: &str) -> Value {
    let kind = if login.ends_with("[bot]") { "Bot" } else { "User" };
    account_object(login, kind)
}

/// A user-shaped account of `kind` (`User`, `Bot` or `Organization`, the latter as a repository's `owner`).
pub fn account_object(login: &str, kind: &str) -> Value {
    let id = account_id(login);
    let api = format!("{API}/users/{login}");
    let mut m = Map::new();
    m.insert("login".into(), json!(login));
    m.insert("id".into(), json!(id));
    m.insert("node_id".into(), json!(node_id(kind, id)));
    m.insert("avatar_url".into(), json!(format!("https://avatars.githubusercontent.com/u/{id}?v=4")));
    m.insert("gravatar_id".into(), json!(""));
    m.insert("url".into(), json!(api));
    m.insert("html_url".into(), json!(format!("{WEB}/{login}")));
    let urls = [
        ("followers_url", "/followers"),
        ("following_url", "/following{/other_user}"),
        ("gists_url", "/gists{/gist_id}"),
        ("starred_url", "/starred{/owner}{/repo}"),
        ("subscriptions_url", "/subscriptions"),
        ("organizations_url", "/orgs"),
        ("repos_url", "/repos"),
        ("events_url", "/events{/privacy}"),
        ("received_events_url", "/received_events"),
    ];
    for (field, suffix) in urls {
        m.insert(field.into(), json!(format!("{api}{suffix}")));
    }
    m.insert("type".into(), json!(kind));
    m.insert("site_admin".into(), json!(false));
    Value::Object(m)
}

/// The event's `organization` for an organisation-owned repository.
pub fn organization_object(repo: &RepoIdentity) -> Value {
    let api = format!("{API}/orgs/{}", repo.owner);
    json!({
        "login": repo.owner,
        "id": repo.owner_id,
        "node_id": node_id("Organization", repo.owner_id),
        "url": api,
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events"),
        "hooks_url": format!("{api}/hooks"),
        "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", repo.owner_id),
        "description": "",
    })
}

/// The event's `installation`: our GitHub App's installation on the repository's owner.
pub fn installation_object(repo: &RepoIdentity) -> Value {
    json!({
        "id": repo.installation_id,
        "node_id": node_id("IntegrationInstallation", repo.installation_id),
    })
}

/// The repository as nested in a `workflow_run` (`repository`, `head_repository`): identity,
/// owner and every `*_url` template, without counters or dates.
pub fn repository_lite(full_name: &str, fork: bool) -> Value {
    let repo = RepoIdentity::new(full_name);
    let owner_kind = if repo.owner_is_org { "Organization" } else { "User" };
    let mut m = Map::new();
    m.insert("id".into(), json!(repo.id));
    m.insert("node_id".into(), json!(node_id("Repository", repo.id)));
    m.insert("name".into(), json!(repo.name));
    m.insert("full_name".into(), json!(full_name));
    m.insert("private".into(), json!(false));
    m.insert("owner".into(), account_object(&repo.owner, owner_kind));
    m.insert("html_url".into(), json!(repo.html_url));
    m.insert("description".into(), json!(format!("{} — synthetic repository", repo.name)));
    m.insert("fork".into(), json!(fork));
    m.insert("url".into(), json!(repo.api_url));
    for (field, suffix) in REPO_URLS {
        m.insert(field.into(), json!(format!("{}{suffix}", repo.api_url)));
    }
    Value::Object(m)
}

/// Every `*_url` field of a repository, as `(field, suffix after /repos/{owner}/{repo})`.
const REPO_URLS: [(&str, &str); 36] = [
    ("archive_url", "/{archive_format}{/ref}"),
    ("assignees_url", "/assignees{/user}"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("branches_url", "/branches{/branch}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("comments_url", "/comments{/number}"),
    ("commits_url", "/commits{/sha}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("contents_url", "/contents/{+path}"),
    ("contributors_url", "/contributors"),
    ("deployments_url", "/deployments"),
    ("downloads_url", "/downloads"),
    ("events_url", "/events"),
    ("forks_url", "/forks"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("hooks_url", "/hooks"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("issue_events_url", "/issues/events{/number}"),
    ("issues_url", "/issues{/number}"),
    ("keys_url", "/keys{/key_id}"),
    ("labels_url", "/labels{/name}"),
    ("languages_url", "/languages"),
    ("merges_url", "/merges"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("pulls_url", "/pulls{/number}"),
    ("releases_url", "/releases{/id}"),
    ("stargazers_url", "/stargazers"),
    ("statuses_url", "/statuses/{sha}"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("tags_url", "/tags"),
    ("teams_url", "/teams"),
    ("trees_url", "/git/trees{/sha}"),
];

/// The event's `workflow`: the workflow file `run` was started from.
pub fn workflow_object(run: &RunInfo) -> Value {
    let repo = RepoIdentity::new(&run.repo);
    let html = &repo.html_url;
    json!({
        "id": run.workflow_id,
        "node_id": node_id("Workflow", run.workflow_id),
        "name": run.workflow_name,
        "path": run.workflow_path,
        "state": "active",
        "created_at": timestamp(repo.created_at),
        "updated_at": timestamp(repo.created_at + Duration::days(30)),
        "url": format!("{}/actions/workflows/{}", repo.api_url, run.workflow_id),
        "html_url": format!("{html}/blob/{}/{}", repo.default_branch, run.workflow_path),
        "badge_url": format!("{html}/workflows/{}/badge.svg", encode_path_segment(&run.workflow_name)),
    })
}

/// `repository`, `organization` (organisation-owned only), `sender` and `installation`, which
/// every event carries.
fn event_context(body: &mut Map<String, Value>, repo: &RepoIdentity, sender: &str) {
    body.insert("repository".into(), repository_object(&repo.full_name));
    if repo.owner_is_org {
        body.insert("organization".into(), organization_object(repo));
    }
    body.insert("sender".into(), user_object(sender));
    body.insert("installation".into(), installation_object(repo));
}

/// An entry of `workflow_run.pull_requests`.
fn pull_request_ref(base: &RepoIdentity, pr: &PullRequestRef) -> Value {
    let repo_ref = |full_name: &str| {
        let r = RepoIdentity::new(full_name);
        json!({ "id": r.id, "url": r.api_url, "name": r.name })
    };
    json!({
        "url": format!("{}/pulls/{}", base.api_url, pr.number),
        "id": pull_request_id(&base.full_name, pr.number),
        "number": pr.number,
        "head": { "ref": pr.head_ref, "sha": pr.head_sha, "repo": repo_ref(&pr.head_repo) },
        "base": { "ref": pr.base_ref, "sha": pr.base_sha, "repo": repo_ref(&base.full_name) },
    })
}

/// The id GitHub would have given pull request `number` of `full_name`.
pub fn pull_request_id(full_name: &str, number: u64) -> u64 {
    1_000_000_000 + fnv1a(format!("{full_name}#{number}").as_bytes()) % 1_000_000_000
}

/// `workflow_run.head_commit`: written by the actor 40 seconds before the run was created.
fn head_commit(run: &RunInfo) -> Value {
    let email = format!("{}@users.noreply.github.com", run.actor);
    json!({
        "id": run.head_sha,
        "tree_id": pseudo_sha(&format!("tree:{}", run.head_sha)),
        "message": run.display_title,
        "timestamp": timestamp(run.created_at - Duration::seconds(40)),
        "author": { "name": title_case(&run.actor), "email": email },
        "committer": { "name": "GitHub", "email": "noreply@github.com" },
    })
}

fn step_object(step: &StepInfo) -> Value {
    json!({
        "name": step.name,
        "status": step.status.label(),
        "conclusion": step.conclusion,
        "number": step.number,
        "started_at": step.started_at.map(timestamp),
        "completed_at": step.completed_at.map(timestamp),
    })
}

/// A time as GitHub writes it: RFC 3339, whole seconds, `Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A 40-hex-digit id that looks like a git object id, derived from `seed`.
pub fn pseudo_sha(seed: &str) -> String {
    let mut out = String::with_capacity(48);
    let mut h = fnv1a(seed.as_bytes());
    while out.len() < 40 {
        h = splitmix64(h);
        for shift in (0..16).rev() {
            out.push(char::from(HEX[((h >> (4 * shift)) & 0xf) as usize]));
        }
    }
    out.truncate(40);
    out
}

/// GitHub's legacy global node id: base64 of `"0<len of Type>:<Type><id>"`, e.g.
/// `node_id("User", 15669918) == "MDQ6VXNlcjE1NjY5OTE4"`.
pub fn node_id(kind: &str, id: u64) -> String {
    let raw = format!("0{}:{kind}{id}", kind.len());
    base64(raw.as_bytes())
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `ada-l` → `Ada L`: a display name for a login.
pub fn title_case(login: &str) -> String {
    login
        .trim_end_matches("[bot]")
        .split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for a workflow name in a URL).
fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)].to_ascii_uppercase()));
            out.push(char::from(HEX[usize::from(b & 0xf)].to_ascii_uppercase()));
        }
    }
    out
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_use_githubs_legacy_encoding() {
        // base64("04:User15669918"), GitHub's id for a user with id 15669918.
        assert_eq!(node_id("User", 15_669_918), "MDQ6VXNlcjE1NjY5OTE4");
        assert_eq!(node_id("Repository", 300_029_405), "MDEwOlJlcG9zaXRvcnkzMDAwMjk0MDU=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn pseudo_shas_look_like_git_ids() {
        let a = pseudo_sha("q");
        assert_eq!(a.len(), 40);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(a, pseudo_sha("q"));
        assert_ne!(a, pseudo_sha("r"));
    }

    #[test]
    fn names_render_for_urls_and_people() {
        assert_eq!(encode_path_segment("Build & Test"), "Build%20%26%20Test");
        assert_eq!(encode_path_segment("CI"), "CI");
        assert_eq!(title_case("ada-l"), "Ada L");
        assert_eq!(title_case("dependabot[bot]"), "Dependabot");
    }

    #[test]
    fn owners_are_people_or_organisations_stably() {
        assert!(RepoIdentity::new("octo-org/hello").owner_is_org);
        assert!(!RepoIdentity::new("mona/widgets").owner_is_org);
        assert_eq!(RepoIdentity::new("mona/widgets").default_actor(), "mona");
        assert_eq!(RepoIdentity::new("mona/widgets").owner_id, account_id("mona"));
        assert_eq!(RepoIdentity::new("a/b"), RepoIdentity::new("a/b"));
    }
}
