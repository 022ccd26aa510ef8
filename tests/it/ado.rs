//! The orchestrator end to end, with no language model configured: the simulator plays its
//! scenarios against a real `aetherveil serve`, the council plans on the diagnoses the healer
//! cannot settle, on anomalies and on gate failures, and the Security Guardian vetoes every rerun
//! of a `pull_request_target` or fork run the scenario provokes. Then the on-demand paths: a
//! deploy past a failed gate, a repository in `act`, and `aetherveil plan --run`.

use crate::support::{Server, bin, get_json, start_with_simulator};
use aetherveil_simulator::Scenario;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

fn scenario(name: &str, days: f64, wall_seconds: f64) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("shared/simulator/scenarios/{name}.toml"));
    let mut s = Scenario::from_file(&path).expect("the scenario loads");
    s.days = days;
    s.wall_seconds = Some(wall_seconds);
    s
}

async fn play(scenario: Scenario, data_dir: &Path) -> Server {
    let env = [("AETHERVEIL_LLM_ENABLED", "false")];
    let (sim, server) = start_with_simulator(scenario, data_dir, Duration::from_secs(4), &env).await;
    let report = sim.run(|_| {}).await;
    eprintln!("{}", report.render());
    server
}

async fn list(client: &reqwest::Client, server: &Server, path: &str, key: &str) -> Vec<Value> {
    let (status, body) = get_json(client, &server.url(path)).await;
    assert_eq!(status, 200, "{path}: {body}");
    body[key].as_array().cloned().unwrap_or_else(|| panic!("{key} in {body}"))
}

/// The failed job attempts of untrusted runs (pull_request_target or a fork), by job id.
async fn untrusted_diagnoses(client: &reqwest::Client, server: &Server) -> BTreeMap<u64, Value> {
    let mut runs: BTreeMap<u64, Value> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for d in list(client, server, "/api/v1/diagnoses?limit=1000", "diagnoses").await {
        let run_id = d["run_id"].as_u64().expect("run_id");
        if let std::collections::btree_map::Entry::Vacant(slot) = runs.entry(run_id) {
            let (status, run) = get_json(client, &server.url(&format!("/api/v1/runs/{run_id}"))).await;
            assert_eq!(status, 200, "{run}");
            slot.insert(run);
        }
        let run = &runs[&run_id];
        let r = if run.get("run").is_some() { &run["run"] } else { run };
        if r["event"] == "pull_request_target" || r["from_fork"] == true {
            out.insert(d["job_id"].as_u64().expect("job_id"), d);
        }
    }
    out
}

/// Waits until every id has a plan (the bus delivers after the scenario ends), then returns them.
async fn plans_for(client: &reqwest::Client, server: &Server, ids: &BTreeSet<String>) -> BTreeMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut found = BTreeMap::new();
        for id in ids {
            let (status, plan) = get_json(client, &server.url(&format!("/api/v1/plans/{id}"))).await;
            if status == 200 {
                found.insert(id.clone(), plan);
            }
        }
        if found.len() == ids.len() || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every rerun proposed in the plan is vetoed by the Security Guardian, and nothing reruns.
fn assert_guarded(id: &str, plan: &Value) {
    let c = &plan["consensus_decision"];
    let vetoed: BTreeSet<&str> = c["vetoes"]
        .as_array()
        .expect("vetoes")
        .iter()
        .filter(|v| v["by"] == "security_guardian")
        .filter_map(|v| v["action"].as_str())
        .collect();
    assert!(vetoed.contains("rerun_failed_jobs") && vetoed.contains("clear_caches_then_rerun"), "{id}: {c}");
    for d in plan["agent_decisions"].as_array().expect("decisions") {
        let action = d["action"].as_str().expect("action");
        if action == "rerun_failed_jobs" || action == "clear_caches_then_rerun" {
            assert!(vetoed.contains(action), "{id}: {} proposed {action} unvetoed", d["role"]);
        }
    }
    let primary = c["primary_recommendation"].as_str().expect("primary");
    assert!(primary != "rerun_failed_jobs" && primary != "clear_caches_then_rerun", "{id}: {c}");
    for step in plan["execution_plan"]["steps"].as_array().expect("steps") {
        assert_ne!(step["status"], "dispatched", "{id}: recommend mode dispatches nothing: {step}");
    }
}

async fn check_scenario(
    name: &str,
    days: f64,
    wall: f64,
) -> (tempfile::TempDir, Server, Vec<Value>, BTreeMap<String, Value>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = play(scenario(name, days, wall), dir.path()).await;
    let client = reqwest::Client::new();
    let untrusted = untrusted_diagnoses(&client, &server).await;
    let ids: BTreeSet<String> = untrusted.keys().map(|job| format!("diagnosis-{job}")).collect();
    let plans = plans_for(&client, &server, &ids).await;
    let missing: Vec<&String> = ids.iter().filter(|id| !plans.contains_key(*id)).collect();
    assert!(missing.is_empty(), "{name}: untrusted failures without a plan: {missing:?}");
    for (id, plan) in &plans {
        assert_guarded(id, plan);
        assert_eq!(plan["llm"]["outcome"], "disabled");
        for field in ["context", "agent_decisions", "consensus_decision", "execution_plan", "created_at"] {
            assert!(plan.get(field).is_some(), "{id} lacks {field}");
        }
        for field in ["event_type", "source_data", "current_state"] {
            assert!(plan["context"].get(field).is_some(), "{id}: context lacks {field}");
        }
        for field in ["consensus", "confidence", "primary_recommendation"] {
            assert!(plan["consensus_decision"].get(field).is_some(), "{id}: consensus_decision lacks {field}");
        }
        let explanation = plan["explanation"].as_array().expect("explanation");
        assert!(explanation.len() >= 7, "{id}: header, five agents, the vote: {explanation:?}");
        assert!(explanation.iter().any(|l| l.as_str().is_some_and(|l| l.contains("VETO rerun_failed_jobs"))));
    }
    let all = list(&client, &server, "/api/v1/plans?limit=1000", "plans").await;
    let kinds: BTreeMap<String, usize> = all.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(p["event_type"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
        m
    });
    eprintln!("{name}: {} plans {kinds:?}; {} untrusted failures, each vetoed", all.len(), plans.len());
    (dir, server, all, plans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healing_scenario_plans_and_the_guardian_vetoes_every_untrusted_rerun() {
    let (_dir, server, all, untrusted) = check_scenario("healing", 10.0, 16.0).await;
    assert!(!untrusted.is_empty(), "the healing scenario fails pull_request_target and fork runs");
    assert!(all.iter().any(|p| p["event_type"] == "anomaly"), "the monitor's anomalies got plans");

    // `aetherveil plan --run` on one of those runs: a fresh plan, with the veto explained.
    let run_id = untrusted.values().next().and_then(|p| p["run_id"].as_u64()).expect("a run");
    let out = std::process::Command::new(bin())
        .args(["plan", "--run", &run_id.to_string(), "--url", &server.url("")])
        .output()
        .expect("aetherveil plan");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Security Guardian") && text.contains("VETO rerun_failed_jobs"), "{text}");
    let bad = std::process::Command::new(bin())
        .args(["plan", "--run", "999999999", "--url", &server.url("")])
        .output()
        .expect("aetherveil plan");
    assert!(!bad.status.success(), "an unknown run is an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_scenario_plans_and_the_guardian_vetoes_every_untrusted_rerun() {
    let (_dir, server, all, _) = check_scenario("demo", 8.0, 14.0).await;
    assert!(!all.is_empty(), "the demo scenario produced plans");
    let client = reqwest::Client::new();

    // On demand: a deploy past a failed gate is vetoed and held.
    let gate_failed = json!({
        "repo": "acme/shop-api",
        "proposed_action": "promote_release",
        "context": {"event_type": "deploy_request", "source_data": {"ref": "v1.2.0"}, "current_state": {
            "gate": {"id": "r1", "passed": false, "policy": "default", "git_ref": "v1.2.0",
                     "reasons": ["2 critical vulnerabilities"], "max_risk": 9.1}
        }}
    });
    let r = client.post(server.url("/api/v1/plans")).json(&gate_failed).send().await.expect("post");
    assert_eq!(r.status(), 201);
    let plan: Value = r.json().await.expect("plan");
    let c = &plan["consensus_decision"];
    assert_eq!(c["consensus"], "agreed", "{c}");
    assert_eq!(c["primary_recommendation"], "hold_release", "{c}");
    assert!(c["vetoes"].as_array().expect("vetoes").iter().any(|v| v["action"] == "promote_release"), "{c}");
    let id = plan["id"].as_str().expect("id");
    let (status, again) = get_json(&client, &server.url(&format!("/api/v1/plans/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(again["consensus_decision"], plan["consensus_decision"]);

    // A repository in `act`: an agreed rerun of a trusted run is dispatched to the healer.
    let r = client
        .post(server.url("/api/v1/repos/acme/ops/mode"))
        .json(&json!({"mode": "act"}))
        .send()
        .await
        .expect("mode");
    assert_eq!(r.status(), 200);
    let transient = json!({"repo": "acme/ops", "context": {"current_state": {
        "run": {"run_id": 5, "run_attempt": 1, "workflow": "CI", "event": "push", "from_fork": false,
                "head_branch": "main", "head_sha": "abc", "release_branch": true, "conclusion": "failure"},
        "diagnoses": [{"id": "50", "job": "build", "cause": "infrastructure", "confidence": 0.9, "transient": true,
                       "summary": "the runner lost communication"}]
    }}});
    let plan: Value = client
        .post(server.url("/api/v1/plans"))
        .json(&transient)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("plan");
    assert_eq!(plan["consensus_decision"]["primary_recommendation"], "rerun_failed_jobs", "{plan}");
    assert_eq!(plan["execution_plan"]["mode"], "act");
    assert_eq!(plan["execution_plan"]["steps"][0]["status"], "dispatched", "{plan}");
    assert_eq!(plan["execution_plan"]["steps"][0]["executor"], "healer");
    // The healer takes the dispatched step up and records what became of it (here GitHub cannot
    // rerun run 5, so it is not done), and the plan shows it.
    let id = plan["id"].as_str().expect("id");
    let deadline = Instant::now() + Duration::from_secs(30);
    let execution = loop {
        let (status, shown) = get_json(&client, &server.url(&format!("/api/v1/plans/{id}"))).await;
        assert_eq!(status, 200, "{shown}");
        let execution = shown["executions"][0]["execution"].clone();
        if execution["state"] != "queued" || Instant::now() > deadline {
            break execution;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_ne!(execution["state"], "queued", "the healer never took the step up: {execution}");
    assert_ne!(execution["state"], "done", "run 5 cannot have been rerun: {execution}");
    assert!(!execution["detail"].as_str().unwrap_or_default().is_empty(), "{execution}");

    // The outcome teaches the weights: the backers of a rerun that passed gain weight.
    let id = plan["id"].as_str().expect("id");
    let r = client
        .post(server.url(&format!("/api/v1/plans/{id}/outcome")))
        .json(&json!({"action": "rerun_failed_jobs", "success": true}))
        .send()
        .await
        .expect("outcome");
    assert_eq!(r.status(), 200);
    let next: Value = client
        .post(server.url("/api/v1/plans"))
        .json(&transient)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("plan");
    let w = &next["consensus_decision"]["weights"];
    assert!(w["build_optimizer"].as_f64() > Some(1.0), "{w}");
    assert!(w["infrastructure_manager"].as_f64() > Some(1.0), "{w}");

    // Bad requests are refused with a reason.
    let r = client
        .post(server.url("/api/v1/plans"))
        .json(&json!({"repo": "acme/ops", "proposed_action": "delete_everything"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let (status, _) = get_json(&client, &server.url("/api/v1/plans/no-such-plan")).await;
    assert_eq!(status, 404);
}
