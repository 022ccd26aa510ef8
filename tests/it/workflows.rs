//! The Cloud Workflows definitions and the scheduled jobs, run against a real `aetherveil serve`:
//! each workflow does what it says (triage reports the diagnoses and the healer's decision and asks
//! the council; retrain trains; the rollout promotes, rolls back or blocks and records it), every
//! URL a workflow calls is a route of the platform, every job of `scheduler/jobs.yaml` targets a
//! registered function or a workflow file and succeeds, and `serve` runs the jobs on their schedule.

use crate::support::{Server, bin, get_json, start_with_simulator};
use aetherveil::schedule::{self, Runner, Target};
use aetherveil_config::{Config, Overrides};
use aetherveil_simulator::Scenario;
use aetherveil_workflows::{Executor, Workflow, WorkflowError};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn workflow(name: &str) -> Workflow {
    let src = schedule::workflow(name).unwrap_or_else(|| panic!("workflow {name} is compiled in"));
    Workflow::parse(src).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The executor as `serve` configures it: every service URL is the platform's address.
fn executor(server: &Server) -> Executor {
    Executor::new().base_url(server.url(""))
}

const SCENARIO: &str = r#"
name = "workflows"
seed = 7
days = 2
wall_seconds = 8
[[repos]]
name = "acme/shop"
pushes_per_day = 24
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push"]
[[repos.workflows.jobs]]
name = "test"
runs_on = ["ubuntu-latest"]
tool = "npm"
duration = { median = "3m", p95 = "4m" }
transient = { rate = 0.25, kinds = ["network", "flaky_test"] }
[[repos.workflows.jobs]]
name = "lint"
runs_on = ["ubuntu-latest"]
tool = "npm"
duration = { median = "1m", p95 = "90s" }
"#;

/// The healer's decisions, newest first, once the bus has delivered them.
async fn decisions(client: &reqwest::Client, server: &Server) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get_json(client, &server.url("/api/v1/decisions?limit=200")).await;
        assert_eq!(status, 200, "{body}");
        let list = body["decisions"].as_array().cloned().unwrap_or_default();
        if !list.is_empty() || Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_reports_the_diagnoses_and_the_decision_and_asks_the_council() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = Scenario::from_toml(SCENARIO, "workflows scenario").expect("scenario");
    let env = [("AETHERVEIL_LLM_ENABLED", "false")];
    let (sim, server) = start_with_simulator(scenario, dir.path(), Duration::from_secs(2), &env).await;
    sim.run(|_| {}).await;
    let client = reqwest::Client::new();
    let decided = decisions(&client, &server).await;
    let d = decided
        .iter()
        .find(|d| d["decision"]["situation"]["failures"].as_array().is_some_and(|f| !f.is_empty()))
        .unwrap_or_else(|| panic!("no decision about a failure: {decided:?}"));
    let (run_id, attempt) = (d["run_id"].as_u64().expect("run_id"), d["run_attempt"].as_u64().expect("attempt"));

    let wf = workflow("triage-and-heal");
    let (result, trace) = executor(&server).run_traced(&wf, json!({"run_id": run_id, "attempt": attempt})).await;
    let report = result.unwrap_or_else(|e| panic!("triage failed: {e}; calls: {:?}", trace.http));

    // Every failed job of that attempt, with logscan's diagnosis of it.
    let (_, run) = get_json(&client, &server.url(&format!("/api/v1/runs/{run_id}"))).await;
    let failed: Vec<u64> = run["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["conclusion"] == "failure" && j["run_attempt"].as_u64() == Some(attempt))
        .map(|j| j["job_id"].as_u64().expect("job_id"))
        .collect();
    let reported: Vec<u64> =
        report["failures"].as_array().expect("failures").iter().map(|f| f["job_id"].as_u64().expect("id")).collect();
    assert_eq!(reported, failed, "{report}");
    for f in report["failures"].as_array().expect("failures") {
        let (status, diagnosis) = get_json(&client, &server.url(&format!("/api/v1/diagnoses/{}", f["job_id"]))).await;
        assert_eq!(status, 200, "{diagnosis}");
        assert_eq!(f["cause"], diagnosis["cause"], "{report}");
        assert_eq!(f["transient"], diagnosis["transient"], "{report}");
    }
    // The healer's decision, as the decisions API tells it.
    let (_, decision) = get_json(&client, &server.url(&format!("/api/v1/decisions/{run_id}-{attempt}"))).await;
    assert_eq!(report["decision"]["actions"], decision["decision"]["actions"], "{report}");
    assert_eq!(report["decision"]["execution"], decision["execution"]["state"], "{report}");
    let first = decision["decision"]["actions"][0].as_str().expect("an action");
    let reruns = matches!(first, "rerun_failed_jobs" | "clear_caches_then_rerun");
    let executed = decision["execution"]["state"] != "not_executed";
    let expected = match (reruns, executed) {
        (true, true) => "healing",
        (true, false) => "heal_recommended",
        (false, _) => "left_to_people",
    };
    assert_eq!(report["verdict"], expected, "{report}");
    // Not healing: the council was asked, and its plan is there.
    if expected == "healing" {
        assert_eq!(report["plan_id"], Value::Null, "{report}");
    } else {
        let id = report["plan_id"].as_str().unwrap_or_else(|| panic!("no plan: {report}"));
        let (status, plan) = get_json(&client, &server.url(&format!("/api/v1/plans/{id}"))).await;
        assert_eq!(status, 200, "{plan}");
        assert_eq!(plan["run_id"].as_u64(), Some(run_id), "{plan}");
    }

    // The same through the CLI, without asking the council again.
    let out = std::process::Command::new(bin())
        .args(["workflow", "run", "workflows/triage-and-heal.yaml", "--url", &server.url("")])
        .args(["--arg", &format!("run_id={run_id}"), "--arg", &format!("attempt={attempt}"), "--arg", "plan=false"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("aetherveil workflow run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("the result as JSON");
    assert_eq!(printed["failures"], report["failures"]);
    assert_eq!(printed["plan_id"], Value::Null);

    // The trainer learns from those diagnoses.
    let trained = executor(&server).run(&workflow("retrain"), json!({})).await.expect("retrain");
    assert!(trained["examples"].as_u64().is_some_and(|n| n > 0), "{trained}");
    assert_eq!(trained["status"] == "trained", trained["version"].is_u64(), "{trained}");

    // The hourly jobs record the repository's health baseline and forecasts.
    let store = aetherveil_store::SqliteStore::open(dir.path().join("runs.db"), aetherveil_store::Synchronous::Normal)
        .expect("store");
    let runner = Runner::new(&server.url(""), Arc::new(store));
    for job in schedule::jobs().expect("jobs") {
        if !matches!(job.name.as_str(), "recompute-health-baselines" | "forecast-capacity") {
            continue;
        }
        let outcome = runner.run(&job).await;
        assert!(outcome.ok, "{}: {}", job.name, outcome.detail);
        assert_eq!(outcome.detail["body"]["repos"], 1, "{}: {}", job.name, outcome.detail);
    }
    let (status, health) = get_json(&client, &server.url("/api/v1/health?repo=acme/shop")).await;
    assert_eq!(status, 200, "{health}");
    assert!(health["repos"][0]["health"]["runs"].as_u64().is_some_and(|n| n > 0), "{health}");
}

#[tokio::test]
async fn retrain_reports_a_skipped_round_and_fails_when_a_model_is_required() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let wf = workflow("retrain");
    let out = executor(&server).run(&wf, json!({})).await.expect("retrain");
    assert_eq!(out["status"], "skipped", "{out}");
    assert_eq!(out["examples"], 0, "{out}");
    match executor(&server).run(&wf, json!({"require_model": true})).await {
        Err(WorkflowError::Raised { value, .. }) => assert_eq!(value["tags"], json!(["NoModel"]), "{value}"),
        other => panic!("expected NoModel, got {other:?}"),
    }
}

/// Gates `repo` with a Trivy report: an empty one passes, the fixture with criticals fails.
async fn gate(client: &reqwest::Client, server: &Server, repo: &str, pass: bool) {
    let report: Value = if pass {
        json!({"SchemaVersion": 2, "ArtifactName": "app", "ArtifactType": "container_image", "Results": []})
    } else {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("functions/gate/tests/fixtures/image.json");
        serde_json::from_slice(&std::fs::read(path).expect("trivy fixture")).expect("json")
    };
    let r = client
        .post(server.url("/gate/trivy"))
        .json(&json!({"repo": repo, "report": report, "ref": "refs/heads/main"}))
        .send()
        .await
        .expect("gate");
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    let (_, security) = get_json(client, &server.url(&format!("/api/v1/security?repo={repo}&limit=1"))).await;
    assert_eq!(security["repositories"][0]["latest"]["passed"], pass, "{security}");
}

async fn release(client: &reqwest::Client, server: &Server, id: &Value) -> Value {
    let (status, r) = get_json(client, &server.url(&format!("/api/v1/releases/{}", id.as_str().expect("id")))).await;
    assert_eq!(status, 200, "{r}");
    r
}

fn actions(release: &Value) -> Vec<String> {
    release["events"].as_array().expect("events").iter().map(|e| e["action"].as_str().expect("a").to_owned()).collect()
}

#[tokio::test]
async fn release_rollout_promotes_rolls_back_and_blocks_and_records_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let client = reqwest::Client::new();
    let wf = workflow("release-rollout");
    let exec = executor(&server);
    gate(&client, &server, "acme/good", true).await;
    gate(&client, &server, "acme/bad", false).await;

    let args = json!({"repo": "acme/good", "version": "v1.0.0", "stages": [25, 100], "bake_seconds": 0});
    let out = exec.run(&wf, args).await.expect("rollout");
    assert_eq!(out["decision"], "promoted", "{out}");
    assert_eq!(out["checks"].as_array().map(Vec::len), Some(2), "{out}");
    let r = release(&client, &server, &out["release_id"]).await;
    assert_eq!(r["state"], "promoted");
    assert_eq!(actions(&r), ["stage", "stage", "promote"]);
    assert_eq!(r["events"][1]["percent"], 100.0);

    // A threshold no release can meet: the first stage rolls back.
    let args = json!({"repo": "acme/good", "version": "v1.0.1", "stages": [10, 100], "bake_seconds": 0, "max_health_drop": -1});
    let out = exec.run(&wf, args).await.expect("rollout");
    assert_eq!(out["decision"], "rolled_back", "{out}");
    let r = release(&client, &server, &out["release_id"]).await;
    assert_eq!(r["state"], "rolled_back");
    assert_eq!(actions(&r), ["stage", "rollback"]);
    assert_eq!(r["events"][1]["percent"], 10.0);

    // A failed gate, and a repository never gated, block before any stage.
    for repo in ["acme/bad", "acme/unscanned"] {
        let out = exec.run(&wf, json!({"repo": repo, "version": "v2", "bake_seconds": 0})).await.expect("rollout");
        assert_eq!(out["decision"], "blocked", "{out}");
        let r = release(&client, &server, &out["release_id"]).await;
        assert_eq!(actions(&r), ["block"], "{r}");
    }
    // Unless unscanned repositories are allowed.
    let args =
        json!({"repo": "acme/unscanned", "version": "v3", "stages": [100], "bake_seconds": 0, "allow_unscanned": true});
    assert_eq!(exec.run(&wf, args).await.expect("rollout")["decision"], "promoted");
    // A finished release takes no more events.
    let r = client
        .post(server.url(&format!("/api/v1/releases/{}/events", out["release_id"].as_str().expect("id"))))
        .json(&json!({"action": "stage", "percent": 5}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
}

/// `(method, path)` of every HTTP call in the workflow files, URL parameters as `1`.
fn workflow_calls() -> Vec<(String, &'static str, String)> {
    let mut out = Vec::new();
    for (name, _) in schedule::WORKFLOWS {
        for (method, pattern) in workflow(name).http_calls() {
            let path = pattern
                .strip_prefix("{}")
                .unwrap_or_else(|| panic!("{name}: {pattern} does not start at a service URL"));
            assert!(path.starts_with('/'), "{name}: {pattern}");
            out.push(((*name).to_owned(), method, path.replace("{}", "1")));
        }
    }
    out
}

/// Answers with a route of the platform: anything but the router's own 404 (no JSON body) or 405.
async fn answers(client: &reqwest::Client, server: &Server, method: &str, path: &str) -> Result<u16, String> {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let r = client.request(m, server.url(path)).json(&json!({})).send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    let handler_said = serde_json::from_str::<Value>(&body).is_ok_and(|v| v.get("error").is_some());
    if status == 405 || (status == 404 && !handler_said) { Err(format!("{status} {body}")) } else { Ok(status) }
}

#[tokio::test]
async fn every_workflow_url_and_scheduled_job_is_served_by_the_platform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("serve"));
    let client = reqwest::Client::new();

    let calls = workflow_calls();
    assert!(calls.len() >= 10, "{calls:?}");
    for (name, method, path) in &calls {
        if let Err(e) = answers(&client, &server, method, path).await {
            panic!("{name}: {method} {path} is not a route of the platform: {e}");
        }
    }
    // The check itself tells a missing route from a handler's 404.
    assert!(answers(&client, &server, "GET", "/api/v1/no-such-thing").await.is_err());
    assert!(answers(&client, &server, "GET", "/api/v1/diagnoses/1").await.is_ok());

    // Every job names a function of the registry (what `run-function` can serve) or a workflow
    // file, and succeeds against the platform.
    let config = Config::load_from(
        None,
        [("AETHERVEIL_WEBHOOK_SECRET".to_owned(), "workflows".to_owned())],
        &Overrides { addr: None, data_dir: Some(dir.path().join("registry")) },
    )
    .expect("default config");
    let functions = aetherveil::serve::Host::open(config).expect("host").registry().names();
    let store = aetherveil_store::SqliteStore::open(dir.path().join("runs.db"), aetherveil_store::Synchronous::Normal)
        .expect("store");
    let runner = Runner::new(&server.url(""), Arc::new(store));
    let jobs = schedule::jobs().expect("scheduler/jobs.yaml");
    for job in &jobs {
        if let Target::Function { function, .. } = &job.target {
            assert!(functions.contains(&function.as_str()), "{}: {function} is not in {functions:?}", job.name);
        }
        let outcome = runner.run(job).await;
        assert!(outcome.ok, "{} failed: {}", job.name, outcome.detail);
    }
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    for expected in
        ["retrain-models", "recompute-health-baselines", "forecast-capacity", "evaluate-alerts", "apply-retention"]
    {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
}

#[tokio::test]
async fn serve_runs_the_jobs_on_their_schedule_and_records_each_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let client = reqwest::Client::new();
    // evaluate-alerts runs every minute: its first run comes within a minute of the start.
    let deadline = Instant::now() + Duration::from_secs(90);
    let jobs = loop {
        let (status, body) = get_json(&client, &server.url("/api/v1/schedule")).await;
        assert_eq!(status, 200, "{body}");
        let jobs = body["jobs"].as_array().cloned().expect("jobs");
        let alerts = jobs.iter().find(|j| j["name"] == "evaluate-alerts").expect("evaluate-alerts");
        if alerts["last"]["last_run"]["outcome"].is_string() {
            break jobs;
        }
        assert!(Instant::now() < deadline, "evaluate-alerts never ran: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let alerts = jobs.iter().find(|j| j["name"] == "evaluate-alerts").expect("evaluate-alerts");
    let last = &alerts["last"];
    assert_eq!(last["last_run"]["outcome"], "ok", "{last}");
    assert_eq!(last["last_run"]["detail"]["status"], 200, "{last}");
    assert_eq!(last["runs"], 1, "{last}");
    assert_eq!(last["failures"], 0, "{last}");
    // Every job is scheduled by the running scheduler (its record names the next run).
    for job in &jobs {
        assert!(job["last"]["next_run_at"].is_string(), "{job}");
    }
}
