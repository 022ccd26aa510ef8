//! Collection and topic names. Both the SQLite and the Firestore backends use these names, so a
//! document lives at the same `collection/id` whichever backend holds it.

/// Raw webhook deliveries and their outcome, keyed by `X-GitHub-Delivery`.
pub const DELIVERIES: &str = "deliveries";
/// Workflow runs (latest known attempt), keyed by run id.
pub const RUNS: &str = "runs";
/// Workflow jobs, keyed by job id.
pub const JOBS: &str = "jobs";
/// GitHub App installations, keyed by installation id.
pub const INSTALLATIONS: &str = "installations";
/// Events as the consumers' side saw them (the journal subscriber), keyed by message id.
pub const EVENTS: &str = "events";
/// Messages that failed for good, keyed by `subscription:message_id`.
pub const DEAD_LETTERS: &str = "dead_letters";
/// Per-agent heartbeat and state.
pub const AGENT_STATE: &str = "agent_state";
/// Every healing action with its inputs.
pub const HEALING_HISTORY: &str = "healing_history";
/// Agent-council plans.
pub const ORCHESTRATION_PLANS: &str = "orchestration_plans";
/// Runtime configuration documents.
pub const CONFIG: &str = "config";
pub const BASELINES: &str = "baselines";
pub const ANOMALIES: &str = "anomalies";
pub const DIAGNOSES: &str = "diagnoses";
pub const SECURITY_REPORTS: &str = "security_reports";
pub const RELEASES: &str = "releases";
pub const FLAGS: &str = "flags";
pub const FORECASTS: &str = "forecasts";
pub const POSTURE_REPORTS: &str = "posture_reports";

/// Blob namespace for raw webhook bodies, keyed by delivery id.
pub const RAW_DELIVERIES_BLOBS: &str = "raw-deliveries";

/// Normalized GitHub events, published by the webhook function.
pub const TOPIC_PIPELINE_EVENTS: &str = "pipeline-events";
/// Deliveries the webhook acknowledged and queued, for its normalizer (`webhook.intake = "queued"`).
pub const TOPIC_WEBHOOK_INTAKE: &str = "webhook-intake";

/// The queries the platform runs, declared so that backends can index them
/// (`Store::ensure_index`): `(collection, fields)`, equality fields first, then the ordering field.
pub const INDEXES: &[(&str, &[&str])] = &[
    (RUNS, &["repo", "updated_at"]),
    (RUNS, &["updated_at"]),
    (JOBS, &["run_id", "job_id"]),
    (EVENTS, &["repo", "journaled_at"]),
    (EVENTS, &["journaled_at"]),
];
