//! Synthetic GitHub webhook payloads, generated from scratch (no recorded payload is copied
//! here): `workflow_run` and `workflow_job` deliveries with the shape GitHub sends, plus [`sign`]
//! for the `X-Hub-Signature-256` header.
//!
//! The payloads themselves are rendered by the simulator ([`aetherveil_simulator::payloads`]);
//! this module only makes up the run or job from a few arguments (workflow, run number, check
//! suite, timestamps, steps and runner, all derived from the arguments), so the benchmark, the
//! demo and the tests can say "a completed run of `octo-org/api`" in one call.
//!
//! Everything is deterministic: the same arguments give byte-identical JSON, so tests and the
//! benchmark can pre-build bodies and signatures.
//!
//! [`workflow_run`] gives the ~7 KB body the benchmark targets ([`Detail::Compact`]): every object
//! GitHub sends (`repository`, `head_repository`, `head_commit`, `actor`, `triggering_actor`,
//! `sender`, `installation`, `workflow`) with the commonly used `*_url` fields, deliberately
//! smaller than GitHub's payload and so not schema-valid. [`workflow_run_with`] with
//! [`Detail::Full`] is the simulator's payload unchanged, every field GitHub sends, near 19 KB.

use aetherveil_simulator::model::{JobInfo, RunInfo, RunnerInfo, Status, StepInfo};
use aetherveil_simulator::payloads::{self, RepoIdentity, fnv1a};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

pub use aetherveil_simulator::payloads::{node_id, pseudo_sha};

/// How much of GitHub's (very repetitive) payload to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every object, the commonly used `*_url` fields: a ~7 KB `workflow_run` body.
    Compact,
    /// Every field GitHub sends, all `*_url` templates: a ~19 KB `workflow_run`.
    Full,
}

/// `X-Hub-Signature-256` value for `body`: `sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    payloads::sign(secret, body)
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
    let identity = RepoIdentity::new(repo);
    let attempt = attempt.max(1);
    let (status, conclusion) = match action {
        "requested" => (Status::Queued, None),
        "in_progress" => (Status::InProgress, None),
        _ => (Status::Completed, conclusion),
    };
    // A run is created when requested; later deliveries for it come some time afterwards.
    let elapsed = match action {
        "requested" => Duration::zero(),
        "in_progress" => Duration::seconds(3 + (run_id % 20) as i64),
        _ => Duration::seconds(45 + (run_id % 900) as i64),
    };
    let created_at = when - elapsed - Duration::minutes(i64::from(attempt - 1) * 10);
    let run_started_at = if attempt > 1 { when - elapsed } else { created_at };
    let workflow = Workflow::pick(&identity, run_id);
    let run = RunInfo {
        repo: repo.to_owned(),
        run_id,
        run_number: 1 + run_id % 5_000,
        attempt,
        workflow_id: workflow.id,
        workflow_name: workflow.name.to_owned(),
        workflow_path: workflow.path.to_owned(),
        event: event.to_owned(),
        head_branch: identity.default_branch.to_owned(),
        head_sha: head_sha.to_owned(),
        display_title: commit_message(head_sha),
        actor: identity.default_actor(),
        pull_request: None,
        status,
        conclusion: conclusion.map(str::to_owned),
        check_suite_id: 10_000_000_000 + run_id.wrapping_mul(3) % 9_000_000_000,
        created_at,
        run_started_at,
        updated_at: when,
    };
    let mut body = payloads::workflow_run_event(action, &run);
    if detail == Detail::Compact {
        compact(&mut body);
    }
    body
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
    let identity = RepoIdentity::new(repo);
    let workflow = Workflow::pick(&identity, run_id);
    let (status, conclusion) = match action {
        "queued" | "waiting" => (Status::Queued, None),
        "in_progress" => (Status::InProgress, None),
        _ => (Status::Completed, conclusion),
    };
    let queue_time = Duration::seconds(2 + (job_id % 40) as i64);
    let run_time = Duration::seconds(30 + (job_id % 600) as i64);
    let (created_at, started_at, completed_at) = match status {
        Status::Completed => {
            let started = when - run_time;
            (started - queue_time, started, Some(when))
        }
        Status::InProgress => (when - queue_time, when, None),
        // GitHub fills `started_at` with the creation time while a job waits for a runner.
        Status::Queued => (when, when, None),
    };
    let hosted = aetherveil_simulator::model::is_hosted(labels);
    let runner_id = 1 + job_id % 64;
    let runner = (status != Status::Queued).then(|| {
        if hosted {
            RunnerInfo {
                id: runner_id,
                name: format!("GitHub Actions {runner_id}"),
                group_id: 2,
                group_name: "GitHub Actions".into(),
            }
        } else {
            RunnerInfo {
                id: runner_id,
                name: format!("{}-runner-{runner_id}", identity.name),
                group_id: 1,
                group_name: "Default".into(),
            }
        }
    });
    let job = JobInfo {
        repo: repo.to_owned(),
        run_id,
        run_attempt: attempt.max(1),
        job_id,
        name: name.to_owned(),
        workflow_name: workflow.name.to_owned(),
        head_branch: identity.default_branch.to_owned(),
        head_sha: pseudo_sha(&format!("{repo}:{run_id}")),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        status,
        conclusion: conclusion.map(str::to_owned),
        created_at,
        started_at,
        completed_at,
        steps: job_steps(status, conclusion, started_at, completed_at),
        runner,
    };
    payloads::workflow_job_event(action, &job)
}

struct Workflow {
    id: u64,
    name: &'static str,
    path: &'static str,
}

impl Workflow {
    /// A repository has a handful of workflows; runs spread over them by run id.
    fn pick(repo: &RepoIdentity, run_id: u64) -> Self {
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
        Self { id: 1_000_000 + (repo.id.wrapping_mul(7) + i as u64) % 90_000_000, name, path }
    }
}

/// The repository `*_url` templates the compact payload keeps.
const COMPACT_REPO_URLS: [&str; 7] =
    ["branches_url", "commits_url", "contents_url", "hooks_url", "issues_url", "pulls_url", "statuses_url"];
/// Other repository fields only the full payload has.
const FULL_ONLY_REPO_FIELDS: [&str; 12] = [
    "svn_url",
    "mirror_url",
    "license",
    "topics",
    "custom_properties",
    "has_downloads",
    "has_wiki",
    "has_pages",
    "has_projects",
    "has_discussions",
    "is_template",
    "web_commit_signoff_required",
];
/// The user fields the compact payload keeps.
const COMPACT_USER_FIELDS: [&str; 11] = [
    "login",
    "id",
    "node_id",
    "avatar_url",
    "gravatar_id",
    "url",
    "html_url",
    "repos_url",
    "events_url",
    "type",
    "site_admin",
];

/// Trims a full `workflow_run` body to the benchmark's compact one: no `organization`, no
/// `workflow_run.repository`, and repositories and users keep only their commonly used fields.
fn compact(body: &mut Value) {
    if let Some(m) = body.as_object_mut() {
        m.remove("organization");
    }
    if let Some(run) = body.get_mut("workflow_run").and_then(Value::as_object_mut) {
        run.remove("repository");
    }
    let retain = |body: &mut Value, pointer: &str, keep: &dyn Fn(&str) -> bool| {
        if let Some(m) = body.pointer_mut(pointer).and_then(Value::as_object_mut) {
            m.retain(|k, _| keep(k));
        }
    };
    let keep_repo_field = |k: &str| {
        let url_template =
            k.ends_with("_url") && !matches!(k, "html_url" | "git_url" | "ssh_url" | "clone_url" | "svn_url");
        (!url_template || COMPACT_REPO_URLS.contains(&k)) && !FULL_ONLY_REPO_FIELDS.contains(&k)
    };
    for repo in ["/repository", "/workflow_run/head_repository"] {
        retain(body, repo, &keep_repo_field);
    }
    let users = [
        "/sender",
        "/workflow_run/actor",
        "/workflow_run/triggering_actor",
        "/repository/owner",
        "/workflow_run/head_repository/owner",
    ];
    for user in users {
        retain(body, user, &|k| COMPACT_USER_FIELDS.contains(&k));
    }
}

fn job_steps(
    status: Status,
    conclusion: Option<&str>,
    started_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
) -> Vec<StepInfo> {
    const STEPS: [&str; 6] =
        ["Set up job", "Run actions/checkout@v4", "Install toolchain", "Build", "Test", "Complete job"];
    let shown = match status {
        Status::Completed => STEPS.len(),
        Status::InProgress => 2,
        Status::Queued => 0,
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
        let (s_status, s_conclusion, s_completed) = if status == Status::InProgress && i + 1 == shown {
            (Status::InProgress, None, None)
        } else {
            let c = match failed_step {
                Some(f) if i == f => "failure",
                Some(f) if i > f && i + 1 < STEPS.len() => "skipped",
                _ if status == Status::Completed && conclusion == Some("cancelled") && i + 2 >= shown => "cancelled",
                _ => "success",
            };
            (Status::Completed, Some(c.to_owned()), Some(s_end))
        };
        out.push(StepInfo {
            number: i as u32 + 1,
            name: (*name).to_owned(),
            status: s_status,
            conclusion: s_conclusion,
            started_at: Some(s_start),
            completed_at: s_completed,
        });
    }
    out
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

    #[test]
    fn full_payloads_validate_against_githubs_schemas() {
        let Some(schemas) =
            aetherveil_simulator::schema::webhook_schemas(env!("CARGO_MANIFEST_DIR"), "../shared/datasets")
        else {
            return;
        };
        let mut bodies = Vec::new();
        for repo in ["octo-org/hello", "mona/widgets"] {
            for (action, conclusion) in [
                ("requested", None),
                ("in_progress", None),
                ("completed", Some("success")),
                ("completed", Some("failure")),
                ("completed", Some("cancelled")),
            ] {
                for (attempt, event) in [(1, "push"), (3, "pull_request")] {
                    let v = workflow_run_with(
                        Detail::Full,
                        repo,
                        42,
                        attempt,
                        action,
                        conclusion,
                        &pseudo_sha(repo),
                        event,
                        at(),
                    );
                    bodies.push((format!("workflow_run/{action}.schema.json"), v));
                }
            }
            for (action, conclusion) in [
                ("queued", None),
                ("waiting", None),
                ("in_progress", None),
                ("completed", Some("success")),
                ("completed", Some("failure")),
                ("completed", Some("cancelled")),
            ] {
                for labels in [&["ubuntu-latest"][..], &["self-hosted", "linux"]] {
                    let v = workflow_job(repo, 7, 77, 2, "build", action, conclusion, labels, at());
                    bodies.push((format!("workflow_job/{action}.schema.json"), v));
                }
            }
        }
        let mut failures = Vec::new();
        for (schema, body) in &bodies {
            let violations = schemas.validate(schema, body).expect("schemas load");
            failures.extend(violations.iter().map(|v| format!("{schema}: {v}")));
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(bodies.len(), 44);
    }

    #[test]
    fn compact_runs_are_full_runs_trimmed() {
        fn assert_subset(compact: &Value, full: &Value, path: &str) {
            match (compact, full) {
                (Value::Object(c), Value::Object(f)) => {
                    for (k, v) in c {
                        let sub = f.get(k).unwrap_or_else(|| panic!("{path}.{k} is not in the full body"));
                        assert_subset(v, sub, &format!("{path}.{k}"));
                    }
                }
                _ => assert_eq!(compact, full, "{path}"),
            }
        }
        for repo in ["octo-org/hello", "mona/widgets"] {
            let body =
                |detail| workflow_run_with(detail, repo, 9, 2, "completed", Some("failure"), "abc", "push", at());
            let (compact, full) = (body(Detail::Compact), body(Detail::Full));
            assert_subset(&compact, &full, "$");
            assert!(compact["sender"].get("followers_url").is_none());
            assert!(compact["repository"].get("archive_url").is_none());
            assert!(compact["workflow_run"].get("repository").is_none());
            assert!(compact.get("organization").is_none());
        }
    }
}
