//! The simulator end to end: a scenario played against a webhook receiver on loopback, and the
//! REST endpoints read back with plain HTTP.

use aetherveil_simulator::api::{Fault, FaultKind};
use aetherveil_simulator::{Scenario, SimOptions, Simulator};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "sim-test-secret";

fn scenario(extra: &str) -> Scenario {
    let text = format!(
        r#"
name = "small"
seed = 11
days = 1
wall_seconds = 1.5
{extra}
[[repos]]
name = "octo-org/app"
pushes_per_day = 20
pull_requests_per_day = 6
fork_share = 0.5
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push", "pull_request"]
[[repos.workflows.jobs]]
name = "build"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = {{ median = "4m", p95 = "6m" }}
[[repos.workflows.jobs]]
name = "test"
runs_on = ["self-hosted", "linux"]
tool = "pytest"
duration = {{ median = "6m" }}
transient = {{ rate = 0.5, kinds = ["network", "flaky_test"], rerun_pass = 1.0 }}
[[repos.workflows]]
name = "Triage"
file = "triage.yml"
on = ["pull_request_target"]
[[repos.workflows.jobs]]
name = "label"
runs_on = ["ubuntu-latest"]
tool = "npm"
duration = {{ median = "30s" }}
"#
    );
    Scenario::from_toml(&text, "test").expect("valid scenario")
}

#[derive(Default)]
struct Received {
    deliveries: Vec<(String, String, Value)>,
    bad_signatures: usize,
}

async fn receive(State(seen): State<Arc<Mutex<Received>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let expected = aetherveil_simulator::payloads::sign(SECRET.as_bytes(), &body);
    let mut seen = seen.lock().expect("lock");
    if header("x-hub-signature-256") != expected {
        seen.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else { return StatusCode::BAD_REQUEST };
    seen.deliveries.push((header("x-github-event"), header("x-github-delivery"), value));
    StatusCode::OK
}

async fn receiver() -> (String, Arc<Mutex<Received>>) {
    let seen = Arc::new(Mutex::new(Received::default()));
    let app = axum::Router::new().route("/webhook/github", axum::routing::post(receive)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/webhook/github"), seen)
}

fn options(target: Option<String>) -> SimOptions {
    SimOptions {
        target,
        secret: SECRET.as_bytes().to_vec(),
        drain: Duration::from_millis(200),
        ..SimOptions::default()
    }
}

#[tokio::test]
async fn a_scenario_arrives_as_signed_webhooks_in_github_order() {
    let (url, seen) = receiver().await;
    let sim = Simulator::start(scenario(""), options(Some(url))).await.expect("start");
    let report = sim.run(|_| {}).await;
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.bad_signatures, 0);
    assert!(report.runs > 5, "{report:?}");
    let produced: u64 = report.webhooks.produced.values().sum();
    assert_eq!(report.webhooks.sent, produced);
    assert_eq!(report.webhooks.accepted, produced);
    assert_eq!(seen.deliveries.len() as u64, produced);
    let ids: HashSet<&str> = seen.deliveries.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), seen.deliveries.len(), "every delivery has its own X-GitHub-Delivery");
    let events: HashSet<&str> =
        seen.deliveries.iter().filter_map(|(_, _, v)| v["workflow_run"]["event"].as_str()).collect();
    assert!(events.contains("push") && events.contains("pull_request"), "{events:?}");
    assert!(events.contains("pull_request_target"), "fork pull requests run pull_request_target: {events:?}");
    // Each run: requested, in_progress, completed; each job: queued, in_progress, completed.
    let completed_runs =
        seen.deliveries.iter().filter(|(e, _, v)| e == "workflow_run" && v["action"] == "completed").count();
    assert_eq!(completed_runs, report.runs);
    let completed_jobs =
        seen.deliveries.iter().filter(|(e, _, v)| e == "workflow_job" && v["action"] == "completed").count();
    assert_eq!(completed_jobs, report.jobs);
    assert!(report.failures > 0 && report.failures == report.transient_failures);
    sim.shutdown();
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).bearer_auth("t0ken").send().await.expect("request")
}

#[tokio::test]
async fn the_rest_api_speaks_githubs_shapes() {
    let sim = Simulator::start(scenario(""), options(None)).await.expect("start");
    let report = sim.run(|_| {}).await;
    let api = sim.api_url();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let (failed_run, failed_job) = {
        let world = sim.shared().world();
        let f = world.failures.first().expect("a failure");
        (f.run_id, f.job_id)
    };
    assert!(report.failures > 0);
    let repo = format!("{api}/repos/octo-org/app");

    // Without a token: 401, as GitHub answers.
    let r = client.get(format!("{repo}/actions/runs/{failed_run}")).send().await.expect("request");
    assert_eq!(r.status(), 401);

    let run: Value = get(&client, &format!("{repo}/actions/runs/{failed_run}")).await.json().await.expect("json");
    assert_eq!(run["id"], failed_run);
    assert_eq!(run["conclusion"], "failure");
    let r = get(&client, &format!("{repo}/actions/runs/{failed_run}/jobs?per_page=1")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["x-ratelimit-remaining"].to_str().expect("ascii").parse::<u64>().is_ok());
    let link = r.headers()["link"].to_str().expect("ascii").to_owned();
    assert!(link.contains("rel=\"next\"") && link.contains("page=2"), "{link}");
    let jobs: Value = r.json().await.expect("json");
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(1));
    assert!(jobs["total_count"].as_u64() >= Some(2));

    // Logs: 302 to a blob URL, then the text in GitHub's format.
    let r = get(&client, &format!("{repo}/actions/jobs/{failed_job}/logs")).await;
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().expect("ascii").to_owned();
    let log = reqwest::get(&location).await.expect("blob").text().await.expect("text");
    assert!(log.contains("##[error]"), "a failed job's log has an error line");
    assert!(log.lines().all(|l| l.get(..4).is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()))), "timestamps");
    let r = get(&client, &format!("{repo}/actions/runs/{failed_run}/logs")).await;
    assert_eq!(r.status(), 302);
    let zip_url = r.headers()["location"].to_str().expect("ascii").to_owned();
    let bytes = reqwest::get(&zip_url).await.expect("zip").bytes().await.expect("bytes");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip archive");
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    assert!(names.iter().any(|n| n.starts_with("0_") && n.ends_with(".txt")), "one file per job: {names:?}");
    let step = names.iter().find(|n| n.contains("/") && n.contains("Set up job")).expect("step files");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut archive.by_name(step).expect("entry"), &mut text).expect("utf-8");
    assert!(text.lines().count() > 1 && !text.contains("##[error]"), "{text}");

    // Rerunning the failed jobs makes a second attempt, which runs and (rerun_pass = 1) passes.
    let r = client
        .post(format!("{repo}/actions/runs/{failed_run}/rerun-failed-jobs"))
        .bearer_auth("t")
        .send()
        .await
        .expect("rerun");
    assert_eq!(r.status(), 201);
    let r =
        client.post(format!("{repo}/actions/runs/{failed_run}/rerun")).bearer_auth("t").send().await.expect("again");
    assert_eq!(r.status(), 403, "a run that is running again cannot be rerun");
    let report = sim.run(|_| {}).await;
    assert_eq!(report.reruns_requested, 1);
    assert_eq!(report.deterministic_rerun_by_mistake, 0);
    assert!(report.transient_healed >= 1, "{report:?}");
    // The refused second request came while the first rerun ran: a duplicate.
    let h = &report.healing;
    assert_eq!((h.rerun_requests_refused, h.duplicate_reruns, h.max_run_attempt), (1, 1, 2));
    assert_eq!(h.max_reruns_per_repo_day, 1);
    assert!(report.render().contains("rerun requests refused 1"), "{}", report.render());
    let run: Value = get(&client, &format!("{repo}/actions/runs/{failed_run}")).await.json().await.expect("json");
    assert_eq!(run["run_attempt"], 2);
    assert_eq!(run["conclusion"], "success");

    // Issues, comments, check runs and caches.
    let issue: Value = client
        .post(format!("{repo}/issues"))
        .bearer_auth("t")
        .json(&serde_json::json!({"title": "Flaky: test", "body": "seen 3 times", "labels": ["flaky"]}))
        .send()
        .await
        .expect("issue")
        .json()
        .await
        .expect("json");
    let number = issue["number"].as_u64().expect("number");
    let r = client
        .post(format!("{repo}/issues/{number}/comments"))
        .bearer_auth("t")
        .json(&serde_json::json!({"body": "again"}))
        .send()
        .await
        .expect("comment");
    assert_eq!(r.status(), 201);
    let closed: Value = client
        .patch(format!("{repo}/issues/{number}"))
        .bearer_auth("t")
        .json(&serde_json::json!({"state": "closed"}))
        .send()
        .await
        .expect("patch")
        .json()
        .await
        .expect("json");
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["comments"], 1);
    let r = client.post(format!("{repo}/issues")).bearer_auth("t").body("{not json").send().await.expect("bad");
    assert_eq!(r.status(), 422);
    let check: Value = client
        .post(format!("{repo}/check-runs"))
        .bearer_auth("t")
        .json(&serde_json::json!({"name": "aetherveil", "head_sha": "abc", "status": "in_progress"}))
        .send()
        .await
        .expect("check")
        .json()
        .await
        .expect("json");
    let updated: Value = client
        .patch(format!("{repo}/check-runs/{}", check["id"]))
        .bearer_auth("t")
        .json(&serde_json::json!({"conclusion": "neutral", "output": {"title": "t", "summary": "s"}}))
        .send()
        .await
        .expect("update")
        .json()
        .await
        .expect("json");
    assert_eq!(updated["status"], "completed");
    let caches: Value = get(&client, &format!("{repo}/actions/caches")).await.json().await.expect("json");
    let first = caches["actions_caches"][0]["id"].as_u64().expect("passing jobs save caches");
    let r = client.delete(format!("{repo}/actions/caches/{first}")).bearer_auth("t").send().await.expect("delete");
    assert_eq!(r.status(), 204);
    let r = client.delete(format!("{repo}/actions/caches/{first}")).bearer_auth("t").send().await.expect("again");
    assert_eq!(r.status(), 404);
    let report = sim.run(|_| {}).await;
    assert_eq!((report.issues_opened, report.issue_comments, report.check_runs, report.caches_deleted), (1, 1, 1, 1));
    sim.shutdown();
}

#[tokio::test]
async fn rate_limits_and_faults_answer_like_github() {
    let sim = Simulator::start(scenario("[api]\nrate_limit = 4\nburst_per_second = 1000"), options(None))
        .await
        .expect("start");
    let client = reqwest::Client::new();
    let url = format!("{}/repos/octo-org/app", sim.api_url());
    sim.shared().api.inject(Fault {
        path_prefix: "/repos/octo-org/app".into(),
        count: 1,
        kind: FaultKind::Status { status: 502, retry_after: None },
    });
    assert_eq!(get(&client, &url).await.status(), 502);
    sim.shared().api.inject(Fault {
        path_prefix: String::new(),
        count: 1,
        kind: FaultKind::Status { status: 429, retry_after: Some(2) },
    });
    let r = get(&client, &url).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    let mut remaining = Vec::new();
    for _ in 0..4 {
        let r = get(&client, &url).await;
        assert_eq!(r.status(), 200);
        remaining.push(r.headers()["x-ratelimit-remaining"].to_str().expect("ascii").to_owned());
    }
    assert_eq!(remaining, ["3", "2", "1", "0"]);
    let r = get(&client, &url).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let reset: i64 = r.headers()["x-ratelimit-reset"].to_str().expect("ascii").parse().expect("epoch");
    assert!(reset > chrono::Utc::now().timestamp());
    sim.shutdown();

    let sim = Simulator::start(scenario("[api]\nburst_per_second = 3"), options(None)).await.expect("start");
    let url = format!("{}/repos/octo-org/app", sim.api_url());
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get(&client, &url).await.status().as_u16());
    }
    assert_eq!(&statuses[..3], [200, 200, 200]);
    assert!(statuses[3..].contains(&429), "past the burst: {statuses:?}");
    sim.shutdown();
}

#[tokio::test]
async fn the_report_scores_the_platforms_anomalies_against_the_ground_truth() {
    // A platform that reports one duration episode on the regressed job (starting 3 hours into
    // the regression) and one false alarm of 4 runs on another job.
    let scenario = scenario("[[regressions]]\nrepo = \"octo-org/app\"\njob = \"build\"\nat_day = 0.5\nfactor = 2.0\n");
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    let regression_seen = start + chrono::Duration::hours(15);
    let false_alarm = start + chrono::Duration::hours(4);
    let anomalies = serde_json::json!({"anomalies": [
        {"repo": "octo-org/app", "workflow": "CI", "job": "build", "kind": "duration_regression",
         "first_at": regression_seen, "count": 2},
        {"repo": "octo-org/app", "workflow": "CI", "job": "test", "kind": "duration_outlier",
         "first_at": false_alarm, "count": 4},
        {"repo": "octo-org/app", "workflow": "CI", "job": "test", "kind": "failure_rate_spike",
         "first_at": false_alarm, "count": 9},
    ]});
    let app = axum::Router::new().route(
        "/api/v1/anomalies",
        axum::routing::get(move || {
            let body = anomalies.to_string();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let platform = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let mut scenario = scenario;
    scenario.start = Some(start);
    let sim =
        Simulator::start(scenario, SimOptions { platform: Some(platform), ..options(None) }).await.expect("start");
    let report = sim.run(|_| {}).await;
    let g = &report.regressions[0];
    assert_eq!(g.detected_at, Some(regression_seen));
    assert!((g.delay_hours.expect("delay") - 3.0).abs() < 1e-6);
    // Runs of `build` created between the regression's start and the detection.
    let expected = {
        let world = sim.shared().world();
        world
            .jobs
            .values()
            .filter(|j| j.info.name == "build" && j.info.run_attempt == 1)
            .filter(|j| {
                let at = world.runs[&j.info.run_id].info.created_at;
                at >= g.starts_at && at <= regression_seen
            })
            .count()
    };
    assert_eq!(g.runs_to_detect, Some(expected));
    let f = &report.duration_flags;
    assert!(f.reported);
    assert_eq!(f.flagged_normal_runs, 4, "failure-rate episodes are not duration flags");
    assert!(f.normal_runs > 0 && (f.rate - 4.0 / f.normal_runs as f64).abs() < 1e-9);
    assert!(report.render().contains("after"), "{}", report.render());
    sim.shutdown();
}
