//! A repository's daily healing budget: reruns and runner minutes spent per UTC day.

use crate::decide::Budget;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The daily allowance of one repository.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Allowance {
    pub reruns: u32,
    pub minutes: f64,
}

impl Default for Allowance {
    fn default() -> Self {
        Self { reruns: 50, minutes: 600.0 }
    }
}

/// What one repository has spent today (stored per repository; a new UTC day starts at zero).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Ledger {
    pub day: Option<NaiveDate>,
    pub reruns: u32,
    pub minutes: f64,
}

impl Ledger {
    /// What is left of `allowance` at `now`.
    pub fn remaining(&self, allowance: &Allowance, now: DateTime<Utc>) -> Budget {
        if self.day != Some(now.date_naive()) {
            return Budget { reruns: allowance.reruns, minutes: allowance.minutes };
        }
        Budget {
            reruns: allowance.reruns.saturating_sub(self.reruns),
            minutes: (allowance.minutes - self.minutes).max(0.0),
        }
    }

    /// Records a rerun of `minutes` runner minutes at `now`, or refuses it (and records nothing)
    /// when it does not fit in what is left today.
    pub fn spend(&mut self, allowance: &Allowance, now: DateTime<Utc>, minutes: f64) -> bool {
        let left = self.remaining(allowance, now);
        if left.reruns == 0 || left.minutes < minutes {
            return false;
        }
        if self.day != Some(now.date_naive()) {
            *self = Ledger { day: Some(now.date_naive()), reruns: 0, minutes: 0.0 };
        }
        self.reruns += 1;
        self.minutes += minutes;
        true
    }
}
