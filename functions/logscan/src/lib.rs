//! The logscan function: why did this job fail, and is it worth a rerun?
//!
//! # Path of a failed job through logscan
//!
//! ```text
//! pipeline-events ──▶ Logscan (shell.rs: an aetherveil_bus::Handler, subscription "logscan")
//!     1. only `workflow_job` completed with `failure`, `timed_out` or `cancelled` (after it
//!        started: a timeout is reported as cancelled) matters; a job already in
//!        `diagnoses` is a redelivery and is acknowledged
//!     2. the job log is streamed from GitHub (302 to the blob, retried) into a temporary file;
//!        a log GitHub will never give (404/410/403/too large) becomes an `unknown` diagnosis
//!        with the reason, a passing failure (5xx/network/rate limit) is redelivered with backoff
//!     3. profile.rs: the templates of the job's recent passing logs (`log_profiles`), brought up
//!        to date with passing runs recorded since, each passing log fetched once
//!     4. analyze.rs (pure, streaming, bounded memory): every line goes through
//!          aetherveil_logparse::reader  ─▶ LogLine { number, step, kind, text }
//!          classify::Scan               ─▶ rules (classify/rules/*.rs) + the trained model
//!          explain::Explainer           ─▶ the chunk that explains the failure
//!          diff against the profile     ─▶ lines never or rarely seen when the job passed
//!     5. a monitor-known flaky job turns a `test` cause into `flaky_test` (transient)
//!     6. ONE commit: `diagnoses/<job id>` (created only if absent) + a message on `diagnoses`
//! ```
//!
//! GET /api/v1/diagnoses[/{id}] and POST /api/v1/diagnoses/{id}/feedback (api.rs); train.rs
//! retrains the model from recorded outcomes for the trainer function.

pub mod analyze;
pub mod api;
pub mod cause;
pub mod classify;
pub mod config;
pub mod diagnosis;
pub mod failing;
pub mod names;
pub mod profile;
pub mod shell;
pub mod train;

pub use api::{ApiState, api_router};
pub use cause::Cause;
pub use config::LogscanConfig;
pub use diagnosis::Diagnosis;
pub use names::SUBSCRIPTION;
pub use shell::{Handled, Logscan};
