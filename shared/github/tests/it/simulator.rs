//! The client against our GitHub Actions simulator: the same REST shapes the healer and logscan
//! meet, with the simulator's rate limits and injected faults, and reruns that follow the
//! scenario's ground truth.

use super::fast_config;
use aetherveil_github::{Error, GitHub, IssuePatch, IssueQuery, IssueState, IssueStateFilter, NewIssue};
use aetherveil_simulator::api::{Fault, FaultKind};
use aetherveil_simulator::{Scenario, SimOptions, Simulator};
use std::time::Duration;

const REPO: &str = "octo-org/shop";

/// One repository whose `test` job fails transiently half of the time (a rerun always passes),
/// and whose `build` job is broken from the first push on.
fn scenario(api: &str) -> Scenario {
    let text = format!(
        r#"
name = "client"
seed = 3
days = 0.5
wall_seconds = 1
{api}
[[repos]]
name = "{REPO}"
pushes_per_day = 30
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push"]
[[repos.workflows.jobs]]
name = "build"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = {{ median = "3m" }}
[[repos.workflows.jobs]]
name = "test"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = {{ median = "5m" }}
transient = {{ rate = 0.5, kinds = ["network"], rerun_pass = 1.0 }}
[[breakages]]
repo = "{REPO}"
job = "build"
at_push = 1
kind = "compile"
"#
    );
    Scenario::from_toml(&text, "test").expect("valid scenario")
}

async fn played(api: &str) -> Simulator {
    let options = SimOptions { drain: Duration::from_millis(100), ..SimOptions::default() };
    let sim = Simulator::start(scenario(api), options).await.expect("simulator");
    sim.run(|_| {}).await;
    sim
}

fn client(sim: &Simulator) -> GitHub {
    GitHub::new(fast_config(&sim.api_url())).expect("client")
}

fn inject(sim: &Simulator, prefix: &str, count: u32, kind: FaultKind) {
    sim.shared().api.inject(Fault { path_prefix: prefix.to_owned(), count, kind });
}

/// The first run, and one of its failed jobs.
fn first_failure(sim: &Simulator) -> (u64, u64) {
    let world = sim.shared().world();
    let f = world.failures.iter().min_by_key(|f| f.run_id).expect("the scenario fails jobs");
    (f.run_id, f.job_id)
}

#[tokio::test]
async fn reads_runs_jobs_and_logs() {
    let sim = played("").await;
    let gh = client(&sim);
    let (run_id, job_id) = first_failure(&sim);
    let run = gh.get_run(REPO, run_id).await.expect("run");
    assert_eq!(run.id, run_id);
    assert_eq!(run.status.as_deref(), Some("completed"));
    let jobs = gh.list_jobs(REPO, run_id, None).await.expect("jobs");
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().any(|j| j.id == job_id));
    let job = gh.get_job(REPO, job_id).await.expect("job");
    assert_eq!(job.run_id, run_id);
    // The 302 to the blob URL is followed, and the text is GitHub's log format.
    let log = gh.job_log(REPO, job_id).await.expect("log");
    assert!(log.contains("##[error]"), "{log}");
    let zip = gh.run_logs_zip(REPO, run_id).await.expect("archive");
    assert_eq!(&zip[..2], b"PK");
    assert!(matches!(gh.get_run(REPO, 1).await, Err(Error::NotFound)));
}

#[tokio::test]
async fn reruns_follow_the_scenario() {
    let sim = played("").await;
    let gh = client(&sim);
    let (run_id, _) = first_failure(&sim);
    gh.rerun_failed_jobs(REPO, run_id).await.expect("rerun accepted");
    // GitHub refuses a rerun of a run that is running.
    match gh.rerun(REPO, run_id).await {
        Err(Error::Forbidden { message }) => assert!(message.contains("not completed"), "{message}"),
        other => panic!("expected 403, got {other:?}"),
    }
    let report = sim.run(|_| {}).await;
    assert_eq!(report.reruns_requested, 1);
    let jobs = gh.list_jobs(REPO, run_id, Some(2)).await.expect("second attempt");
    let conclusion = |name: &str| jobs.iter().find(|j| j.name == name).and_then(|j| j.conclusion.clone());
    // The compile failure is deterministic: it fails again. Rerunning it was a mistake, and the
    // report counts it.
    assert_eq!(conclusion("build").as_deref(), Some("failure"));
    assert_eq!(report.deterministic_rerun_by_mistake, 1);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let sim = played("").await;
    let gh = client(&sim);
    let (run_id, _) = first_failure(&sim);
    inject(&sim, "/repos/", 2, FaultKind::Status { status: 502, retry_after: None });
    gh.get_run(REPO, run_id).await.expect("third attempt succeeds");
    assert_eq!(gh.stats().retries_total, 2);
    // A rerun (POST) that gets a 500 is not repeated: it may have been applied.
    inject(&sim, "/repos/", 1, FaultKind::Status { status: 500, retry_after: None });
    assert!(matches!(gh.rerun_failed_jobs(REPO, run_id).await, Err(Error::Server { status: 500 })));
    assert_eq!(sim.shared().world().reruns.len(), 0);
}

#[tokio::test]
async fn rate_limits_are_waited_out_or_reported() {
    let sim = played("").await;
    let gh = client(&sim);
    let (run_id, _) = first_failure(&sim);
    // Secondary limit with retry-after: wait, then succeed.
    inject(&sim, "/repos/", 1, FaultKind::Status { status: 429, retry_after: Some(1) });
    gh.get_run(REPO, run_id).await.expect("after the wait");
    assert_eq!(gh.stats().rate_limit_waits_total, 1);
    // Primary limit exhausted with a reset a second away: wait for the reset.
    inject(&sim, "/repos/", 1, FaultKind::RateLimited { reset_in: Duration::from_secs(1) });
    gh.get_run(REPO, run_id).await.expect("after the reset");
    assert_eq!(gh.stats().rate_limit_waits_total, 2);
    // A reset beyond the client's patience is reported, not slept through.
    inject(&sim, "/repos/", 1, FaultKind::RateLimited { reset_in: Duration::from_secs(3600) });
    assert!(matches!(gh.get_run(REPO, run_id).await, Err(Error::RateLimited { .. })));
    assert_eq!(gh.stats().rate_limit_waits_total, 2);
}

#[tokio::test]
async fn a_small_quota_runs_out_and_the_headers_say_so() {
    let sim = played("[api]\nrate_limit = 3\nrate_window = \"1h\"").await;
    let gh = client(&sim);
    let (run_id, _) = first_failure(&sim);
    for _ in 0..3 {
        gh.get_run(REPO, run_id).await.expect("within the quota");
    }
    let snapshot = gh.rate_limit().expect("snapshot");
    assert_eq!((snapshot.limit, snapshot.remaining), (Some(3), 0));
    // The next call would wait about an hour: refused at once, without a request.
    let before = gh.stats().requests_total;
    assert!(matches!(gh.get_run(REPO, run_id).await, Err(Error::RateLimited { .. })));
    assert_eq!(gh.stats().requests_total, before);
}

#[tokio::test]
async fn issues_and_caches_are_recorded_as_platform_actions() {
    let sim = played("").await;
    let gh = client(&sim);
    let issue = gh
        .create_issue(
            REPO,
            &NewIssue {
                title: "build is broken".into(),
                body: Some("compile error".into()),
                labels: vec!["ci".into()],
            },
        )
        .await
        .expect("issue");
    gh.comment_issue(REPO, issue.number, "still broken").await.expect("comment");
    let patch = IssuePatch { state: Some(IssueState::Closed), ..IssuePatch::default() };
    let closed = gh.update_issue(REPO, issue.number, &patch).await.expect("close");
    assert_eq!(closed.state, "closed");
    let caches = gh.list_caches(REPO, None).await.expect("caches");
    if let Some(first) = caches.first() {
        gh.delete_cache(REPO, first.id).await.expect("delete");
        assert!(matches!(gh.delete_cache(REPO, first.id).await, Err(Error::NotFound)));
    }
    let report = sim.run(|_| {}).await;
    assert_eq!((report.issues_opened, report.issue_comments), (1, 1));
    assert_eq!(report.caches_deleted, usize::from(!caches.is_empty()));
}

#[tokio::test]
async fn issues_are_listed_by_state_and_labels_across_pages() {
    let sim = played("[api]\nburst_per_second = 1000").await;
    let gh = client(&sim);
    let new = |title: &str, labels: &[&str]| NewIssue {
        title: title.into(),
        body: None,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
    };
    let flaky = gh.create_issue(REPO, &new("test is flaky", &["flaky", "aetherveil"])).await.expect("flaky");
    let broken = gh.create_issue(REPO, &new("build is broken", &["broken", "aetherveil"])).await.expect("broken");
    let closed = IssuePatch { state: Some(IssueState::Closed), ..IssuePatch::default() };
    gh.update_issue(REPO, broken.number, &closed).await.expect("close");
    // Enough open issues that the unfiltered listing takes two pages of 100.
    for n in 0..100 {
        gh.create_issue(REPO, &new(&format!("noise {n}"), &["noise"])).await.expect("noise");
    }
    let numbers = |issues: Vec<aetherveil_github::Issue>| issues.iter().map(|i| i.number).collect::<Vec<_>>();
    let query = |state: Option<IssueStateFilter>, labels: &[&str]| IssueQuery {
        state,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
    };

    let open = gh.list_issues(REPO, &IssueQuery::default()).await.expect("open issues");
    assert_eq!(open.len(), 101, "GitHub lists open issues by default");
    assert!(!open.iter().any(|i| i.number == broken.number));
    let all = gh.list_issues(REPO, &query(Some(IssueStateFilter::All), &[])).await.expect("all issues");
    assert_eq!(all.len(), 102);
    let flaky_open = gh.list_issues(REPO, &query(None, &["flaky"])).await.expect("flaky");
    assert_eq!(numbers(flaky_open), [flaky.number]);
    // Every label must match; `broken` is closed, so only `state=closed` or `all` finds it.
    let ours = query(Some(IssueStateFilter::All), &["aetherveil", "broken"]);
    assert_eq!(numbers(gh.list_issues(REPO, &ours).await.expect("ours")), [broken.number]);
    assert!(gh.list_issues(REPO, &query(None, &["broken"])).await.expect("open broken").is_empty());
    let closed = gh.list_issues(REPO, &query(Some(IssueStateFilter::Closed), &["aetherveil"])).await.expect("closed");
    assert_eq!(numbers(closed), [broken.number]);
    let both = gh.list_issues(REPO, &query(Some(IssueStateFilter::All), &["aetherveil"])).await.expect("both");
    assert_eq!(numbers(both), [flaky.number, broken.number]);
    assert!(gh.list_issues(REPO, &query(None, &["flaky", "noise"])).await.expect("none").is_empty());
}
