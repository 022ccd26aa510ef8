//! What the healer stores: decisions with their execution and outcome, signature records, flaky
//! marks, and the `healing_history` entries of the operational data model.

use crate::decide::{Action, Decision};
use aetherveil_logscan::Cause;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One failed job as the decision saw it: its diagnosis in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub job: String,
    pub job_id: u64,
    pub cause: Cause,
    pub transient: bool,
    pub summary: String,
    pub signature: String,
    /// The diagnosis's most relevant lines (at most [`MAX_LINES`]).
    pub lines: Vec<String>,
    pub html_url: Option<String>,
    /// Why a test failure the diagnosis calls deterministic is treated as flaky (`cause` and
    /// `transient` then say so): it failed the same way on an earlier run of the branch, and the
    /// job passed there since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurred: Option<String>,
    /// Why a signature whose last reruns all failed is not masked: the job passed on the branch
    /// since it last failed (its streak starts again from 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streak_reset: Option<String>,
}

/// Relevant lines kept with a decision.
pub const MAX_LINES: usize = 8;

/// Where carrying out a decision stands. The intent is recorded before any call to GitHub, and
/// reconciled with GitHub's state when a redelivery finds it unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionState {
    /// Recorded or recommended only (mode, guards).
    NotExecuted,
    /// Intended; the calls may have been made in part.
    Pending,
    Done,
}

/// One action carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    /// What happened: `rerun requested`, `already rerun (attempt 3 exists)`, `issue #12 updated`, ...
    pub detail: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub state: ExecutionState,
    pub steps: Vec<Step>,
    /// Tries so far (a failed GitHub call leaves the execution pending and is tried again).
    pub tries: u32,
    pub last_error: Option<String>,
}

/// How the rerun the decision asked for ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerunOutcome {
    pub success: bool,
    pub attempt: u32,
    pub completed_at: DateTime<Utc>,
    /// Each rerun job and whether it passed.
    pub jobs: Vec<(String, bool)>,
}

/// One decision about one failed run attempt (`healer_decisions/<run id>-<attempt>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub id: String,
    pub repo: String,
    pub run_id: u64,
    pub run_attempt: u32,
    pub workflow_name: Option<String>,
    pub head_branch: Option<String>,
    pub run_url: Option<String>,
    /// When the attempt failed (GitHub's time of the run's completion): the decision's clock, for
    /// the budget's day and the issue's "now".
    pub failed_at: DateTime<Utc>,
    pub evidence: Vec<Evidence>,
    pub decision: Decision,
    pub execution: Execution,
    pub outcome: Option<RerunOutcome>,
}

impl DecisionRecord {
    pub fn id_for(run_id: u64, attempt: u32) -> String {
        format!("{run_id}-{attempt}")
    }
}

/// One occurrence of a signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occurrence {
    pub run_id: u64,
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub url: Option<String>,
    pub branch: Option<String>,
}

/// Occurrences kept per signature (the issue shows them; older ones are counted only).
pub const MAX_OCCURRENCES: usize = 20;

/// One failure mode of one job (`healer_signatures/<repo>:<workflow>:<job>:<signature>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureRecord {
    pub repo: String,
    pub workflow: Option<String>,
    pub job: String,
    pub signature: String,
    pub cause: Cause,
    pub summary: String,
    pub lines: Vec<String>,
    /// Consecutive reruns of this signature that failed (0 after one passes).
    pub streak: u32,
    pub total: u64,
    pub occurrences: Vec<Occurrence>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The tracking issue, once opened.
    pub issue: Option<u64>,
    /// When the issue was told the signature is healthy again (cleared by a new occurrence).
    pub healthy_noted: Option<DateTime<Utc>>,
}

impl SignatureRecord {
    pub fn id_for(repo: &str, workflow: Option<&str>, job: &str, signature: &str) -> String {
        format!("{repo}:{}:{job}:{signature}", workflow.unwrap_or("-"))
    }

    /// A new record, or `current` with this occurrence added (idempotent per run attempt).
    pub fn with_occurrence(current: Option<Self>, decision: &DecisionRecord, e: &Evidence) -> Self {
        let occurrence = Occurrence {
            run_id: decision.run_id,
            attempt: decision.run_attempt,
            at: decision.failed_at,
            url: decision.run_url.clone(),
            branch: decision.head_branch.clone(),
        };
        let mut r = current.unwrap_or_else(|| Self {
            repo: decision.repo.clone(),
            workflow: decision.workflow_name.clone(),
            job: e.job.clone(),
            signature: e.signature.clone(),
            cause: e.cause,
            summary: e.summary.clone(),
            lines: e.lines.clone(),
            streak: 0,
            total: 0,
            occurrences: Vec::new(),
            first_seen: decision.failed_at,
            last_seen: decision.failed_at,
            issue: None,
            healthy_noted: None,
        });
        if r.occurrences.iter().any(|o| o.run_id == occurrence.run_id && o.attempt == occurrence.attempt) {
            return r;
        }
        r.total += 1;
        r.summary = e.summary.clone();
        r.lines = e.lines.clone();
        r.last_seen = r.last_seen.max(occurrence.at);
        r.healthy_noted = None;
        r.occurrences.push(occurrence);
        if r.occurrences.len() > MAX_OCCURRENCES {
            r.occurrences.remove(0);
        }
        r
    }
}

/// A job marked flaky or quarantined (`healer_flaky/<repo>:<workflow>:<job>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlakyRecord {
    pub repo: String,
    pub workflow: Option<String>,
    pub job: String,
    /// `flaky` or `quarantined`.
    pub status: String,
    pub since: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub signature: String,
    pub reason: String,
}

/// An entry of `healing_history`, with the fields of the seed's data model plus the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub event_id: String,
    pub timestamp: DateTime<Utc>,
    pub repository: String,
    pub workflow_name: Option<String>,
    pub failure_type: String,
    pub healing_actions: Vec<String>,
    pub success: bool,
    /// From the failure to the end of the rerun.
    pub duration_seconds: f64,
    /// `high` on the default branch, `normal` elsewhere.
    pub priority: String,
    pub success_probability: f64,
    pub run_id: u64,
    pub run_attempt: u32,
    pub rerun_minutes: f64,
    pub evidence: Vec<Evidence>,
    pub reason: String,
    pub expected_value: f64,
}
