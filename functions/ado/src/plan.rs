//! The plan (a document of `orchestration_plans`, the seed's data model plus what explains it)
//! and how the winning recommendation becomes executable steps.

use crate::consensus::{Consensus, ConsensusDecision};
use crate::decision::{Action, Decision, Executor};
use crate::evidence::{Context, Evidence};
use crate::llm::LlmReport;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How far the orchestrator goes in a repository: the healer's per-repository mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Observe,
    Recommend,
    Act,
}

impl From<aetherveil_healer::decide::Mode> for Mode {
    fn from(m: aetherveil_healer::decide::Mode) -> Self {
        use aetherveil_healer::decide::Mode as H;
        match m {
            H::Observe => Mode::Observe,
            H::Recommend => Mode::Recommend,
            H::Act => Mode::Act,
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Mode `observe`: kept for the record.
    Recorded,
    /// Mode `recommend`, or no consensus: shown to people, not carried out.
    Recommended,
    /// Mode `act` and an agreed plan: handed to its executor on topic `orchestration-steps`.
    Dispatched,
}

/// One executable step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub order: u32,
    pub action: Action,
    pub executor: Executor,
    /// What the executor does, precisely enough to do it (an API call or a procedure name).
    pub operation: String,
    pub target: String,
    pub description: String,
    pub status: StepStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionPlan {
    pub mode: Mode,
    /// `dispatched`, `recommended`, `recorded` or `left_to_people` (no consensus).
    pub status: String,
    pub steps: Vec<Step>,
}

/// What happened after the plan (recorded by the API or learned from `healing_history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOutcome {
    /// What was carried out after the plan (by the healer, a person, the release function).
    pub action: Action,
    pub success: bool,
    pub source: String,
    pub at: DateTime<Utc>,
}

/// A document of `orchestration_plans`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub repo: String,
    pub context: Context,
    pub agent_decisions: Vec<Decision>,
    pub consensus_decision: ConsensusDecision,
    pub execution_plan: ExecutionPlan,
    pub llm: LlmReport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<u64>,
    #[serde(default)]
    pub outcome: Option<PlanOutcome>,
    pub created_at: DateTime<Utc>,
    /// `created_at` in milliseconds: the list's sort key.
    pub created_at_ms: i64,
}

/// The steps that carry out `action` for the evidence at hand.
pub fn steps(action: Action, e: &Evidence, status: StepStatus) -> Vec<Step> {
    let repo = &e.repo;
    let run = e.run.as_ref().map(|r| r.run_id);
    let run_target = run.map_or_else(|| repo.clone(), |id| format!("{repo} run {id}"));
    let jobs: Vec<&str> = e.diagnoses.iter().map(|d| d.job.as_str()).collect();
    let anomaly_job = e.anomalies.first().map(|a| format!("{repo} {}/{}", a.workflow, a.job));
    let job_target = anomaly_job.clone().unwrap_or_else(|| format!("{repo} {}", jobs.join(", ")));
    let mut out: Vec<(Action, Executor, String, String, String)> = Vec::new();
    let mut add = |executor: Executor, operation: String, target: String, description: String| {
        out.push((action, executor, operation, target, description));
    };
    match action {
        Action::RerunFailedJobs => {
            let op = run.map_or("rerun the failed jobs".to_owned(), |id| {
                format!("POST /repos/{repo}/actions/runs/{id}/rerun-failed-jobs")
            });
            add(Executor::Healer, op, run_target.clone(), "rerun the failed jobs once".into());
            add(
                Executor::Healer,
                "record the rerun's outcome in healing_history".into(),
                run_target,
                "learn whether the rerun passed".into(),
            );
        }
        Action::ClearCachesThenRerun => {
            add(
                Executor::Healer,
                format!("DELETE /repos/{repo}/actions/caches?ref=<the run's ref>"),
                run_target.clone(),
                "delete the caches the run restored".into(),
            );
            let op = run.map_or("rerun the failed jobs".to_owned(), |id| {
                format!("POST /repos/{repo}/actions/runs/{id}/rerun-failed-jobs")
            });
            add(Executor::Healer, op, run_target, "rerun the failed jobs on fresh caches".into());
        }
        Action::QuarantineFlakyTest => {
            let tests: Vec<&str> =
                e.diagnoses.iter().flat_map(|d| d.failing_tests.iter().map(String::as_str)).collect();
            let what = if tests.is_empty() { jobs.join(", ") } else { tests.join(", ") };
            add(
                Executor::Healer,
                "quarantine (healer_flaky)".into(),
                format!("{repo} {what}"),
                "stop the flaky test failing runs".into(),
            );
            add(
                Executor::Healer,
                format!("POST /repos/{repo}/issues (label aetherveil)"),
                format!("{repo} {what}"),
                "an issue to fix the flaky test, with its evidence".into(),
            );
        }
        Action::OpenIssue => add(
            Executor::Healer,
            format!("POST /repos/{repo}/issues (label aetherveil), or a comment on the open one"),
            job_target,
            "tell people what failed, why, and the lines to read".into(),
        ),
        Action::TuneCache => add(
            Executor::Workflow,
            "workflow ado-tune-cache: compare cache hit rates and keys of recent runs, propose a key change".into(),
            job_target,
            "restore the build's cache hits".into(),
        ),
        Action::IncreaseParallelism => add(
            Executor::Workflow,
            "workflow ado-split-job: propose a matrix or test sharding for the job".into(),
            job_target,
            "shorten the job's critical path".into(),
        ),
        Action::InvestigateRegression => {
            add(
                Executor::Workflow,
                "workflow ado-bisect: compare the last normal run with the first slow one (commits, steps, caches)"
                    .into(),
                job_target.clone(),
                "find the change that made the job slower".into(),
            );
            add(
                Executor::Healer,
                format!("POST /repos/{repo}/issues (label aetherveil)"),
                job_target,
                "an issue with the regression's evidence".into(),
            );
        }
        Action::HoldRelease => {
            add(
                Executor::Gate,
                "keep the gate's check run failing for the ref".into(),
                repo.clone(),
                "no deploy passes while the evidence is red".into(),
            );
            add(
                Executor::Release,
                "hold the candidate".into(),
                repo.clone(),
                "keep the current release serving".into(),
            );
        }
        Action::PromoteRelease => {
            add(Executor::Release, "promote the candidate".into(), repo.clone(), "ship the candidate".into())
        }
        Action::RollbackRelease => {
            add(
                Executor::Release,
                "roll back to the previous release".into(),
                repo.clone(),
                "restore the last good release".into(),
            );
            add(
                Executor::Healer,
                format!("POST /repos/{repo}/issues (label aetherveil)"),
                repo.clone(),
                "an issue explaining the rollback".into(),
            );
        }
        Action::ScaleRunners => add(
            Executor::Workflow,
            "workflow ado-scale-runners: add runners to the pool the job waits on".into(),
            job_target,
            "bring queue time back to its baseline".into(),
        ),
        Action::NoAction | Action::Abstain => {}
    }
    out.into_iter()
        .enumerate()
        .map(|(i, (action, executor, operation, target, description))| Step {
            order: u32::try_from(i + 1).unwrap_or(u32::MAX),
            action,
            executor,
            operation,
            target,
            description,
            status,
        })
        .collect()
}

/// The execution plan for a verdict in a mode.
pub fn execution_plan(verdict: &ConsensusDecision, e: &Evidence, mode: Mode) -> ExecutionPlan {
    if verdict.consensus == Consensus::NoConsensus {
        return ExecutionPlan {
            mode,
            status: "left_to_people".into(),
            steps: steps(verdict.primary_recommendation, e, StepStatus::Recommended),
        };
    }
    let status = match mode {
        Mode::Observe => StepStatus::Recorded,
        Mode::Recommend => StepStatus::Recommended,
        Mode::Act => StepStatus::Dispatched,
    };
    let label = match status {
        StepStatus::Recorded => "recorded",
        StepStatus::Recommended => "recommended",
        StepStatus::Dispatched => "dispatched",
    };
    ExecutionPlan { mode, status: label.into(), steps: steps(verdict.primary_recommendation, e, status) }
}

impl Plan {
    /// Each agent's view, the vote and the evidence, in prose (what `GET /api/v1/plans/{id}` shows).
    pub fn explanation(&self) -> Vec<String> {
        let mut out = Vec::new();
        let c = &self.consensus_decision;
        out.push(format!(
            "Plan {} for {} ({}): {} — {}.",
            self.id,
            self.repo,
            self.context.event_type,
            match c.consensus {
                Consensus::Agreed => format!(
                    "the council agreed on {} ({:.0}% confident)",
                    c.primary_recommendation,
                    c.confidence * 100.0
                ),
                Consensus::NoConsensus => "no consensus".to_owned(),
            },
            c.reason
        ));
        for d in &self.agent_decisions {
            let w = c.weights.get(&d.role).copied().unwrap_or(1.0);
            let mut line = if d.action == crate::decision::Action::Abstain {
                format!("{} (weight {w:.2}) abstains: {}", d.role.title(), d.rationale)
            } else {
                format!(
                    "{} (weight {w:.2}) votes {} at {:.0}%: {}",
                    d.role.title(),
                    d.action,
                    d.confidence * 100.0,
                    d.rationale
                )
            };
            if d.source == crate::decision::Source::Llm {
                line.push_str(" [model-assisted]");
            }
            for v in &d.vetoes {
                line.push_str(&format!(" VETO {}: {}.", v.action, v.reason));
            }
            for cite in &d.evidence {
                line.push_str(&format!(" [{}/{}: {}]", cite.source, cite.id, cite.fact));
            }
            out.push(line);
        }
        let tally: Vec<String> = c
            .tally
            .iter()
            .map(|t| {
                let who: Vec<&str> = t.voters.iter().map(|r| r.label()).collect();
                format!("{} {:.2}{} ({})", t.action, t.score, if t.vetoed { " vetoed" } else { "" }, who.join(", "))
            })
            .collect();
        out.push(format!(
            "Vote: {}; participation {:.0}% (quorum {:.0}%), support {:.0}% (majority over {:.0}%).",
            if tally.is_empty() { "nobody voted".to_owned() } else { tally.join("; ") },
            c.participation * 100.0,
            c.rule.quorum * 100.0,
            c.support * 100.0,
            c.rule.majority * 100.0
        ));
        if self.execution_plan.steps.is_empty() {
            out.push(format!("Steps: none ({}).", self.execution_plan.status));
        }
        for s in &self.execution_plan.steps {
            out.push(format!(
                "Step {} ({:?}, {:?}): {} on {} — {}.",
                s.order, s.executor, s.status, s.operation, s.target, s.description
            ));
        }
        out
    }
}
