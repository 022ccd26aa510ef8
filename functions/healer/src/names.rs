//! The healer's collections, subscriptions and indexes.

use crate::decide::Mode;
use aetherveil_models::names::{CONFIG, HEALING_HISTORY, JOBS};
use aetherveil_store::{Store, StoreError};

/// The subscription on `pipeline-events` (run completions: decide, record outcomes, healthy notes).
pub const SUBSCRIPTION: &str = "healer";
/// The subscription on `diagnoses` (a failed run may become decidable when its last diagnosis lands).
pub const DIAGNOSES_SUBSCRIPTION: &str = "healer-diagnoses";

/// The orchestrator's plan steps (ado publishes them; the healer carries out its own).
pub const TOPIC_PLAN_STEPS: &str = "orchestration-steps";
/// The subscription on `orchestration-steps`.
pub const PLAN_STEPS_SUBSCRIPTION: &str = "healer-plan-steps";
/// One record per plan step the healer carried out, keyed by the step's message id.
pub const PLAN_STEPS: &str = "healer_plan_steps";

/// One decision per failed run attempt, keyed `<run id>-<attempt>`.
pub const DECISIONS: &str = "healer_decisions";
/// One record per (repository, job, signature): occurrences, rerun streak, the tracking issue.
pub const SIGNATURES: &str = "healer_signatures";
/// Each repository's daily budget ledger, keyed by repository.
pub const BUDGETS: &str = "healer_budgets";
/// Jobs marked flaky or quarantined, keyed `<repo>:<workflow>:<job>`.
pub const FLAKY: &str = "healer_flaky";
/// The posteriors, one document in `agent_state`.
pub const POSTERIORS_ID: &str = "healer-posteriors";
/// The label every issue the healer opens carries.
pub const ISSUE_LABEL: &str = "aetherveil";

/// A repository's mode, in the `config` collection.
pub fn mode_id(repo: &str) -> String {
    format!("healer-mode:{repo}")
}

/// The mode an operator set for `repo`, or `default`.
pub async fn repo_mode(store: &dyn Store, repo: &str, default: Mode) -> Result<Mode, StoreError> {
    let doc = store.get(CONFIG, &mode_id(repo)).await?;
    Ok(doc.and_then(|d| d.data["mode"].as_str().and_then(Mode::parse)).unwrap_or(default))
}

/// The queries the healer runs: equality fields first, then the ordering field.
pub const INDEXES: &[(&str, &[&str])] = &[
    (HEALING_HISTORY, &["repository", "timestamp"]),
    (HEALING_HISTORY, &["timestamp"]),
    (DECISIONS, &["repo", "failed_at"]),
    (DECISIONS, &["failed_at"]),
    (SIGNATURES, &["repo", "last_seen"]),
    (FLAKY, &["repo", "since"]),
    (PLAN_STEPS, &["run_id", "attempt"]),
    // Did a job pass on a branch after a failure (a test failure that comes back is flaky)?
    (JOBS, &["repo", "workflow_name", "name", "head_branch", "conclusion", "created_at"]),
];
