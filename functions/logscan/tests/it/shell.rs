//! The logscan function against the GitHub Actions simulator: logs fetched over the real REST
//! shapes (302 to the blob), diagnoses stored and published once, the passing-run profile, and
//! the fetch failures that must still end in a recorded diagnosis.

use aetherveil_bus::{Bus, Delivery, Handler, HandlerError, LocalBus, RetryPolicy};
use aetherveil_github::{Config, GitHub};
use aetherveil_logscan::{Cause, Diagnosis, Handled, Logscan, LogscanConfig};
use aetherveil_models::github::EventType;
use aetherveil_models::{DeliveryId, JobId, JobRecord, PipelineEvent, PipelineEventKind, names};
use aetherveil_simulator::api::{Fault, FaultKind};
use aetherveil_simulator::{JobInfo, Scenario, SimOptions, Simulator, payloads};
use aetherveil_store::{Query, SqliteStore, Store, Synchronous, to_value};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

const REPO: &str = "octo-org/logs";

fn scenario() -> Scenario {
    let text = format!(
        r#"
name = "logscan"
seed = 31
days = 2
wall_seconds = 1
[[repos]]
name = "{REPO}"
pushes_per_day = 14
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push"]
[[repos.workflows.jobs]]
name = "test"
runs_on = ["ubuntu-latest"]
tool = "pytest"
duration = {{ median = "3m", p95 = "5m" }}
transient = {{ rate = 0.3, kinds = ["network", "oom", "disk_full"] }}
[[repos.workflows.jobs]]
name = "build"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = {{ median = "4m", p95 = "6m" }}
[[breakages]]
repo = "{REPO}"
job = "build"
at_push = 6
kind = "compile"
fixed_after = 3
"#
    );
    Scenario::from_toml(&text, "test").expect("valid scenario")
}

struct Fixture {
    sim: Simulator,
    sqlite: SqliteStore,
    store: Arc<dyn Store>,
    logscan: Logscan,
    _dir: tempfile::TempDir,
}

async fn fixture(config: LogscanConfig) -> Fixture {
    fixture_of(scenario(), config).await
}

async fn fixture_of(scenario: Scenario, config: LogscanConfig) -> Fixture {
    let options = SimOptions { drain: Duration::from_millis(50), ..SimOptions::default() };
    let sim = Simulator::start(scenario, options).await.expect("simulator");
    sim.run(|_| {}).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteStore::open(dir.path().join("db.sqlite"), Synchronous::Normal).expect("store");
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let mut gh = Config::new(sim.api_url(), "test-token");
    gh.max_retries = 1;
    gh.backoff_base = Duration::from_millis(5);
    gh.backoff_cap = Duration::from_millis(10);
    let logscan = Logscan::new(store.clone(), GitHub::new(gh).expect("client"), config);
    logscan.ensure_indexes().await.expect("indexes");
    Fixture { sim, sqlite, store, logscan, _dir: dir }
}

/// The job record the webhook function makes of the simulator's `workflow_job` completed payload
/// for this job (the real path, not a hand-built record).
fn normalized(info: &JobInfo) -> JobRecord {
    let body = serde_json::to_vec(&payloads::workflow_job_event("completed", info)).expect("payload");
    let delivery = DeliveryId(format!("d-{}", info.job_id));
    let n = aetherveil_webhook::normalize(Some(EventType::WorkflowJob), "workflow_job", &delivery, Utc::now(), &body)
        .expect("a valid payload");
    let event: PipelineEvent = serde_json::from_slice(&n.event.expect("a job event")).expect("event");
    match event.kind {
        PipelineEventKind::Job(record) => record,
        other => panic!("not a job event: {other:?}"),
    }
}

fn event(job: JobRecord) -> PipelineEvent {
    PipelineEvent {
        delivery_id: DeliveryId(format!("d-{}", job.job_id.0)),
        github_event: "workflow_job".into(),
        action: Some("completed".into()),
        repo: Some(job.repo.clone()),
        installation_id: None,
        received_at: Utc::now(),
        kind: PipelineEventKind::Job(job),
    }
}

/// Failed jobs of the simulation, with their injected kind, oldest first.
fn failures(f: &Fixture) -> Vec<(JobRecord, aetherveil_simulator::FailureKind, bool)> {
    let world = f.sim.shared().world();
    let mut out: Vec<_> = world
        .failures
        .iter()
        .filter_map(|fr| world.jobs.get(&fr.job_id).map(|j| (normalized(&j.info), fr.kind, fr.transient)))
        .collect();
    out.sort_by_key(|(j, _, _)| j.completed_at);
    out
}

async fn diagnosed(f: &Fixture, job: JobRecord) -> Diagnosis {
    diagnosed_at(f, job, 1).await
}

#[tokio::test]
async fn failed_jobs_are_diagnosed_once_from_their_logs() {
    let f = fixture(LogscanConfig::default()).await;
    let failed = failures(&f);
    assert!(failed.len() >= 5, "the scenario fails jobs: {}", failed.len());
    let mut right = 0;
    for (job, kind, transient) in &failed {
        let d = diagnosed(&f, job.clone()).await;
        assert_eq!(d.job_id, job.job_id.0);
        assert!(!d.lines.is_empty(), "evidence lines for {kind}: {d:?}");
        assert!(d.lines.iter().all(|l| l.line > 0), "line numbers point at the log");
        assert!((0.0..=1.0).contains(&d.confidence));
        if kind.expected_causes().contains(&d.cause.label()) && d.transient == *transient {
            right += 1;
        }
        // A redelivery changes nothing.
        assert_eq!(f.logscan.process(&event(job.clone()), 2).await.expect("redelivery"), Handled::Duplicate);
    }
    assert!(right * 10 >= failed.len() * 9, "cause and transient flag right for {right} of {}", failed.len());
    let stored = f.store.query(names::DIAGNOSES, Query::new()).await.expect("query");
    assert_eq!(stored.len(), failed.len());
    let markdown = stored[0].parse::<Diagnosis>().expect("diagnosis").markdown().to_string();
    assert!(markdown.contains("Remedy:"), "{markdown}");
}

#[tokio::test]
async fn passing_runs_of_the_same_job_narrow_the_evidence() {
    let f = fixture(LogscanConfig::default()).await;
    // The webhook has stored the passing jobs; logscan finds them in `jobs`.
    let passing: Vec<JobRecord> = {
        let world = f.sim.shared().world();
        world
            .jobs
            .values()
            .filter(|j| j.info.conclusion.as_deref() == Some("success"))
            .map(|j| normalized(&j.info))
            .collect()
    };
    for job in &passing {
        f.store.put(names::JOBS, &job.job_id.0.to_string(), to_value(job).expect("json")).await.expect("put");
    }
    let (job, kind, _) = failures(&f).into_iter().find(|(j, _, _)| j.name == "build").expect("a build failure");
    let d = diagnosed(&f, job).await;
    assert_eq!(d.compared_with, 3, "three passing logs of the job were learned");
    assert!(d.log.new_lines > 0 && d.log.new_lines < d.log.lines, "{:?}", d.log);
    assert!(kind.expected_causes().contains(&d.cause.label()), "{kind} diagnosed as {}", d.cause.label());
    let profiles = f.store.query(aetherveil_logscan::names::LOG_PROFILES, Query::new()).await.expect("profiles");
    assert_eq!(profiles.len(), 1, "one profile for the job series");
}

#[tokio::test]
async fn an_unavailable_log_is_retried_then_diagnosed_unknown() {
    let config = LogscanConfig { fetch_attempts: 2, ..LogscanConfig::default() };
    let f = fixture(config).await;
    let (job, _, _) = failures(&f).remove(0);
    let path = format!("/repos/{REPO}/actions/jobs/{}/logs", job.job_id.0);
    f.sim.shared().api.inject(Fault {
        path_prefix: path,
        count: 100,
        kind: FaultKind::Status { status: 503, retry_after: None },
    });
    let first = f.logscan.process(&event(job.clone()), 1).await;
    assert!(matches!(first, Err(HandlerError::Retry(_))), "a 503 is retried by the bus: {first:?}");
    let d = diagnosed_at(&f, job, 2).await;
    assert_eq!(d.cause, Cause::Unknown);
    assert!(d.reason.contains("after 2 attempts"), "{}", d.reason);
}

#[tokio::test]
async fn a_job_github_has_no_log_for_is_diagnosed_unknown_at_once() {
    let f = fixture(LogscanConfig::default()).await;
    let (mut job, _, _) = failures(&f).remove(0);
    job.job_id = JobId(999_999_999);
    let d = diagnosed(&f, job).await;
    assert_eq!(d.cause, Cause::Unknown);
    assert!(d.reason.contains("no log"), "{}", d.reason);
}

#[tokio::test]
async fn successful_jobs_and_other_events_are_ignored() {
    let f = fixture(LogscanConfig::default()).await;
    let ok = {
        let world = f.sim.shared().world();
        world.jobs.values().find(|j| j.info.conclusion.as_deref() == Some("success")).map(|j| normalized(&j.info))
    }
    .expect("a passing job");
    assert_eq!(f.logscan.process(&event(ok), 1).await.expect("ok"), Handled::Ignored);
    assert!(f.store.query(names::DIAGNOSES, Query::new()).await.expect("query").is_empty());
}

async fn diagnosed_at(f: &Fixture, job: JobRecord, attempt: u32) -> Diagnosis {
    match f.logscan.process(&event(job), attempt).await.expect("processed") {
        Handled::Diagnosed(d) => *d,
        other => panic!("expected a diagnosis, got {other:?}"),
    }
}

/// Collects what a subscription receives.
struct Collect(std::sync::Mutex<Vec<serde_json::Value>>);

#[async_trait::async_trait]
impl Handler for Collect {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let value =
            serde_json::from_slice(&delivery.message.data).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        self.0.lock().expect("lock").push(value);
        Ok(())
    }
}

#[tokio::test]
async fn each_diagnosis_is_published_once_on_the_diagnoses_topic() {
    let f = fixture(LogscanConfig::default()).await;
    let bus = LocalBus::new(f.sqlite.clone(), RetryPolicy::default());
    let seen = Arc::new(Collect(std::sync::Mutex::new(Vec::new())));
    bus.subscribe("test", aetherveil_logscan::names::TOPIC_DIAGNOSES, seen.clone()).expect("subscribe");
    let failed = failures(&f);
    for (job, _, _) in failed.iter().take(2) {
        diagnosed(&f, job.clone()).await;
        assert_eq!(f.logscan.process(&event(job.clone()), 2).await.expect("redelivery"), Handled::Duplicate);
    }
    for _ in 0..200 {
        if seen.0.lock().expect("lock").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let messages = seen.0.lock().expect("lock").clone();
    let ids: Vec<u64> = messages.iter().filter_map(|m| m["job_id"].as_u64()).collect();
    let expected: Vec<u64> = failed.iter().take(2).map(|(j, _, _)| j.job_id.0).collect();
    assert_eq!(ids, expected, "one message per diagnosis, in order");
    assert!(messages.iter().all(|m| m["cause"].is_string() && m["features"] == serde_json::json!([])), "{messages:?}");
    bus.shutdown().await;
}

/// A jest job with flaky tests, some of whose failures show no flaky symptom (a mock called one
/// time too few), and a breakage in another test.
fn flaky_scenario() -> Scenario {
    let text = format!(
        r#"
name = "flaky"
seed = 5
days = 6
wall_seconds = 1
[[repos]]
name = "{REPO}"
pushes_per_day = 16
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push"]
[[repos.workflows.jobs]]
name = "unit"
runs_on = ["ubuntu-latest"]
tool = "npm"
duration = {{ median = "3m", p95 = "5m" }}
transient = {{ rate = 0.35, kinds = ["flaky_test"] }}
[[breakages]]
repo = "{REPO}"
job = "unit"
at_push = 40
kind = "test_failure"
fixed_after = 6
"#
    );
    Scenario::from_toml(&text, "test").expect("valid scenario")
}

#[tokio::test]
async fn a_test_that_failed_flakily_before_is_flaky_and_a_new_failing_test_is_not() {
    let f = fixture_of(flaky_scenario(), LogscanConfig::default()).await;
    let (mut from_history, mut breakages) = (0, 0);
    for (job, kind, transient) in failures(&f) {
        let d = diagnosed(&f, job).await;
        assert!(!d.failing_tests.is_empty(), "the failing test is named: {d:?}");
        if transient {
            if d.method.contains("flaky-history") {
                from_history += 1;
                assert_eq!(d.cause, Cause::FlakyTest);
            }
        } else {
            breakages += 1;
            assert_eq!(kind, aetherveil_simulator::FailureKind::TestFailure);
            assert_eq!(d.cause, Cause::Test, "a breakage in a job with flaky tests stays a test failure: {d:?}");
            assert!(!d.transient);
        }
    }
    assert!(breakages > 0, "the scenario broke the job");
    assert!(from_history > 0, "symptomless failures of known flaky tests are recognised from history");
    let known = f.store.query(aetherveil_logscan::names::FLAKY_TESTS, Query::new()).await.expect("flaky tests");
    assert!(!known.is_empty());
    assert!(known.iter().all(|d| d.data["job_name"] == "unit" && d.data["occurrences"].as_u64() >= Some(1)));
}
