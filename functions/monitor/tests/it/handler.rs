//! The bus handler over a real SQLite store: persistence, redelivery, restarts, concurrent
//! instances, and the whole path through the local bus.

use crate::support::{Db, delivery, message, start, workload};
use aetherveil_bus::testsuite::{Recorder, eventually};
use aetherveil_bus::{Bus, Handler, HandlerError, LocalBus, RetryPolicy};
use aetherveil_models::{JobId, JobRecord, PipelineEvent, PipelineEventKind, RepoName, RunId, RunRecord, names};
use aetherveil_monitor::inputs;
use aetherveil_monitor::{
    Anomaly, AnomalyChange, AnomalyStatus, FlakyState, JobKey, Monitor, MonitorConfig, MonitorCore,
};
use aetherveil_store::{Query, Store, WriteBatch};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

async fn stored_anomalies(store: &dyn Store) -> BTreeMap<String, Anomaly> {
    store
        .query(names::ANOMALIES, Query::new())
        .await
        .expect("query")
        .into_iter()
        .map(|d| (d.id.clone(), d.parse::<Anomaly>().expect("anomaly")))
        .collect()
}

/// What an uninterrupted core, fed every event once and in order, ends with.
fn reference(events: &[PipelineEvent]) -> BTreeMap<String, Anomaly> {
    let mut cfg = MonitorConfig::default();
    cfg.limits.park_capacity = 0;
    let mut core = MonitorCore::new(cfg).expect("core");
    let mut out = BTreeMap::new();
    for e in events {
        for c in core.observe(e) {
            let a = c.anomaly().clone();
            out.insert(a.id.clone(), a);
        }
    }
    out
}

async fn feed(monitor: &Monitor, events: &[PipelineEvent], offset: usize) {
    for (i, e) in events.iter().enumerate() {
        monitor.handle(&delivery(offset + i, e, 1)).await.expect("handled");
    }
}

#[tokio::test]
async fn anomalies_are_persisted_and_a_recreated_monitor_carries_on_where_the_first_stopped() {
    let (_, syn) = workload(12.0, 11);
    let expected = reference(&syn.events);
    assert!(expected.values().any(|a| a.kind.label() == "duration_regression"), "the workload has a regression");
    let db = Db::new();
    let (first, second) = syn.events.split_at(syn.events.len() / 2);
    {
        let monitor = Monitor::new(db.store(), MonitorConfig::default()).expect("monitor");
        monitor.ensure_indexes().await.expect("indexes");
        feed(&monitor, first, 0).await;
    }
    // A new process: the store reopened from its file, a fresh monitor.
    let store = db.store();
    let monitor = Monitor::new(store.clone(), MonitorConfig::default()).expect("monitor");
    feed(&monitor, second, first.len()).await;
    let stored = stored_anomalies(store.as_ref()).await;
    assert_eq!(stored.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (id, a) in &expected {
        let s = &stored[id];
        assert_eq!((s.count, s.status, s.first_at, s.last_at), (a.count, a.status, a.first_at, a.last_at), "{id}");
    }
    // Every regression episode is one document whose count grew.
    let regressions: Vec<&Anomaly> = stored.values().filter(|a| a.kind.label() == "duration_regression").collect();
    assert!(regressions.iter().any(|a| a.count > 1), "{regressions:?}");
    // The job documents hold the baselines and counted every completion once.
    let build = store.get(names::BASELINES, &JobKey::new("acme/app", "CI", "build").doc_id()).await.expect("get");
    let build = build.expect("build baselines");
    let completions = syn.attempts.iter().filter(|a| a.job_index == 0).count() as u64;
    assert_eq!(build.data["state"]["completions"], Value::from(completions));
}

#[tokio::test]
async fn redelivered_messages_change_nothing_and_publish_nothing_twice() {
    let (_, syn) = workload(8.0, 12);
    let db = Db::new();
    let store = db.store();
    let monitor = Monitor::new(store.clone(), MonitorConfig::default()).expect("monitor");
    let mut published = 0;
    for (i, e) in syn.events.iter().enumerate() {
        let first = monitor.process(e, 1).await.expect("first delivery");
        let again = monitor.process(e, 2).await.expect("redelivery");
        assert!(again.changes.is_empty(), "a redelivery changed anomalies: {:?}", again.changes);
        assert_eq!(again.documents_written, 0);
        published += first.changes.iter().filter(|c| !matches!(c, AnomalyChange::Updated(_))).count();
        // And through the Handler trait, as the bus calls it.
        monitor.handle(&delivery(i, e, 3)).await.expect("handler");
    }
    assert_eq!(stored_anomalies(store.as_ref()).await, reference(&syn.events));
    // Messages on `anomalies`: one per opened and one per closed episode.
    let bus = LocalBus::new(db.open(), RetryPolicy::default());
    let recorder = Recorder::accepting();
    bus.subscribe("test-anomalies", aetherveil_monitor::TOPIC_ANOMALIES, recorder.clone()).expect("subscribe");
    eventually("every anomaly message", || recorder.seen().len() >= published).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = recorder.seen();
    assert_eq!(seen.len(), published, "{seen:?}");
    assert!(seen.iter().all(|(id, _)| id.ends_with(":opened") || id.ends_with(":closed")));
    bus.shutdown().await;
}

fn pr_run(run_id: u64) -> RunRecord {
    let at = start();
    RunRecord {
        run_id: RunId(run_id),
        repo: RepoName("acme/app".into()),
        workflow_id: 1,
        workflow_name: Some("Fork checks".into()),
        workflow_path: None,
        run_number: 1,
        run_attempt: 1,
        event: "pull_request_target".into(),
        status: Some("queued".into()),
        conclusion: None,
        head_sha: "abc".into(),
        head_branch: Some("main".into()),
        head_repo: None,
        from_fork: true,
        actor: None,
        pull_requests: vec![],
        created_at: at,
        updated_at: at,
        run_started_at: Some(at),
        html_url: None,
        installation_id: None,
    }
}

fn completed_job(job_id: u64, run_id: u64) -> PipelineEvent {
    let at = start();
    let job = JobRecord {
        job_id: JobId(job_id),
        run_id: RunId(run_id),
        run_attempt: 1,
        repo: RepoName("acme/app".into()),
        workflow_name: Some("Fork checks".into()),
        name: "label".into(),
        status: "completed".into(),
        conclusion: Some("success".into()),
        head_sha: "abc".into(),
        head_branch: Some("main".into()),
        labels: vec![],
        runner_name: None,
        runner_group: None,
        created_at: Some(at),
        started_at: Some(at + chrono::Duration::seconds(5)),
        completed_at: Some(at + chrono::Duration::seconds(35)),
        steps: vec![],
        html_url: None,
    };
    PipelineEvent {
        delivery_id: aetherveil_models::DeliveryId(format!("d-{job_id}")),
        github_event: "workflow_job".into(),
        action: Some("completed".into()),
        repo: Some(RepoName("acme/app".into())),
        installation_id: None,
        received_at: at,
        kind: PipelineEventKind::Job(job),
    }
}

async fn summary_classes(store: &dyn Store) -> Vec<String> {
    let doc =
        store.get(names::BASELINES, &JobKey::new("acme/app", "Fork checks", "label").doc_id()).await.expect("get");
    let doc = doc.expect("label baselines");
    doc.data["summary"]["series"].as_array().expect("series").iter().map(|s| s["branch_class"].to_string()).collect()
}

#[tokio::test]
async fn a_job_completing_before_its_run_uses_the_stored_run_or_waits_for_it() {
    let db = Db::new();
    let store = db.store();
    let monitor = Monitor::new(store.clone(), MonitorConfig::default()).expect("monitor");
    // The run is not known anywhere yet: ask for redelivery.
    let early = completed_job(900, 90);
    let err = monitor.handle(&delivery(0, &early, 1)).await.expect_err("must wait for the run");
    assert!(matches!(err, HandlerError::Retry(_)), "{err:?}");
    // The webhook stored the run meanwhile (its own event is still on the way).
    store.put(names::RUNS, "90", serde_json::to_value(pr_run(90)).expect("json")).await.expect("put run");
    monitor.handle(&delivery(0, &early, 2)).await.expect("handled with the stored run");
    assert_eq!(summary_classes(store.as_ref()).await, vec!["\"pr\"".to_owned()], "pull_request_target is a PR run");
    // A run that never shows up: after a few deliveries the job is classified by its branch.
    let orphan = completed_job(901, 91);
    assert!(monitor.handle(&delivery(1, &orphan, 2)).await.is_err());
    monitor.handle(&delivery(1, &orphan, aetherveil_monitor::shell::RUN_WAIT_ATTEMPTS)).await.expect("classified");
    assert_eq!(summary_classes(store.as_ref()).await, vec!["\"default\"".to_owned(), "\"pr\"".to_owned()]);
}

#[tokio::test]
async fn two_instances_on_one_store_lose_no_update() {
    let (_, syn) = workload(6.0, 13);
    let db = Db::new();
    let store = db.store();
    let a = Monitor::new(store.clone(), MonitorConfig::default()).expect("a");
    let b = Monitor::new(store.clone(), MonitorConfig::default()).expect("b");
    let mut conflicts = 0;
    for (i, e) in syn.events.iter().enumerate() {
        // Each instance sees every run event (as push subscriptions fan out run context via
        // the stored `runs`), but job completions alternate between them.
        let target = if i % 2 == 0 { &a } else { &b };
        if let PipelineEventKind::Run(r) = &e.kind {
            store.put(names::RUNS, &r.run_id.to_string(), serde_json::to_value(r).expect("json")).await.expect("run");
        }
        conflicts += target.process(e, 1).await.expect("processed").conflicts;
    }
    assert!(conflicts > 0, "the test never made the instances conflict");
    let total = syn.attempts.iter().filter(|x| x.job_index == 1).count() as u64;
    let e2e = store.get(names::BASELINES, &JobKey::new("acme/app", "CI", "e2e").doc_id()).await.expect("get");
    assert_eq!(e2e.expect("e2e").data["state"]["completions"], Value::from(total), "every completion counted once");
}

#[tokio::test]
async fn end_to_end_through_the_local_bus() {
    let (_, syn) = workload(12.0, 14);
    let db = Db::new();
    let store = db.open();
    let policy = RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        retention: Duration::from_secs(3600),
    };
    let bus = LocalBus::new(store.clone(), policy);
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let monitor = Arc::new(Monitor::new(shared.clone(), MonitorConfig::default()).expect("monitor"));
    monitor.ensure_indexes().await.expect("indexes");
    bus.subscribe(aetherveil_monitor::SUBSCRIPTION, names::TOPIC_PIPELINE_EVENTS, monitor.clone()).expect("subscribe");
    let recorder = Recorder::accepting();
    bus.subscribe("ado", aetherveil_monitor::TOPIC_ANOMALIES, recorder.clone()).expect("subscribe");
    for (i, e) in syn.events.iter().enumerate() {
        // As the webhook does: the run record is stored with its event.
        let mut batch = WriteBatch::new().publish(message(i, e));
        if let PipelineEventKind::Run(r) = &e.kind {
            batch = batch.put_if_newer(
                names::RUNS,
                &r.run_id.to_string(),
                serde_json::to_value(r).expect("json"),
                r.order_key(),
            );
        }
        store.commit(batch).await.expect("publish");
    }
    let expected = reference(&syn.events);
    let completions = syn.attempts.len() as u64;
    let mut done = false;
    for _ in 0..500 {
        let docs = shared.query(names::BASELINES, Query::new()).await.expect("query");
        let counted: u64 = docs.iter().map(|d| d.data["state"]["completions"].as_u64().unwrap_or(0)).sum();
        if counted == completions {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(done, "the monitor did not process every completion");
    let stored = stored_anomalies(shared.as_ref()).await;
    // Deliveries of different runs interleave, so single episodes may differ from the in-order
    // reference; the regression and the flaky job must not.
    assert!(stored.values().any(|a| a.kind.label() == "duration_regression" && a.job == "build"), "{stored:?}");
    assert!(expected.values().any(|a| a.kind.label() == "duration_regression" && a.job == "build"));
    let opened = stored.len();
    eventually("opened messages on topic anomalies", || {
        recorder.seen().iter().filter(|(id, _)| id.ends_with(":opened")).count() >= opened
    })
    .await;
    let flaky = store.get(names::BASELINES, &JobKey::new("acme/app", "CI", "e2e").doc_id()).await.expect("get");
    assert_eq!(flaky.expect("e2e").data["flaky_state"], "flaky");
    // Health and forecast inputs come from the store.
    let health = inputs::health_inputs(shared.as_ref(), "acme/app").await.expect("health");
    assert!(health.runs.success > 0);
    assert!(health.jobs.iter().any(|j| j.job == "e2e" && j.flaky_state == FlakyState::Flaky));
    let open: u64 = health.open_anomalies.values().sum();
    assert_eq!(
        open as usize,
        stored.values().filter(|a| a.repo == "acme/app" && a.status == AnomalyStatus::Open).count()
    );
    let histories = monitor.forecast_inputs("acme/app").await.expect("forecast inputs");
    assert!(histories.iter().any(|h| h.job == "build" && !h.hourly.is_empty() && !h.recent_durations.is_empty()));
    bus.shutdown().await;
}
