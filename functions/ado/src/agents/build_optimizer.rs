//! Build Optimizer: the remedy for failed jobs (rerun, clear caches, quarantine, issue) and the
//! build's cache and parallelism.
//!
//! ```text
//! a deterministic cause among the diagnoses    → open_issue, confidence = the most confident one's
//! every failure transient, flaky tests known   → quarantine_flaky_test 0.7
//! every failure transient, a full disk         → clear_caches_then_rerun 0.6
//! every failure transient                      → rerun_failed_jobs, min(diagnosis confidence) × rerun rate
//! only unknown causes                          → rerun_failed_jobs 0.5 × rerun rate if that rate ≥ 0.5, else open_issue 0.4
//! no diagnosis, an open duration regression    → tune_cache 0.5 (slow builds most often lost their cache)
//! no diagnosis, a long duration outlier (≥ 2×) → increase_parallelism 0.4
//! ```
//! The rerun rate is the repository's smoothed share of reruns that passed (`healing_history`).

use super::{Agent, cite_anomaly, cite_diagnosis, healing_cite};
use crate::decision::{Action, Decision, Role};
use crate::evidence::Evidence;
use aetherveil_logscan::Cause;
use aetherveil_monitor::AnomalyKind;

pub struct BuildOptimizer;

impl Agent for BuildOptimizer {
    fn role(&self) -> Role {
        Role::BuildOptimizer
    }

    fn decide(&self, e: &Evidence) -> Decision {
        let role = self.role();
        if e.diagnoses.is_empty() {
            if let Some(a) = e.open_anomalies(AnomalyKind::DurationRegression).next() {
                return Decision::new(
                    role,
                    Action::TuneCache,
                    0.5,
                    format!("{} got persistently slower; a lost or mis-keyed cache is the most common cause", a.job),
                )
                .cite([cite_anomaly(a)]);
            }
            if let Some(a) = e.open_anomalies(AnomalyKind::DurationOutlier).find(|a| a.ratio.unwrap_or(0.0) >= 2.0) {
                return Decision::new(
                    role,
                    Action::IncreaseParallelism,
                    0.4,
                    format!("{} took over twice its usual time; splitting it shortens the worst case", a.job),
                )
                .cite([cite_anomaly(a)]);
            }
            return Decision::abstain(role, "no failed job and no build-time anomaly to act on");
        }
        let cites: Vec<_> = e.diagnoses.iter().map(cite_diagnosis).collect();
        let deterministic: Vec<_> = e.diagnoses.iter().filter(|d| !d.transient && d.cause != Cause::Unknown).collect();
        if !deterministic.is_empty() {
            let confidence = deterministic.iter().map(|d| d.confidence).fold(0.0, f64::max);
            let causes: Vec<&str> = deterministic.iter().map(|d| d.cause.label()).collect();
            return Decision::new(
                role,
                Action::OpenIssue,
                confidence,
                format!("deterministic cause ({}): a rerun runs the same code and fails again", causes.join(", ")),
            )
            .cite(cites);
        }
        let rate = e.healing.success_rate();
        if e.diagnoses.iter().all(|d| d.cause == Cause::Unknown) {
            let mut cites = cites;
            cites.push(healing_cite(e));
            return if rate >= 0.5 {
                Decision::new(
                    role,
                    Action::RerunFailedJobs,
                    0.5 * rate,
                    format!(
                        "the log does not say why, and {:.0}% of reruns here pass: one rerun is cheap evidence",
                        rate * 100.0
                    ),
                )
                .cite(cites)
            } else {
                Decision::new(
                    role,
                    Action::OpenIssue,
                    0.4,
                    "the log does not say why and reruns here rarely pass: a person should look",
                )
                .cite(cites)
            };
        }
        let transient: Vec<_> = e.diagnoses.iter().filter(|d| d.transient).collect();
        let flaky: Vec<_> = transient.iter().filter(|d| d.cause == Cause::FlakyTest).collect();
        if !flaky.is_empty() && flaky.iter().all(|d| e.known_flaky(d)) {
            let jobs: Vec<&str> = flaky.iter().map(|d| d.job.as_str()).collect();
            return Decision::new(
                role,
                Action::QuarantineFlakyTest,
                0.7,
                format!("{} failed flakily before: quarantine rather than pay for another rerun", jobs.join(", ")),
            )
            .cite(cites);
        }
        if transient.iter().any(|d| d.cause == Cause::Disk) {
            return Decision::new(
                role,
                Action::ClearCachesThenRerun,
                0.6,
                "the runner's disk filled up: restored caches take the space, clear them and rerun",
            )
            .cite(cites);
        }
        let weakest = transient.iter().map(|d| d.confidence).fold(1.0, f64::min);
        let mut cites = cites;
        cites.push(healing_cite(e));
        Decision::new(
            role,
            Action::RerunFailedJobs,
            (weakest * rate).clamp(0.3, 0.95),
            format!("every failure is transient; {:.0}% of reruns here pass", rate * 100.0),
        )
        .cite(cites)
    }
}
