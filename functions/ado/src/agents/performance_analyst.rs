//! Performance Analyst: regressions, slow outliers, and what flakiness costs in runner time.
//!
//! ```text
//! a timed-out job with an open duration regression → investigate_regression 0.75 (the timeout is
//!                                                     the slowdown, not bad luck)
//! the trigger is a duration regression            → investigate_regression, 0.5 + 0.5 × (ratio − 1), ≤ 0.9
//! the trigger is a duration outlier               → no_action 0.55 (one slow run; the baseline holds)
//! the trigger is a failure-rate spike             → open_issue 0.6
//! flaky tests known flaky                         → quarantine_flaky_test 0.6 (each flake costs a rerun)
//! a flaky test seen for the first time            → rerun_failed_jobs 0.5
//! otherwise                                       → abstain
//! ```

use super::{Agent, cite_anomaly, cite_diagnosis};
use crate::decision::{Action, Decision, Role};
use crate::evidence::{AnomalyFacts, Evidence};
use aetherveil_logscan::Cause;
use aetherveil_monitor::AnomalyKind;

pub struct PerformanceAnalyst;

fn ratio(a: &AnomalyFacts) -> f64 {
    a.ratio.unwrap_or(if a.center > 0.0 { a.value / a.center } else { 1.0 })
}

impl Agent for PerformanceAnalyst {
    fn role(&self) -> Role {
        Role::PerformanceAnalyst
    }

    fn decide(&self, e: &Evidence) -> Decision {
        let role = self.role();
        for d in e.diagnoses.iter().filter(|d| d.cause == Cause::Timeout) {
            if let Some(a) = e.open_anomalies(AnomalyKind::DurationRegression).find(|a| a.job == d.job) {
                return Decision::new(
                    role,
                    Action::InvestigateRegression,
                    0.75,
                    format!("{} timed out while its duration is regressing: a rerun would time out again", d.job),
                )
                .cite([cite_diagnosis(d), cite_anomaly(a)]);
            }
        }
        if e.diagnoses.is_empty() {
            if let Some(a) = e.anomalies.first() {
                return match a.kind {
                    AnomalyKind::DurationRegression => {
                        let r = ratio(a);
                        Decision::new(
                            role,
                            Action::InvestigateRegression,
                            (0.5 + 0.5 * (r - 1.0)).clamp(0.5, 0.9),
                            format!("{} is persistently {r:.2}× slower than its baseline", a.job),
                        )
                        .cite([cite_anomaly(a)])
                    }
                    AnomalyKind::DurationOutlier => Decision::new(
                        role,
                        Action::NoAction,
                        0.55,
                        format!("one slow run of {}; its baseline still holds", a.job),
                    )
                    .cite([cite_anomaly(a)]),
                    AnomalyKind::FailureRateSpike => Decision::new(
                        role,
                        Action::OpenIssue,
                        0.6,
                        format!("{} fails more often than its baseline explains", a.job),
                    )
                    .cite([cite_anomaly(a)]),
                    AnomalyKind::QueueTime => {
                        Decision::abstain(role, "queue time is runner capacity, not the job's speed")
                    }
                };
            }
            return Decision::abstain(role, "no performance evidence");
        }
        let flaky: Vec<_> = e.diagnoses.iter().filter(|d| d.cause == Cause::FlakyTest).collect();
        if !flaky.is_empty() {
            let cites: Vec<_> = flaky.iter().map(|d| cite_diagnosis(d)).collect();
            if flaky.iter().all(|d| e.known_flaky(d)) {
                return Decision::new(
                    role,
                    Action::QuarantineFlakyTest,
                    0.6,
                    "a known flaky test makes every run pay for reruns: quarantine it",
                )
                .cite(cites);
            }
            return Decision::new(
                role,
                Action::RerunFailedJobs,
                0.5,
                "a first flake: one rerun costs less than an investigation",
            )
            .cite(cites);
        }
        Decision::abstain(role, "the failure says nothing about performance")
    }
}
