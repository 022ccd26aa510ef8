//! What an agent says: one [`Decision`] (an action from the closed set, a confidence, a rationale
//! and the evidence it cites) and, for the Security Guardian, [`Veto`]es.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The five roles of the council.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    BuildOptimizer,
    SecurityGuardian,
    PerformanceAnalyst,
    ReleaseStrategist,
    InfrastructureManager,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::BuildOptimizer,
        Role::SecurityGuardian,
        Role::PerformanceAnalyst,
        Role::ReleaseStrategist,
        Role::InfrastructureManager,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Role::BuildOptimizer => "build_optimizer",
            Role::SecurityGuardian => "security_guardian",
            Role::PerformanceAnalyst => "performance_analyst",
            Role::ReleaseStrategist => "release_strategist",
            Role::InfrastructureManager => "infrastructure_manager",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Role::BuildOptimizer => "Build Optimizer",
            Role::SecurityGuardian => "Security Guardian",
            Role::PerformanceAnalyst => "Performance Analyst",
            Role::ReleaseStrategist => "Release Strategist",
            Role::InfrastructureManager => "Infrastructure Manager",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.label() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Who carries an action out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Executor {
    /// The healer's GitHub actions (reruns, cache deletion, issues, quarantine).
    Healer,
    /// The security gate's check (a failing verdict keeps the deploy blocked).
    Gate,
    /// The release function (hold, promote, rollback).
    Release,
    /// A Cloud Workflows execution (multi-step changes: runner pools, workflow files).
    Workflow,
    /// Nothing to carry out.
    Nobody,
}

/// The closed set of actions the council may recommend. Nothing outside it is ever planned,
/// whoever proposes it (an expert policy or a language model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Rerun the failed jobs of the run.
    RerunFailedJobs,
    /// Delete the run's Actions caches, then rerun the failed jobs.
    ClearCachesThenRerun,
    /// Quarantine the flaky test (or job) so it stops failing runs, with an issue to fix it.
    QuarantineFlakyTest,
    /// Open (or update) an issue for people: the failure is not worth a retry.
    OpenIssue,
    /// Change the workflow's caching (keys, restore paths).
    TuneCache,
    /// Split the slow job (matrix, sharding).
    IncreaseParallelism,
    /// A performance regression to bisect.
    InvestigateRegression,
    /// Keep the release where it is until the evidence is green.
    HoldRelease,
    /// Promote the candidate.
    PromoteRelease,
    /// Roll the release back.
    RollbackRelease,
    /// Add runner capacity to the pool.
    ScaleRunners,
    /// Deliberately do nothing automatically (people decide).
    NoAction,
    /// No opinion: not a vote, and not counted towards the quorum.
    Abstain,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::RerunFailedJobs,
        Action::ClearCachesThenRerun,
        Action::QuarantineFlakyTest,
        Action::OpenIssue,
        Action::TuneCache,
        Action::IncreaseParallelism,
        Action::InvestigateRegression,
        Action::HoldRelease,
        Action::PromoteRelease,
        Action::RollbackRelease,
        Action::ScaleRunners,
        Action::NoAction,
        Action::Abstain,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Action::RerunFailedJobs => "rerun_failed_jobs",
            Action::ClearCachesThenRerun => "clear_caches_then_rerun",
            Action::QuarantineFlakyTest => "quarantine_flaky_test",
            Action::OpenIssue => "open_issue",
            Action::TuneCache => "tune_cache",
            Action::IncreaseParallelism => "increase_parallelism",
            Action::InvestigateRegression => "investigate_regression",
            Action::HoldRelease => "hold_release",
            Action::PromoteRelease => "promote_release",
            Action::RollbackRelease => "rollback_release",
            Action::ScaleRunners => "scale_runners",
            Action::NoAction => "no_action",
            Action::Abstain => "abstain",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.label() == s)
    }

    /// Who carries the action out.
    pub fn executor(self) -> Executor {
        match self {
            Action::RerunFailedJobs
            | Action::ClearCachesThenRerun
            | Action::QuarantineFlakyTest
            | Action::OpenIssue => Executor::Healer,
            Action::HoldRelease => Executor::Gate,
            Action::PromoteRelease | Action::RollbackRelease => Executor::Release,
            Action::TuneCache | Action::IncreaseParallelism | Action::InvestigateRegression | Action::ScaleRunners => {
                Executor::Workflow
            }
            Action::NoAction | Action::Abstain => Executor::Nobody,
        }
    }

    /// Whether the action runs code again (and so the secrets it can reach).
    pub fn reruns(self) -> bool {
        matches!(self, Action::RerunFailedJobs | Action::ClearCachesThenRerun)
    }

    /// How cautious the action is, lower first: ties in the vote go to the more cautious action.
    pub fn caution_rank(self) -> u8 {
        match self {
            Action::NoAction => 0,
            Action::HoldRelease => 1,
            Action::OpenIssue => 2,
            Action::InvestigateRegression => 3,
            Action::QuarantineFlakyTest => 4,
            Action::RerunFailedJobs => 5,
            Action::TuneCache => 6,
            Action::IncreaseParallelism => 7,
            Action::ClearCachesThenRerun => 8,
            Action::ScaleRunners => 9,
            Action::RollbackRelease => 10,
            Action::PromoteRelease => 11,
            Action::Abstain => 12,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A piece of evidence a decision rests on, pointing back at its source document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cite {
    /// The collection (`diagnoses`, `anomalies`, `security_reports`, `healing_history`, ...) or
    /// `context` for what the trigger carried.
    pub source: String,
    /// The document's id in it.
    pub id: String,
    /// What it says, in one line.
    pub fact: String,
}

impl Cite {
    pub fn new(source: &str, id: impl Into<String>, fact: impl Into<String>) -> Self {
        Self { source: source.to_owned(), id: id.into(), fact: fact.into() }
    }
}

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The agent's deterministic expert policy.
    #[default]
    Expert,
    /// The expert's view, with an action or rationale the language model proposed.
    Llm,
}

/// One agent's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub role: Role,
    pub action: Action,
    /// In [0, 1].
    pub confidence: f64,
    pub rationale: String,
    pub evidence: Vec<Cite>,
    /// Actions this agent vetoes (only the Security Guardian's policy produces vetoes).
    #[serde(default)]
    pub vetoes: Vec<Veto>,
    #[serde(default)]
    pub source: Source,
    /// The expert policy's own action and rationale, kept when the model changed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert: Option<ExpertView>,
}

/// The expert policy's view, kept beside a model-adjusted decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpertView {
    pub action: Action,
    pub confidence: f64,
    pub rationale: String,
}

impl Decision {
    pub fn new(role: Role, action: Action, confidence: f64, rationale: impl Into<String>) -> Self {
        Self {
            role,
            action,
            confidence: confidence.clamp(0.0, 1.0),
            rationale: rationale.into(),
            evidence: Vec::new(),
            vetoes: Vec::new(),
            source: Source::Expert,
            expert: None,
        }
    }

    pub fn abstain(role: Role, why: impl Into<String>) -> Self {
        Self::new(role, Action::Abstain, 0.0, why)
    }

    pub fn cite(mut self, cites: impl IntoIterator<Item = Cite>) -> Self {
        self.evidence.extend(cites);
        self
    }

    pub fn veto(mut self, action: Action, reason: impl Into<String>) -> Self {
        self.vetoes.push(Veto { action, by: self.role, reason: reason.into() });
        self
    }
}

/// An action struck from the ballot, whatever its support.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Veto {
    pub action: Action,
    pub by: Role,
    pub reason: String,
}
