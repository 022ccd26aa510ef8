//! The async shell: an [`aetherveil_bus::Handler`] on `pipeline-events` that diagnoses every job
//! completing with `failure`, `timed_out` or (after it started) `cancelled`.
//!
//! Idempotence: the diagnosis is created under the job id with an `Absent` precondition, in the
//! same commit as its message on `diagnoses` (message id `diagnosis:<job id>`), so a redelivery
//! finds it and does nothing. A crash before the commit means the delivery is retried from the
//! start; nothing is half-written.
//!
//! Fetch failures: a log GitHub will never give (404, 410, 403, over the size limit) is diagnosed
//! at once as `unknown` with the reason. A failure that may pass (5xx, network, rate limit) asks
//! the bus to redeliver with backoff; after [`LogscanConfig::fetch_attempts`] deliveries the job
//! is diagnosed `unknown` with the last error, so no failed job is left without a record.

use crate::analyze::{self, Analysis};
use crate::cause::Cause;
use crate::classify::{Classifier, JobContext, ModelArtifact};
use crate::config::LogscanConfig;
use crate::diagnosis::{Diagnosis, LogStats};
use crate::names::{self, FLAKY_TESTS, MODEL_NAME, MODELS_BLOBS, TOPIC_DIAGNOSES};
use crate::profile::{StoredProfile, series_key};
use aetherveil_bus::{Delivery, Handler, HandlerError};
use aetherveil_github::GitHub;
use aetherveil_models::{JobRecord, PipelineEvent, PipelineEventKind, names as collections};
use aetherveil_store::{Message, Precondition, Store, StoreError, WriteBatch, to_value};
use async_trait::async_trait;
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// The logscan function: register it as an event function on `pipeline-events` under
/// [`names::SUBSCRIPTION`].
pub struct Logscan {
    store: Arc<dyn Store>,
    github: GitHub,
    config: LogscanConfig,
    classifier: Mutex<Loaded>,
}

/// The classifier in use and where its model came from.
struct Loaded {
    classifier: Arc<Classifier>,
    model_version: Option<u64>,
    checked_at: Option<Instant>,
}

/// What one delivery did (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Not a failed job completion.
    Ignored,
    /// Already diagnosed (a redelivery).
    Duplicate,
    Diagnosed(Box<Diagnosis>),
}

/// How fetching a log ended, when it did not give the log.
enum FetchError {
    /// Will not get better: diagnose `unknown` now.
    Permanent(String),
    /// May pass later: redeliver (until the attempts run out).
    Transient(String),
}

impl Logscan {
    pub fn new(store: Arc<dyn Store>, github: GitHub, config: LogscanConfig) -> Self {
        let loaded = Loaded { classifier: Arc::new(Classifier::new(None)), model_version: None, checked_at: None };
        Self { store, github, config, classifier: Mutex::new(loaded) }
    }

    /// Declares the indexes behind logscan's queries (idempotent).
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        for (collection, fields) in names::INDEXES {
            self.store.ensure_index(collection, fields).await?;
        }
        Ok(())
    }

    /// Diagnoses the event's job if it completed with a failure.
    pub async fn process(&self, event: &PipelineEvent, delivery_attempt: u32) -> Result<Handled, HandlerError> {
        let PipelineEventKind::Job(job) = &event.kind else { return Ok(Handled::Ignored) };
        if !is_failed(job) {
            return Ok(Handled::Ignored);
        }
        let id = job.job_id.0.to_string();
        if self.store.get(collections::DIAGNOSES, &id).await.map_err(retry)?.is_some() {
            return Ok(Handled::Duplicate);
        }
        let started = Instant::now();
        let (classifier, model_version) = self.classifier().await;
        let ctx = context(job);
        let log =
            tempfile::tempfile().map_err(|e| HandlerError::Retry(format!("cannot create a temporary file: {e}")))?;
        let mut diagnosis = match self.fetch(job, log).await {
            Ok((file, bytes)) => {
                let profile = self.passing_profile(job).await;
                let compared_with = profile.as_ref().map_or(0, |p| u32::try_from(p.runs).unwrap_or(u32::MAX));
                let max_lines = self.config.max_lines;
                let outcome = tokio::task::spawn_blocking(move || {
                    analyze::analyze(file, &ctx, &classifier, profile.as_ref().map(|p| &p.profile), max_lines)
                })
                .await
                .map_err(|e| HandlerError::Retry(format!("the analysis panicked: {e}")))?;
                match outcome {
                    Ok(analysis) => from_analysis(job, analysis, bytes, compared_with, model_version),
                    Err(error) => unknown(job, format!("the log cannot be read: {error}")),
                }
            }
            Err(FetchError::Permanent(reason)) => unknown(job, reason),
            Err(FetchError::Transient(reason)) if delivery_attempt < self.config.fetch_attempts => {
                return Err(HandlerError::Retry(reason));
            }
            Err(FetchError::Transient(reason)) => {
                unknown(job, format!("the log could not be fetched after {delivery_attempt} attempts: {reason}"))
            }
        };
        self.apply_flaky_history(job, &mut diagnosis).await;
        // The training features stay in the store; consumers of the topic do not need them.
        let published = Diagnosis { features: Vec::new(), ..diagnosis.clone() };
        let message = Message {
            id: format!("diagnosis:{}", diagnosis.id),
            topic: TOPIC_DIAGNOSES.into(),
            key: Some(job.run_id.0.to_string()),
            attributes: BTreeMap::from([
                ("repo".to_owned(), diagnosis.repo.clone()),
                ("cause".to_owned(), diagnosis.cause.label().to_owned()),
                ("transient".to_owned(), diagnosis.transient.to_string()),
            ]),
            data: serde_json::to_vec(&published).map_err(|e| HandlerError::Permanent(e.to_string()))?,
        };
        let batch = WriteBatch::new()
            .put_with(collections::DIAGNOSES, &id, to_value(&diagnosis).map_err(retry)?, Precondition::Absent)
            .publish(message);
        match self.store.commit(batch).await {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => return Ok(Handled::Duplicate),
            Err(e) => return Err(retry(e)),
        }
        tracing::info!(
            job_id = job.job_id.0,
            repo = %diagnosis.repo,
            cause = diagnosis.cause.label(),
            confidence = diagnosis.confidence,
            transient = diagnosis.transient,
            compared_with = diagnosis.compared_with,
            log_lines = diagnosis.log.lines,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "diagnosed"
        );
        Ok(Handled::Diagnosed(Box::new(diagnosis)))
    }

    /// Streams the job's log into `file` and gives it back rewound, with its size.
    async fn fetch(&self, job: &JobRecord, file: std::fs::File) -> Result<(std::fs::File, u64), FetchError> {
        use aetherveil_github::Error as E;
        let mut file = tokio::fs::File::from_std(file);
        let fetched =
            self.github.job_log_to_file(&job.repo.0, job.job_id.0, &mut file, self.config.max_log_bytes).await;
        let bytes = fetched.map_err(|e| match e {
            E::NotFound => FetchError::Permanent("GitHub has no log for this job (deleted or expired)".into()),
            E::Status { status: 410, .. } => FetchError::Permanent("the job's log has expired on GitHub".into()),
            E::TooLarge { limit } => {
                FetchError::Permanent(format!("the log is larger than the limit of {limit} bytes"))
            }
            E::Unauthorized | E::Forbidden { .. } | E::InvalidRepo(_) | E::InvalidConfig(_) => {
                FetchError::Permanent(format!("GitHub refused the log download: {e}"))
            }
            other => FetchError::Transient(other.to_string()),
        })?;
        let mut file = file.into_std().await;
        std::io::Seek::rewind(&mut file).map_err(|e| FetchError::Transient(format!("cannot rewind the log: {e}")))?;
        Ok((file, bytes))
    }

    /// The template profile of the job's recent passing logs, brought up to date with the passing
    /// runs recorded since it was built. Best effort: without it the analysis still explains the
    /// failure from the failed log alone.
    async fn passing_profile(&self, job: &JobRecord) -> Option<StoredProfile> {
        crate::profile::refresh(self.store.as_ref(), &self.github, job, &self.config).await.unwrap_or_else(|e| {
            tracing::warn!(job_id = job.job_id.0, error = %e, "no passing-run profile; explaining from the failed log alone");
            None
        })
    }

    /// Flakiness belongs to tests. A flaky symptom in the log (`flaky_test` from the rules) makes
    /// the tests it names known flaky for this job; a plain test failure whose tests are all known
    /// flaky is a flaky test. A failure in any other test is a real one, even in a job with flaky
    /// tests. Only when the log names no test does the monitor's job-level state decide (the job
    /// has passed and failed on the same code).
    async fn apply_flaky_history(&self, job: &JobRecord, diagnosis: &mut Diagnosis) {
        match diagnosis.cause {
            Cause::FlakyTest => return self.remember_flaky_tests(job, diagnosis).await,
            Cause::Test => {}
            _ => return,
        }
        let reason = if diagnosis.failing_tests.is_empty() {
            let flaky = match self.store.get(collections::BASELINES, &series_key(job)).await {
                Ok(Some(doc)) => doc.data.get("flaky_state").and_then(|s| s.as_str()) == Some("flaky"),
                _ => false,
            };
            if !flaky {
                return;
            }
            "the monitor has seen this job pass and fail on the same code".to_owned()
        } else {
            for test in &diagnosis.failing_tests {
                match self.store.get(FLAKY_TESTS, &flaky_test_id(job, test)).await {
                    Ok(Some(_)) => {}
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(job_id = job.job_id.0, error = %e, "cannot read the flaky tests; keeping the log's cause");
                        return;
                    }
                }
            }
            format!("{} failed flakily before in this job", diagnosis.failing_tests.join(", "))
        };
        diagnosis.cause = Cause::FlakyTest;
        diagnosis.transient = true;
        diagnosis.method = format!("{}+flaky-history", diagnosis.method);
        diagnosis.reason = format!("{}; {reason}", diagnosis.reason);
        diagnosis.remedy = Cause::FlakyTest.remedy().to_owned();
    }

    /// Records the tests of a flaky-test diagnosis as known flaky for the job (best effort).
    async fn remember_flaky_tests(&self, job: &JobRecord, diagnosis: &Diagnosis) {
        for test in &diagnosis.failing_tests {
            let seen = aetherveil_store::update(self.store.as_ref(), FLAKY_TESTS, &flaky_test_id(job, test), |cur| {
                let occurrences = cur.and_then(|c| c["occurrences"].as_u64()).unwrap_or(0) + 1;
                serde_json::json!({
                    "repo": job.repo.0,
                    "workflow_name": job.workflow_name,
                    "job_name": job.name,
                    "test": test,
                    "occurrences": occurrences,
                    "first_seen_at": cur.and_then(|c| c.get("first_seen_at").cloned()).unwrap_or_else(|| serde_json::json!(diagnosis.analysed_at)),
                    "last_seen_at": diagnosis.analysed_at,
                    "last_job_id": job.job_id.0,
                })
            })
            .await;
            if let Err(e) = seen {
                tracing::warn!(job_id = job.job_id.0, test, error = %e, "cannot record a flaky test");
            }
        }
    }

    /// The classifier, reloaded when the trainer has published a newer model.
    async fn classifier(&self) -> (Arc<Classifier>, Option<u64>) {
        let due = {
            let loaded = self.classifier.lock().unwrap_or_else(PoisonError::into_inner);
            loaded.checked_at.is_none_or(|t| t.elapsed().as_secs() >= self.config.model_refresh_secs)
        };
        if due {
            let latest = latest_model(self.store.as_ref()).await;
            let mut loaded = self.classifier.lock().unwrap_or_else(PoisonError::into_inner);
            loaded.checked_at = Some(Instant::now());
            match latest {
                Ok(Some(artifact)) if Some(artifact.version) != loaded.model_version => {
                    tracing::info!(version = artifact.version, examples = artifact.examples, "loaded a trained model");
                    loaded.model_version = Some(artifact.version);
                    loaded.classifier = Arc::new(Classifier::new(Some(artifact.model)));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot load the trained model; keeping the current one"),
            }
        }
        let loaded = self.classifier.lock().unwrap_or_else(PoisonError::into_inner);
        (loaded.classifier.clone(), loaded.model_version)
    }
}

/// The latest model the trainer published: `agent_state/<MODEL_NAME>` names the version, the
/// artifact is the blob `models/<MODEL_NAME>/<version>`.
pub async fn latest_model(store: &dyn Store) -> Result<Option<ModelArtifact>, String> {
    let Some(doc) = store.get(collections::AGENT_STATE, MODEL_NAME).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let Some(version) = doc.data.get("version").and_then(|v| v.as_u64()) else { return Ok(None) };
    let key = format!("{MODEL_NAME}/{version}");
    let bytes = store
        .get_blob(MODELS_BLOBS, &key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("model blob {key} is missing"))?;
    ModelArtifact::from_json(&bytes).map(Some).map_err(|e| format!("model blob {key}: {e}"))
}

#[async_trait]
impl Handler for Logscan {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event: PipelineEvent = serde_json::from_slice(&delivery.message.data)
            .map_err(|e| HandlerError::Permanent(format!("not a pipeline event: {e}")))?;
        self.process(&event, delivery.attempt).await.map(drop)
    }
}

/// A job worth a diagnosis. `cancelled` is included: GitHub reports a job that ran past its
/// `timeout-minutes` as cancelled, and only the log tells a timeout from a person's cancel. A job
/// cancelled before it started has no log worth reading.
fn is_failed(job: &JobRecord) -> bool {
    job.status == "completed"
        && match job.conclusion.as_deref() {
            Some("failure" | "timed_out") => true,
            Some("cancelled") => job.started_at.is_some() && !job.steps.is_empty(),
            _ => false,
        }
}

fn context(job: &JobRecord) -> JobContext {
    JobContext {
        job_name: job.name.clone(),
        conclusion: job.conclusion.clone(),
        runner_labels: job.labels.clone(),
        failed_step: job
            .steps
            .iter()
            .find(|s| matches!(s.conclusion.as_deref(), Some("failure" | "timed_out")))
            .map(|s| s.name.clone()),
    }
}

fn retry(e: StoreError) -> HandlerError {
    HandlerError::Retry(e.to_string())
}

fn base(job: &JobRecord, cause: Cause) -> Diagnosis {
    Diagnosis {
        id: job.job_id.0.to_string(),
        repo: job.repo.0.clone(),
        run_id: job.run_id.0,
        run_attempt: job.run_attempt,
        job_id: job.job_id.0,
        job_name: job.name.clone(),
        workflow_name: job.workflow_name.clone(),
        head_sha: job.head_sha.clone(),
        head_branch: job.head_branch.clone(),
        html_url: job.html_url.clone(),
        conclusion: job.conclusion.clone(),
        cause,
        confidence: 0.0,
        transient: false,
        summary: String::new(),
        reason: String::new(),
        remedy: cause.remedy().to_owned(),
        method: "none".into(),
        lines: Vec::new(),
        findings: Vec::new(),
        failing_tests: Vec::new(),
        compared_with: 0,
        log: LogStats::default(),
        model_version: None,
        features: Vec::new(),
        feedback: None,
        analysed_at: Utc::now(),
    }
}

/// A job whose log could not be analysed.
fn unknown(job: &JobRecord, reason: String) -> Diagnosis {
    let mut d = base(job, Cause::Unknown);
    d.summary = format!("{} failed; the cause is unknown", job.name);
    d.reason = reason;
    d
}

/// The id of a test in [`FLAKY_TESTS`]: the job series, then the test name, percent-encoded.
fn flaky_test_id(job: &JobRecord, test: &str) -> String {
    format!("{}~{}", series_key(job), aetherveil_monitor::model::encode(test))
}

fn from_analysis(
    job: &JobRecord,
    analysis: Analysis,
    bytes: u64,
    compared_with: u32,
    model_version: Option<u64>,
) -> Diagnosis {
    let c = analysis.classification;
    let mut d = base(job, c.cause);
    d.confidence = c.confidence;
    d.transient = c.transient;
    d.reason = c.reason;
    d.method = c.method;
    d.summary = analysis.summary;
    d.lines = analysis.lines;
    d.findings = c.findings;
    d.failing_tests = analysis.failing_tests;
    d.compared_with = compared_with;
    d.log = LogStats { bytes, ..analysis.stats };
    d.model_version = model_version.filter(|_| d.method.contains("model"));
    d.features = analysis.features;
    d
}
