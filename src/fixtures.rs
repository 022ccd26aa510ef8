//! Synthetic GitHub webhook payloads, generated from scratch (no recorded payload is copied
//! here): `workflow_run` and `workflow_job` deliveries with the shape GitHub sends (same field
//! names, nesting, nullability and `*_url` fields), plus [`sign`] for the
//! `X-Hub-Signature-256` header.
//!
//! Everything is deterministic: the same arguments give byte-identical JSON, so tests and the
//! benchmark can pre-build bodies and signatures. Numeric ids that GitHub would assign (repository,
//! owner, workflow, check suite, runner) are derived from the arguments by hashing.
//!
//! [`workflow_run`] gives the ~7 KB body the benchmark targets: every object GitHub sends
//! (`repository`, `head_repository`, `head_commit`, `actor`, `triggering_actor`, `sender`,
//! `installation`, `workflow`) with the commonly used `*_url` fields. [`workflow_run_with`] with [`Detail::Full`] adds
//! every `*_url` field and the nested `workflow_run.repository` of GitHub's documented example
//! payload, which comes out near 19 KB.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// How much of GitHub's (very repetitive) payload to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every object, the commonly used `*_url` fields: a ~7 KB `workflow_run` body.
    Compact,
    /// Every field of GitHub's documented example, all `*_url` templates: a ~19 KB `workflow_run`.
    Full,
}

/// `X-Hub-Signature-256` value for `body`: `sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    aetherveil_webhook::signature::Secret::new(secret).sign(body)
}

/// A `workflow_run` webhook body (~7 KB once serialized), as GitHub sends it for `action`
/// `requested`, `in_progress` or `completed`. `conclusion` is only reported on `completed`
/// (GitHub sends `null` otherwise); `when` is the time of the delivery (`updated_at`).
#[allow(clippy::too_many_arguments)]
pub fn workflow_run(
    repo: &str,
    run_id: u64,
    attempt: u32,
    action: &str,
    conclusion: Option<&str>,
    head_sha: &str,
    event: &str,
    when: DateTime<Utc>,
) -> Value {
    workflow_run_with(Detail::Compact, repo, run_id, attempt, action, conclusion, head_sha, event, when)
}

/// [`workflow_run`] at the chosen [`Detail`].
#[allow(clippy::too_many_arguments)]
pub fn workflow_run_with(
    detail: Detail,
    repo: &str,
    run_id: u64,
    attempt: u32,
    action: &str,
    conclusion: Option<&str>,
    head_sha: &str,
    event: &str,
    when: DateTime<Utc>,
) -> Value {
    let ctx = RepoCtx::new(repo);
    let attempt = attempt.max(1);
    let (status, conclusion) = match action {
        "requested" => ("queued", None),
        "in_progress" => ("in_progress", None),
        _ => ("completed", conclusion),
    };
    // A run is created when requested; later deliveries for it come some time afterwards.
    let elapsed = match action {
        "requested" => Duration::zero(),
        "in_progress" => Duration::seconds(3 + (run_id % 20) as i64),
        _ => Duration::seconds(45 + (run_id % 900) as i64),
    };
    let created_at = when - elapsed - Duration::minutes(i64::from(attempt - 1) * 10);
    let run_started_at = if attempt > 1 { when - elapsed } else { created_at };
    let workflow = Workflow::pick(&ctx, run_id);
    let run_number = 1 + run_id % 5_000;
    let check_suite_id = 10_000_000_000 + run_id.wrapping_mul(3) % 9_000_000_000;
    let api = &ctx.api;
    let run_api = format!("{api}/actions/runs/{run_id}");
    let branch = ctx.default_branch;
    let actor = user(&ctx.actor_login, ctx.actor_id, "User", detail);
    let previous_attempt_url =
        if attempt > 1 { Value::String(format!("{run_api}/attempts/{}", attempt - 1)) } else { Value::Null };
    let title = commit_message(head_sha);
    let head_commit = json!({
        "id": head_sha,
        "tree_id": pseudo_sha(&format!("tree:{head_sha}")),
        "message": title,
        "timestamp": ts(created_at - Duration::seconds(40)),
        "author": { "name": ctx.actor_name, "email": format!("{}@users.noreply.github.com", ctx.actor_login) },
        "committer": { "name": "GitHub", "email": "noreply@github.com" },
    });

    let mut run = json!({
        "id": run_id,
        "name": workflow.name,
        "node_id": node_id("WorkflowRun", run_id),
        "head_branch": branch,
        "head_sha": head_sha,
        "path": workflow.path,
        "display_title": title,
        "run_number": run_number,
        "event": event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": workflow.id,
        "check_suite_id": check_suite_id,
        "check_suite_node_id": node_id("CheckSuite", check_suite_id),
        "url": run_api,
        "html_url": format!("{}/actions/runs/{run_id}", ctx.html),
        "pull_requests": [],
        "created_at": ts(created_at),
        "updated_at": ts(when),
        "actor": actor,
        "run_attempt": attempt,
        "referenced_workflows": [],
        "run_started_at": ts(run_started_at),
        "triggering_actor": actor,
        "jobs_url": format!("{run_api}/jobs"),
        "logs_url": format!("{run_api}/logs"),
        "check_suite_url": format!("{api}/check-suites/{check_suite_id}"),
        "artifacts_url": format!("{run_api}/artifacts"),
        "cancel_url": format!("{run_api}/cancel"),
        "rerun_url": format!("{run_api}/rerun"),
        "previous_attempt_url": previous_attempt_url,
        "workflow_url": format!("{api}/actions/workflows/{}", workflow.id),
        "head_commit": head_commit,
        "head_repository": repository(&ctx, detail, RepoShape::Nested),
    });
    if detail == Detail::Full {
        if let Some(obj) = run.as_object_mut() {
            obj.insert("repository".into(), repository(&ctx, detail, RepoShape::Nested));
        }
    }

    let mut body = Map::new();
    body.insert("action".into(), Value::String(action.to_owned()));
    body.insert("workflow_run".into(), run);
    body.insert(
        "workflow".into(),
        json!({
            "id": workflow.id,
            "node_id": node_id("Workflow", workflow.id),
            "name": workflow.name,
            "path": workflow.path,
            "state": "active",
            "created_at": ts(ctx.created_at),
            "updated_at": ts(ctx.created_at + Duration::days(30)),
            "url": format!("{api}/actions/workflows/{}", workflow.id),
            "html_url": format!("{}/blob/{branch}/{}", ctx.html, workflow.path),
            "badge_url": format!("{}/workflows/{}/badge.svg", ctx.html, workflow.name),
        }),
    );
    body.insert("repository".into(), repository(&ctx, detail, RepoShape::Event));
    if detail == Detail::Full && ctx.owner_is_org {
        body.insert("organization".into(), organization(&ctx));
    }
    body.insert("sender".into(), user(&ctx.actor_login, ctx.actor_id, "User", detail));
    body.insert("installation".into(), installation(&ctx));
    Value::Object(body)
}

/// A `workflow_job` webhook body, as GitHub sends it for `action` `queued`, `in_progress` or
/// `completed` (`waiting` is accepted too). Steps, runner assignment and timestamps follow the
/// action: a queued job has no steps and no runner, an in-progress job has its first steps, and a
/// completed job has all of them, with the last real step failing when `conclusion` is `failure`.
#[allow(clippy::too_many_arguments)]
pub fn workflow_job(
    repo: &str,
    run_id: u64,
    job_id: u64,
    attempt: u32,
    name: &str,
    action: &str,
    conclusion: Option<&str>,
    labels: &[&str],
    when: DateTime<Utc>,
) -> Value {
    let ctx = RepoCtx::new(repo);
    let attempt = attempt.max(1);
    let workflow = Workflow::pick(&ctx, run_id);
    let head_sha = pseudo_sha(&format!("{repo}:{run_id}"));
    let (status, conclusion) = match action {
        "queued" => ("queued", None),
        "waiting" => ("waiting", None),
        "in_progress" => ("in_progress", None),
        _ => ("completed", conclusion),
    };
    let queue_time = Duration::seconds(2 + (job_id % 40) as i64);
    let run_time = Duration::seconds(30 + (job_id % 600) as i64);
    let (created_at, started_at, completed_at) = match status {
        "completed" => {
            let started = when - run_time;
            (started - queue_time, started, Some(when))
        }
        "in_progress" => (when - queue_time, when, None),
        // GitHub fills `started_at` with the creation time while a job waits for a runner.
        _ => (when, when, None),
    };
    let steps = job_steps(status, conclusion, started_at, completed_at);
    let has_runner = matches!(status, "in_progress" | "completed");
    let hosted =
        labels.iter().any(|l| l.starts_with("ubuntu-") || l.starts_with("windows-") || l.starts_with("macos-"));
    let runner_id = 1 + job_id % 64;
    let (runner_name, group_id, group_name) = if !has_runner {
        (Value::Null, Value::Null, Value::Null)
    } else if hosted {
        (Value::String(format!("GitHub Actions {runner_id}")), json!(2), json!("GitHub Actions"))
    } else {
        (Value::String(format!("{}-runner-{runner_id}", ctx.repo_name)), json!(1), json!("Default"))
    };
    let api = &ctx.api;
    let job = json!({
        "id": job_id,
        "run_id": run_id,
        "workflow_name": workflow.name,
        "head_branch": ctx.default_branch,
        "run_url": format!("{api}/actions/runs/{run_id}"),
        "run_attempt": attempt,
        "node_id": node_id("CheckRun", job_id),
        "head_sha": head_sha,
        "url": format!("{api}/actions/jobs/{job_id}"),
        "html_url": format!("{}/actions/runs/{run_id}/job/{job_id}", ctx.html),
        "status": status,
        "conclusion": conclusion,
        "created_at": ts(created_at),
        "started_at": ts(started_at),
        "completed_at": completed_at.map(ts),
        "name": name,
        "steps": steps,
        "check_run_url": format!("{api}/check-runs/{job_id}"),
        "labels": labels,
        "runner_id": if has_runner { json!(runner_id) } else { Value::Null },
        "runner_name": runner_name,
        "runner_group_id": group_id,
        "runner_group_name": group_name,
    });
    let mut body = Map::new();
    body.insert("action".into(), Value::String(action.to_owned()));
    body.insert("workflow_job".into(), job);
    body.insert("repository".into(), repository(&ctx, Detail::Full, RepoShape::Event));
    if ctx.owner_is_org {
        body.insert("organization".into(), organization(&ctx));
    }
    body.insert("sender".into(), user(&ctx.actor_login, ctx.actor_id, "User", Detail::Full));
    body.insert("installation".into(), installation(&ctx));
    Value::Object(body)
}

/// Everything derived from the repository's `owner/name`.
struct RepoCtx {
    full_name: String,
    owner: String,
    repo_name: String,
    owner_id: u64,
    owner_is_org: bool,
    repo_id: u64,
    actor_login: String,
    actor_name: String,
    actor_id: u64,
    installation_id: u64,
    default_branch: &'static str,
    created_at: DateTime<Utc>,
    api: String,
    html: String,
}

impl RepoCtx {
    fn new(full_name: &str) -> Self {
        let (owner, repo_name) = full_name.split_once('/').unwrap_or(("octo-org", full_name));
        let h = fnv1a(full_name.as_bytes());
        let owner_h = fnv1a(owner.as_bytes());
        const PEOPLE: [&str; 6] = ["mona", "hubot", "octocat", "nat", "ada-l", "linus-t"];
        // Organisations and users both own repositories; pick one, stably, from the owner name.
        let owner_is_org = !PEOPLE.contains(&owner) && (owner.contains("org") || owner_h % 3 != 0);
        let actor_login =
            if owner_is_org { PEOPLE[(h % PEOPLE.len() as u64) as usize].to_owned() } else { owner.to_owned() };
        let actor_id = 1_000_000 + fnv1a(actor_login.as_bytes()) % 150_000_000;
        let created_at =
            DateTime::<Utc>::from_timestamp(1_400_000_000 + (h % 300_000_000) as i64, 0).unwrap_or_default();
        Self {
            full_name: full_name.to_owned(),
            owner: owner.to_owned(),
            repo_name: repo_name.to_owned(),
            owner_id: 1_000_000 + owner_h % 150_000_000,
            owner_is_org,
            repo_id: 10_000_000 + h % 800_000_000,
            actor_name: title_case(&actor_login),
            actor_login,
            actor_id,
            installation_id: 1_000_000 + owner_h % 60_000_000,
            default_branch: if h % 4 == 0 { "master" } else { "main" },
            created_at,
            api: format!("https://api.github.com/repos/{full_name}"),
            html: format!("https://github.com/{full_name}"),
        }
    }
}

struct Workflow {
    id: u64,
    name: &'static str,
    path: &'static str,
}

impl Workflow {
    /// A repository has a handful of workflows; runs spread over them by run id.
    fn pick(ctx: &RepoCtx, run_id: u64) -> Self {
        const WORKFLOWS: [(&str, &str); 4] = [
            ("CI", ".github/workflows/ci.yml"),
            ("Lint", ".github/workflows/lint.yml"),
            ("Release", ".github/workflows/release.yml"),
            ("CodeQL", ".github/workflows/codeql.yml"),
        ];
        // Most runs are CI.
        let i = match run_id % 10 {
            0..=5 => 0,
            6 | 7 => 1,
            8 => 2,
            _ => 3,
        };
        let (name, path) = WORKFLOWS[i];
        Self { id: 1_000_000 + (ctx.repo_id.wrapping_mul(7) + i as u64) % 90_000_000, name, path }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RepoShape {
    /// The top-level `repository` of an event: url templates plus counters, dates and flags.
    Event,
    /// `workflow_run.repository` / `head_repository`: identity and url templates only.
    Nested,
}

/// Every `*_url` field of a repository, as `(field, suffix after /repos/{owner}/{repo})`, and
/// whether the compact payload keeps it.
const REPO_URLS: [(&str, &str, bool); 36] = [
    ("archive_url", "/{archive_format}{/ref}", false),
    ("assignees_url", "/assignees{/user}", false),
    ("blobs_url", "/git/blobs{/sha}", false),
    ("branches_url", "/branches{/branch}", true),
    ("collaborators_url", "/collaborators{/collaborator}", false),
    ("comments_url", "/comments{/number}", false),
    ("commits_url", "/commits{/sha}", true),
    ("compare_url", "/compare/{base}...{head}", false),
    ("contents_url", "/contents/{+path}", true),
    ("contributors_url", "/contributors", false),
    ("deployments_url", "/deployments", false),
    ("downloads_url", "/downloads", false),
    ("events_url", "/events", false),
    ("forks_url", "/forks", false),
    ("git_commits_url", "/git/commits{/sha}", false),
    ("git_refs_url", "/git/refs{/sha}", false),
    ("git_tags_url", "/git/tags{/sha}", false),
    ("hooks_url", "/hooks", true),
    ("issue_comment_url", "/issues/comments{/number}", false),
    ("issue_events_url", "/issues/events{/number}", false),
    ("issues_url", "/issues{/number}", true),
    ("keys_url", "/keys{/key_id}", false),
    ("labels_url", "/labels{/name}", false),
    ("languages_url", "/languages", false),
    ("merges_url", "/merges", false),
    ("milestones_url", "/milestones{/number}", false),
    ("notifications_url", "/notifications{?since,all,participating}", false),
    ("pulls_url", "/pulls{/number}", true),
    ("releases_url", "/releases{/id}", false),
    ("stargazers_url", "/stargazers", false),
    ("statuses_url", "/statuses/{sha}", true),
    ("subscribers_url", "/subscribers", false),
    ("subscription_url", "/subscription", false),
    ("tags_url", "/tags", false),
    ("teams_url", "/teams", false),
    ("trees_url", "/git/trees{/sha}", false),
];

fn repository(ctx: &RepoCtx, detail: Detail, shape: RepoShape) -> Value {
    let mut m = Map::new();
    let owner_kind = if ctx.owner_is_org { "Organization" } else { "User" };
    m.insert("id".into(), json!(ctx.repo_id));
    m.insert("node_id".into(), json!(node_id("Repository", ctx.repo_id)));
    m.insert("name".into(), json!(ctx.repo_name));
    m.insert("full_name".into(), json!(ctx.full_name));
    m.insert("private".into(), json!(false));
    m.insert("owner".into(), user(&ctx.owner, ctx.owner_id, owner_kind, detail));
    m.insert("html_url".into(), json!(ctx.html));
    m.insert("description".into(), json!(format!("{} — synthetic repository", ctx.repo_name)));
    m.insert("fork".into(), json!(false));
    m.insert("url".into(), json!(ctx.api));
    for (field, suffix, compact) in REPO_URLS {
        if detail == Detail::Full || compact {
            m.insert(field.into(), json!(format!("{}{suffix}", ctx.api)));
        }
    }
    if shape == RepoShape::Nested {
        return Value::Object(m);
    }
    let h = ctx.repo_id;
    let stars = h % 5_000;
    let issues = h % 120;
    m.insert("created_at".into(), json!(ts(ctx.created_at)));
    m.insert("updated_at".into(), json!(ts(ctx.created_at + Duration::days(400))));
    m.insert("pushed_at".into(), json!(ts(ctx.created_at + Duration::days(401))));
    m.insert("git_url".into(), json!(format!("git://github.com/{}.git", ctx.full_name)));
    m.insert("ssh_url".into(), json!(format!("git@github.com:{}.git", ctx.full_name)));
    m.insert("clone_url".into(), json!(format!("{}.git", ctx.html)));
    if detail == Detail::Full {
        m.insert("svn_url".into(), json!(ctx.html));
        m.insert("mirror_url".into(), Value::Null);
        m.insert("license".into(), Value::Null);
        m.insert("topics".into(), json!([]));
        m.insert("custom_properties".into(), json!({}));
        m.insert("has_downloads".into(), json!(true));
        m.insert("has_wiki".into(), json!(false));
        m.insert("has_pages".into(), json!(false));
        m.insert("has_projects".into(), json!(false));
        m.insert("has_discussions".into(), json!(false));
        m.insert("is_template".into(), json!(false));
        m.insert("web_commit_signoff_required".into(), json!(false));
    }
    m.insert("homepage".into(), Value::Null);
    m.insert("size".into(), json!(100 + h % 90_000));
    m.insert("stargazers_count".into(), json!(stars));
    m.insert("watchers_count".into(), json!(stars));
    m.insert("language".into(), json!("Rust"));
    m.insert("has_issues".into(), json!(true));
    m.insert("forks_count".into(), json!(stars / 10));
    m.insert("archived".into(), json!(false));
    m.insert("disabled".into(), json!(false));
    m.insert("open_issues_count".into(), json!(issues));
    m.insert("visibility".into(), json!("public"));
    m.insert("forks".into(), json!(stars / 10));
    m.insert("open_issues".into(), json!(issues));
    m.insert("watchers".into(), json!(stars));
    m.insert("default_branch".into(), json!(ctx.default_branch));
    Value::Object(m)
}

/// A user or organisation account as embedded in events (`actor`, `sender`, `owner`, ...).
fn user(login: &str, id: u64, kind: &str, detail: Detail) -> Value {
    let api = format!("https://api.github.com/users/{login}");
    let mut m = Map::new();
    m.insert("login".into(), json!(login));
    m.insert("id".into(), json!(id));
    m.insert("node_id".into(), json!(node_id(kind, id)));
    m.insert("avatar_url".into(), json!(format!("https://avatars.githubusercontent.com/u/{id}?v=4")));
    m.insert("gravatar_id".into(), json!(""));
    m.insert("url".into(), json!(api));
    m.insert("html_url".into(), json!(format!("https://github.com/{login}")));
    if detail == Detail::Full {
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
    } else {
        m.insert("repos_url".into(), json!(format!("{api}/repos")));
        m.insert("events_url".into(), json!(format!("{api}/events{{/privacy}}")));
    }
    m.insert("type".into(), json!(kind));
    if detail == Detail::Full {
        m.insert("user_view_type".into(), json!("public"));
    }
    m.insert("site_admin".into(), json!(false));
    Value::Object(m)
}

fn organization(ctx: &RepoCtx) -> Value {
    let api = format!("https://api.github.com/orgs/{}", ctx.owner);
    json!({
        "login": ctx.owner,
        "id": ctx.owner_id,
        "node_id": node_id("Organization", ctx.owner_id),
        "url": api,
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events"),
        "hooks_url": format!("{api}/hooks"),
        "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", ctx.owner_id),
        "description": "",
    })
}

fn installation(ctx: &RepoCtx) -> Value {
    json!({
        "id": ctx.installation_id,
        "node_id": node_id("IntegrationInstallation", ctx.installation_id),
    })
}

fn job_steps(
    status: &str,
    conclusion: Option<&str>,
    started_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
) -> Value {
    const STEPS: [&str; 6] =
        ["Set up job", "Run actions/checkout@v4", "Install toolchain", "Build", "Test", "Complete job"];
    let shown = match status {
        "completed" => STEPS.len(),
        "in_progress" => 2,
        _ => 0,
    };
    let end = completed_at.unwrap_or(started_at + Duration::seconds(4));
    let span = (end - started_at).num_seconds().max(STEPS.len() as i64);
    let per_step = span / STEPS.len() as i64;
    let failed_step = match conclusion {
        Some("failure") => Some(STEPS.len() - 2),
        _ => None,
    };
    let mut out = Vec::with_capacity(shown);
    for (i, name) in STEPS.iter().enumerate().take(shown) {
        let s_start = started_at + Duration::seconds(per_step * i as i64);
        let s_end = s_start + Duration::seconds(per_step);
        let (s_status, s_conclusion, s_completed) = if status == "in_progress" && i + 1 == shown {
            ("in_progress", Value::Null, Value::Null)
        } else {
            let c = match failed_step {
                Some(f) if i == f => "failure",
                Some(f) if i > f && i + 1 < STEPS.len() => "skipped",
                _ if status == "completed" && conclusion == Some("cancelled") && i + 2 >= shown => "cancelled",
                _ => "success",
            };
            ("completed", json!(c), json!(ts(s_end)))
        };
        out.push(json!({
            "name": name,
            "status": s_status,
            "conclusion": s_conclusion,
            "number": i + 1,
            "started_at": ts(s_start),
            "completed_at": s_completed,
        }));
    }
    Value::Array(out)
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A commit message (and run `display_title`) picked stably from the commit id.
fn commit_message(sha: &str) -> String {
    const MESSAGES: [&str; 6] = [
        "ci: cache cargo registry between jobs",
        "fix(store): retry busy SQLite writes with backoff",
        "build(deps): bump tokio from 1.40.0 to 1.41.1",
        "feat(api): paginate the deliveries endpoint",
        "docs: explain how to rotate the webhook secret",
        "test: cover duplicate deliveries in the webhook handler",
    ];
    MESSAGES[(fnv1a(sha.as_bytes()) % MESSAGES.len() as u64) as usize].to_owned()
}

/// A 40-hex-digit id that looks like a git object id, derived from `seed`.
pub fn pseudo_sha(seed: &str) -> String {
    let mut out = String::with_capacity(40);
    let mut h = fnv1a(seed.as_bytes());
    while out.len() < 40 {
        h = splitmix64(h);
        out.push_str(&format!("{h:016x}"));
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
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn title_case(login: &str) -> String {
    login
        .split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
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
    use aetherveil_models::github::{WorkflowJobEvent, WorkflowRunEvent};

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-04T05:06:07Z").map(|t| t.with_timezone(&Utc)).expect("valid timestamp")
    }

    #[test]
    fn github_documented_signature_vector() {
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

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
    fn workflow_runs_deserialize_into_the_typed_model() {
        let sha = pseudo_sha("x");
        for (action, conclusion) in
            [("requested", None), ("in_progress", None), ("completed", Some("success")), ("completed", Some("failure"))]
        {
            for attempt in [1, 3] {
                for detail in [Detail::Compact, Detail::Full] {
                    let v = workflow_run_with(
                        detail,
                        "octo-org/hello",
                        42,
                        attempt,
                        action,
                        conclusion,
                        &sha,
                        "push",
                        at(),
                    );
                    let ev: WorkflowRunEvent = serde_json::from_value(v.clone()).expect("typed workflow_run");
                    assert_eq!(ev.action, action);
                    assert_eq!(ev.workflow_run.id, 42);
                    assert_eq!(ev.workflow_run.run_attempt, Some(attempt));
                    assert_eq!(ev.workflow_run.head_sha, sha);
                    assert_eq!(ev.workflow_run.event, "push");
                    assert_eq!(ev.workflow_run.updated_at, at());
                    assert!(ev.workflow_run.created_at <= at());
                    assert_eq!(ev.workflow_run.conclusion.as_deref(), conclusion);
                    assert_eq!(ev.repository.full_name, "octo-org/hello");
                    assert!(ev.installation.is_some());
                    assert_eq!(
                        ev.workflow_run.head_repository.as_ref().map(|r| r.full_name.as_str()),
                        Some("octo-org/hello")
                    );
                    let run = &v["workflow_run"];
                    for field in ["head_commit", "actor", "triggering_actor"] {
                        assert!(run[field].is_object(), "{field}");
                    }
                    for field in ["sender", "installation", "workflow"] {
                        assert!(v[field].is_object(), "{field}");
                    }
                    assert!(v["repository"]["hooks_url"].is_string());
                    assert!(run["head_repository"]["commits_url"].is_string());
                    assert!(v["sender"]["repos_url"].is_string());
                }
            }
        }
    }

    #[test]
    fn workflow_run_sizes_match_github() {
        let body = |detail| {
            let v = workflow_run_with(
                detail,
                "octo-org/octo-repo",
                30_433_642_123,
                1,
                "completed",
                Some("success"),
                &pseudo_sha("a"),
                "push",
                at(),
            );
            serde_json::to_vec(&v).expect("serializes").len()
        };
        let compact = body(Detail::Compact);
        let full = body(Detail::Full);
        eprintln!("workflow_run: compact {compact} B, full {full} B");
        assert!((6_000..8_500).contains(&compact), "compact is {compact} B");
        assert!((15_000..24_000).contains(&full), "full is {full} B");
    }

    #[test]
    fn workflow_jobs_deserialize_into_the_typed_model() {
        for (action, conclusion) in
            [("queued", None), ("in_progress", None), ("completed", Some("success")), ("completed", Some("failure"))]
        {
            let v =
                workflow_job("mona/widgets", 7, 77, 2, "build (ubuntu)", action, conclusion, &["ubuntu-latest"], at());
            let ev: WorkflowJobEvent = serde_json::from_value(v).expect("typed workflow_job");
            let job = ev.workflow_job;
            assert_eq!(ev.action, action);
            assert_eq!((job.id, job.run_id, job.run_attempt), (77, 7, Some(2)));
            assert_eq!(job.name, "build (ubuntu)");
            assert_eq!(job.conclusion.as_deref(), conclusion);
            assert_eq!(job.labels, ["ubuntu-latest"]);
            match action {
                "queued" => {
                    assert_eq!(job.status, "queued");
                    assert!(job.steps.is_empty() && job.runner_name.is_none());
                }
                "in_progress" => {
                    assert!(job.runner_name.is_some() && job.completed_at.is_none());
                    assert_eq!(job.steps.last().map(|s| s.status.as_str()), Some("in_progress"));
                }
                _ => {
                    assert_eq!(job.completed_at, Some(at()));
                    let failed = job.steps.iter().filter(|s| s.conclusion.as_deref() == Some("failure")).count();
                    assert_eq!(failed, usize::from(conclusion == Some("failure")));
                }
            }
        }
    }

    #[test]
    fn fixtures_are_deterministic() {
        let a = workflow_run("a/b", 1, 1, "completed", Some("success"), "abc", "push", at());
        let b = workflow_run("a/b", 1, 1, "completed", Some("success"), "abc", "push", at());
        assert_eq!(a, b);
        assert_eq!(pseudo_sha("q").len(), 40);
        assert_ne!(pseudo_sha("q"), pseudo_sha("r"));
    }
}
