//! `aetherveil sim` and `aetherveil demo` as a new user runs them: the simulator plays a scenario
//! into a real platform process, and everything it sent is readable through the platform's API.

use crate::support::{SECRET, Server, bin, get_json};
use serde_json::Value;
use std::process::Command;

const SCENARIO: &str = r#"
name = "cli"
seed = 9
days = 1
wall_seconds = 2
[[repos]]
name = "octo-org/cli-app"
pushes_per_day = 12
pull_requests_per_day = 4
fork_share = 0.5
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push", "pull_request", "pull_request_target"]
[[repos.workflows.jobs]]
name = "test"
runs_on = ["ubuntu-latest"]
tool = "go_test"
duration = { median = "4m", p95 = "6m" }
transient = { rate = 0.3, kinds = ["network", "flaky_test"] }
"#;

fn report(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("report written")).expect("report is JSON")
}

#[tokio::test]
async fn sim_plays_a_scenario_into_the_platform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(&scenario, SCENARIO).expect("write scenario");
    let report_path = dir.path().join("report.json");
    let out = Command::new(bin())
        .args(["sim", "--target", &server.url(""), "--secret", SECRET, "--drain", "0.2"])
        .arg("--scenario")
        .arg(&scenario)
        .arg("--report")
        .arg(&report_path)
        .output()
        .expect("run sim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("failed job attempts"), "{stdout}");
    let r = report(&report_path);
    let sent = r["webhooks"]["sent"].as_u64().expect("sent");
    assert!(sent > 0);
    assert_eq!(r["webhooks"]["accepted"], sent, "the platform acknowledged every webhook");
    assert_eq!(r["webhooks"]["failed"], 0);
    assert_eq!(r["deterministic_rerun_by_mistake"], 0);

    // Every run the simulator played is in the platform, in its final state.
    let client = reqwest::Client::new();
    let (status, runs) = get_json(&client, &server.url("/api/v1/runs?repo=octo-org/cli-app&limit=1000")).await;
    assert_eq!(status, 200, "{runs}");
    let runs = runs["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len() as u64, r["runs"].as_u64().expect("runs"), "{runs:?}");
    assert!(runs.iter().all(|run| run["status"] == "completed"), "{runs:?}");

    // The monitor saw them: health, baselines, forecasts and anomalies answer for the repository.
    let (status, health) = get_json(&client, &server.url("/api/v1/health?repo=octo-org/cli-app")).await;
    assert_eq!(status, 200, "{health}");
    let repo = &health["repos"][0]["health"];
    assert!(repo["runs"].as_u64() > Some(0), "{health}");
    let score = repo["score"].as_f64().expect("a score once there are runs");
    assert!((0.0..=100.0).contains(&score), "{score}");
    let (status, baselines) = get_json(&client, &server.url("/api/v1/baselines?repo=octo-org/cli-app")).await;
    assert_eq!(status, 200, "{baselines}");
    let (status, forecasts) = get_json(&client, &server.url("/api/v1/forecasts?repo=octo-org/cli-app")).await;
    assert_eq!(status, 200, "{forecasts}");
    assert!(forecasts["series"].as_array().is_some_and(|s| !s.is_empty()), "{forecasts}");
    let (status, _) = get_json(&client, &server.url("/api/v1/forecasts?repo=octo-org/cli-app&horizon=0")).await;
    assert_eq!(status, 400);
    let (status, _) = get_json(&client, &server.url("/api/v1/forecasts")).await;
    assert_eq!(status, 400, "a forecast needs a repository");
    let (status, anomalies) = get_json(&client, &server.url("/api/v1/anomalies?repo=octo-org/cli-app")).await;
    assert_eq!(status, 200, "{anomalies}");
    assert!(anomalies["anomalies"].is_array());
}

#[test]
fn sim_names_what_is_wrong_with_a_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("bad.toml");
    std::fs::write(&scenario, SCENARIO.replace("pushes_per_day", "pushes_a_day")).expect("write");
    let out = Command::new(bin())
        .args(["sim", "--target", "http://127.0.0.1:9", "--secret", "s", "--scenario"])
        .arg(&scenario)
        .output()
        .expect("run sim");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pushes_a_day") && stderr.contains("bad.toml"), "{stderr}");
}

#[test]
fn demo_starts_the_platform_plays_and_says_where_to_look() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report_path = dir.path().join("demo.json");
    let out = Command::new(bin())
        .args(["demo", "--addr", "127.0.0.1:0", "--days", "1", "--wall-seconds", "3", "--exit", "--report"])
        .arg(&report_path)
        .env("AETHERVEIL_LOG_LEVEL", "warn")
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("the platform is at http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("/api/v1/runs?repo="), "{stdout}");
    let r = report(&report_path);
    let sent = r["webhooks"]["sent"].as_u64().expect("sent");
    assert!(sent > 0);
    assert_eq!(r["webhooks"]["accepted"], sent);
    // logscan fetched every failed job's log from the simulated GitHub and diagnosed it.
    let d = &r["diagnoses"];
    let failed = d["failed_jobs"].as_u64().expect("failed jobs");
    assert!(failed > 0, "the demo fails jobs: {d}");
    assert_eq!(d["reported"], true, "{d}");
    assert_eq!(d["diagnosed"].as_u64(), Some(failed), "{d}");
    let right = d["cause_correct"].as_u64().expect("cause_correct");
    assert!(right * 10 >= failed * 9, "cause right for {right} of {failed}: {d}");
}
