//! The decision for one diagnosed failure: guards first, then the expected value of each remedy.
//!
//! ```text
//! guards (in order; the first that applies decides)
//!   deterministic cause            → never rerun: an issue on the default branch, else nothing
//!   masking: the signature failed on its last `masking_streak` reruns → an issue, no rerun
//!   attempts: run attempt ≥ max_attempts → nothing more (an issue if the cause keeps failing)
//! expected value, in runner minutes
//!   EV(rerun)              = p(rerun) × value_of_green − minutes of the failed jobs
//!   EV(clear caches, rerun) = p(cache) × value_of_green − minutes − cache_penalty
//!   EV(nothing)            = 0
//! the best positive EV wins; then the execution guards
//!   pull_request_target or a fork  → recommended, never executed automatically
//!   daily budget (reruns, minutes) → recommended, not executed
//!   mode observe / recommend       → recorded / recommended, not executed
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
    /// Decide, record, and say what would be done (check runs, issues stay manual).
    #[default]
    Recommend,
    /// Decide and do it.
    Act,
}

/// A remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    RerunFailedJobs,
    ClearCachesThenRerun,
    OpenIssue,
    MarkFlaky,
    Nothing,
}

/// The knobs, with the defaults the platform runs with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Attempts a run may reach through the healer (GitHub's own limit is 50).
    pub max_attempts: u32,
    /// What a green run is worth, in runner minutes (a developer's wait and context switch).
    pub value_of_green: f64,
    /// Extra cost of clearing caches (the next runs rebuild them), in runner minutes.
    pub cache_penalty: f64,
    /// Consecutive failed reruns of a signature after which it is escalated, not retried.
    pub masking_streak: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self { max_attempts: 2, value_of_green: 60.0, cache_penalty: 5.0, masking_streak: 3 }
    }
}

/// What is left of a repository's daily budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub reruns: u32,
    pub minutes: f64,
}

/// Everything a decision rests on (stored with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Situation {
    pub cause: Cause,
    pub transient: bool,
    pub confidence: f64,
    /// The attempt that failed (1 for the first run).
    pub run_attempt: u32,
    /// What triggered the run (`push`, `pull_request`, `pull_request_target`, ...).
    pub trigger: String,
    pub from_fork: bool,
    pub default_branch: bool,
    /// Runner minutes a rerun of the failed jobs costs (their duration this time).
    pub rerun_minutes: f64,
    /// Probability that rerunning the failed jobs passes (the posterior's mean).
    pub p_rerun: f64,
    /// Probability that clearing the caches then rerunning passes, when the failure involves a
    /// restored cache.
    pub p_cache: Option<f64>,
    /// Consecutive failed reruns of this signature, most recent first.
    pub failing_streak: u32,
    pub budget: Budget,
    pub mode: Mode,
}

/// The decision and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do, the main remedy first.
    pub actions: Vec<Action>,
    /// Whether the healer carries the actions out now (mode `act` and no execution guard).
    pub execute: bool,
    /// Expected value of the chosen remedy, in runner minutes (0 for nothing).
    pub expected_value: f64,
    /// Every remedy considered, with its expected value.
    pub alternatives: Vec<(Action, f64)>,
    /// One line: why.
    pub reason: String,
    pub situation: Situation,
    pub policy: Policy,
}

/// Decides what to do about one failure.
pub fn decide(s: &Situation, policy: &Policy) -> Decision {
    let decision = |actions: Vec<Action>, ev: f64, alternatives: Vec<(Action, f64)>, reason: String| Decision {
        execute: false,
        actions,
        expected_value: ev,
        alternatives,
        reason,
        situation: s.clone(),
        policy: *policy,
    };
    if !s.transient {
        let (actions, why) = if s.default_branch {
            (vec![Action::OpenIssue], "the default branch is broken")
        } else {
            (vec![Action::Nothing], "the author of the change sees the failure")
        };
        let d = decision(actions, 0.0, Vec::new(), format!("{} is deterministic: never rerun; {why}", s.cause));
        return with_execution(d, s, false);
    }
    if s.failing_streak >= policy.masking_streak {
        let reason = format!(
            "{} failed on its last {} reruns: escalated instead of retried (it may hide a real fault)",
            s.cause, s.failing_streak
        );
        return with_execution(decision(vec![Action::OpenIssue], 0.0, Vec::new(), reason), s, false);
    }
    if s.run_attempt >= policy.max_attempts {
        let reason = format!("attempt {} reached the limit of {} attempts per run", s.run_attempt, policy.max_attempts);
        return with_execution(decision(vec![Action::Nothing], 0.0, Vec::new(), reason), s, false);
    }
    let ev_rerun = s.p_rerun * policy.value_of_green - s.rerun_minutes;
    let mut alternatives = vec![(Action::RerunFailedJobs, ev_rerun), (Action::Nothing, 0.0)];
    if let Some(p) = s.p_cache {
        alternatives
            .push((Action::ClearCachesThenRerun, p * policy.value_of_green - s.rerun_minutes - policy.cache_penalty));
    }
    alternatives.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (best, ev) = alternatives[0];
    if best == Action::Nothing {
        let reason = format!(
            "a rerun passes with p = {:.2}: {:.1} expected minutes of value do not cover its {:.1} runner minutes",
            s.p_rerun,
            s.p_rerun * policy.value_of_green,
            s.rerun_minutes
        );
        return with_execution(decision(vec![Action::Nothing], 0.0, alternatives, reason), s, false);
    }
    let mut actions = vec![best];
    if s.cause == Cause::FlakyTest {
        actions.push(Action::MarkFlaky);
    }
    let reason = format!("{} is transient: {best:?} has expected value {ev:.1} runner minutes", s.cause);
    with_execution(decision(actions, ev, alternatives, reason), s, true)
}

/// Applies the execution guards to a decision whose main action is `reruns` or not.
fn with_execution(mut d: Decision, s: &Situation, reruns: bool) -> Decision {
    let blocked = if s.mode != Mode::Act {
        Some(format!("mode {:?}: recommended, not executed", s.mode).to_lowercase())
    } else if reruns && (s.trigger == "pull_request_target" || s.from_fork) {
        Some("runs from forks or pull_request_target are never rerun automatically".to_owned())
    } else if reruns && (s.budget.reruns == 0 || s.budget.minutes < s.rerun_minutes) {
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
