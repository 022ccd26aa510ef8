//! The decision for one failed run attempt: guards first, then the expected value of each remedy.
//!
//! GitHub reruns the failed jobs of a run together, so the decision is taken per run attempt, over
//! every failed job of that attempt (each with its own diagnosis and probability).
//!
//! ```text
//! guards (in order; the first that applies decides)
//!   a deterministic cause among the failures → never rerun (the rerun would run it again too):
//!                                              an issue per deterministic failure on the default
//!                                              branch, else nothing
//!   masking: a signature failed on its last `masking_streak` reruns → an issue, no rerun; a flaky
//!                                              test is quarantined
//!   attempts: the run was rerun `max_attempts` times already → nothing more
//! expected value, in runner minutes (p = product over the failed jobs: all must pass)
//!   EV(rerun)               = p(rerun) × value_of_green − expected minutes
//!   EV(clear caches, rerun) = p(cache) × value_of_green − expected minutes − cache_penalty
//!   expected minutes = Σ p_job × its usual passing duration + (1 − p_job) × this failure's duration
//!   EV(nothing)             = 0
//! the best positive EV wins; then the execution guards
//!   mode observe / recommend       → recorded / recommended, not executed
//!   pull_request_target or a fork  → recommended, never executed automatically
//!   daily budget (reruns, minutes) → recommended, not executed
//! ```
//!
//! A flaky test that is rerun is also marked flaky, so that the API shows it. Every input is kept
//! in the [`Decision`], so a decision can be explained later.

use aetherveil_logscan::Cause;
use serde::{Deserialize, Serialize};

/// How far the healer may go in a repository. The default is `recommend`, until an operator opts
/// in to `act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decide and record, nothing else.
    Observe,
    /// Decide, record, and say what would be done (shown in the API; nothing is changed on GitHub).
    #[default]
    Recommend,
    /// Decide and do it.
    Act,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "observe" => Some(Self::Observe),
            "recommend" => Some(Self::Recommend),
            "act" => Some(Self::Act),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Observe => "observe",
            Self::Recommend => "recommend",
            Self::Act => "act",
        }
    }
}

/// A remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    RerunFailedJobs,
    ClearCachesThenRerun,
    OpenIssue,
    MarkFlaky,
    Quarantine,
    Nothing,
}

impl Action {
    /// Whether the action starts a new attempt of the run.
    pub fn reruns(self) -> bool {
        matches!(self, Self::RerunFailedJobs | Self::ClearCachesThenRerun)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::RerunFailedJobs => "rerun_failed_jobs",
            Self::ClearCachesThenRerun => "clear_caches_then_rerun",
            Self::OpenIssue => "open_issue",
            Self::MarkFlaky => "mark_flaky",
            Self::Quarantine => "quarantine",
            Self::Nothing => "nothing",
        }
    }
}

/// The knobs, with the defaults the platform runs with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Automatic reruns one run may get (like GitLab's `retry: max`): a run that failed at
    /// attempt k was rerun k − 1 times already. GitHub's own limit is 50.
    pub max_attempts: u32,
    /// What a green run is worth, in runner minutes (a developer's wait and context switch). The
    /// default, 240, is about $1.90 at GitHub's Linux rate of $0.008 a minute: roughly one minute
    /// of an engineer's time, far less than a red run costs its author.
    pub value_of_green: f64,
    /// Extra cost of clearing caches (the next runs rebuild them), in runner minutes.
    pub cache_penalty: f64,
    /// Consecutive failed reruns of a signature after which it is escalated, not retried.
    pub masking_streak: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self { max_attempts: 2, value_of_green: 240.0, cache_penalty: 5.0, masking_streak: 3 }
    }
}

/// What is left of a repository's daily budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub reruns: u32,
    pub minutes: f64,
}

/// One failed job of the attempt, with what is known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub job: String,
    pub job_id: u64,
    pub cause: Cause,
    pub transient: bool,
    pub confidence: f64,
    pub signature: String,
    /// Runner minutes the job took this time: what a rerun that fails again costs (a timeout runs
    /// to its limit again), and what the budget is charged.
    pub minutes: f64,
    /// Runner minutes the job usually takes when it passes (the median of its recent passing
    /// runs), when known: what a rerun that passes costs.
    #[serde(default)]
    pub pass_minutes: Option<f64>,
    /// Probability that rerunning the job passes, for this attempt: the posterior's mean, or its
    /// optimistic bound while the cause has too few outcomes (`exploring`).
    pub p_rerun: f64,
    /// `p_rerun` is the optimistic bound: the cause has too few outcomes for its mean to decide.
    #[serde(default)]
    pub exploring: bool,
    /// Probability that clearing the caches then rerunning passes, when the failure involves a
    /// restored cache.
    pub p_cache: Option<f64>,
    /// Consecutive failed reruns of this signature.
    pub failing_streak: u32,
}

/// Everything a decision rests on (stored with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Situation {
    /// The failed jobs of the attempt (at least one).
    pub failures: Vec<Failure>,
    /// The attempt that failed (1 for the first run).
    pub run_attempt: u32,
    /// What triggered the run (`push`, `pull_request`, `pull_request_target`, ...).
    pub trigger: String,
    pub from_fork: bool,
    pub default_branch: bool,
    pub budget: Budget,
    pub mode: Mode,
}

impl Situation {
    /// Runner minutes a rerun of the failed jobs costs at most (what the budget is charged).
    pub fn rerun_minutes(&self) -> f64 {
        self.failures.iter().map(|f| f.minutes).sum()
    }

    /// Runner minutes a rerun is expected to cost: each job passes (its usual duration) with its
    /// probability, or fails again (this time's duration).
    pub fn expected_minutes(&self) -> f64 {
        self.failures
            .iter()
            .map(|f| f.p_rerun * f.pass_minutes.unwrap_or(f.minutes) + (1.0 - f.p_rerun) * f.minutes)
            .sum()
    }

    /// Probability that a rerun of the failed jobs turns the run green: every one must pass.
    pub fn p_rerun(&self) -> f64 {
        self.failures.iter().map(|f| f.p_rerun).product()
    }

    /// The same after clearing caches, if any failure involves one.
    pub fn p_cache(&self) -> Option<f64> {
        self.failures
            .iter()
            .any(|f| f.p_cache.is_some())
            .then(|| self.failures.iter().map(|f| f.p_cache.unwrap_or(f.p_rerun)).product())
    }
}

/// The decision and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do, the main remedy first.
    pub actions: Vec<Action>,
    /// The failures (indexes into `situation.failures`) an issue is opened or updated for.
    pub issue_for: Vec<usize>,
    /// The failures whose job is marked flaky (or quarantined, with [`Action::Quarantine`]).
    pub flaky: Vec<usize>,
    /// Whether the healer carries the actions out now (mode `act` and no execution guard).
    pub execute: bool,
    /// Expected value of the chosen remedy, in runner minutes (0 for nothing).
    pub expected_value: f64,
    /// Probability that the chosen remedy turns the run green (0 when nothing reruns).
    pub success_probability: f64,
    /// Every remedy considered, with its expected value.
    pub alternatives: Vec<(Action, f64)>,
    /// One line: why.
    pub reason: String,
    pub situation: Situation,
    pub policy: Policy,
}

impl Decision {
    pub fn reruns(&self) -> bool {
        self.actions.first().is_some_and(|a| a.reruns())
    }
}

/// Decides what to do about one failed run attempt.
pub fn decide(s: &Situation, policy: &Policy) -> Decision {
    let decision = |actions: Vec<Action>, issue_for: Vec<usize>, reason: String| Decision {
        execute: false,
        actions,
        issue_for,
        flaky: Vec::new(),
        expected_value: 0.0,
        success_probability: 0.0,
        alternatives: Vec::new(),
        reason,
        situation: s.clone(),
        policy: *policy,
    };
    let causes = |pick: &[usize]| {
        let mut names: Vec<&str> = pick.iter().map(|&i| s.failures[i].cause.label()).collect();
        names.dedup();
        names.join(", ")
    };
    let deterministic: Vec<usize> = (0..s.failures.len()).filter(|&i| !s.failures[i].transient).collect();
    if !deterministic.is_empty() {
        let what = causes(&deterministic);
        let d = if s.default_branch {
            decision(
                vec![Action::OpenIssue],
                deterministic,
                format!("{what} is deterministic: never rerun; the default branch is broken"),
            )
        } else {
            decision(
                vec![Action::Nothing],
                Vec::new(),
                format!("{what} is deterministic: never rerun; the author of the change sees the failure"),
            )
        };
        return with_execution(d, s);
    }
    let masked: Vec<usize> =
        (0..s.failures.len()).filter(|&i| s.failures[i].failing_streak >= policy.masking_streak).collect();
    if !masked.is_empty() {
        let flaky: Vec<usize> = masked.iter().copied().filter(|&i| s.failures[i].cause == Cause::FlakyTest).collect();
        let mut actions = vec![Action::OpenIssue];
        if !flaky.is_empty() {
            actions.push(Action::Quarantine);
        }
        let reason = format!(
            "{} failed on its last {} reruns: escalated instead of retried (it may hide a real fault)",
            causes(&masked),
            policy.masking_streak
        );
        let mut d = decision(actions, masked, reason);
        d.flaky = flaky;
        return with_execution(d, s);
    }
    let reruns_so_far = s.run_attempt.saturating_sub(1);
    if reruns_so_far >= policy.max_attempts {
        let reason = format!(
            "the run was rerun {reruns_so_far} times already, the limit is {} automatic reruns per run",
            policy.max_attempts
        );
        return with_execution(decision(vec![Action::Nothing], Vec::new(), reason), s);
    }
    let minutes = s.expected_minutes();
    let p = s.p_rerun();
    let mut alternatives = vec![(Action::RerunFailedJobs, p * policy.value_of_green - minutes), (Action::Nothing, 0.0)];
    if let Some(pc) = s.p_cache() {
        alternatives.push((Action::ClearCachesThenRerun, pc * policy.value_of_green - minutes - policy.cache_penalty));
    }
    alternatives.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (best, ev) = alternatives[0];
    if best == Action::Nothing {
        let reason = format!(
            "a rerun passes with p = {p:.2}: {:.1} expected minutes of value do not cover its {minutes:.1} runner minutes",
            p * policy.value_of_green,
        );
        let mut d = decision(vec![Action::Nothing], Vec::new(), reason);
        d.alternatives = alternatives;
        return with_execution(d, s);
    }
    let flaky: Vec<usize> = (0..s.failures.len()).filter(|&i| s.failures[i].cause == Cause::FlakyTest).collect();
    let mut actions = vec![best];
    if !flaky.is_empty() {
        actions.push(Action::MarkFlaky);
    }
    let exploring = (0..s.failures.len()).filter(|&i| s.failures[i].exploring).collect::<Vec<_>>();
    let mut reason = format!(
        "{} is transient: {} has expected value {ev:.1} runner minutes (p = {:.2})",
        causes(&(0..s.failures.len()).collect::<Vec<_>>()),
        best.label(),
        if best == Action::ClearCachesThenRerun { s.p_cache().unwrap_or(p) } else { p }
    );
    if !exploring.is_empty() {
        reason.push_str(&format!(
            "; exploring: too few outcomes of {} yet, so p is the optimistic bound of its posterior",
            causes(&exploring)
        ));
    }
    let mut d = decision(actions, Vec::new(), reason);
    d.flaky = flaky;
    d.expected_value = ev;
    d.success_probability = if best == Action::ClearCachesThenRerun { s.p_cache().unwrap_or(p) } else { p };
    d.alternatives = alternatives;
    with_execution(d, s)
}

/// Applies the execution guards.
fn with_execution(mut d: Decision, s: &Situation) -> Decision {
    let reruns = d.reruns();
    let blocked = if s.mode != Mode::Act {
        Some(format!("mode {}: recommended, not executed", s.mode.label()))
    } else if reruns && (s.trigger == "pull_request_target" || s.from_fork) {
        Some("runs from forks or pull_request_target are never rerun automatically".to_owned())
    } else if reruns && (s.budget.reruns == 0 || s.budget.minutes < s.rerun_minutes()) {
        Some(format!(
            "today's budget is spent ({} reruns, {:.0} minutes left): recommended, not executed",
            s.budget.reruns, s.budget.minutes
        ))
    } else {
        None
    };
    d.execute = blocked.is_none() && d.actions.iter().any(|a| *a != Action::Nothing);
    if let Some(why) = blocked {
        d.reason = format!("{}; {why}", d.reason);
    }
    d
}
