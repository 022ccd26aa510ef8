//! The Aetherveil host: every function in one process (`aetherveil serve`), plus the
//! command-line tools around it.
//!
//! # Path of an event through Aetherveil
//!
//! ```text
//! GitHub ──POST /webhook/github──▶ webhook function (functions/webhook)
//!     1. verify X-Hub-Signature-256 (HMAC-SHA256, constant time)      → 401 if wrong
//!     2. refuse bodies over 25 MiB, JSON that does not parse          → 413 / 400
//!     3. dedup by X-GitHub-Delivery (conditional create)              → 200 "duplicate"
//!     4. normalize workflow_run / workflow_job / push / ... into RunRecord, JobRecord, ...
//!     5. ONE atomic commit: raw body + delivery outcome + runs/jobs + outbox message
//!     6. answer 200 (or 202 for event types we ignore) — no GitHub API call in the request
//!
//! outbox ──▶ bus (shared/bus: durable cursor per subscription, retry + backoff, dead letters)
//!     topic pipeline-events ──▶ journal (the consumers' record of every event, idempotent)
//!                           ──▶ monitor (functions/monitor): baselines, anomalies ──▶ topic anomalies
//!                           ──▶ logscan (functions/logscan): a failed job's log from the GitHub
//!                               API ──▶ cause, transient or not, evidence ──▶ topic diagnoses
//!                           ──▶ posture (later issue)
//!     diagnoses ──▶ healer (later issue) ──▶ GitHub API; anomalies ──▶ ado
//!     trainer (schedule, POST /trainer/run): recorded outcomes ──▶ versioned models
//! ```
//!
//! Each function is a crate under `functions/` exporting a router or handler; this crate only
//! wires configuration, the store, the bus and the functions together ([`serve`]), and hosts the
//! command-line tools ([`replay`], [`bench`]).

pub mod api;
pub mod bench;
pub mod demo;
pub mod diagnose;
pub mod eval;
pub mod fixtures;
pub mod insights;
pub mod journal;
pub mod maintenance;
pub mod releases;
pub mod replay;
pub mod schedule;
pub mod serve;
pub mod sim;
pub mod topics;
pub mod workflow_cli;
