//! The HTTP function and the read API, over a real SQLite store and the local bus.
use aetherveil_bus::{Bus, Delivery, Handler, HandlerError, LocalBus, RetryPolicy};
use aetherveil_gate::names::{EVENT_TYPE, TOPIC_VERDICTS};
use aetherveil_gate::{Gate, GateConfig};
use aetherveil_models::names::SECURITY_REPORTS;
use aetherveil_store::{Query, SqliteStore, Store, Synchronous};
use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

struct Setup {
    _dir: tempfile::TempDir,
    sqlite: SqliteStore,
    app: Router,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteStore::open(dir.path().join("db.sqlite"), Synchronous::Normal).expect("store");
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).expect("mkdir");
    std::fs::write(policies.join("strict.yml"), "version: 1\nfail_on:\n  severities: [CRITICAL, HIGH, MEDIUM]\n")
        .expect("write");
    std::fs::write(policies.join("broken.yaml"), "version: 1\nfail_on:\n  severities: [NOPE]\n").expect("write");
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let gate = Gate::new(
        store,
        GateConfig { policy_dir: policies, default_policy: "default".into(), max_report_bytes: 1 << 20 },
    );
    gate.ensure_indexes().await.expect("indexes");
    Setup { app: gate.router().merge(gate.api_router()), sqlite, _dir: dir }
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
    let req = axum::http::Request::builder().method(method).uri(uri).header("content-type", "application/json");
    let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
    let response = app.clone().oneshot(req.body(body).expect("request")).await.expect("response");
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn image(vulns: &[(&str, &str)]) -> Value {
    let vs: Vec<Value> = vulns
        .iter()
        .map(|(id, sev)| json!({"VulnerabilityID": id, "PkgName": "openssl", "InstalledVersion": "1", "FixedVersion": "2", "Severity": sev}))
        .collect();
    json!({"SchemaVersion": 2, "ArtifactName": "img", "ArtifactType": "container_image", "Results": [{"Target": "img", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": vs}]})
}

struct Collect(Mutex<Vec<(String, Value)>>);

#[async_trait::async_trait]
impl Handler for Collect {
    async fn handle(&self, d: &Delivery) -> Result<(), HandlerError> {
        let value = serde_json::from_slice(&d.message.data).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let ty = d.message.attributes.get("type").cloned().unwrap_or_default();
        self.0.lock().expect("lock").push((ty, value));
        Ok(())
    }
}

#[tokio::test]
async fn a_verdict_is_recorded_published_and_trended() {
    let s = setup().await;
    let bus = LocalBus::new(s.sqlite.clone(), RetryPolicy::default());
    let seen = Arc::new(Collect(Mutex::new(Vec::new())));
    bus.subscribe("test", TOPIC_VERDICTS, seen.clone()).expect("subscribe");

    // The built-in default policy: fixable CRITICAL and HIGH fail.
    let (status, body) = call(
        &s.app,
        "POST",
        "/gate/trivy",
        Some(json!({"repo": "acme/shop", "ref": "refs/heads/main", "sha": "abc", "report": image(&[("CVE-1", "HIGH"), ("CVE-2", "LOW")])})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["passed"].as_bool(), body["exit_code"].as_u64()), (Some(false), Some(1)));
    assert_eq!(body["verdict"]["policy"], "default");
    assert!(body["markdown"].as_str().expect("markdown").contains("Security gate: failed"));

    // A pull request against main's recorded verdict: CVE-1 is old, CVE-3 is MEDIUM (passes default).
    let (status, pr) = call(
        &s.app,
        "POST",
        "/gate/trivy",
        Some(json!({"repo": "acme/shop", "ref": "refs/pull/7/merge", "baseline_ref": "refs/heads/main",
                    "report": image(&[("CVE-1", "HIGH"), ("CVE-3", "MEDIUM")])})),
    )
    .await;
    assert_eq!(status, 200, "{pr}");
    assert_eq!(pr["passed"], true, "CVE-1 is in main's baseline: {pr}");
    assert_eq!(pr["verdict"]["counts"]["baseline"], 1);

    // A named policy from the directory.
    let (_, strict) = call(
        &s.app,
        "POST",
        "/gate/trivy",
        Some(json!({"repo": "acme/web", "policy": "strict", "report": image(&[("CVE-3", "MEDIUM")])})),
    )
    .await;
    assert_eq!((strict["passed"].as_bool(), strict["verdict"]["policy"].as_str()), (Some(false), Some("strict")));

    let stored = s.sqlite.query(SECURITY_REPORTS, Query::new()).await.expect("query");
    assert_eq!(stored.len(), 3);

    for _ in 0..200 {
        if seen.0.lock().expect("lock").len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let messages = seen.0.lock().expect("lock").clone();
    assert_eq!(messages.len(), 3, "one gate.verdict per recorded verdict");
    assert!(messages.iter().all(|(ty, m)| ty == EVENT_TYPE && m["finding_keys"] == json!([])), "{messages:?}");
    assert_eq!(messages[0].1["repo"], "acme/shop");
    bus.shutdown().await;

    let (status, trends) = call(&s.app, "GET", "/api/v1/security?repo=acme/shop", None).await;
    assert_eq!(status, 200);
    let repos = trends["repositories"].as_array().expect("repositories");
    assert_eq!(repos.len(), 1);
    let shop = &repos[0];
    assert_eq!(
        (shop["verdicts"].as_u64(), shop["passed"].as_u64(), shop["pass_rate"].as_f64()),
        (Some(2), Some(1), Some(0.5))
    );
    assert_eq!(shop["trend"][0]["passed"], false, "oldest first");
    assert_eq!(shop["trend"][1]["passed"], true);
    assert_eq!(shop["change_since_previous"]["low"], -1, "the LOW finding is gone");
    assert_eq!(shop["change_since_previous"]["medium"], 1);
    let (_, all) = call(&s.app, "GET", "/api/v1/security", None).await;
    assert_eq!(all["repositories"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn bad_requests_name_the_problem() {
    let s = setup().await;
    let cases: &[(Value, &str)] = &[
        (json!({"repo": "acme/shop", "report": {"bomFormat": "CycloneDX"}}), "CycloneDX"),
        (json!({"repo": "acme/shop", "report": {"SchemaVersion": 3}}), "schema version 3"),
        (json!({"repo": "acme/shop", "report": image(&[]), "policy": "missing"}), "unknown policy \"missing\""),
        (json!({"repo": "acme/shop", "report": image(&[]), "policy": "../etc/passwd"}), "policy names are"),
        (json!({"repo": "acme/shop", "report": image(&[]), "policy": "broken"}), "the policy is invalid"),
        (json!({"repo": "shop", "report": image(&[])}), "repo must be owner/name"),
        (json!({"repo": "acme/shop", "report": image(&[]), "baseline": [1]}), "baseline: "),
        (json!({"repo": "acme/shop"}), "missing field `report`"),
    ];
    for (body, needle) in cases {
        let (status, answer) = call(&s.app, "POST", "/gate/trivy", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap_or("").contains(needle), "{body}: {answer}");
    }
    assert!(s.sqlite.query(SECURITY_REPORTS, Query::new()).await.expect("query").is_empty(), "nothing recorded");
    let (status, _) = call(&s.app, "GET", "/api/v1/security?repo=nope", None).await;
    assert_eq!(status, 400);
}
