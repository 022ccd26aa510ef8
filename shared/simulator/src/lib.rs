//! A GitHub Actions simulator that plays GitHub on loopback.
//!
//! It reads a scenario (repositories, workflows, jobs, failure rates, breakages, regressions),
//! plays it out in compressed time, sends the signed `workflow_run` / `workflow_job` webhooks
//! GitHub would send, serves the REST endpoints the platform calls (runs, jobs, logs, reruns,
//! caches, issues, check runs), and keeps the ground truth of every failure it injected, so a
//! report can put what happened next to what the platform did.

pub mod api;
pub mod engine;
pub mod failure;
pub mod logs;
pub mod model;
pub mod payloads;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod schema;
pub mod world;

pub use engine::{Progress, SimOptions, Simulator};
pub use failure::FailureKind;
pub use model::{JobInfo, RunInfo, Status, StepInfo, Tool};
pub use report::Report;
pub use scenario::Scenario;
