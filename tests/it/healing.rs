//! The healer end to end: the simulator plays GitHub (webhooks in, REST calls answered, ground
//! truth kept) against a real `aetherveil serve` process, and its report is checked against the
//! guarantees: transient failures healed, deterministic ones never rerun, the budget and the
//! attempt limit kept, forks and `pull_request_target` never rerun, and no action repeated, even
//! across a kill -9 of the platform, webhook redeliveries and GitHub's 5xx and rate limits.

use crate::support::{Server, get_json, start_with_simulator};
use aetherveil_simulator::api::{Fault, FaultKind};
use aetherveil_simulator::{Report, Scenario, Simulator};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

fn healing_scenario(wall_seconds: f64, days: Option<f64>) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/simulator/scenarios/healing.toml");
    let mut s = Scenario::from_file(&path).expect("the healing scenario loads");
    if let Some(d) = days {
        s.days = d;
    }
    s.wall_seconds = Some(wall_seconds);
    s
}

/// The simulator (bound, not yet playing) and the platform, wired to each other.
async fn start(scenario: Scenario, data_dir: &Path, env: &[(&str, &str)]) -> (Simulator, Server) {
    start_with_simulator(scenario, data_dir, Duration::from_secs(4), env).await
}

/// Opts every repository of the scenario in to `act`, through the API an operator uses.
async fn act_everywhere(server: &Server, scenario: &Scenario) {
    let client = reqwest::Client::new();
    for repo in &scenario.repos {
        let r = client
            .post(server.url(&format!("/api/v1/repos/{}/mode", repo.name)))
            .json(&json!({"mode": "act"}))
            .send()
            .await
            .expect("set mode");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
}

fn healing(report: &Report) -> Value {
    serde_json::to_value(report).expect("report json")["healing"].clone()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Issues per marker in the simulated GitHub: the healer keeps one per failure signature, and one
/// per recommendation and target of the orchestrator's plans it carries out.
fn issues_per_signature(sim: &Simulator) -> BTreeMap<String, usize> {
    let world = sim.shared().world();
    let mut out = BTreeMap::new();
    for issue in world.repos.iter().flat_map(|r| &r.issues) {
        let body = issue.body.as_deref().unwrap_or("");
        let marker = body
            .lines()
            .find(|l| l.starts_with("<!-- aetherveil-signature:") || l.starts_with("<!-- aetherveil-plan-issue:"))
            .unwrap_or("(no marker)");
        *out.entry(marker.to_owned()).or_default() += 1;
    }
    out
}

/// Every decision the platform took, by id.
async fn decisions(server: &Server) -> BTreeMap<String, Value> {
    let (status, body) = get_json(&reqwest::Client::new(), &server.url("/api/v1/decisions?limit=1000")).await;
    assert_eq!(status, 200, "{body}");
    body["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .map(|d| (d["id"].as_str().expect("id").to_owned(), d.clone()))
        .collect()
}

// Issue 6's acceptance run: thirty simulated days in a minute. It runs alone (see
// .config/nextest.toml), since a platform starved of CPU lags the compressed clock. With a green
// run worth 240 runner minutes (healer.value_of_green_minutes), seven runs healed 96.1% to 98.8%
// of the transient failures the platform may rerun; with 60, fifteen earlier runs ranged from 80%
// to 100%: a few early timeout reruns that failed pushed the learned probability of long timeouts
// below break-even.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_days_heal_transient_failures_and_never_rerun_deterministic_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = healing_scenario(60.0, None);
    let (sim, server) = start(scenario.clone(), dir.path(), &[]).await;
    act_everywhere(&server, &scenario).await;
    let report = sim.run(|_| {}).await;
    let h = healing(&report);
    eprintln!("{}", report.render());

    let episodes = num(&h, "transient_episodes");
    assert!(episodes >= 30.0, "the scenario has transient failures to heal: {h}");
    assert!(num(&h, "heal_rate") >= 0.95, "at least 95% of transient failures healed: {h}");
    assert!(num(&h, "deterministic_episodes") >= 5.0, "and deterministic ones: {h}");
    assert_eq!(num(&h, "deterministic_rerun_by_mistake"), 0.0, "{h}");
    assert_eq!(report.deterministic_rerun_by_mistake, 0);
    assert_eq!(num(&h, "reruns_of_forks_or_pull_request_target"), 0.0, "{h}");
    assert_eq!(num(&h, "duplicate_reruns"), 0.0, "{h}");
    let defaults = aetherveil_config::Config::defaults().healer;
    assert!(num(&h, "max_reruns_per_repo_day") <= f64::from(defaults.budget_reruns_per_day), "{h}");
    assert!(num(&h, "max_run_attempt") <= f64::from(1 + defaults.max_attempts), "{h}");
    let issues = issues_per_signature(&sim);
    assert!(!issues.is_empty(), "the broken default branches got issues");
    assert!(issues.values().all(|&n| n == 1), "one issue per signature: {issues:?}");

    // The platform's own account agrees, and each decision explains itself.
    let client = reqwest::Client::new();
    let (status, body) = get_json(&client, &server.url("/api/v1/healing")).await;
    assert_eq!(status, 200, "{body}");
    let stats = &body["stats"];
    assert!(stats["reruns_succeeded"].as_u64() > Some(0), "{stats}");
    assert!(stats["mttr_healed_seconds"].as_f64().is_some(), "{stats}");
    let history = body["history"].as_array().expect("history");
    let entry = history.first().expect("healing_history has entries");
    for field in [
        "event_id",
        "timestamp",
        "repository",
        "workflow_name",
        "failure_type",
        "healing_actions",
        "success",
        "duration_seconds",
        "priority",
        "success_probability",
        "evidence",
    ] {
        assert!(entry.get(field).is_some(), "healing_history lacks {field}: {entry}");
    }
    let all = decisions(&server).await;
    for (id, d) in &all {
        if d["decision"]["execute"] == true {
            assert_eq!(d["execution"]["state"], "done", "decision {id} was carried out: {d}");
        }
    }
    let forks: Vec<&Value> = all
        .values()
        .filter(|d| d["decision"]["reason"].as_str().is_some_and(|r| r.contains("never rerun automatically")))
        .collect();
    assert!(!forks.is_empty(), "the scenario's fork and pull_request_target failures were seen and only recommended");
    let id = all.keys().next().expect("a decision");
    let (status, one) = get_json(&client, &server.url(&format!("/api/v1/decisions/{id}"))).await;
    assert_eq!(status, 200, "{one}");
    assert!(one["explanation"].as_array().is_some_and(|e| e.len() >= 3), "{one}");
    let (status, _) = get_json(&client, &server.url("/api/v1/decisions/no-such-run-1")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_healing_and_redeliveries_never_rerun_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = healing_scenario(16.0, Some(10.0));
    let (sim, mut server) = start(scenario.clone(), dir.path(), &[]).await;
    let addr = server.addr;
    act_everywhere(&server, &scenario).await;
    // The first call about a run in each repository answers slowly: a window between the
    // recorded intent and GitHub's answer.
    for repo in &scenario.repos {
        sim.shared().api.inject(Fault {
            path_prefix: format!("/repos/{}/actions/runs/", repo.name),
            count: 1,
            kind: FaultKind::Slow(Duration::from_secs(2)),
        });
    }
    let shared = sim.shared().clone();
    let api = sim.api_url();
    let data_dir = dir.path().to_path_buf();
    let killer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        // First kill: while a decision is recorded but not carried out.
        let mut caught_pending = false;
        for _ in 0..2000 {
            let (_, body) = get_json(&client, &server.url("/api/v1/decisions?limit=100")).await;
            if body["decisions"].as_array().is_some_and(|d| d.iter().any(|d| d["execution"]["state"] == "pending")) {
                caught_pending = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let restart = |server: &mut Server| {
            server.kill9();
            std::thread::sleep(Duration::from_millis(300));
            *server = Server::start_at(
                addr,
                &data_dir,
                &[("AETHERVEIL_GITHUB_API_URL", &api), ("AETHERVEIL_GITHUB_TOKEN", "sim-token")],
            );
        };
        restart(&mut server);
        // Second kill: in the thick of it.
        while shared.world().reruns.len() < 12 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        restart(&mut server);
        (server, caught_pending)
    });
    let report = sim.run(|_| {}).await;
    let (server, caught_pending) = killer.await.expect("killer");
    assert!(caught_pending, "the platform was killed between deciding and acting");
    let h = healing(&report);
    assert!(report.reruns_requested >= 12, "{h}");
    assert_eq!(num(&h, "duplicate_reruns"), 0.0, "no rerun reached GitHub twice: {h}");
    assert_eq!(num(&h, "deterministic_rerun_by_mistake"), 0.0, "{h}");
    let issues = issues_per_signature(&sim);
    assert!(issues.values().all(|&n| n == 1), "one issue per signature across the crashes: {issues:?}");

    // Redeliver every completed run with fresh delivery ids, as a replaying proxy would: the
    // decisions exist, so nothing is rerun again.
    let before = sim.shared().world().reruns.len();
    let runs: Vec<_> = sim.shared().world().runs.values().map(|r| r.info.clone()).collect();
    let client = reqwest::Client::new();
    for run in runs.iter().filter(|r| r.attempt > 1) {
        let body =
            serde_json::to_vec(&aetherveil_simulator::payloads::workflow_run_event("completed", run)).expect("payload");
        let r = crate::support::post(&client, &server.url(""), "workflow_run", &uuid::Uuid::new_v4().to_string(), body)
            .await
            .expect("post");
        assert!(r.status().is_success());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sim.shared().world().reruns.len(), before, "a redelivery never reruns again");
    for (id, d) in decisions(&server).await {
        if d["decision"]["execute"] == true {
            assert_eq!(d["execution"]["state"], "done", "decision {id} finished after the restarts: {d}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_5xx_and_secondary_rate_limits_delay_actions_but_never_repeat_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = healing_scenario(8.0, Some(4.0));
    let (sim, server) = start(scenario.clone(), dir.path(), &[]).await;
    act_everywhere(&server, &scenario).await;
    // The first reruns meet a 502 then a secondary rate limit; issue calls meet a 503.
    let api = &sim.shared().api;
    for repo in &scenario.repos {
        let prefix = format!("/repos/{}/actions/runs/", repo.name);
        api.inject(Fault {
            path_prefix: prefix.clone(),
            count: 2,
            kind: FaultKind::Status { status: 502, retry_after: None },
        });
        api.inject(Fault {
            path_prefix: prefix,
            count: 1,
            kind: FaultKind::Status { status: 403, retry_after: Some(1) },
        });
        api.inject(Fault {
            path_prefix: format!("/repos/{}/issues", repo.name),
            count: 2,
            kind: FaultKind::Status { status: 503, retry_after: None },
        });
    }
    let report = sim.run(|_| {}).await;
    let h = healing(&report);
    assert!(report.api.faults_injected >= scenario.repos.len() as u64, "{:?}", report.api);
    assert!(report.reruns_requested > 0, "{h}");
    assert_eq!(num(&h, "duplicate_reruns"), 0.0, "{h}");
    for (id, d) in decisions(&server).await {
        if d["decision"]["execute"] == true {
            assert_eq!(d["execution"]["state"], "done", "decision {id} completed despite the faults: {d}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_budget_is_never_exceeded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = healing_scenario(8.0, Some(5.0));
    let (sim, server) = start(scenario.clone(), dir.path(), &[("AETHERVEIL_HEALER_BUDGET_RERUNS_PER_DAY", "2")]).await;
    act_everywhere(&server, &scenario).await;
    let report = sim.run(|_| {}).await;
    let h = healing(&report);
    assert!(num(&h, "max_reruns_per_repo_day") <= 2.0, "{h}");
    let held_back = decisions(&server)
        .await
        .values()
        .filter(|d| d["decision"]["reason"].as_str().is_some_and(|r| r.contains("budget is spent")))
        .count();
    assert!(held_back > 0, "the budget bound on some days: {h}");
}
