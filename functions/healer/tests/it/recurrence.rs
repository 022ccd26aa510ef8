//! Failures that come back. A test failure that comes back on the default branch after the job
//! passed there is flaky, not a breakage: the healer reruns it and says why. The same failure
//! without a pass in between, or on a pull request's branch, stays deterministic; two runs with
//! the same breakage at once get one issue. Against a real store and a small GitHub that speaks
//! the REST shapes the healer calls.

use aetherveil_bus::{Delivery, Message};
use aetherveil_healer::Handled;
use aetherveil_healer::names::{DECISIONS, SIGNATURES};
use aetherveil_models::names;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The failed runs GitHub knows, by id: (branch, completed at). Each has one failed job, `test`,
/// whose id is the run id times ten.
#[derive(Default)]
struct FakeGitHub {
    runs: BTreeMap<u64, (&'static str, &'static str)>,
    reruns: Vec<u64>,
    issues: Vec<Value>,
}

type Shared = Arc<Mutex<FakeGitHub>>;

fn fake_github() -> (Router, Shared) {
    let shared: Shared = Arc::default();
    let router = Router::new()
        .route("/repos/acme/app", get(|| async { Json(json!({"full_name": "acme/app", "default_branch": "main"})) }))
        .route(
            "/repos/acme/app/actions/runs/{id}",
            get(|State(s): State<Shared>, Path(id): Path<u64>| async move {
                let gh = s.lock().expect("lock");
                let (branch, at) = gh.runs[&id];
                let attempt = 1 + gh.reruns.iter().filter(|&&r| r == id).count();
                Json(json!({"id": id, "name": "CI", "run_attempt": attempt, "event": "push", "status": "completed",
                            "conclusion": "failure", "head_branch": branch, "head_sha": "abc", "updated_at": at}))
            }),
        )
        .route(
            "/repos/acme/app/actions/runs/{id}/attempts/{n}/jobs",
            get(|Path((id, n)): Path<(u64, u32)>| async move {
                Json(json!({"total_count": 1, "jobs": [
                    {"id": id * 10, "run_id": id, "run_attempt": n, "name": "test", "status": "completed",
                     "conclusion": "failure", "started_at": "2026-11-27T09:45:00Z", "completed_at": "2026-11-27T09:55:00Z"}
                ]}))
            }),
        )
        .route(
            "/repos/acme/app/actions/runs/{id}/rerun-failed-jobs",
            post(|State(s): State<Shared>, Path(id): Path<u64>| async move {
                s.lock().expect("lock").reruns.push(id);
                (axum::http::StatusCode::CREATED, Json(json!({})))
            }),
        )
        .route(
            "/repos/acme/app/issues",
            // Slow to list, as GitHub's search can be: two runs deciding at once both look before
            // either has opened the issue.
            get(|State(s): State<Shared>| async move {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                Json(Value::Array(s.lock().expect("lock").issues.clone()))
            })
                .post(|State(s): State<Shared>, Json(body): Json<Value>| async move {
                    let issue = crate::support::open_issue(&mut s.lock().expect("lock").issues, &body);
                    (axum::http::StatusCode::CREATED, Json(issue))
                }),
        )
        .route(
            "/repos/acme/app/issues/{n}",
            axum::routing::patch(|Path(n): Path<u64>, Json(body): Json<Value>| async move {
                Json(json!({"id": n, "number": n, "title": "t", "body": body["body"], "state": "open", "labels": []}))
            }),
        )
        .with_state(shared.clone());
    (router, shared)
}

type Env = crate::support::Env<Shared>;

async fn env() -> Env {
    let (router, github) = fake_github();
    crate::support::env(router, github, "act").await
}

/// Run `id` on `branch` failed at `at` in its `test` job with the same assertion as ever, which the
/// log alone calls a deterministic test failure.
async fn fail(e: &Env, id: u64, branch: &'static str, at: &'static str) -> Value {
    fail_as(e, id, branch, at, "test", false).await
}

/// The same with the diagnosis's cause and transient flag.
async fn fail_as(e: &Env, id: u64, branch: &'static str, at: &'static str, cause: &str, transient: bool) -> Value {
    e.github.lock().expect("lock").runs.insert(id, (branch, at));
    let diagnosis = json!({
        "id": (id * 10).to_string(), "repo": "acme/app", "run_id": id, "run_attempt": 1, "job_id": id * 10,
        "job_name": "test", "workflow_name": "CI", "head_sha": "abc", "head_branch": branch,
        "html_url": null, "conclusion": "failure", "cause": cause, "confidence": 0.92, "transient": transient,
        "summary": "a test fails in step \"Run npm test\"", "reason": "", "remedy": "", "method": "rules",
        "lines": [{"line": 40, "step": "Run npm test", "score": 1.0,
                   "text": "AssertionError: expected \"spy\" to be called 3 times, but got 2 times"}],
        "findings": [{"id": "js.assertion", "cause": cause, "severity": "high", "confidence": 0.92,
                      "evidence": [{"line": 40, "step": "Run npm test",
                                    "text": "AssertionError: expected \"spy\" to be called 3 times, but got 2 times"}]}],
        "compared_with": 0, "log": {"bytes": 1, "lines": 1, "steps": 1, "new_lines": 0},
        "model_version": null, "analysed_at": at
    });
    e.store.put(names::DIAGNOSES, &(id * 10).to_string(), diagnosis).await.expect("diagnosis");
    let event = json!({
        "delivery_id": format!("d-{id}"), "github_event": "workflow_run", "action": "completed", "repo": "acme/app",
        "installation_id": null, "received_at": at, "kind": "run",
        "record": {
            "run_id": id, "repo": "acme/app", "workflow_id": 7, "workflow_name": "CI",
            "workflow_path": ".github/workflows/ci.yml", "run_number": id, "run_attempt": 1,
            "event": "push", "status": "completed", "conclusion": "failure", "head_sha": "abc",
            "head_branch": branch, "head_repo": "acme/app", "from_fork": false, "actor": "dev",
            "pull_requests": [], "created_at": at, "updated_at": at, "run_started_at": at,
            "html_url": null, "installation_id": null
        }
    });
    let delivery = Delivery {
        message: Message {
            id: format!("m-{id}"),
            topic: names::TOPIC_PIPELINE_EVENTS.into(),
            key: Some(id.to_string()),
            attributes: Default::default(),
            data: event.to_string().into_bytes(),
        },
        attempt: 1,
    };
    let handled = e.healer.process(&delivery).await.expect("decided");
    assert!(matches!(handled, Handled::Decided { .. }), "{handled:?}");
    e.store.get(DECISIONS, &format!("{id}-1")).await.expect("get").expect("decision").data
}

/// The `test` job of run `id` on `branch`, created at `created`, passed at `completed`.
async fn pass(e: &Env, id: u64, branch: &str, created: &str, completed: &str) {
    pass_attempt(e, id, 1, branch, created, completed).await;
}

async fn pass_attempt(e: &Env, id: u64, attempt: u32, branch: &str, created: &str, completed: &str) {
    let job = json!({
        "job_id": id * 10 + u64::from(attempt) - 1, "run_id": id, "run_attempt": attempt, "repo": "acme/app", "workflow_name": "CI",
        "name": "test", "status": "completed", "conclusion": "success", "head_sha": "def", "head_branch": branch,
        "labels": [], "runner_name": null, "runner_group": null, "created_at": created, "started_at": created,
        "completed_at": completed, "steps": [], "html_url": null
    });
    e.store.put(names::JOBS, &(id * 10 + u64::from(attempt) - 1).to_string(), job).await.expect("passing job");
}

fn reruns(e: &Env) -> Vec<u64> {
    e.github.lock().expect("lock").reruns.clone()
}

#[tokio::test]
async fn a_test_failure_that_comes_back_on_the_default_branch_after_a_pass_is_rerun_as_flaky() {
    let e = env().await;
    let first = fail(&e, 40, "main", "2026-11-20T10:00:00Z").await;
    assert_eq!(first["decision"]["actions"], json!(["open_issue"]), "a first failure is a breakage: {first}");
    assert_eq!(first["evidence"][0]["cause"], "test");
    assert!(reruns(&e).is_empty());

    pass(&e, 41, "main", "2026-11-20T11:50:00Z", "2026-11-20T12:00:00Z").await;
    let again = fail(&e, 42, "main", "2026-11-21T10:00:00Z").await;
    assert_eq!(again["decision"]["actions"][0], "rerun_failed_jobs", "{again}");
    assert_eq!(again["decision"]["execute"], true, "{again}");
    let evidence = &again["evidence"][0];
    assert_eq!((evidence["cause"].as_str(), evidence["transient"].as_bool()), (Some("flaky_test"), Some(true)));
    let why = evidence["recurred"].as_str().expect("the evidence says why");
    assert!(why.contains("run 40") && why.contains("run 41"), "{why}");
    assert_eq!(reruns(&e), vec![42]);

    // The explanation carries it.
    let record: aetherveil_healer::record::DecisionRecord = serde_json::from_value(again).expect("record");
    let lines = aetherveil_healer::api::explain(&record);
    assert!(lines.iter().any(|l| l.contains("the diagnosis says a test failure, but")), "{lines:?}");
}

#[tokio::test]
async fn a_breakage_that_fails_every_run_or_a_branch_other_than_the_default_stays_deterministic() {
    let e = env().await;
    // Consecutive failures on main with no pass in between: a breakage, never rerun. A pass on
    // another branch, a late pass of a run created before the failure (an older commit), a rerun
    // of an older commit that passes, or a pass after this failure does not count.
    fail(&e, 50, "main", "2026-11-20T10:00:00Z").await;
    pass(&e, 51, "feature", "2026-11-20T10:30:00Z", "2026-11-20T11:00:00Z").await;
    pass(&e, 49, "main", "2026-11-20T09:50:00Z", "2026-11-20T10:20:00Z").await;
    pass_attempt(&e, 48, 2, "main", "2026-11-20T12:00:00Z", "2026-11-20T12:10:00Z").await;
    pass(&e, 53, "main", "2026-11-22T10:50:00Z", "2026-11-22T11:00:00Z").await;
    let again = fail(&e, 52, "main", "2026-11-21T10:00:00Z").await;
    assert_eq!(again["evidence"][0]["cause"], "test", "{again}");
    assert!(again["evidence"][0].get("recurred").is_none(), "{again}");
    assert!(reruns(&e).is_empty(), "no rerun of a deterministic failure");

    // On a pull request's branch, fail → pass → fail is left to its author.
    fail(&e, 60, "feature", "2026-11-23T10:00:00Z").await;
    pass(&e, 61, "feature", "2026-11-23T11:50:00Z", "2026-11-23T12:00:00Z").await;
    let branch = fail(&e, 62, "feature", "2026-11-24T10:00:00Z").await;
    assert_eq!(branch["evidence"][0]["cause"], "test", "{branch}");
    assert!(reruns(&e).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_breakage_in_two_runs_at_once_opens_one_issue() {
    let e = env().await;
    let (a, b) =
        tokio::join!(fail(&e, 70, "main", "2026-11-25T10:00:00Z"), fail(&e, 71, "main", "2026-11-25T10:00:01Z"));
    for d in [&a, &b] {
        assert_eq!(d["decision"]["actions"], json!(["open_issue"]), "{d}");
        assert_eq!(d["execution"]["state"], "done", "{d}");
    }
    let issues = e.github.lock().expect("lock").issues.len();
    assert_eq!(issues, 1, "one issue per signature, even when two runs decide at once");
}

#[tokio::test]
async fn a_masked_signature_is_rerun_again_once_the_job_passed_on_its_branch_since() {
    let e = env().await;
    let first = fail_as(&e, 80, "main", "2026-11-20T10:00:00Z", "network", true).await;
    assert_eq!(first["decision"]["actions"][0], "rerun_failed_jobs", "{first}");
    // Its last three reruns failed (as the outcomes of earlier runs would have recorded).
    let sig_id = format!("acme/app:CI:test:{}", first["evidence"][0]["signature"].as_str().expect("signature"));
    let mut sig = e.store.get(SIGNATURES, &sig_id).await.expect("get").expect("signature record").data;
    sig["streak"] = json!(3);
    e.store.put(SIGNATURES, &sig_id, sig).await.expect("streak");

    // No pass since: masked, escalated to an issue, not rerun.
    let masked = fail_as(&e, 81, "main", "2026-11-21T10:00:00Z", "network", true).await;
    assert_eq!(masked["decision"]["actions"], json!(["open_issue"]), "{masked}");
    assert!(masked["evidence"][0].get("streak_reset").is_none(), "{masked}");
    assert_eq!(reruns(&e), vec![80]);

    // The job passed on main since: the failure does not fail every run, so it is rerun again and
    // its streak starts from 0.
    pass(&e, 82, "main", "2026-11-21T11:00:00Z", "2026-11-21T11:10:00Z").await;
    let again = fail_as(&e, 83, "main", "2026-11-22T10:00:00Z", "network", true).await;
    assert_eq!(again["decision"]["actions"][0], "rerun_failed_jobs", "{again}");
    assert_eq!(again["decision"]["situation"]["failures"][0]["failing_streak"], 0, "{again}");
    let why = again["evidence"][0]["streak_reset"].as_str().expect("the evidence says why");
    assert!(why.contains("run 82"), "{why}");
    assert_eq!(reruns(&e), vec![80, 83]);
    let sig = e.store.get(SIGNATURES, &sig_id).await.expect("get").expect("signature record").data;
    assert_eq!(sig["streak"], 0, "{sig}");
}
