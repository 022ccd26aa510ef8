//! The council at work: every agent's expert view, the model's advice when one is configured,
//! then the consensus rule. Pure apart from the model call.

use crate::agents::expert_decisions;
use crate::consensus::{self, ConsensusDecision, Rule};
use crate::decision::{Action, Decision, ExpertView, Role, Source};
use crate::evidence::Evidence;
use crate::llm::{Advice, LlmClient, LlmReport};
use crate::redact::redact_short;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Highest confidence a model-only proposal (an action the expert did not choose) may carry:
/// alone it never outweighs a confident expert.
pub const MODEL_PROPOSAL_CAP: f64 = 0.5;

/// The council's settings.
#[derive(Clone, Default)]
pub struct Council {
    pub rule: Rule,
    pub llm: Option<LlmClient>,
}

/// What the council concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Deliberation {
    pub decisions: Vec<Decision>,
    pub verdict: ConsensusDecision,
    pub llm: LlmReport,
}

impl Council {
    pub async fn deliberate(&self, evidence: &Evidence, weights: &BTreeMap<Role, f64>, trigger: &str) -> Deliberation {
        let mut decisions = expert_decisions(evidence);
        let llm = match &self.llm {
            None => LlmReport::disabled(),
            Some(client) => {
                let (report, advice) = client.advise(&prompt(evidence, &decisions, trigger)).await;
                if let Some(advice) = advice {
                    merge(&mut decisions, &advice);
                } else {
                    tracing::info!(outcome = report.outcome.label(), detail = ?report.detail, "model answer not used; the expert policies stand");
                }
                report
            }
        };
        let verdict = consensus::decide(&decisions, weights, self.rule);
        Deliberation { decisions, verdict, llm }
    }
}

/// Merges the model's advice into the expert decisions:
/// - same action as the expert: the expert's confidence stays, the model's rationale is added;
/// - another action from the closed set: it becomes the vote, with confidence
///   min(model's, [`MODEL_PROPOSAL_CAP`]), and the expert's view is kept beside it;
/// - vetoes are the expert policy's alone and are never changed.
pub fn merge(decisions: &mut [Decision], advice: &Advice) {
    for a in &advice.agents {
        let Some(d) = decisions.iter_mut().find(|d| d.role == a.role) else { continue };
        if a.action == d.action {
            if d.action != Action::Abstain {
                d.rationale = format!("{} (model: {})", d.rationale, a.rationale);
                d.source = Source::Llm;
            }
            continue;
        }
        d.expert = Some(ExpertView { action: d.action, confidence: d.confidence, rationale: d.rationale.clone() });
        d.action = a.action;
        d.confidence = if a.action == Action::Abstain { 0.0 } else { a.confidence.min(MODEL_PROPOSAL_CAP) };
        d.rationale = a.rationale.clone();
        d.source = Source::Llm;
    }
}

/// The user prompt: only the evidence the agents used, short and redacted, and their views.
pub fn prompt(e: &Evidence, decisions: &[Decision], trigger: &str) -> String {
    let run = e.run.as_ref().map(|r| {
        json!({
            "event": r.event,
            "from_fork": r.from_fork,
            "release_branch": r.release_branch,
            "attempt": r.run_attempt,
            "workflow": r.workflow.as_deref().map(|w| redact_short(w, 80)),
        })
    });
    let diagnoses: Vec<Value> = e
        .diagnoses
        .iter()
        .take(5)
        .map(|d| {
            json!({
                "job": redact_short(&d.job, 80),
                "cause": d.cause.label(),
                "confidence": (d.confidence * 100.0).round() / 100.0,
                "transient": d.transient,
                "summary": redact_short(&d.summary, 200),
                "known_flaky": e.known_flaky(d),
            })
        })
        .collect();
    let anomalies: Vec<Value> = e
        .anomalies
        .iter()
        .take(3)
        .map(|a| json!({"kind": a.kind.label(), "job": redact_short(&a.job, 80), "ratio": a.ratio, "open": a.open}))
        .collect();
    let gate = e.gate.as_ref().map(|g| {
        json!({"passed": g.passed, "reasons": g.reasons.iter().take(3).map(|r| redact_short(r, 160)).collect::<Vec<_>>()})
    });
    let experts: Vec<Value> = decisions
        .iter()
        .map(|d| {
            json!({
                "role": d.role.label(),
                "action": d.action.label(),
                "confidence": (d.confidence * 100.0).round() / 100.0,
                "rationale": redact_short(&d.rationale, 240),
                "vetoes": d.vetoes.iter().map(|v| v.action.label()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let body = json!({
        "trigger": trigger,
        "run": run,
        "diagnoses": diagnoses,
        "anomalies": anomalies,
        "flaky_jobs": e.flaky_jobs.len(),
        "gate": gate,
        "rerun_success_rate": (e.healing.success_rate() * 100.0).round() / 100.0,
        "proposed": e.proposed.map(Action::label),
        "experts": experts,
    });
    body.to_string()
}
