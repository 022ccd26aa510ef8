//! The healer's settings (`[healer]` in the platform's configuration).

use crate::budget::Allowance;
use crate::decide::{Mode, Policy};
use chrono::Duration;

#[derive(Debug, Clone)]
pub struct HealerConfig {
    /// The mode of a repository no operator has set one for.
    pub default_mode: Mode,
    pub policy: Policy,
    /// Each repository's daily allowance.
    pub allowance: Allowance,
    /// A signature with an issue that has not failed for this long is reported healthy in it.
    pub healthy_after: Duration,
    /// The label of the healer's issues.
    pub issue_label: String,
}

impl Default for HealerConfig {
    fn default() -> Self {
        Self {
            default_mode: Mode::Recommend,
            policy: Policy::default(),
            allowance: Allowance::default(),
            healthy_after: Duration::days(7),
            issue_label: crate::names::ISSUE_LABEL.to_owned(),
        }
    }
}
