//! The pipeline state monitor.
//!
//! # Path of an event through the monitor
//!
//! ```text
//! pipeline-events ──▶ Monitor (shell.rs, an aetherveil_bus::Handler, subscription "monitor")
//!     1. parse the PipelineEvent; only Run and Job events matter
//!     2. load the one document the event can change (a job's baselines, or a workflow's
//!        outcomes) from the store if it is not in memory; for a job completing before its
//!        run was seen, read the run from `runs` (the webhook stored it), else retry later
//!     3. MonitorCore::observe (core.rs, pure and synchronous):
//!          live run/job state (furthest status wins, duplicates and stale events are no-ops)
//!          job completed  ─▶ JobSeries (series.rs): dedup by job id ─▶ flaky window (flaky.rs)
//!                            ─▶ per branch class: failure window, queue and duration baselines
//!                            ─▶ detectors ─▶ episodes ─▶ Vec<AnomalyChange>
//!          run completed  ─▶ WorkflowState (workflow.rs): success counts, time to recovery
//!     4. ONE atomic commit: the changed state document (optimistic version check) + one
//!        document per anomaly episode in `anomalies` + `opened`/`closed` messages on topic
//!        `anomalies`. A conflict (another instance wrote) reloads the document and reapplies.
//!
//! GET /api/v1/anomalies, /api/v1/baselines, /api/v1/flaky (api.rs) read the stored documents.
//! ```
//!
//! Health and forecast inputs: [`inputs::health_inputs`] and [`inputs::forecast_inputs`] read
//! them from the store (any instance); [`MonitorCore::health_inputs`] and
//! [`MonitorCore::histories`] from memory.

pub mod api;
pub mod config;
pub mod core;
pub mod detector;
pub mod error;
pub mod flaky;
pub mod forecast;
pub mod health;
pub mod inputs;
pub mod live;
pub mod model;
pub mod names;
pub mod series;
pub mod shell;
pub mod stats;
pub mod synth;
pub mod workflow;

pub use crate::core::{CoreStats, DocRef, MonitorCore, RepoHealthInputs};
pub use api::{ApiState, api_router};
pub use config::MonitorConfig;
pub use error::MonitorError;
pub use flaky::FlakyState;
pub use model::{Anomaly, AnomalyChange, AnomalyKind, AnomalyStatus, BranchClass, Evidence, JobKey, WorkflowKey};
pub use names::{SUBSCRIPTION, TOPIC_ANOMALIES};
pub use series::{JobSeries, JobSummary, SeriesHistory};
pub use shell::Monitor;
