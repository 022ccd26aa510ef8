//! `/api/v1/diagnoses`, the feedback that labels a diagnosis, the trainer's model round trip and
//! the rendered diagnosis (snapshot).

use aetherveil_logscan::classify::{Evidence, Finding, Severity};
use aetherveil_logscan::diagnosis::{LogStats, RelevantLine};
use aetherveil_logscan::{ApiState, Cause, Diagnosis, api_router};
use aetherveil_models::names;
use aetherveil_store::{SqliteStore, Store, Synchronous, to_value};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("db.sqlite"), Synchronous::Normal).expect("store");
    (Arc::new(store), dir)
}

fn diagnosis(job_id: u64, repo: &str, cause: Cause, minute: u32) -> Diagnosis {
    let step = "Run cargo build --locked";
    Diagnosis {
        id: job_id.to_string(),
        repo: repo.into(),
        run_id: 7000 + job_id,
        run_attempt: 1,
        job_id,
        job_name: "build".into(),
        workflow_name: Some("CI".into()),
        head_sha: "3f786850e387550fdab836ed7e6dc881de23001b".into(),
        head_branch: Some("main".into()),
        html_url: None,
        conclusion: Some("failure".into()),
        cause,
        confidence: 0.93,
        transient: cause.transient_by_default(),
        summary: format!(
            "{} in step \"{step}\": error[E0425]: cannot find value `totl` in this scope",
            cause.describe()
        ),
        reason: "rule rust.compile_error matched an error line of the failing step".into(),
        remedy: cause.remedy().into(),
        method: "rules".into(),
        lines: vec![
            RelevantLine {
                line: 41,
                step: Some(step.into()),
                text: "error[E0425]: cannot find value `totl` in this scope".into(),
                score: 5.5,
            },
            RelevantLine { line: 42, step: Some(step.into()), text: " --> src/lib.rs:12:5".into(), score: 0.0 },
        ],
        findings: vec![Finding {
            id: "rust.compile_error".into(),
            cause,
            severity: Severity::High,
            confidence: 0.93,
            evidence: vec![Evidence {
                line: 41,
                step: Some(step.into()),
                text: "error[E0425]: cannot find value `totl` in this scope".into(),
            }],
        }],
        failing_tests: Vec::new(),
        compared_with: 3,
        log: LogStats { bytes: 18_342, lines: 220, steps: 6, new_lines: 9 },
        model_version: None,
        features: vec!["error".into(), "e0425".into(), "cannot".into(), "find".into(), "value".into()],
        feedback: None,
        analysed_at: Utc.with_ymd_and_hms(2026, 11, 27, 12, minute, 0).single().expect("time"),
    }
}

async fn put(store: &dyn Store, d: &Diagnosis) {
    store.put(names::DIAGNOSES, &d.id, to_value(d).expect("json")).await.expect("put");
}

async fn call(store: &Arc<dyn Store>, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let app = api_router(ApiState { store: store.clone() });
    let mut req = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let response = app.oneshot(req.body(body).expect("request")).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn lists_filter_by_repo_and_cause_latest_first() {
    let (store, _dir) = store();
    put(store.as_ref(), &diagnosis(1, "octo/a", Cause::Compilation, 1)).await;
    put(store.as_ref(), &diagnosis(2, "octo/a", Cause::Network, 2)).await;
    put(store.as_ref(), &diagnosis(3, "octo/b", Cause::Network, 3)).await;

    let (status, body) = call(&store, "GET", "/api/v1/diagnoses", None).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body["diagnoses"].as_array().expect("list").iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids, ["3", "2", "1"]);
    assert!(body["diagnoses"][0].get("features").is_none(), "training features stay internal");

    let (_, body) = call(&store, "GET", "/api/v1/diagnoses?repo=octo/a&cause=network", None).await;
    assert_eq!(body["diagnoses"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["diagnoses"][0]["id"], "2");

    let (status, body) = call(&store, "GET", "/api/v1/diagnoses?cause=cosmic_rays", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().is_some_and(|m| m.contains("compilation")), "{body}");
    let (status, _) = call(&store, "GET", "/api/v1/diagnoses?repo=nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn one_diagnosis_comes_with_its_markdown() {
    let (store, _dir) = store();
    put(store.as_ref(), &diagnosis(9, "octo/a", Cause::Compilation, 1)).await;
    let (status, body) = call(&store, "GET", "/api/v1/diagnoses/9", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["cause"], "compilation");
    assert!(body["markdown"].as_str().is_some_and(|m| m.contains("error[E0425]")), "{body}");
    let (status, _) = call(&store, "GET", "/api/v1/diagnoses/404", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn feedback_is_recorded_and_checked() {
    let (store, _dir) = store();
    put(store.as_ref(), &diagnosis(5, "octo/a", Cause::Network, 1)).await;
    let (status, body) =
        call(&store, "POST", "/api/v1/diagnoses/5/feedback", Some(json!({"cause": "rate_limit", "by": "mona"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored: Diagnosis =
        store.get(names::DIAGNOSES, "5").await.expect("get").expect("stored").parse().expect("diagnosis");
    let feedback = stored.feedback.expect("feedback stored");
    assert_eq!((feedback.cause, feedback.by.as_deref()), (Cause::RateLimit, Some("mona")));
    assert_eq!(stored.cause, Cause::Network, "the diagnosis itself is kept as it was made");

    let (status, _) = call(&store, "POST", "/api/v1/diagnoses/5/feedback", Some(json!({"cause": "gremlins"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&store, "POST", "/api/v1/diagnoses/5/feedback", Some(json!({"verdict": "x"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&store, "POST", "/api/v1/diagnoses/77/feedback", Some(json!({"cause": "test"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_trainer_learns_from_labelled_diagnoses_and_logscan_loads_the_version() {
    let (store, _dir) = store();
    let report = aetherveil_logscan::train::retrain(store.as_ref()).await.expect("train");
    assert_eq!(report.version, None, "nothing to learn from yet: {}", report.note);

    let words: [(Cause, &[&str]); 3] = [
        (Cause::Compilation, &["error", "e0425", "cannot", "find", "value", "scope"]),
        (Cause::Network, &["connection", "reset", "peer", "econnreset", "fetch"]),
        (Cause::Disk, &["no", "space", "left", "device", "write"]),
    ];
    let mut id = 100;
    for (cause, features) in words {
        for k in 0..10 {
            let mut d = diagnosis(id, "octo/a", cause, (id % 60) as u32);
            d.features = features.iter().map(|s| s.to_string()).chain([format!("noise{k}")]).collect();
            d.confidence = 0.95;
            put(store.as_ref(), &d).await;
            id += 1;
        }
    }
    // A person's correction overrides a confident rule decision.
    let mut corrected = diagnosis(id, "octo/a", Cause::Network, 1);
    corrected.features = vec!["api".into(), "rate".into(), "limit".into(), "exceeded".into()];
    corrected.feedback =
        Some(aetherveil_logscan::diagnosis::Feedback { cause: Cause::RateLimit, by: None, at: Utc::now() });
    put(store.as_ref(), &corrected).await;

    let report = aetherveil_logscan::train::retrain(store.as_ref()).await.expect("train");
    assert_eq!(report.version, Some(1), "{}", report.note);
    assert_eq!(report.examples, 31);
    assert_eq!(report.from_feedback, 1);
    assert_eq!(report.per_cause.get("rate_limit"), Some(&1));

    let artifact = aetherveil_logscan::shell::latest_model(store.as_ref()).await.expect("load").expect("a model");
    assert_eq!(artifact.version, 1);
    let ranked = artifact.model.predict(&["no".to_owned(), "space".to_owned(), "device".to_owned()]);
    assert_eq!(ranked.first().map(|r| r.0), Some(Cause::Disk), "{ranked:?}");

    let again = aetherveil_logscan::train::retrain(store.as_ref()).await.expect("train");
    assert_eq!(again.version, Some(2), "each training is a new version");
}

#[test]
fn rendered_diagnosis() {
    insta::assert_snapshot!(diagnosis(41, "octo/a", Cause::Compilation, 5).markdown().to_string());
}
