//! What the platform knows, at a glance: the web UI at `/`, the analytics and alerts API under
//! `/api/v1`, the OpenAPI document, the metrics the functions do not count themselves, and the
//! alert evaluator.
//!
//! # Path of a page
//!
//! ```text
//! GET /analytics?repo=R ──▶ pages.rs ──▶ data.rs ──┬─▶ the platform's JSON API, called in process
//!                                                  │   (health, anomalies, baselines, forecasts,
//!                                                  │    diagnoses, healing, decisions, security)
//!                                                  └─▶ indexed store queries with limits
//!                                                      (jobs of one job series, runs, budgets,
//!                                                       agent_state, alerts)
//!                           html.rs + svg.rs ◀──────── one HTML document, charts as inline SVG,
//!                                                      no script, no external resource
//! ```
//!
//! The UI uses the same JSON the API answers, so a page never shows what the API would not.
//! Every list is bounded (a limit on an indexed query); nothing scans `runs` or `jobs`.
//!
//! # Path of an alert
//!
//! ```text
//! every alerts.interval_secs ──▶ alerts::Evaluator::tick
//!     rules.rs: the four built-in rules + [[alerts.rules]] ──▶ conditions {rule~subject: value}
//!     firing alerts in `alerts` ──▶ new condition: create (one per rule and subject) + notify "firing"
//!                                   gone condition: resolve + notify "resolved"
//!     notify.rs: Slack-compatible JSON, POSTed with retries; every attempt's result on the alert
//! ```
//!
//! Metrics: `aetherveil_pipeline_duration_seconds` and `aetherveil_anomalies_detected_total` come
//! from the dashboard's subscriptions (`feed.rs`), `aetherveil_healing_actions_total` and
//! `aetherveil_health_score` from the evaluator's tick.

pub mod alerts;
pub mod api;
mod data;
pub use data::enc;
pub mod feed;
mod html;
pub mod names;
pub mod openapi;
mod pages;
pub mod svg;

use aetherveil_bus::Bus;
use aetherveil_config::AlertsConfig;
use aetherveil_runtime::Metrics;
use aetherveil_store::Store;
use std::sync::Arc;
use thiserror::Error;

/// Everything that can go wrong while answering a page or evaluating alerts.
#[derive(Debug, Error)]
pub enum DashboardError {
    #[error(transparent)]
    Store(#[from] aetherveil_store::StoreError),
    #[error("internal api {path} answered {status}")]
    Api { path: String, status: u16 },
    #[error("internal api {path} answered something that is not JSON: {reason}")]
    Decode { path: String, reason: String },
    #[error("bus: {0}")]
    Bus(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
}

impl From<DashboardError> for aetherveil_runtime::api::ApiError {
    fn from(e: DashboardError) -> Self {
        use aetherveil_runtime::api::ApiError;
        match e {
            DashboardError::BadRequest(m) => ApiError::BadRequest(m),
            DashboardError::NotFound(m) => ApiError::NotFound(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The dashboard: the UI, its API, and the alert evaluator.
#[derive(Clone)]
pub struct Dashboard {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) alerts: Arc<AlertsConfig>,
    /// The platform's JSON API (every function's read routes merged), called in process.
    pub(crate) api: axum::Router,
}

impl Dashboard {
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        metrics: Arc<Metrics>,
        alerts: AlertsConfig,
        api: axum::Router,
    ) -> Self {
        Self { store, bus, metrics, alerts: Arc::new(alerts), api }
    }

    /// Declares the indexes behind the dashboard's queries (idempotent).
    pub async fn ensure_indexes(&self) -> Result<(), DashboardError> {
        for (collection, fields) in names::INDEXES {
            self.store.ensure_index(collection, fields).await?;
        }
        Ok(())
    }

    /// The UI at `/` and the dashboard's API routes (`/api/v1/alerts`, `/api/v1/analytics/*`,
    /// `/api/v1/overview`, `/api/v1/agents`, `/api/v1/openapi.json`).
    pub fn router(&self) -> axum::Router {
        pages::router(self.clone()).merge(api::router(self.clone()))
    }

    /// Starts the alert evaluator; it runs until the returned handle is aborted.
    pub fn start_alerts(&self) -> tokio::task::JoinHandle<()> {
        alerts::Evaluator::new(self.clone()).spawn()
    }

    /// The bus handler that turns events into metrics (`feed.rs`).
    pub fn feed(&self) -> Arc<feed::MetricsFeed> {
        Arc::new(feed::MetricsFeed { metrics: self.metrics.clone() })
    }
}
