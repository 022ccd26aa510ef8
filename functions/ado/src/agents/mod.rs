//! The council's agents: one file per role, each a deterministic expert policy over the
//! [`Evidence`], listed in [`registry`]. An agent returns one [`Decision`]: an action from the
//! closed set (or `abstain`), a confidence, a rationale and the evidence it cites. Only the
//! Security Guardian vetoes.

mod build_optimizer;
mod infrastructure_manager;
mod performance_analyst;
mod release_strategist;
mod security_guardian;

pub use build_optimizer::BuildOptimizer;
pub use infrastructure_manager::InfrastructureManager;
pub use performance_analyst::PerformanceAnalyst;
pub use release_strategist::ReleaseStrategist;
pub use security_guardian::SecurityGuardian;

use crate::decision::{Cite, Decision, Role};
use crate::evidence::{AnomalyFacts, DiagnosisFacts, Evidence, GateFacts};
use aetherveil_models::names;

/// One member of the council.
pub trait Agent: Send + Sync {
    fn role(&self) -> Role;
    /// The expert policy: a pure function of the evidence.
    fn decide(&self, evidence: &Evidence) -> Decision;
}

/// Every agent, in the order their views are shown.
pub fn registry() -> Vec<Box<dyn Agent>> {
    vec![
        Box::new(BuildOptimizer),
        Box::new(SecurityGuardian),
        Box::new(PerformanceAnalyst),
        Box::new(ReleaseStrategist),
        Box::new(InfrastructureManager),
    ]
}

/// Every agent's expert decision.
pub fn expert_decisions(evidence: &Evidence) -> Vec<Decision> {
    registry().iter().map(|a| a.decide(evidence)).collect()
}

pub(crate) fn cite_diagnosis(d: &DiagnosisFacts) -> Cite {
    Cite::new(
        names::DIAGNOSES,
        &d.id,
        format!(
            "{}: {} ({:.0}% confident, {})",
            d.job,
            d.cause.label(),
            d.confidence * 100.0,
            if d.transient { "transient" } else { "deterministic" }
        ),
    )
}

pub(crate) fn cite_anomaly(a: &AnomalyFacts) -> Cite {
    let ratio = a.ratio.map(|r| format!(", {r:.2}× expected")).unwrap_or_default();
    Cite::new(
        names::ANOMALIES,
        &a.id,
        format!(
            "{} of {}/{} on {}: score {:.2} over {:.2}{ratio}",
            a.kind, a.workflow, a.job, a.branch_class, a.score, a.threshold
        ),
    )
}

pub(crate) fn cite_gate(g: &GateFacts) -> Cite {
    let verdict = if g.passed { "passed" } else { "failed" };
    let why = g.reasons.first().map(|r| format!(": {r}")).unwrap_or_default();
    Cite::new(names::SECURITY_REPORTS, &g.id, format!("gate {verdict} under policy {}{why}", g.policy))
}

pub(crate) fn cite_run(e: &Evidence) -> Option<Cite> {
    e.run.as_ref().map(|r| {
        Cite::new(
            names::RUNS,
            r.run_id.to_string(),
            format!(
                "attempt {} of {} triggered by {}{} on {}",
                r.run_attempt,
                r.workflow.as_deref().unwrap_or("a workflow"),
                r.event,
                if r.from_fork { " from a fork" } else { "" },
                r.head_branch.as_deref().unwrap_or("an unknown branch")
            ),
        )
    })
}

pub(crate) fn healing_cite(e: &Evidence) -> Cite {
    Cite::new(
        names::HEALING_HISTORY,
        &e.repo,
        format!(
            "{} of {} recorded reruns in this repository passed (smoothed rate {:.2})",
            e.healing.succeeded,
            e.healing.reruns,
            e.healing.success_rate()
        ),
    )
}
