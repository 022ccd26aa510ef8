//! The orchestrator's subscriptions, topics, documents and indexes.

use aetherveil_models::names::ORCHESTRATION_PLANS;

/// Subscription on `diagnoses` (logscan): failures the healer cannot settle.
pub const DIAGNOSES_SUBSCRIPTION: &str = "ado-diagnoses";
/// Subscription on `anomalies` (monitor): opened episodes.
pub const ANOMALIES_SUBSCRIPTION: &str = "ado-anomalies";
/// Subscription on `gate-verdicts` (gate): failed verdicts.
pub const VERDICTS_SUBSCRIPTION: &str = "ado-gate-verdicts";
/// Steps of agreed plans in repositories in `act`, one message per step, id
/// `plan-step:<plan id>:<order>`, for their executor (healer, gate, release, a workflow).
pub const TOPIC_STEPS: &str = aetherveil_healer::names::TOPIC_PLAN_STEPS;
/// The role weights' record, in `agent_state`.
pub const WEIGHTS_ID: &str = "ado-weights";
/// The HTTP routes.
pub const API_PATH: &str = "/api/v1/plans";

/// The queries the orchestrator runs: plans per repository and overall, newest first.
pub const INDEXES: &[(&str, &[&str])] =
    &[(ORCHESTRATION_PLANS, &["repo", "created_at_ms"]), (ORCHESTRATION_PLANS, &["created_at_ms"])];
