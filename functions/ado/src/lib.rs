//! The Autonomous DevOps Orchestrator (ADO): a council of five agents (Build Optimizer,
//! Security Guardian, Performance Analyst, Release Strategist, Infrastructure Manager) that
//! turns the platform's evidence into a plan, explains it, and agrees on it, with or without a
//! language model.
//!
//! ```text
//! diagnoses (unsettled) · anomalies (opened) · gate-verdicts (failed) · POST /api/v1/plans
//!   ─▶ shell: evidence from the store (diagnoses, anomalies, flaky jobs and tests, gate
//!      verdicts, healing history, the healer's decision)
//!   ─▶ agents/*: one expert policy per role ─▶ Decision {action ∈ closed set, confidence,
//!      rationale, evidence, vetoes}
//!   ─▶ llm (optional): rationales enriched, actions proposed from the closed set, validated;
//!      any failure falls back to the experts with its outcome recorded
//!   ─▶ consensus: weighted vote, quorum, learned weights, vetoes, or no_consensus
//!   ─▶ plan: steps for the healer, the gate, the release function or a workflow, in the
//!      repository's mode (recommend unless it opted into act) ─▶ orchestration_plans
//! ```
//! The pure core is [`agents`], [`consensus`], [`weights`], [`plan`] and [`council`]; [`shell`]
//! reads and writes the store, [`api`] serves the plans. See docs/ado.md.

pub mod agents;
pub mod api;
pub mod cli;
pub mod config;
pub mod consensus;
pub mod council;
pub mod decision;
pub mod evidence;
pub mod llm;
pub mod names;
pub mod plan;
pub mod redact;
pub mod shell;
pub mod weights;

pub use api::api_router;
pub use config::AdoConfig;
pub use shell::{Ado, AdoError, Handled, PlanRequest};
