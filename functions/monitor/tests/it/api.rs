//! The read API over the documents the handler stored.

use crate::support::{Db, delivery, workload};
use aetherveil_bus::Handler;
use aetherveil_monitor::{Monitor, MonitorConfig, api_router};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let res = router.clone().oneshot(Request::get(uri).body(Body::empty()).expect("request")).await.expect("response");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn populated() -> (Db, Router) {
    let (_, syn) = workload(12.0, 21);
    let db = Db::new();
    let monitor = Monitor::new(db.store(), MonitorConfig::default()).expect("monitor");
    monitor.ensure_indexes().await.expect("indexes");
    for (i, e) in syn.events.iter().enumerate() {
        monitor.handle(&delivery(i, e, 1)).await.expect("handled");
    }
    let router = api_router(monitor.api_state());
    (db, router)
}

fn list<'a>(body: &'a Value, key: &str) -> &'a Vec<Value> {
    body[key].as_array().unwrap_or_else(|| panic!("no {key} list in {body}"))
}

#[tokio::test]
async fn anomalies_are_listed_latest_first_with_every_documented_field() {
    let (_db, router) = populated().await;
    let (status, body) = get(&router, "/api/v1/anomalies?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let all = list(&body, "anomalies");
    assert!(!all.is_empty());
    for a in all {
        for field in [
            "id",
            "repo",
            "workflow",
            "job",
            "branch_class",
            "kind",
            "score",
            "threshold",
            "evidence",
            "run_id",
            "job_id",
            "at",
            "first_at",
            "last_at",
            "count",
            "status",
        ] {
            assert!(!a[field].is_null(), "{field} missing in {a}");
        }
        for field in ["value", "center", "spread", "window"] {
            assert!(a["evidence"][field].is_number(), "evidence.{field} missing in {a}");
        }
        // Event time, RFC 3339, within the simulated history (not the wall clock).
        let at: chrono::DateTime<chrono::Utc> = a["at"].as_str().expect("at").parse().expect("rfc3339");
        assert!(at < crate::support::start() + chrono::Duration::days(13), "{at}");
    }
    let last: Vec<i64> = all.iter().map(|a| a["last_at_ms"].as_i64().expect("ms")).collect();
    assert!(last.windows(2).all(|w| w[0] >= w[1]), "not latest first");
}

#[tokio::test]
async fn anomalies_filter_by_repo_kind_and_status() {
    let (_db, router) = populated().await;
    let (_, body) = get(&router, "/api/v1/anomalies?repo=acme/app&kind=duration_regression&limit=1000").await;
    let regressions = list(&body, "anomalies");
    assert!(!regressions.is_empty());
    assert!(regressions.iter().all(|a| a["repo"] == "acme/app" && a["kind"] == "duration_regression"));
    assert!(regressions.iter().all(|a| a["branch_class"] == "all"));
    let (_, body) = get(&router, "/api/v1/anomalies?status=closed&limit=1000").await;
    assert!(list(&body, "anomalies").iter().all(|a| a["status"] == "closed"));
    let (_, body) = get(&router, "/api/v1/anomalies?status=open&limit=1000").await;
    let open = list(&body, "anomalies");
    assert!(open.iter().all(|a| a["status"] == "open" && a.get("closed_at").is_none()));
    let (_, body) = get(&router, "/api/v1/anomalies?repo=acme/web&kind=duration_regression").await;
    assert!(list(&body, "anomalies").iter().all(|a| a["repo"] == "acme/web"));
    let (_, body) = get(&router, "/api/v1/anomalies?repo=nobody/nothing").await;
    assert!(list(&body, "anomalies").is_empty());
    let (_, body) = get(&router, "/api/v1/anomalies?limit=1").await;
    assert_eq!(list(&body, "anomalies").len(), 1);
    // One episode by id.
    let id = regressions[0]["id"].as_str().expect("id");
    let (status, one) = get(&router, &format!("/api/v1/anomalies/{}", id.replace('%', "%25"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["id"], id);
    let (status, _) = get(&router, "/api/v1/anomalies/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_parameters_are_refused_with_a_plain_message() {
    let (_db, router) = populated().await;
    for uri in [
        "/api/v1/anomalies?kind=slowness",
        "/api/v1/anomalies?status=maybe",
        "/api/v1/anomalies?limit=0",
        "/api/v1/anomalies?limit=1001",
        "/api/v1/anomalies?repo=no-slash",
        "/api/v1/baselines?repo=a/b/c",
        "/api/v1/flaky?state=wobbly",
    ] {
        let (status, body) = get(&router, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["error"], "bad_request", "{uri}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{uri}");
    }
}

#[tokio::test]
async fn baselines_are_listed_per_series() {
    let (_db, router) = populated().await;
    let (status, body) = get(&router, "/api/v1/baselines?repo=acme/app").await;
    assert_eq!(status, StatusCode::OK);
    let series = list(&body, "baselines");
    assert!(series.iter().all(|s| s["repo"] == "acme/app"));
    let build_default = series
        .iter()
        .find(|s| s["job"] == "build" && s["branch_class"] == "default")
        .unwrap_or_else(|| panic!("no build/default series in {body}"));
    assert!(build_default["n"].as_u64().is_some_and(|n| n > 10));
    let center = build_default["center"].as_f64().expect("center");
    // 240 s before the regression, 432 s after; the window is in between or at the new level.
    assert!((200.0..500.0).contains(&center), "{center}");
    assert!(build_default["spread"].as_f64().is_some_and(|s| s > 0.0));
    assert!(build_default["ewma"].is_number());
    assert!(build_default["seasonal"]["hours"].is_array(), "{build_default}");
    assert!(series.iter().any(|s| s["branch_class"] == "pr"));
}

#[tokio::test]
async fn flaky_lists_each_job_with_its_state_and_evidence() {
    let (_db, router) = populated().await;
    let (status, body) = get(&router, "/api/v1/flaky?repo=acme/app").await;
    assert_eq!(status, StatusCode::OK);
    let jobs = list(&body, "flaky");
    assert_eq!(jobs.len(), 2, "{body}");
    let e2e = jobs.iter().find(|j| j["job"] == "e2e").expect("e2e");
    assert_eq!(e2e["state"], "flaky");
    assert!(e2e["score"].as_f64().is_some_and(|s| s > 0.0));
    assert!(e2e["evidence_runs"].as_array().is_some_and(|r| !r.is_empty()));
    let (_, only_flaky) = get(&router, "/api/v1/flaky?state=flaky").await;
    let only = list(&only_flaky, "flaky");
    assert!(!only.is_empty() && only.iter().all(|j| j["state"] == "flaky"));
}
