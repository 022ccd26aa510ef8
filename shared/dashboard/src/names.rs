//! The collection the dashboard adds to the platform's, and the queries it runs.

use aetherveil_models::names::{JOBS, RUNS};

/// Alert episodes, keyed `<rule>~<subject>~<started_at_ms>`.
pub const ALERTS: &str = "alerts";
/// The evaluator's heartbeat and cursors, one document in `agent_state`.
pub const EVALUATOR_STATE_ID: &str = "alert-evaluator";
/// The dashboard's subscriptions (metrics from events).
pub const PIPELINE_SUBSCRIPTION: &str = "dashboard-metrics";
pub const ANOMALIES_SUBSCRIPTION: &str = "dashboard-anomalies";

/// Equality fields first, then the ordering field.
pub const INDEXES: &[(&str, &[&str])] = &[
    (ALERTS, &["status", "started_at_ms"]),
    (ALERTS, &["started_at_ms"]),
    // Durations over time of one job: the analytics chart.
    (JOBS, &["repo", "workflow_name", "name", "completed_at"]),
    // The failure-rate rule: a repository's latest completed runs.
    (RUNS, &["repo", "status", "updated_at"]),
];
