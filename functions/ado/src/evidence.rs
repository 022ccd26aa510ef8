//! What the council looks at: the plan's [`Context`] (the seed's `event_type`, `source_data`,
//! `current_state`) and the platform's own evidence about the repository, gathered by the shell
//! into [`Evidence`] so that the agents stay pure functions of it.

use aetherveil_logscan::Cause;
use aetherveil_monitor::AnomalyKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What triggered a plan and what was known then (stored as the plan's `context`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// `diagnosis`, `anomaly`, `gate_failure` or `on_demand`.
    pub event_type: String,
    /// The triggering document (a diagnosis, an anomaly, a gate verdict) or the request's body.
    pub source_data: Value,
    /// The evidence the agents read, as gathered at the time.
    #[serde(default)]
    pub current_state: Value,
}

/// The run a plan is about, when there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFacts {
    pub run_id: u64,
    pub run_attempt: u32,
    pub workflow: Option<String>,
    /// What triggered the run: `push`, `pull_request`, `pull_request_target`, ...
    pub event: String,
    pub from_fork: bool,
    pub head_branch: Option<String>,
    pub head_sha: String,
    /// Whether the branch is one a release is cut from (`main`, `master`, `release/*`, or the
    /// repository's default branch when known).
    pub release_branch: bool,
    pub conclusion: Option<String>,
}

impl RunFacts {
    /// A run that executes untrusted code with the base repository's secrets (or a fork's code).
    pub fn untrusted(&self) -> bool {
        self.event == "pull_request_target" || self.from_fork
    }
}

/// One failed job's diagnosis, in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisFacts {
    pub id: String,
    pub job: String,
    pub cause: Cause,
    pub confidence: f64,
    pub transient: bool,
    pub summary: String,
    #[serde(default)]
    pub failing_tests: Vec<String>,
}

/// One anomaly episode, in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyFacts {
    pub id: String,
    pub workflow: String,
    pub job: String,
    pub kind: AnomalyKind,
    pub branch_class: String,
    pub score: f64,
    pub threshold: f64,
    /// Observed / expected, when the detector gives it.
    pub ratio: Option<f64>,
    /// The observed value (seconds or failures) and its baseline center.
    pub value: f64,
    pub center: f64,
    pub open: bool,
}

/// A job the monitor classifies as flaky (it passed and failed on the same code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlakyJob {
    pub id: String,
    pub workflow: String,
    pub job: String,
    pub score: f64,
}

/// A test logscan has seen failing flakily in a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlakyTest {
    pub id: String,
    pub job: String,
    pub test: String,
    pub occurrences: u64,
}

/// The repository's latest security gate verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateFacts {
    pub id: String,
    pub passed: bool,
    pub policy: String,
    pub git_ref: Option<String>,
    pub reasons: Vec<String>,
    pub max_risk: f64,
}

/// What the healer's reruns in this repository achieved (from `healing_history`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct HealingFacts {
    pub reruns: u32,
    pub succeeded: u32,
}

impl HealingFacts {
    /// Laplace-smoothed share of reruns that passed: (succeeded + 1) / (reruns + 2).
    pub fn success_rate(&self) -> f64 {
        (f64::from(self.succeeded) + 1.0) / (f64::from(self.reruns) + 2.0)
    }
}

/// The healer's decision about the run, when it took one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealerView {
    pub id: String,
    pub actions: Vec<String>,
    pub execute: bool,
    pub reason: String,
}

/// Everything the agents read. Built by the shell from the store (or by tests by hand).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Evidence {
    pub repo: String,
    pub run: Option<RunFacts>,
    pub diagnoses: Vec<DiagnosisFacts>,
    /// The triggering anomaly first, then the repository's other open anomalies.
    pub anomalies: Vec<AnomalyFacts>,
    pub flaky_jobs: Vec<FlakyJob>,
    pub flaky_tests: Vec<FlakyTest>,
    pub gate: Option<GateFacts>,
    pub healing: HealingFacts,
    pub healer: Option<HealerView>,
    /// An action a person or a pipeline asks the council about (`promote_release` before a
    /// deploy, say), from an on-demand request.
    pub proposed: Option<crate::decision::Action>,
}

impl Evidence {
    /// Whether the failed jobs' tests (or the jobs themselves) are known to be flaky.
    pub fn known_flaky(&self, d: &DiagnosisFacts) -> bool {
        let job_flaky = self.flaky_jobs.iter().any(|f| f.job == d.job);
        let tests_flaky = !d.failing_tests.is_empty()
            && d.failing_tests.iter().all(|t| self.flaky_tests.iter().any(|f| f.job == d.job && &f.test == t));
        job_flaky || tests_flaky
    }

    pub fn gate_failed(&self) -> bool {
        self.gate.as_ref().is_some_and(|g| !g.passed)
    }

    /// Open anomalies of one kind.
    pub fn open_anomalies(&self, kind: AnomalyKind) -> impl Iterator<Item = &AnomalyFacts> {
        self.anomalies.iter().filter(move |a| a.open && a.kind == kind)
    }
}
