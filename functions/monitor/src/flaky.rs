//! Flaky, broken and fixed jobs.
//!
//! The evidence is the job's last runs (default 64), each with its attempts. A run whose job
//! failed and then passed in a later attempt of the same run (same head SHA) is a
//! *pass-on-retry*: the strongest sign of flakiness. Per window:
//!
//! - `score = (pass_on_retry + 0.5 * blips) / runs`, where a blip is a failure between two
//!   passes of the final outcomes (half a transition pair: a failure nobody retried).
//! - `broken`: the last `broken_runs` runs failed for good (every attempt), across at least two
//!   head SHAs, so it is the code, not the weather. Judged on default-branch runs when the job
//!   has any (a pull request breaking its own build does not break the job), else on all runs.
//! - `fixed`: a broken job passed `fixed_runs` runs in a row; it becomes `healthy` after
//!   `healthy_after` further passes.
//! - `flaky`: entered at `score >= enter_score` with at least `min_evidence` pass-on-retry runs,
//!   left only below `exit_score` (hysteresis, so the state does not flap).
//!
//! The run window doubles as the duplicate filter of job completions: a completion whose job id
//! is already recorded is a redelivery.

use crate::config::FlakyConfig;
use crate::model::{BranchClass, Outcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlakyState {
    #[default]
    Healthy,
    Flaky,
    Broken,
    Fixed,
}

impl FlakyState {
    pub fn label(self) -> &'static str {
        match self {
            FlakyState::Healthy => "healthy",
            FlakyState::Flaky => "flaky",
            FlakyState::Broken => "broken",
            FlakyState::Fixed => "fixed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [FlakyState::Healthy, FlakyState::Flaky, FlakyState::Broken, FlakyState::Fixed]
            .into_iter()
            .find(|f| f.label() == s)
    }
}

/// Stored as `[attempt, job_id, outcome]` with outcome `s`, `f` or `n`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "AttemptRepr", into = "AttemptRepr")]
pub struct AttemptEntry {
    pub attempt: u32,
    pub job_id: u64,
    pub outcome: Outcome,
}

type AttemptRepr = (u32, u64, char);

impl From<AttemptRepr> for AttemptEntry {
    fn from((attempt, job_id, o): AttemptRepr) -> Self {
        let outcome = match o {
            's' => Outcome::Success,
            'f' => Outcome::Failure,
            _ => Outcome::Neutral,
        };
        Self { attempt, job_id, outcome }
    }
}

impl From<AttemptEntry> for AttemptRepr {
    fn from(a: AttemptEntry) -> Self {
        let o = match a.outcome {
            Outcome::Success => 's',
            Outcome::Failure => 'f',
            Outcome::Neutral => 'n',
        };
        (a.attempt, a.job_id, o)
    }
}

/// Stored as `[run_id, sha, order_ms, class, [attempts]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RunRepr", into = "RunRepr")]
pub struct RunEntry {
    pub run_id: u64,
    /// FNV-1a of the head SHA, folded to 32 bits (only compared within one job's window).
    pub sha: u32,
    /// Ordering time: the run's creation (event time).
    pub order_ms: i64,
    pub class: BranchClass,
    pub attempts: Vec<AttemptEntry>,
}

type RunRepr = (u64, u32, i64, BranchClass, Vec<AttemptEntry>);

impl From<RunRepr> for RunEntry {
    fn from((run_id, sha, order_ms, class, attempts): RunRepr) -> Self {
        Self { run_id, sha, order_ms, class, attempts }
    }
}

impl From<RunEntry> for RunRepr {
    fn from(r: RunEntry) -> Self {
        (r.run_id, r.sha, r.order_ms, r.class, r.attempts)
    }
}

impl RunEntry {
    fn decisive(&self) -> impl Iterator<Item = &AttemptEntry> {
        self.attempts.iter().filter(|a| a.outcome != Outcome::Neutral)
    }

    /// Outcome of the latest decisive attempt.
    pub fn final_outcome(&self) -> Option<Outcome> {
        self.decisive().max_by_key(|a| a.attempt).map(|a| a.outcome)
    }

    /// Failed in some attempt and passed in a later one.
    pub fn pass_on_retry(&self) -> bool {
        let first_failure = self.decisive().filter(|a| a.outcome == Outcome::Failure).map(|a| a.attempt).min();
        first_failure.is_some_and(|f| self.decisive().any(|a| a.outcome == Outcome::Success && a.attempt > f))
    }
}

/// What the window says now.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FlakyFigures {
    pub runs: u32,
    pub pass_on_retry: u32,
    /// Outcome changes between consecutive runs (final outcomes).
    pub transitions: u32,
    /// Runs that failed for good.
    pub failed_runs: u32,
    /// `pass_on_retry / runs that failed at least once and were retried`.
    pub retry_pass_rate: f64,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FlakyTracker {
    pub runs: VecDeque<RunEntry>,
    pub state: FlakyState,
    /// Event time of the last state change.
    pub since: Option<DateTime<Utc>>,
    pub figures: FlakyFigures,
}

/// Evidence runs listed by the API.
const EVIDENCE_RUNS: usize = 10;

pub fn sha_hash(sha: &str) -> u32 {
    let h = sha.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (h ^ (h >> 32)) as u32
}

impl FlakyTracker {
    /// Whether this job attempt was already recorded (a redelivered completion).
    pub fn contains(&self, run_id: u64, job_id: u64) -> bool {
        self.runs.iter().any(|r| r.run_id == run_id && r.attempts.iter().any(|a| a.job_id == job_id))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        run_id: u64,
        attempt: u32,
        job_id: u64,
        sha: &str,
        class: BranchClass,
        outcome: Outcome,
        order: DateTime<Utc>,
        cfg: &FlakyConfig,
    ) {
        let entry = AttemptEntry { attempt, job_id, outcome };
        if let Some(run) = self.runs.iter_mut().find(|r| r.run_id == run_id) {
            run.attempts.push(entry);
        } else {
            let order_ms = order.timestamp_millis();
            if self.runs.capacity() < cfg.window {
                self.runs.reserve_exact(cfg.window - self.runs.len());
            }
            if self.runs.len() >= cfg.window {
                // Full: the oldest run leaves (unless the new one is older still: then it does).
                if self.runs.front().is_some_and(|f| (order_ms, run_id) < (f.order_ms, f.run_id)) {
                    return;
                }
                self.runs.pop_front();
            }
            let pos = self.runs.partition_point(|r| (r.order_ms, r.run_id) <= (order_ms, run_id));
            let run = RunEntry { run_id, sha: sha_hash(sha), order_ms, class, attempts: vec![entry] };
            self.runs.insert(pos, run);
        }
    }

    /// Recomputes the figures and moves the state; returns true when the state changed.
    pub fn evaluate(&mut self, at: DateTime<Utc>, cfg: &FlakyConfig) -> bool {
        // One pass, no allocation: this runs on every job completion.
        let (mut runs, mut pass_on_retry, mut retried_failures) = (0u32, 0u32, 0u32);
        let (mut transitions, mut failed_runs, mut blips) = (0u32, 0u32, 0u32);
        let (mut prev, mut prev2): (Option<Outcome>, Option<Outcome>) = (None, None);
        let mut on_default = false;
        for r in &self.runs {
            let first_fail = r.decisive().filter(|a| a.outcome == Outcome::Failure).map(|a| a.attempt).min();
            if let Some(f) = first_fail {
                if r.decisive().any(|a| a.attempt > f) {
                    retried_failures += 1;
                }
                if r.decisive().any(|a| a.attempt > f && a.outcome == Outcome::Success) {
                    pass_on_retry += 1;
                }
            }
            let Some(o) = r.final_outcome() else { continue };
            runs += 1;
            failed_runs += u32::from(o == Outcome::Failure);
            transitions += u32::from(prev.is_some_and(|p| p != o));
            let blip = prev2 == Some(Outcome::Success) && prev == Some(Outcome::Failure) && o == Outcome::Success;
            blips += u32::from(blip);
            (prev2, prev) = (prev, Some(o));
            on_default |= r.class == BranchClass::Default;
        }
        let score = if runs == 0 { 0.0 } else { (f64::from(pass_on_retry) + 0.5 * f64::from(blips)) / f64::from(runs) };
        self.figures = FlakyFigures {
            runs,
            pass_on_retry,
            transitions,
            failed_runs,
            retry_pass_rate: if retried_failures == 0 {
                0.0
            } else {
                f64::from(pass_on_retry) / f64::from(retried_failures)
            },
            score,
        };

        // Broken / fixed are judged on the default branch when the job runs there.
        let judged = || {
            self.runs
                .iter()
                .rev()
                .filter_map(|r| Some((r.final_outcome()?, r)))
                .filter(move |(_, r)| !on_default || r.class == BranchClass::Default)
        };
        let (mut tail, mut all_failed, mut first_sha, mut shas_differ) = (0usize, true, None, false);
        for (o, r) in judged().take(cfg.broken_runs) {
            tail += 1;
            all_failed &= o == Outcome::Failure;
            match first_sha {
                None => first_sha = Some(r.sha),
                Some(sha) => shas_differ |= sha != r.sha,
            }
        }
        let broken_now = tail == cfg.broken_runs && all_failed && shas_differ;
        let passing_streak = judged().take_while(|(o, _)| *o == Outcome::Success).count();
        let flaky_enter = pass_on_retry >= cfg.min_evidence && score >= cfg.enter_score;

        let next = match self.state {
            FlakyState::Broken if passing_streak >= cfg.fixed_runs => FlakyState::Fixed,
            FlakyState::Broken => FlakyState::Broken,
            _ if broken_now => FlakyState::Broken,
            FlakyState::Fixed if flaky_enter => FlakyState::Flaky,
            FlakyState::Fixed if passing_streak >= cfg.fixed_runs + cfg.healthy_after => FlakyState::Healthy,
            FlakyState::Fixed => FlakyState::Fixed,
            FlakyState::Healthy if flaky_enter => FlakyState::Flaky,
            FlakyState::Flaky if score < cfg.exit_score => FlakyState::Healthy,
            other => other,
        };
        let changed = next != self.state;
        if changed {
            self.state = next;
            self.since = Some(at);
        }
        changed
    }

    /// Runs that are evidence for the current state, newest first.
    pub fn evidence_runs(&self, cfg: &FlakyConfig) -> Vec<u64> {
        match self.state {
            FlakyState::Broken | FlakyState::Fixed => self
                .runs
                .iter()
                .rev()
                .filter(|r| r.final_outcome().is_some())
                .take(cfg.broken_runs.max(cfg.fixed_runs))
                .map(|r| r.run_id)
                .collect(),
            _ => self.runs.iter().rev().filter(|r| r.pass_on_retry()).take(EVIDENCE_RUNS).map(|r| r.run_id).collect(),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.runs.capacity() * std::mem::size_of::<RunEntry>()
            + self.runs.iter().map(|r| r.attempts.capacity() * std::mem::size_of::<AttemptEntry>()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        "2026-03-01T00:00:00Z".parse::<DateTime<Utc>>().expect("t") + chrono::Duration::minutes(minutes)
    }

    struct Job {
        tracker: FlakyTracker,
        cfg: FlakyConfig,
        next_job: u64,
    }

    impl Job {
        fn new() -> Self {
            Self { tracker: FlakyTracker::default(), cfg: FlakyConfig::default(), next_job: 1 }
        }

        fn attempt(&mut self, run: u64, attempt: u32, sha: &str, outcome: Outcome) -> FlakyState {
            self.next_job += 1;
            let at = t(run as i64 * 10);
            self.tracker.record(run, attempt, self.next_job, sha, BranchClass::Default, outcome, at, &self.cfg);
            self.tracker.evaluate(at, &self.cfg);
            self.tracker.state
        }
    }

    #[test]
    fn fail_then_pass_on_a_rerun_of_the_same_sha_is_flaky_evidence() {
        let mut j = Job::new();
        for run in 1..=10 {
            j.attempt(run, 1, &format!("sha{run}"), Outcome::Success);
        }
        j.attempt(11, 1, "sha11", Outcome::Failure);
        assert_eq!(j.attempt(11, 2, "sha11", Outcome::Success), FlakyState::Healthy, "one event is not enough");
        assert!(j.tracker.runs.iter().find(|r| r.run_id == 11).expect("run").pass_on_retry());
        j.attempt(12, 1, "sha12", Outcome::Failure);
        assert_eq!(j.attempt(12, 2, "sha12", Outcome::Success), FlakyState::Flaky);
        assert_eq!(j.tracker.figures.pass_on_retry, 2);
        assert_eq!(j.tracker.figures.retry_pass_rate, 1.0);
        assert_eq!(j.tracker.evidence_runs(&j.cfg), vec![12, 11]);
        // Hysteresis: it takes many clean runs to dilute the score under the exit threshold.
        let mut run = 13;
        while j.tracker.state == FlakyState::Flaky {
            j.attempt(run, 1, &format!("sha{run}"), Outcome::Success);
            run += 1;
            assert!(run < 100, "never left flaky");
        }
        assert_eq!(j.tracker.state, FlakyState::Healthy);
        assert!(j.tracker.figures.score < j.cfg.exit_score);
        assert!(run > 40, "left flaky after only {} clean runs", run - 13);
    }

    #[test]
    fn a_rerun_that_fails_again_is_not_flaky_evidence() {
        let mut j = Job::new();
        j.attempt(1, 1, "a", Outcome::Failure);
        j.attempt(1, 2, "a", Outcome::Failure);
        assert!(!j.tracker.runs[0].pass_on_retry());
        // Out of order: the pass of attempt 2 arrives before the failure of attempt 1.
        j.attempt(2, 2, "b", Outcome::Success);
        j.attempt(2, 1, "b", Outcome::Failure);
        assert!(j.tracker.runs[1].pass_on_retry());
    }

    #[test]
    fn consistent_failures_across_shas_break_the_job_and_passes_fix_it() {
        let mut j = Job::new();
        for run in 1..=5 {
            j.attempt(run, 1, &format!("s{run}"), Outcome::Success);
        }
        j.attempt(6, 1, "s6", Outcome::Failure);
        j.attempt(6, 2, "s6", Outcome::Failure);
        assert_eq!(j.attempt(7, 1, "s7", Outcome::Failure), FlakyState::Healthy);
        assert_eq!(j.attempt(8, 1, "s8", Outcome::Failure), FlakyState::Broken);
        assert_eq!(j.attempt(9, 1, "s9", Outcome::Success), FlakyState::Broken);
        j.attempt(10, 1, "s10", Outcome::Success);
        assert_eq!(j.attempt(11, 1, "s11", Outcome::Success), FlakyState::Fixed);
        for run in 12..21 {
            assert_eq!(j.attempt(run, 1, &format!("s{run}"), Outcome::Success), FlakyState::Fixed);
        }
        assert_eq!(j.attempt(21, 1, "s21", Outcome::Success), FlakyState::Healthy);
    }

    #[test]
    fn the_same_sha_failing_three_times_is_not_broken() {
        let mut j = Job::new();
        for attempt in 1..=3 {
            j.attempt(1, attempt, "same", Outcome::Failure);
        }
        j.attempt(2, 1, "same", Outcome::Failure);
        assert_eq!(j.attempt(3, 1, "same", Outcome::Failure), FlakyState::Healthy);
    }

    #[test]
    fn the_window_is_bounded_and_finds_duplicates() {
        let mut j = Job::new();
        for run in 1..=100 {
            j.attempt(run, 1, "x", Outcome::Success);
        }
        assert_eq!(j.tracker.runs.len(), j.cfg.window);
        let last_job = j.next_job;
        assert!(j.tracker.contains(100, last_job));
        assert!(!j.tracker.contains(100, last_job + 1));
    }
}
