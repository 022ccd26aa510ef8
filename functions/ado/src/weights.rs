//! Role weights learned from past plan outcomes.
//!
//! ```text
//! for each agreed plan whose outcome is known (success s), each agent that voted for action aᵢ:
//!     right  if (aᵢ = the plan's action) = s      (backed what worked, or opposed what failed)
//!     wrong  otherwise                            (abstentions are not scored)
//! wᵣ = 2 · (rightᵣ + k) / (rightᵣ + wrongᵣ + 2k)   with prior strength k (default 1)
//! ```
//! So a role with no record weighs 1, a role always right tends to 2, one always wrong to 0.
//! The counts live in `agent_state/ado-weights`.

use crate::decision::{Action, Decision, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One role's record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Record {
    pub right: f64,
    pub wrong: f64,
}

/// Every role's record (the stored document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Records {
    pub roles: BTreeMap<Role, Record>,
    /// Plan outcomes learned from.
    pub outcomes: u64,
}

impl Records {
    /// The weights, one per role.
    pub fn weights(&self, prior: f64) -> BTreeMap<Role, f64> {
        Role::ALL
            .into_iter()
            .map(|r| {
                let rec = self.roles.get(&r).copied().unwrap_or_default();
                (r, 2.0 * (rec.right + prior) / (rec.right + rec.wrong + 2.0 * prior))
            })
            .collect()
    }

    /// Learns from one plan's outcome: `action` was carried out and succeeded or not.
    pub fn learn(&mut self, decisions: &[Decision], action: Action, success: bool) {
        for d in decisions.iter().filter(|d| d.action != Action::Abstain) {
            let rec = self.roles.entry(d.role).or_default();
            if (d.action == action) == success {
                rec.right += 1.0;
            } else {
                rec.wrong += 1.0;
            }
        }
        self.outcomes += 1;
    }
}
