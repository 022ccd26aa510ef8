//! The monitor's vocabulary: series keys, branch classes, anomalies and their changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which kind of branch a run belongs to. Baselines are kept per class: pull requests carry
/// work in progress, the default branch carries what shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BranchClass {
    /// A push to a default branch (`main`, `master`, as configured).
    Default,
    /// `pull_request`, `pull_request_target`, `pull_request_review`, ...
    Pr,
    /// Everything else: pushes to other branches, schedules, manual dispatches, tags.
    Other,
}

impl BranchClass {
    pub const ALL: [BranchClass; 3] = [BranchClass::Default, BranchClass::Pr, BranchClass::Other];

    /// From the run's triggering event and its head branch. Without the event (the run is not
    /// known yet), a default branch name still means `default`.
    pub fn classify(event: Option<&str>, branch: Option<&str>, default_branches: &[String]) -> Self {
        let on_default = branch.is_some_and(|b| default_branches.iter().any(|d| d == b));
        match event {
            Some(e) if e.starts_with("pull_request") => BranchClass::Pr,
            Some("push") | None if on_default => BranchClass::Default,
            _ => BranchClass::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BranchClass::Default => "default",
            BranchClass::Pr => "pr",
            BranchClass::Other => "other",
        }
    }

    pub fn index(self) -> usize {
        match self {
            BranchClass::Default => 0,
            BranchClass::Pr => 1,
            BranchClass::Other => 2,
        }
    }
}

impl fmt::Display for BranchClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// `repository / workflow / job`: the unit the monitor persists (one document in `baselines`),
/// holding one baseline series per branch class.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobKey {
    pub repo: String,
    pub workflow: String,
    pub job: String,
}

impl JobKey {
    pub fn new(repo: impl Into<String>, workflow: impl Into<String>, job: impl Into<String>) -> Self {
        Self { repo: repo.into(), workflow: workflow.into(), job: job.into() }
    }

    /// The document id: the three parts, percent-encoded, joined by `~` (no `/`, so it is a
    /// valid Firestore id too).
    pub fn doc_id(&self) -> String {
        format!("{}~{}~{}", encode(&self.repo), encode(&self.workflow), encode(&self.job))
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {} / {}", self.repo, self.workflow, self.job)
    }
}

/// `repository / workflow`: run-level outcomes (success counts, time to recovery).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkflowKey {
    pub repo: String,
    pub workflow: String,
}

impl WorkflowKey {
    pub fn doc_id(&self) -> String {
        format!("{}~{}", encode(&self.repo), encode(&self.workflow))
    }
}

/// Keeps `[A-Za-z0-9._-]`, percent-encodes every other byte.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// One run far slower than its series.
    DurationOutlier,
    /// A persistent slowdown (change point), pooled over the job's branch classes.
    DurationRegression,
    /// More failures in the recent window than the baseline rate explains.
    FailureRateSpike,
    /// A job waited far longer than usual for a runner.
    QueueTime,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 4] = [
        AnomalyKind::DurationOutlier,
        AnomalyKind::DurationRegression,
        AnomalyKind::FailureRateSpike,
        AnomalyKind::QueueTime,
    ];

    pub fn label(self) -> &'static str {
        match self {
            AnomalyKind::DurationOutlier => "duration_outlier",
            AnomalyKind::DurationRegression => "duration_regression",
            AnomalyKind::FailureRateSpike => "failure_rate_spike",
            AnomalyKind::QueueTime => "queue_time",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == s)
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyStatus {
    Open,
    Closed,
}

impl AnomalyStatus {
    pub fn label(self) -> &'static str {
        match self {
            AnomalyStatus::Open => "open",
            AnomalyStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(AnomalyStatus::Open),
            "closed" => Some(AnomalyStatus::Closed),
            _ => None,
        }
    }
}

/// What a detector saw when it fired. Durations and queue times are in seconds; `center` and
/// `expected` are back-transformed from log space (medians), `spread` is the robust sigma in
/// log space (so `0.25` means a typical spread of about 25 %).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// The observed value: seconds, or failures in the recent window.
    pub value: f64,
    /// `seconds` or `failures`.
    pub unit: String,
    /// Baseline center: median seconds, or the baseline failure rate.
    pub center: f64,
    /// Baseline spread: robust sigma (log space), or the baseline rate's standard deviation.
    pub spread: f64,
    /// Samples behind the baseline.
    pub window: u32,
    /// Seasonally adjusted center, when a seasonal correction applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// The CUSUM statistic (regressions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cusum: Option<f64>,
    /// Runs whose standardized values are in the CUSUM since it last left zero (regressions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_length: Option<u32>,
    /// Recent window size (failure rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent: Option<u32>,
    /// Tail probability of the test (failure rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// Observed / expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// The run's branch class (pooled detectors report the class of the latest run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_branch_class: Option<BranchClass>,
}

/// One anomaly episode: opened by the first run meeting the condition, updated (count, latest
/// evidence) while it holds, closed once it clears. One document per episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// `<job document id>~<kind>~<branch class>~<episode number>`.
    pub id: String,
    pub repo: String,
    pub workflow: String,
    pub job: String,
    /// `default`, `pr`, `other`, or `all` for detectors pooled over the classes.
    pub branch_class: String,
    pub kind: AnomalyKind,
    /// Latest score and the threshold it is compared with (same scale).
    pub score: f64,
    pub threshold: f64,
    pub max_score: f64,
    pub evidence: Evidence,
    /// The run and job that opened the episode.
    pub run_id: u64,
    pub job_id: u64,
    /// Event time of the job that opened the episode (its `completed_at`), never wall time.
    pub at: DateTime<Utc>,
    pub first_at: DateTime<Utc>,
    /// Event time of the latest run that met the condition.
    pub last_at: DateTime<Utc>,
    pub last_run_id: u64,
    pub last_job_id: u64,
    /// Runs that met the condition during the episode.
    pub count: u64,
    pub status: AnomalyStatus,
    /// Event time of the run that cleared the condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// `last_at` in milliseconds: the sort key of the API (RFC 3339 strings with varying
    /// fractional digits do not sort as text).
    pub last_at_ms: i64,
}

/// What one observation did to the anomalies.
#[derive(Debug, Clone, PartialEq)]
pub enum AnomalyChange {
    Opened(Anomaly),
    Updated(Anomaly),
    Closed(Anomaly),
}

impl AnomalyChange {
    pub fn anomaly(&self) -> &Anomaly {
        match self {
            AnomalyChange::Opened(a) | AnomalyChange::Updated(a) | AnomalyChange::Closed(a) => a,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            AnomalyChange::Opened(_) => "opened",
            AnomalyChange::Updated(_) => "updated",
            AnomalyChange::Closed(_) => "closed",
        }
    }
}

/// A job attempt's result, as the detectors count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// `failure`, `timed_out`, `startup_failure`.
    Failure,
    /// `cancelled`, `skipped`, `neutral`, `action_required`, `stale` or unknown: not counted.
    Neutral,
}

impl Outcome {
    pub fn from_conclusion(conclusion: Option<&str>) -> Self {
        match conclusion {
            Some("success") => Outcome::Success,
            Some("failure" | "timed_out" | "startup_failure") => Outcome::Failure,
            _ => Outcome::Neutral,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_classes_follow_event_and_branch() {
        let d = vec!["main".to_owned(), "master".to_owned()];
        assert_eq!(BranchClass::classify(Some("push"), Some("main"), &d), BranchClass::Default);
        assert_eq!(BranchClass::classify(Some("push"), Some("master"), &d), BranchClass::Default);
        assert_eq!(BranchClass::classify(Some("push"), Some("feature/x"), &d), BranchClass::Other);
        assert_eq!(BranchClass::classify(Some("pull_request"), Some("feature/x"), &d), BranchClass::Pr);
        // pull_request_target runs on the base branch: still a pull request.
        assert_eq!(BranchClass::classify(Some("pull_request_target"), Some("main"), &d), BranchClass::Pr);
        assert_eq!(BranchClass::classify(Some("schedule"), Some("main"), &d), BranchClass::Other);
        assert_eq!(BranchClass::classify(None, Some("main"), &d), BranchClass::Default);
        assert_eq!(BranchClass::classify(None, Some("feature/x"), &d), BranchClass::Other);
    }

    #[test]
    fn document_ids_have_no_slashes_and_are_injective_enough() {
        let k = JobKey::new("acme/shop-api", "Fork checks", "label");
        assert_eq!(k.doc_id(), "acme%2Fshop-api~Fork%20checks~label");
        assert_ne!(JobKey::new("a/b~c", "d", "e").doc_id(), JobKey::new("a/b", "c~d", "e").doc_id());
    }

    #[test]
    fn kinds_and_statuses_round_trip() {
        for k in AnomalyKind::ALL {
            assert_eq!(AnomalyKind::parse(k.label()), Some(k));
            assert_eq!(serde_json::to_value(k).expect("json"), serde_json::json!(k.label()));
        }
        assert_eq!(AnomalyStatus::parse("open"), Some(AnomalyStatus::Open));
        assert_eq!(AnomalyStatus::parse("nope"), None);
    }
}
