//! Run-level outcomes of one workflow: success counts per branch class and day, and time to
//! recovery on the default branch. One document per `(repository, workflow)`.
//!
//! Time to recovery: from the completion of the first failing default-branch run to the
//! completion of the first later run (a newer run, or a later attempt of the failing one) that
//! succeeds. "Later" compares the runs' creation, so a success of an older run delivered late
//! does not end the outage.

use crate::model::{BranchClass, Outcome, WorkflowKey};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub success: u64,
    pub failure: u64,
    /// Cancelled, skipped, neutral, ...
    pub other: u64,
}

impl OutcomeCounts {
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Success => self.success += 1,
            Outcome::Failure => self.failure += 1,
            Outcome::Neutral => self.other += 1,
        }
    }

    pub fn merge(&mut self, o: &OutcomeCounts) {
        self.success += o.success;
        self.failure += o.failure;
        self.other += o.other;
    }

    pub fn total(&self) -> u64 {
        self.success + self.failure + self.other
    }
}

/// Completed run attempts of one day (UTC, event time), per branch class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayCounts {
    pub date: NaiveDate,
    /// Indexed by [`BranchClass::index`]: default, pr, other.
    pub classes: [OutcomeCounts; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failing {
    pub run_id: u64,
    pub attempt: u32,
    pub run_created_at: DateTime<Utc>,
    /// Completion of the failing run.
    pub since: DateTime<Utc>,
}

/// One time-to-recovery sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub failed_run_id: u64,
    pub recovered_run_id: u64,
    pub failed_at: DateTime<Utc>,
    pub recovered_at: DateTime<Utc>,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowState {
    pub key: WorkflowKey,
    /// Run attempts already counted (duplicate filter), oldest first.
    pub seen: VecDeque<(u64, u32)>,
    pub totals: [OutcomeCounts; 3],
    pub days: VecDeque<DayCounts>,
    /// The default branch is failing since this run.
    pub failing: Option<Failing>,
    pub recoveries: VecDeque<Recovery>,
    pub last_at: Option<DateTime<Utc>>,
}

/// One completed run attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCompletion {
    pub run_id: u64,
    pub attempt: u32,
    pub class: BranchClass,
    pub outcome: Outcome,
    pub created_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
}

impl WorkflowState {
    pub fn new(key: WorkflowKey) -> Self {
        Self {
            key,
            seen: VecDeque::new(),
            totals: [OutcomeCounts::default(); 3],
            days: VecDeque::new(),
            failing: None,
            recoveries: VecDeque::new(),
            last_at: None,
        }
    }

    /// Counts one completed attempt; false when it was already counted.
    pub fn observe(&mut self, r: &RunCompletion, keep_days: u32, keep_recoveries: usize, dedup: usize) -> bool {
        if self.seen.contains(&(r.run_id, r.attempt)) {
            return false;
        }
        self.seen.push_back((r.run_id, r.attempt));
        while self.seen.len() > dedup {
            self.seen.pop_front();
        }
        self.last_at = Some(self.last_at.map_or(r.completed_at, |l| l.max(r.completed_at)));
        self.totals[r.class.index()].add(r.outcome);

        let date = r.completed_at.date_naive();
        let pos = match self.days.binary_search_by_key(&date, |d| d.date) {
            Ok(i) => Some(i),
            Err(i) => {
                let newest = self.days.back().map_or(date, |d| d.date.max(date));
                if (newest - date).num_days() >= i64::from(keep_days) {
                    None
                } else {
                    self.days.insert(i, DayCounts { date, classes: [OutcomeCounts::default(); 3] });
                    Some(i)
                }
            }
        };
        if let Some(i) = pos {
            self.days[i].classes[r.class.index()].add(r.outcome);
        }
        if let Some(newest) = self.days.back().map(|d| d.date) {
            while self.days.front().is_some_and(|d| (newest - d.date).num_days() >= i64::from(keep_days)) {
                self.days.pop_front();
            }
        }

        if r.class == BranchClass::Default {
            let order = (r.created_at, r.run_id, r.attempt);
            match (r.outcome, &self.failing) {
                (Outcome::Failure, None) => {
                    self.failing = Some(Failing {
                        run_id: r.run_id,
                        attempt: r.attempt,
                        run_created_at: r.created_at,
                        since: r.completed_at,
                    });
                }
                // A failure delivered late that happened before the recorded one moves the start back.
                (Outcome::Failure, Some(f)) if order < (f.run_created_at, f.run_id, f.attempt) => {
                    self.failing = Some(Failing {
                        run_id: r.run_id,
                        attempt: r.attempt,
                        run_created_at: r.created_at,
                        since: r.completed_at.min(f.since),
                    });
                }
                (Outcome::Success, Some(f)) if order > (f.run_created_at, f.run_id, f.attempt) => {
                    let seconds = (r.completed_at - f.since).num_milliseconds().max(0) as f64 / 1000.0;
                    self.recoveries.push_back(Recovery {
                        failed_run_id: f.run_id,
                        recovered_run_id: r.run_id,
                        failed_at: f.since,
                        recovered_at: r.completed_at,
                        seconds,
                    });
                    while self.recoveries.len() > keep_recoveries {
                        self.recoveries.pop_front();
                    }
                    self.failing = None;
                }
                _ => {}
            }
        }
        true
    }

    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.key.repo.capacity()
            + self.key.workflow.capacity()
            + self.seen.capacity() * std::mem::size_of::<(u64, u32)>()
            + self.days.capacity() * std::mem::size_of::<DayCounts>()
            + self.recoveries.capacity() * std::mem::size_of::<Recovery>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        "2026-05-01T00:00:00Z".parse::<DateTime<Utc>>().expect("t") + chrono::Duration::minutes(min)
    }

    fn run(id: u64, attempt: u32, outcome: Outcome, created: i64, done: i64) -> RunCompletion {
        RunCompletion {
            run_id: id,
            attempt,
            class: BranchClass::Default,
            outcome,
            created_at: t(created),
            completed_at: t(done),
        }
    }

    #[test]
    fn recovery_is_measured_from_the_first_failure_to_the_next_success() {
        let mut w = WorkflowState::new(WorkflowKey { repo: "o/r".into(), workflow: "CI".into() });
        assert!(w.observe(&run(1, 1, Outcome::Success, 0, 10), 35, 64, 256));
        assert!(w.observe(&run(2, 1, Outcome::Failure, 20, 30), 35, 64, 256));
        assert!(w.observe(&run(3, 1, Outcome::Failure, 40, 50), 35, 64, 256));
        // A late success of an older run does not end the outage.
        assert!(w.observe(&run(0, 1, Outcome::Success, -10, 60), 35, 64, 256));
        assert!(w.recoveries.is_empty());
        // A rerun of the first failing run passes: recovered after 60 minutes.
        assert!(w.observe(&run(2, 2, Outcome::Success, 20, 90), 35, 64, 256));
        assert_eq!(w.recoveries.len(), 1);
        assert_eq!(w.recoveries[0].seconds, 3600.0);
        assert!(w.failing.is_none());
        // Duplicates are not counted twice.
        assert!(!w.observe(&run(2, 2, Outcome::Success, 20, 90), 35, 64, 256));
        assert_eq!(w.totals[0], OutcomeCounts { success: 3, failure: 2, other: 0 });
        assert_eq!(w.days.len(), 1);
    }
}
