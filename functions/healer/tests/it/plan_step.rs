//! The healer as the executor of the orchestrator's plan steps, against a real store and a small
//! GitHub that speaks the REST shapes the healer calls (runs, jobs, rerun-failed-jobs, issues).

use aetherveil_bus::{Delivery, Message};
use aetherveil_healer::Handled;
use aetherveil_healer::names::{BUDGETS, PLAN_STEPS, TOPIC_PLAN_STEPS};
use aetherveil_healer::plan_step::StepState;
use aetherveil_models::names;
use aetherveil_store::Store;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Run 42 of acme/app: attempt 1 failed (one failed job of 10 minutes); a rerun starts attempt 2.
#[derive(Default)]
struct FakeGitHub {
    attempt: u32,
    reruns: u32,
    issues: Vec<Value>,
}

type Shared = Arc<Mutex<FakeGitHub>>;

fn run_json(gh: &FakeGitHub, event: &str) -> Value {
    let (status, conclusion) = if gh.attempt == 1 { ("completed", "failure") } else { ("queued", "") };
    json!({
        "id": 42, "name": "CI", "run_attempt": gh.attempt, "event": event, "status": status,
        "conclusion": if conclusion.is_empty() { Value::Null } else { json!(conclusion) },
        "head_branch": "main", "head_sha": "abc", "updated_at": "2026-11-27T10:00:00Z"
    })
}

fn fake_github(event: &'static str) -> (Router, Shared) {
    let shared: Shared = Arc::new(Mutex::new(FakeGitHub { attempt: 1, ..FakeGitHub::default() }));
    let router = Router::new()
        .route(
            "/repos/acme/app/actions/runs/42",
            get(move |State(s): State<Shared>| async move { Json(run_json(&s.lock().expect("lock"), event)) }),
        )
        .route(
            "/repos/acme/app/actions/runs/{id}",
            get(|| async { (axum::http::StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))) }),
        )
        .route(
            "/repos/acme/app/actions/runs/42/attempts/{n}/jobs",
            get(|Path(n): Path<u32>| async move {
                Json(json!({"total_count": 2, "jobs": [
                    {"id": 1, "run_id": 42, "run_attempt": n, "name": "build", "status": "completed",
                     "conclusion": "success", "started_at": "2026-11-27T09:40:00Z", "completed_at": "2026-11-27T09:45:00Z"},
                    {"id": 2, "run_id": 42, "run_attempt": n, "name": "test", "status": "completed",
                     "conclusion": "failure", "started_at": "2026-11-27T09:45:00Z", "completed_at": "2026-11-27T09:55:00Z"}
                ]}))
            }),
        )
        .route(
            "/repos/acme/app/actions/runs/42/rerun-failed-jobs",
            post(|State(s): State<Shared>| async move {
                let mut gh = s.lock().expect("lock");
                gh.reruns += 1;
                gh.attempt += 1;
                (axum::http::StatusCode::CREATED, Json(json!({})))
            }),
        )
        .route(
            "/repos/acme/app/issues",
            get(|State(s): State<Shared>| async move { Json(Value::Array(s.lock().expect("lock").issues.clone())) })
                .post(|State(s): State<Shared>, Json(body): Json<Value>| async move {
                    let issue = crate::support::open_issue(&mut s.lock().expect("lock").issues, &body);
                    (axum::http::StatusCode::CREATED, Json(issue))
                }),
        )
        .with_state(shared.clone());
    (router, shared)
}

type Env = crate::support::Env<Shared>;

async fn env(event: &'static str, mode: &str) -> Env {
    let (router, github) = fake_github(event);
    crate::support::env(router, github, mode).await
}

fn step_message(plan: &str, order: u32, run_id: u64, action: &str, operation: &str) -> Delivery {
    let data = json!({
        "plan_id": plan, "repo": "acme/app", "run_id": run_id,
        "step": {"order": order, "action": action, "executor": "healer", "operation": operation,
                 "target": format!("acme/app run {run_id}"), "description": "rerun the failed jobs once",
                 "status": "dispatched"}
    });
    Delivery {
        message: Message {
            id: format!("plan-step:{plan}:{order}"),
            topic: TOPIC_PLAN_STEPS.into(),
            key: Some("acme/app".into()),
            attributes: Default::default(),
            data: data.to_string().into_bytes(),
        },
        attempt: 1,
    }
}

fn state(handled: Handled) -> StepState {
    match handled {
        Handled::PlanStep { state, .. } => state,
        other => panic!("not a plan step: {other:?}"),
    }
}

async fn step_doc(store: &Arc<dyn Store>, id: &str) -> Value {
    store.get(PLAN_STEPS, id).await.expect("get").expect("step recorded").data
}

const RERUN: &str = "POST /repos/acme/app/actions/runs/42/rerun-failed-jobs";

#[tokio::test]
async fn an_agreed_rerun_is_carried_out_once_charged_to_the_budget_and_its_outcome_recorded() {
    let e = env("push", "act").await;
    let delivery = step_message("p1", 1, 42, "rerun_failed_jobs", RERUN);
    assert_eq!(state(e.healer.process(&delivery).await.expect("step")), StepState::Done);
    assert_eq!(e.github.lock().expect("lock").reruns, 1);
    let doc = step_doc(&e.store, "plan-step:p1:1").await;
    assert_eq!(doc["attempt"], 1, "{doc}");
    assert_eq!(doc["rerun_minutes"], 10.0, "the failed job's minutes: {doc}");
    let ledger = e.store.get(BUDGETS, "acme/app").await.expect("get").expect("ledger").data;
    assert_eq!((ledger["reruns"].as_u64(), ledger["minutes"].as_f64()), (Some(1), Some(10.0)), "{ledger}");

    // A redelivery changes nothing: no second rerun, no second charge.
    assert_eq!(state(e.healer.process(&delivery).await.expect("again")), StepState::Done);
    assert_eq!(e.github.lock().expect("lock").reruns, 1);
    let ledger = e.store.get(BUDGETS, "acme/app").await.expect("get").expect("ledger").data;
    assert_eq!(ledger["reruns"], 1);

    // Attempt 2 completes green: the outcome lands in healing_history, where ado learns from it.
    let at = "2026-11-27T10:20:00Z";
    let event = json!({
        "delivery_id": "d-2", "github_event": "workflow_run", "action": "completed", "repo": "acme/app",
        "installation_id": null, "received_at": at, "kind": "run",
        "record": {
            "run_id": 42, "repo": "acme/app", "workflow_id": 7, "workflow_name": "CI",
            "workflow_path": ".github/workflows/ci.yml", "run_number": 3, "run_attempt": 2,
            "event": "push", "status": "completed", "conclusion": "success", "head_sha": "abc",
            "head_branch": "main", "head_repo": "acme/app", "from_fork": false, "actor": "dev",
            "pull_requests": [], "created_at": at, "updated_at": at, "run_started_at": at,
            "html_url": null, "installation_id": null
        }
    });
    let completed = Delivery {
        message: Message {
            id: "m-2".into(),
            topic: names::TOPIC_PIPELINE_EVENTS.into(),
            key: Some("42".into()),
            attributes: Default::default(),
            data: event.to_string().into_bytes(),
        },
        attempt: 1,
    };
    let handled = e.healer.process(&completed).await.expect("outcome");
    assert_eq!(handled, Handled::OutcomeRecorded { id: "plan-step:p1:1".into(), success: true });
    let entry = e.store.get(names::HEALING_HISTORY, "plan-step:p1:1").await.expect("get").expect("history entry").data;
    assert_eq!((entry["run_id"].as_u64(), entry["success"].as_bool()), (Some(42), Some(true)), "{entry}");
    assert_eq!(entry["healing_actions"], json!(["rerun_failed_jobs"]));
    assert_eq!(step_doc(&e.store, "plan-step:p1:1").await["outcome"], true);
}

#[tokio::test]
async fn guards_refuse_and_unknown_runs_fail_for_good_with_a_recorded_reason() {
    // A pull_request_target run is never rerun, whatever the plan says.
    let e = env("pull_request_target", "act").await;
    let s = state(e.healer.process(&step_message("p2", 1, 42, "rerun_failed_jobs", RERUN)).await.expect("step"));
    assert_eq!(s, StepState::Refused);
    assert!(step_doc(&e.store, "plan-step:p2:1").await["detail"].as_str().expect("detail").contains("untrusted"));
    assert_eq!(e.github.lock().expect("lock").reruns, 0);

    // The repository left `act` after the plan was made.
    let e = env("push", "recommend").await;
    let s = state(e.healer.process(&step_message("p3", 1, 42, "rerun_failed_jobs", RERUN)).await.expect("step"));
    assert_eq!(s, StepState::Refused);
    assert_eq!(e.github.lock().expect("lock").reruns, 0);

    // GitHub does not know the run: failed, recorded, not retried.
    let e = env("push", "act").await;
    let op = "POST /repos/acme/app/actions/runs/7/rerun-failed-jobs";
    let s = state(e.healer.process(&step_message("p4", 1, 7, "rerun_failed_jobs", op)).await.expect("step"));
    assert_eq!(s, StepState::Failed);
    assert!(step_doc(&e.store, "plan-step:p4:1").await["detail"].as_str().expect("detail").contains("run 7"));

    // A step for another executor is not the healer's.
    let mut other = step_message("p5", 1, 42, "promote_release", "promote the candidate");
    let mut data: Value = serde_json::from_slice(&other.message.data).expect("json");
    data["step"]["executor"] = json!("release");
    other.message.data = data.to_string().into_bytes();
    assert_eq!(e.healer.process(&other).await.expect("ignored"), Handled::Ignored);
    assert!(e.store.get(PLAN_STEPS, "plan-step:p5:1").await.expect("get").is_none());
}

#[tokio::test]
async fn an_issue_step_opens_one_issue_even_when_delivered_twice() {
    let e = env("push", "act").await;
    let op = "POST /repos/acme/app/issues (label aetherveil)";
    let delivery = step_message("p6", 2, 42, "investigate_regression", op);
    assert_eq!(state(e.healer.process(&delivery).await.expect("step")), StepState::Done);
    // The record is lost (a crash before it was saved): the marker finds the issue again.
    e.store.delete(PLAN_STEPS, "plan-step:p6:2").await.expect("delete");
    assert_eq!(state(e.healer.process(&delivery).await.expect("again")), StepState::Done);
    let issues = e.github.lock().expect("lock").issues.clone();
    assert_eq!(issues.len(), 1, "one issue");
    let body = issues[0]["body"].as_str().expect("body");
    assert!(body.contains("/api/v1/plans/p6"), "{body}");
    assert!(body.starts_with("<!-- aetherveil-plan-issue: investigate_regression acme/app run 42 -->"), "{body}");
    // Another plan with the same recommendation for the same target: still one issue.
    let later = step_message("p7", 2, 42, "investigate_regression", op);
    assert_eq!(state(e.healer.process(&later).await.expect("later")), StepState::Done);
    assert_eq!(e.github.lock().expect("lock").issues.len(), 1, "one issue per recommendation and target");
}
