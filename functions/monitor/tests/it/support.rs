//! Shared helpers.

use aetherveil_bus::Delivery;
use aetherveil_models::{PipelineEvent, PipelineEventKind, names};
use aetherveil_monitor::synth::{self, Synth, SynthJob};
use aetherveil_store::{Message, SqliteStore, Store, Synchronous};
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub fn start() -> DateTime<Utc> {
    "2026-03-02T00:00:00Z".parse().expect("start")
}

pub fn message(i: usize, event: &PipelineEvent) -> Message {
    let key = match &event.kind {
        PipelineEventKind::Run(r) => Some(r.run_id.to_string()),
        PipelineEventKind::Job(j) => Some(j.run_id.to_string()),
        _ => None,
    };
    Message {
        id: format!("gh-{i:08}"),
        topic: names::TOPIC_PIPELINE_EVENTS.to_owned(),
        key,
        attributes: [("kind".to_owned(), event.kind.label().to_owned())].into_iter().collect(),
        data: serde_json::to_vec(event).expect("json"),
    }
}

pub fn delivery(i: usize, event: &PipelineEvent, attempt: u32) -> Delivery {
    Delivery { message: message(i, event), attempt }
}

pub struct Db {
    pub dir: tempfile::TempDir,
}

impl Db {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("tempdir") }
    }

    /// Opens (or reopens) the database file.
    pub fn open(&self) -> SqliteStore {
        SqliteStore::open(self.dir.path().join("aetherveil.db"), Synchronous::Normal).expect("open store")
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.open())
    }
}

/// A repository with a job that regresses (1.8x from day 6), a job that breaks for a while
/// (a failure streak), and a flaky job whose failures pass on rerun.
pub fn workload(days: f64, seed: u64) -> (Vec<SynthJob>, Synth) {
    let mut slow = SynthJob::new("acme/app", "CI", "build", 240.0, 360.0);
    slow.regression = Some((6.0, 1.8));
    let mut flaky = SynthJob::new("acme/app", "CI", "e2e", 540.0, 840.0);
    flaky.failure_rate = 0.15;
    flaky.rerun_rate = 1.0;
    flaky.rerun_pass = 0.95;
    let lint = SynthJob::new("acme/web", "Checks", "lint", 60.0, 90.0);
    let jobs = vec![slow, flaky, lint];
    let syn = synth::generate(&jobs, days, start(), seed);
    (jobs, syn)
}
