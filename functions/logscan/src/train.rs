//! Retraining the classifier's model from recorded outcomes (called by the trainer function).
//!
//! Labels, strongest first:
//! 1. a person's correction (`feedback` on a diagnosis, from the API);
//! 2. a confident rule decision (`method` `rules`, confidence >= [`WEAK_LABEL_CONFIDENCE`]): the
//!    model learns the vocabulary around what the rules recognise, so it can decide the logs no
//!    rule matches.
//!
//! Features are the ones logscan stored with each diagnosis, so no log is fetched again.
//! The new model is stored as the next version of `models/logscan-classifier` and picked up by
//! every logscan instance within [`crate::LogscanConfig::model_refresh_secs`].

use crate::cause::Cause;
use crate::classify::{Model, ModelArtifact};
use crate::diagnosis::Diagnosis;
use crate::names::{MODEL_NAME, MODELS_BLOBS};
use aetherveil_models::names;
use aetherveil_store::{Order, Precondition, Query, Store, StoreError, WriteBatch};
use chrono::Utc;
use serde::Serialize;
use std::collections::BTreeMap;

/// Rule decisions at least this confident are used as labels.
pub const WEAK_LABEL_CONFIDENCE: f64 = 0.9;
/// Diagnoses read per training (the most recent).
pub const MAX_EXAMPLES: usize = 20_000;
/// Fewer labelled examples (or fewer than two causes) and no model is trained.
pub const MIN_EXAMPLES: usize = 20;

/// What a training did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrainReport {
    pub examples: usize,
    pub from_feedback: usize,
    pub per_cause: BTreeMap<String, usize>,
    /// The version stored, or `None` when there was too little to learn from.
    pub version: Option<u64>,
    pub note: String,
}

/// The label a diagnosis teaches, if any.
fn label(d: &Diagnosis) -> Option<(Cause, bool)> {
    if let Some(f) = &d.feedback {
        return Some((f.cause, true));
    }
    let confident = d.method == "rules" && d.confidence >= WEAK_LABEL_CONFIDENCE && d.cause != Cause::Unknown;
    confident.then_some((d.cause, false))
}

/// Trains a model from the stored diagnoses and publishes it as the next version.
pub async fn retrain(store: &dyn Store) -> Result<TrainReport, StoreError> {
    let docs =
        store.query(names::DIAGNOSES, Query::new().order_by("analysed_at", Order::Desc).limit(MAX_EXAMPLES)).await?;
    let mut examples: Vec<(Vec<String>, Cause)> = Vec::new();
    let mut from_feedback = 0;
    let mut per_cause: BTreeMap<String, usize> = BTreeMap::new();
    for doc in docs {
        let Ok(d) = doc.parse::<Diagnosis>() else { continue };
        let Some((cause, human)) = label(&d) else { continue };
        if d.features.is_empty() {
            continue;
        }
        from_feedback += usize::from(human);
        *per_cause.entry(cause.label().to_owned()).or_default() += 1;
        examples.push((d.features, cause));
    }
    let mut report =
        TrainReport { examples: examples.len(), from_feedback, per_cause, version: None, note: String::new() };
    if examples.len() < MIN_EXAMPLES || report.per_cause.len() < 2 {
        report.note = format!(
            "not enough labelled diagnoses to train: {} examples over {} causes (need {MIN_EXAMPLES} over 2)",
            examples.len(),
            report.per_cause.len()
        );
        return Ok(report);
    }
    let model = Model::train(&examples);
    let artifact = ModelArtifact::new(model, examples.len(), Utc::now());
    let version = publish_model(store, artifact).await?;
    report.version = Some(version);
    report.note = format!("stored models/{MODEL_NAME}/{version}");
    Ok(report)
}

/// Stores a trained model as the next version and points `agent_state/<MODEL_NAME>` at it, in one commit.
pub async fn publish_model(store: &dyn Store, mut artifact: ModelArtifact) -> Result<u64, StoreError> {
    let current = store.get(names::AGENT_STATE, MODEL_NAME).await?;
    let (version, precondition) = match &current {
        Some(doc) => {
            (doc.data.get("version").and_then(|v| v.as_u64()).unwrap_or(0) + 1, Precondition::Version(doc.version))
        }
        None => (1, Precondition::Absent),
    };
    artifact.version = version;
    let pointer = serde_json::json!({
        "version": version,
        "trained_at": artifact.trained_at,
        "examples": artifact.examples,
        "updated_at": Utc::now(),
    });
    let batch = WriteBatch::new().blob(MODELS_BLOBS, &format!("{MODEL_NAME}/{version}"), artifact.to_json()).put_with(
        names::AGENT_STATE,
        MODEL_NAME,
        pointer,
        precondition,
    );
    store.commit(batch).await?;
    Ok(version)
}
