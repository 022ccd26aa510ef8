//! Release Strategist: hold, promote or roll back.
//!
//! ```text
//! the latest gate verdict failed                           → hold_release 0.9
//! rollback asked for and a failure-rate spike is open      → rollback_release 0.75, else hold_release 0.6
//! promotion asked for, with a deterministic failure or an
//!   open failure-rate spike or duration regression         → hold_release 0.8
//! promotion asked for, the gate passed                     → promote_release 0.7
//! a deterministic failure on a release branch              → hold_release 0.7
//! a failure-rate spike on the default branch class         → hold_release 0.65
//! otherwise                                                → abstain
//! ```

use super::{Agent, cite_anomaly, cite_diagnosis, cite_gate};
use crate::decision::{Action, Decision, Role};
use crate::evidence::Evidence;
use aetherveil_logscan::Cause;
use aetherveil_monitor::AnomalyKind;

pub struct ReleaseStrategist;

impl Agent for ReleaseStrategist {
    fn role(&self) -> Role {
        Role::ReleaseStrategist
    }

    fn decide(&self, e: &Evidence) -> Decision {
        let role = self.role();
        if let Some(g) = e.gate.as_ref().filter(|g| !g.passed) {
            return Decision::new(role, Action::HoldRelease, 0.9, "the security gate failed for this repository")
                .cite([cite_gate(g)]);
        }
        let spike = e.open_anomalies(AnomalyKind::FailureRateSpike).next();
        let regression = e.open_anomalies(AnomalyKind::DurationRegression).next();
        let deterministic: Vec<_> = e.diagnoses.iter().filter(|d| !d.transient && d.cause != Cause::Unknown).collect();
        match e.proposed {
            Some(Action::RollbackRelease) => {
                return match spike {
                    Some(a) => Decision::new(
                        role,
                        Action::RollbackRelease,
                        0.75,
                        "failures spiked since the release: roll back",
                    )
                    .cite([cite_anomaly(a)]),
                    None => Decision::new(
                        role,
                        Action::HoldRelease,
                        0.6,
                        "no failure spike supports a rollback: hold and watch",
                    ),
                };
            }
            Some(Action::PromoteRelease) => {
                if let Some(d) = deterministic.first() {
                    return Decision::new(role, Action::HoldRelease, 0.8, "a deterministic failure is open")
                        .cite([cite_diagnosis(d)]);
                }
                if let Some(a) = spike.or(regression) {
                    return Decision::new(role, Action::HoldRelease, 0.8, format!("{} is open", a.kind))
                        .cite([cite_anomaly(a)]);
                }
                if let Some(g) = e.gate.as_ref().filter(|g| g.passed) {
                    return Decision::new(
                        role,
                        Action::PromoteRelease,
                        0.7,
                        "the gate passed and no failure or regression is open",
                    )
                    .cite([cite_gate(g)]);
                }
            }
            _ => {}
        }
        if e.run.as_ref().is_some_and(|r| r.release_branch && !r.untrusted()) {
            if let Some(d) = deterministic.first() {
                return Decision::new(
                    role,
                    Action::HoldRelease,
                    0.7,
                    "the release branch is broken: nothing ships from it until it is green",
                )
                .cite([cite_diagnosis(d)]);
            }
        }
        if let Some(a) = spike.filter(|a| a.branch_class == "default") {
            return Decision::new(role, Action::HoldRelease, 0.65, "the default branch fails more often than usual")
                .cite([cite_anomaly(a)]);
        }
        Decision::abstain(role, "nothing in the evidence bears on a release")
    }
}
