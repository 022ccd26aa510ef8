//! The trainer function: retrains the platform's models from recorded outcomes and stores each
//! as a versioned artifact (`models/<name>/<version>`, pointed at by `agent_state/<name>`).
//!
//! Triggers: `POST /trainer/run`, what an operator calls to retrain now, and what the
//! `retrain` workflow calls on the `retrain-models` schedule (scheduler/jobs.yaml: Cloud Scheduler
//! on Google Cloud, the in-process scheduler in `aetherveil serve`).
//! Today it trains the logscan cause classifier ([`aetherveil_logscan::train`]).

use aetherveil_logscan::train::{TrainReport, retrain};
use aetherveil_store::{Store, StoreError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;

/// The route the scheduler calls.
pub const PATH: &str = "/trainer/run";

/// What one training round did, per model.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub logscan_classifier: TrainReport,
}

#[derive(Clone)]
pub struct Trainer {
    store: Arc<dyn Store>,
}

impl Trainer {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Trains every model once.
    pub async fn run_once(&self) -> Result<Report, StoreError> {
        let logscan_classifier = retrain(self.store.as_ref()).await?;
        tracing::info!(
            examples = logscan_classifier.examples,
            version = ?logscan_classifier.version,
            note = %logscan_classifier.note,
            "trained the logscan classifier"
        );
        Ok(Report { logscan_classifier })
    }

    /// `POST /trainer/run`.
    pub fn router(&self) -> Router {
        Router::new().route(PATH, post(run)).with_state(self.clone())
    }
}

async fn run(State(trainer): State<Trainer>) -> Response {
    match trainer.run_once().await {
        Ok(report) => Json(report).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "training failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({"error": "internal", "message": "training failed; see the server log"})),
            )
                .into_response()
        }
    }
}
