//! Infrastructure Manager: runners and their capacity.
//!
//! ```text
//! an open queue-time anomaly (the trigger or the repository's)  → scale_runners, 0.5 + 0.1 × ratio, ≤ 0.85
//! a lost runner (infrastructure cause)                          → rerun_failed_jobs 0.75
//! a network, rate-limit or timeout cause                        → rerun_failed_jobs 0.55
//! a full disk or out of memory on a self-hosted runner          → scale_runners 0.6 (the runner is too small)
//! a full disk or out of memory on a hosted runner               → rerun_failed_jobs 0.5
//! otherwise                                                     → abstain
//! ```

use super::{Agent, cite_anomaly, cite_diagnosis};
use crate::decision::{Action, Decision, Role};
use crate::evidence::Evidence;
use aetherveil_logscan::Cause;
use aetherveil_monitor::AnomalyKind;

pub struct InfrastructureManager;

impl Agent for InfrastructureManager {
    fn role(&self) -> Role {
        Role::InfrastructureManager
    }

    fn decide(&self, e: &Evidence) -> Decision {
        let role = self.role();
        if let Some(a) = e.open_anomalies(AnomalyKind::QueueTime).next() {
            let ratio = a.ratio.unwrap_or(if a.center > 0.0 { a.value / a.center } else { 1.0 });
            return Decision::new(
                role,
                Action::ScaleRunners,
                (0.5 + 0.1 * ratio).min(0.85),
                format!("{} waited {ratio:.1}× its usual time for a runner: the pool is short", a.job),
            )
            .cite([cite_anomaly(a)]);
        }
        if let Some(d) = e.diagnoses.iter().find(|d| d.cause == Cause::Infrastructure) {
            return Decision::new(
                role,
                Action::RerunFailedJobs,
                0.75,
                "the runner went away mid-job; a new one will do",
            )
            .cite([cite_diagnosis(d)]);
        }
        if let Some(d) = e.diagnoses.iter().find(|d| matches!(d.cause, Cause::Resources | Cause::Disk)) {
            return if d.transient {
                Decision::new(role, Action::RerunFailedJobs, 0.5, "a hosted runner ran out; the next one starts clean")
                    .cite([cite_diagnosis(d)])
            } else {
                Decision::new(
                    role,
                    Action::ScaleRunners,
                    0.6,
                    "a self-hosted runner ran out of memory or disk: give the pool bigger machines",
                )
                .cite([cite_diagnosis(d)])
            };
        }
        if let Some(d) =
            e.diagnoses.iter().find(|d| matches!(d.cause, Cause::Network | Cause::RateLimit | Cause::Timeout))
        {
            return Decision::new(
                role,
                Action::RerunFailedJobs,
                0.55,
                "an outside service or the network failed the job, not the code",
            )
            .cite([cite_diagnosis(d)]);
        }
        Decision::abstain(role, "no runner or capacity evidence")
    }
}
