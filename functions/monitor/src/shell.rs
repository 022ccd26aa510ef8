//! The async shell: an [`aetherveil_bus::Handler`] on `pipeline-events` that feeds the pure
//! [`MonitorCore`] and persists what it changed.
//!
//! # Persistence
//!
//! The core's durable state is split into documents, each owned by one key:
//! one per job in `baselines` (`repo~workflow~job`: the per-class baselines, the regression
//! statistic, the open episodes, the flaky window) and one per workflow in
//! [`crate::names::WORKFLOWS`] (success counts, time to recovery). An event changes at most one
//! of them. The shell loads that document on first use, lets the core apply the event, and
//! commits in ONE atomic batch: the document (guarded by its version, so two instances cannot
//! overwrite each other: a conflict reloads and reapplies), one document per anomaly episode in
//! `anomalies`, and an `opened`/`closed` message on topic `anomalies`.
//!
//! Idempotence: a job completion is applied once per job id (the job document remembers the job
//! ids of its last runs), a run completion once per `(run id, attempt)`; anomaly documents and
//! message ids are deterministic, so a redelivery after a crash between commit and
//! acknowledgement rewrites nothing new and publishes nothing new.
//!
//! Restart: memory is only a cache of the stored documents, so a new process rebuilds the same
//! state lazily, document by document, as events arrive.
//!
//! A job that completes before any event of its run: the shell reads the run from `runs` (the
//! webhook stored it); if it is not there either, it asks the bus to redeliver later, and after
//! [`RUN_WAIT_ATTEMPTS`] deliveries classifies the job from its branch name.

use crate::config::MonitorConfig;
use crate::core::{DocRef, MonitorCore, RepoHealthInputs};
use crate::error::MonitorError;
use crate::model::AnomalyChange;
use crate::names::TOPIC_ANOMALIES;
use crate::series::SeriesHistory;
use aetherveil_bus::{Delivery, Handler, HandlerError};
use aetherveil_models::{PipelineEvent, PipelineEventKind, RunRecord, names};
use aetherveil_runtime::Platform;
use aetherveil_store::{Message, Precondition, Store, StoreError, WriteBatch, get_as, to_value};
use async_trait::async_trait;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Deliveries of a job completion whose run is unknown before it is classified by branch name.
pub const RUN_WAIT_ATTEMPTS: u32 = 3;
/// Reloads after version conflicts before giving up (the bus retries later).
const MAX_CONFLICTS: usize = 8;

struct Shell {
    core: MonitorCore,
    /// Stored version of each loaded document; `None`: known not to exist yet.
    versions: HashMap<DocRef, Option<u64>>,
}

/// The monitor function: register it as an event function on `pipeline-events` under
/// [`crate::names::SUBSCRIPTION`].
pub struct Monitor {
    store: Arc<dyn Store>,
    inner: Mutex<Shell>,
}

/// What one delivery did (for logs and tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Handled {
    pub changes: Vec<AnomalyChange>,
    pub documents_written: usize,
    pub conflicts: usize,
}

impl Monitor {
    /// A monitor over `store`. Job completions are never parked in memory here: the bus's
    /// redelivery is the durable waiting room (see the module docs).
    pub fn new(store: Arc<dyn Store>, mut config: MonitorConfig) -> Result<Self, MonitorError> {
        config.limits.park_capacity = 0;
        let core = MonitorCore::new(config)?;
        Ok(Self { store, inner: Mutex::new(Shell { core, versions: HashMap::new() }) })
    }

    /// With the default configuration.
    pub fn from_platform(platform: &Platform) -> Result<Self, MonitorError> {
        Self::new(platform.store.clone(), MonitorConfig::default())
    }

    /// Declares the indexes behind the monitor's queries (idempotent).
    pub async fn ensure_indexes(&self) -> Result<(), MonitorError> {
        for (collection, fields) in crate::names::INDEXES {
            self.store.ensure_index(collection, fields).await?;
        }
        Ok(())
    }

    /// The state of the read API.
    pub fn api_state(&self) -> crate::api::ApiState {
        crate::api::ApiState { store: self.store.clone() }
    }

    /// Reads the in-memory core (what this instance has loaded).
    pub async fn with_core<R>(&self, f: impl FnOnce(&MonitorCore) -> R) -> R {
        f(&self.inner.lock().await.core)
    }

    /// Health inputs of `repo` from the store (complete whatever this instance has loaded).
    pub async fn health_inputs(&self, repo: &str) -> Result<RepoHealthInputs, MonitorError> {
        crate::inputs::health_inputs(self.store.as_ref(), repo).await
    }

    /// Forecast inputs of `repo` from the store.
    pub async fn forecast_inputs(&self, repo: &str) -> Result<Vec<SeriesHistory>, MonitorError> {
        crate::inputs::forecast_inputs(self.store.as_ref(), repo).await
    }

    /// Applies one event and persists its effects.
    pub async fn process(&self, event: &PipelineEvent, delivery_attempt: u32) -> Result<Handled, HandlerError> {
        if !matches!(event.kind, PipelineEventKind::Run(_) | PipelineEventKind::Job(_)) {
            return Ok(Handled::default());
        }
        let mut shell = self.inner.lock().await;
        let mut conflicts = 0;
        loop {
            self.prepare(&mut shell, event, delivery_attempt).await?;
            let changes = shell.core.observe(event);
            let dirty = shell.core.take_dirty();
            if dirty.is_empty() && changes.is_empty() {
                return Ok(Handled { changes, documents_written: 0, conflicts });
            }
            let batch = self.batch(&shell, &dirty, &changes)?;
            match self.store.commit(batch).await {
                Ok(_) => {
                    for d in &dirty {
                        let next = match shell.versions.get(d) {
                            Some(Some(v)) => v + 1,
                            _ => 1,
                        };
                        shell.versions.insert(d.clone(), Some(next));
                    }
                    for c in &changes {
                        if !matches!(c, AnomalyChange::Updated(_)) {
                            let a = c.anomaly();
                            tracing::info!(anomaly = %a.id, kind = %a.kind, change = c.label(), score = a.score, "anomaly episode");
                        }
                    }
                    return Ok(Handled { changes, documents_written: dirty.len(), conflicts });
                }
                Err(StoreError::Conflict { .. }) if conflicts < MAX_CONFLICTS => {
                    conflicts += 1;
                    for d in &dirty {
                        shell.core.evict(d);
                        shell.versions.remove(d);
                    }
                }
                Err(e) => {
                    // Memory is ahead of the store now: forget it, the redelivery reapplies.
                    for d in &dirty {
                        shell.core.evict(d);
                        shell.versions.remove(d);
                    }
                    return Err(HandlerError::Retry(format!("cannot persist monitor state: {e}")));
                }
            }
        }
    }

    /// Loads the run context and the document the event will change.
    async fn prepare(&self, shell: &mut Shell, event: &PipelineEvent, attempt: u32) -> Result<(), HandlerError> {
        if let PipelineEventKind::Job(j) = &event.kind {
            if j.status == "completed" && !shell.core.knows_run(j.run_id.0) {
                let stored: Option<RunRecord> =
                    get_as(self.store.as_ref(), names::RUNS, &j.run_id.to_string())
                        .await
                        .map_err(|e| HandlerError::Retry(format!("cannot read run {}: {e}", j.run_id)))?;
                match stored {
                    Some(run) => {
                        shell.core.note_run(&run);
                    }
                    None if attempt < RUN_WAIT_ATTEMPTS => {
                        return Err(HandlerError::Retry(format!(
                            "run {} of job {} not seen yet; waiting for it",
                            j.run_id, j.job_id
                        )));
                    }
                    None => {
                        tracing::warn!(job = %j.job_id, run = %j.run_id, "run never seen; classifying the job by its branch");
                    }
                }
            }
        }
        let Some(doc) = shell.core.doc_for(event) else { return Ok(()) };
        if shell.core.is_loaded(&doc) && shell.versions.contains_key(&doc) {
            return Ok(());
        }
        let stored = self
            .store
            .get(doc.collection(), &doc.id())
            .await
            .map_err(|e| HandlerError::Retry(format!("cannot load {}: {e}", doc.id())))?;
        match stored {
            Some(d) => {
                if let Err(e) = shell.core.import(&doc, &d.data) {
                    // Unreadable (older schema or damage): start this document afresh rather than
                    // dead-lettering every event of the job.
                    tracing::error!(error = %e, "monitor state document unreadable; starting it afresh");
                    shell.core.evict(&doc);
                }
                shell.versions.insert(doc, Some(d.version));
            }
            None => {
                shell.core.evict(&doc);
                shell.versions.insert(doc, None);
            }
        }
        Ok(())
    }

    fn batch(&self, shell: &Shell, dirty: &[DocRef], changes: &[AnomalyChange]) -> Result<WriteBatch, HandlerError> {
        let mut batch = WriteBatch::new();
        for d in dirty {
            let Some(data) = shell.core.export(d) else { continue };
            let precondition = match shell.versions.get(d) {
                Some(Some(v)) => Precondition::Version(*v),
                _ => Precondition::Absent,
            };
            batch = batch.put_with(d.collection(), &d.id(), data, precondition);
        }
        for c in changes {
            let a = c.anomaly();
            let doc = to_value(a).map_err(|e| HandlerError::Permanent(format!("cannot encode anomaly: {e}")))?;
            batch = batch.put(names::ANOMALIES, &a.id, doc.clone());
            if matches!(c, AnomalyChange::Updated(_)) {
                continue;
            }
            let data = serde_json::to_vec(&json!({"change": c.label(), "anomaly": doc}))
                .map_err(|e| HandlerError::Permanent(format!("cannot encode anomaly message: {e}")))?;
            batch = batch.publish(Message {
                id: format!("{}:{}", a.id, c.label()),
                topic: TOPIC_ANOMALIES.to_owned(),
                key: Some(a.id.clone()),
                attributes: [
                    ("change".to_owned(), c.label().to_owned()),
                    ("kind".to_owned(), a.kind.label().to_owned()),
                    ("repo".to_owned(), a.repo.clone()),
                    ("status".to_owned(), a.status.label().to_owned()),
                ]
                .into_iter()
                .collect(),
                data,
            });
        }
        Ok(batch)
    }
}

#[async_trait]
impl Handler for Monitor {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event: PipelineEvent = serde_json::from_slice(&delivery.message.data)
            .map_err(|e| HandlerError::Permanent(format!("not a pipeline event: {e}")))?;
        self.process(&event, delivery.attempt).await.map(|_| ())
    }
}
