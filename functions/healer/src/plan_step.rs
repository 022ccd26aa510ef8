//! The healer as the executor of the orchestrator's plans: steps on topic `orchestration-steps`
//! (published by ado in mode `act` for agreed plans) whose executor is the healer.
//!
//! ```text
//! plan step (executor healer) ─▶ already settled? (healer_plan_steps/<message id>) ─▶ nothing again
//!   ─▶ guards: GitHub credentials, the repository still in `act`, a trusted run, the budget (reruns)
//!   ─▶ record the intent (state pending, the attempt a rerun starts from; the budget spent)
//!   ─▶ carry out, reconciling with GitHub first (a run already rerun is not rerun again; an issue
//!      is found again by its marker)
//!   ─▶ record done, or failed for good (a run GitHub does not know); a failed call is retried
//! the rerun's attempt completes ─▶ a healing_history entry, which the orchestrator learns from
//! ```
//!
//! Steps for other executors (gate, release, workflows) are not the healer's: it leaves them
//! alone, and ado records what becomes of them.

use crate::budget::Ledger;
use crate::names::{BUDGETS, FLAKY, PLAN_STEPS};
use crate::record::{FlakyRecord, HistoryEntry};
use crate::shell::{Handled, Healer, retry};
use aetherveil_bus::HandlerError;
use aetherveil_github::{IssueQuery, IssueStateFilter, NewIssue};
use aetherveil_models::{RunRecord, names as collections};
use aetherveil_store::{Precondition, Query, StoreError, WriteBatch, to_value};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A message on `orchestration-steps` (see ado's `shell::batch`).
#[derive(Debug, Clone, Deserialize)]
pub struct StepMessage {
    pub plan_id: String,
    pub repo: String,
    #[serde(default)]
    pub run_id: Option<u64>,
    pub step: PlanStep,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlanStep {
    pub order: u32,
    pub action: String,
    pub executor: String,
    pub operation: String,
    pub target: String,
    pub description: String,
}

/// What a step asks the healer to do, read from its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ClearCaches,
    Rerun,
    /// The rerun's outcome goes to `healing_history` when its attempt completes.
    RecordOutcome,
    Quarantine,
    Issue,
}

fn kind(step: &PlanStep) -> Option<Kind> {
    let op = step.operation.as_str();
    if op.contains("/rerun-failed-jobs") || op == "rerun the failed jobs" {
        Some(Kind::Rerun)
    } else if op.starts_with("DELETE ") && op.contains("/actions/caches") {
        Some(Kind::ClearCaches)
    } else if op.starts_with("record the rerun's outcome") {
        Some(Kind::RecordOutcome)
    } else if op.starts_with("quarantine") {
        Some(Kind::Quarantine)
    } else if op.contains("/issues") {
        Some(Kind::Issue)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Intended; calls may have been made in part (a redelivery reconciles and finishes).
    Pending,
    Done,
    /// Could not be done and trying again cannot help (the run does not exist, say).
    Failed,
    /// A guard said no (mode, trust, budget, credentials).
    Refused,
}

/// One plan step as the healer carried it out (`healer_plan_steps/<message id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub id: String,
    pub plan_id: String,
    pub order: u32,
    pub repo: String,
    pub run_id: Option<u64>,
    pub action: String,
    pub operation: String,
    pub state: StepState,
    pub detail: String,
    /// The attempt a rerun started from; its successor's completion is the outcome.
    pub attempt: Option<u32>,
    pub rerun_minutes: f64,
    /// Whether the rerun passed, once its attempt completed.
    pub outcome: Option<bool>,
    pub tries: u32,
    pub at: DateTime<Utc>,
}

/// How a step ended this time.
type Settled = (StepState, String);

fn settled(state: StepState, detail: impl Into<String>) -> Result<Settled, HandlerError> {
    Ok((state, detail.into()))
}

impl Healer {
    /// Carries out one plan step, once.
    pub async fn on_plan_step(&self, id: &str, m: &StepMessage) -> Result<Handled, HandlerError> {
        if m.step.executor != "healer" {
            return Ok(Handled::Ignored);
        }
        let lock = self.lock(m.run_id.unwrap_or(0));
        let _guard = lock.lock().await;
        let existing = self.store.get(PLAN_STEPS, id).await.map_err(retry)?;
        let mut record = match &existing {
            Some(doc) => doc.parse::<StepRecord>().map_err(retry)?,
            None => StepRecord {
                id: id.to_owned(),
                plan_id: m.plan_id.clone(),
                order: m.step.order,
                repo: m.repo.clone(),
                run_id: m.run_id,
                action: m.step.action.clone(),
                operation: m.step.operation.clone(),
                state: StepState::Pending,
                detail: String::new(),
                attempt: None,
                rerun_minutes: 0.0,
                outcome: None,
                tries: 0,
                at: Utc::now(),
            },
        };
        if record.state != StepState::Pending {
            return Ok(Handled::PlanStep { id: id.to_owned(), state: record.state });
        }
        let version = existing.map(|d| d.version);
        record.tries += 1;
        let (state, detail) = match self.carry_out_step(m, &mut record, version).await {
            Ok(done) => done,
            Err(e) => {
                // Keep the attempt count; the bus tries again.
                record.detail = format!("try {}: {e}", record.tries);
                self.save_step(&record).await?;
                return Err(e);
            }
        };
        record.state = state;
        record.detail = detail;
        record.at = Utc::now();
        self.save_step(&record).await?;
        tracing::info!(step = id, plan = %m.plan_id, state = ?state, detail = %record.detail, "plan step settled");
        Ok(Handled::PlanStep { id: id.to_owned(), state })
    }

    async fn carry_out_step(
        &self,
        m: &StepMessage,
        record: &mut StepRecord,
        version: Option<u64>,
    ) -> Result<Settled, HandlerError> {
        let Some(kind) = kind(&m.step) else {
            return settled(StepState::Failed, format!("not an operation the healer knows: {}", m.step.operation));
        };
        if !self.github.has_credentials() {
            return settled(StepState::Refused, "no GitHub credentials are configured");
        }
        if self.mode(&m.repo).await? != crate::decide::Mode::Act {
            return settled(StepState::Refused, "the repository is no longer in mode act");
        }
        match kind {
            Kind::Issue => self.step_issue(m).await,
            Kind::RecordOutcome => settled(StepState::Done, "recorded in healing_history when the rerun completes"),
            Kind::ClearCaches | Kind::Rerun | Kind::Quarantine => {
                let Some(run_id) = m.run_id else {
                    return settled(StepState::Failed, "the plan names no run");
                };
                let run = match self.github.get_run(&m.repo, run_id).await {
                    Ok(run) => run,
                    Err(aetherveil_github::Error::NotFound) => {
                        return settled(StepState::Failed, format!("GitHub does not know run {run_id} of {}", m.repo));
                    }
                    Err(e) => return Err(retry(format!("get run {run_id}: {e}"))),
                };
                match kind {
                    Kind::ClearCaches => {
                        let detail = self.clear_caches(&m.repo, run.head_branch.as_deref()).await.map_err(retry)?;
                        settled(StepState::Done, detail)
                    }
                    Kind::Quarantine => self.step_quarantine(m, &run).await,
                    _ => self.step_rerun(m, &run, record, version).await,
                }
            }
        }
    }

    /// Reruns the failed jobs once: the intent and the budget are committed first, and a rerun
    /// already visible on GitHub (ours before a crash, or anyone's) is not asked for again.
    async fn step_rerun(
        &self,
        m: &StepMessage,
        run: &aetherveil_github::WorkflowRun,
        record: &mut StepRecord,
        version: Option<u64>,
    ) -> Result<Settled, HandlerError> {
        let attempt = run.run_attempt.unwrap_or(1);
        if let Some(from) = record.attempt {
            if attempt > from {
                return settled(StepState::Done, format!("rerun requested (attempt {attempt} exists)"));
            }
        } else {
            let event = run.event.as_deref().unwrap_or_default();
            if event == "pull_request_target" || event == "workflow_run" {
                return settled(StepState::Refused, format!("never reruns a {event} run: it may run untrusted code"));
            }
            if run.status.as_deref() != Some("completed")
                || !matches!(run.conclusion.as_deref(), Some("failure" | "timed_out" | "cancelled"))
            {
                return settled(
                    StepState::Done,
                    format!(
                        "nothing to rerun: the run is {} ({})",
                        run.status.as_deref().unwrap_or("unknown"),
                        run.conclusion.as_deref().unwrap_or("no conclusion")
                    ),
                );
            }
            let jobs = self
                .github
                .list_jobs(&m.repo, run.id, Some(attempt))
                .await
                .map_err(|e| retry(format!("list the jobs of run {}: {e}", run.id)))?;
            let minutes: f64 = jobs
                .iter()
                .filter(|j| matches!(j.conclusion.as_deref(), Some("failure" | "timed_out" | "cancelled")))
                .map(|j| match (j.started_at, j.completed_at) {
                    (Some(s), Some(c)) => ((c - s).num_seconds().max(0) as f64 / 60.0).max(0.5),
                    _ => 1.0,
                })
                .sum();
            let now = run.updated_at.unwrap_or_else(Utc::now);
            // The budget and the intent in one commit: a crash after it leaves a pending step that
            // reconciles, never a second charge or a rerun nobody recorded.
            let ledger_doc = self.store.get(BUDGETS, &m.repo).await.map_err(retry)?;
            let mut ledger: Ledger =
                ledger_doc.as_ref().map(|d| d.parse()).transpose().map_err(retry)?.unwrap_or_default();
            if !ledger.spend(&self.config.allowance, now, minutes) {
                return settled(
                    StepState::Refused,
                    format!("the repository's healing budget for today cannot pay {minutes:.1} runner minutes"),
                );
            }
            record.attempt = Some(attempt);
            record.rerun_minutes = minutes;
            let ledger_pre = ledger_doc.map_or(Precondition::Absent, |d| Precondition::Version(d.version));
            let step_pre = version.map_or(Precondition::Absent, Precondition::Version);
            let batch = WriteBatch::new()
                .put_with(BUDGETS, &m.repo, to_value(&ledger).map_err(retry)?, ledger_pre)
                .put_with(PLAN_STEPS, &record.id, to_value(&*record).map_err(retry)?, step_pre);
            match self.store.commit(batch).await {
                Ok(_) => {}
                Err(StoreError::Conflict { .. }) => return Err(retry("the budget or the step changed meanwhile")),
                Err(e) => return Err(retry(e)),
            }
        }
        self.github.rerun_failed_jobs(&m.repo, run.id).await.map_err(|e| retry(format!("rerun failed jobs: {e}")))?;
        settled(StepState::Done, format!("rerun of the failed jobs requested (attempt {})", attempt + 1))
    }

    /// Quarantines the jobs that failed in the run's latest attempt.
    async fn step_quarantine(
        &self,
        m: &StepMessage,
        run: &aetherveil_github::WorkflowRun,
    ) -> Result<Settled, HandlerError> {
        let jobs = self
            .github
            .list_jobs(&m.repo, run.id, run.run_attempt)
            .await
            .map_err(|e| retry(format!("list the jobs of run {}: {e}", run.id)))?;
        let now = run.updated_at.unwrap_or_else(Utc::now);
        let mut marked = Vec::new();
        for job in jobs.iter().filter(|j| matches!(j.conclusion.as_deref(), Some("failure" | "timed_out"))) {
            let id = format!("{}:{}:{}", m.repo, run.name.as_deref().unwrap_or("-"), job.name);
            let since = match self.store.get(FLAKY, &id).await.map_err(retry)? {
                Some(doc) => doc.parse::<FlakyRecord>().map_err(retry)?.since,
                None => now,
            };
            let flaky = FlakyRecord {
                repo: m.repo.clone(),
                workflow: run.name.clone(),
                job: job.name.clone(),
                status: "quarantined".to_owned(),
                since,
                last_seen: now,
                signature: String::new(),
                reason: format!("orchestration plan {}: {}", m.plan_id, m.step.description),
            };
            self.store.put(FLAKY, &id, to_value(&flaky).map_err(retry)?).await.map_err(retry)?;
            marked.push(job.name.clone());
        }
        if marked.is_empty() {
            return settled(StepState::Done, "no failed job to quarantine in the latest attempt");
        }
        settled(StepState::Done, format!("quarantined: {}", marked.join(", ")))
    }

    /// Opens one issue per recommendation and target while it is open: a later plan with the
    /// same recommendation (another anomaly of the same job, a redelivery, a crash before the
    /// record was saved) finds it again by its marker instead of opening another.
    async fn step_issue(&self, m: &StepMessage) -> Result<Settled, HandlerError> {
        let marker = plan_issue_marker(&m.step.action, &m.step.target);
        // Another plan with the same recommendation may be opening its issue right now.
        let lock = self.issue_lock(&marker);
        let _guard = lock.lock().await;
        let query = IssueQuery { state: Some(IssueStateFilter::Open), labels: vec![self.config.issue_label.clone()] };
        let existing =
            self.github.list_issues(&m.repo, &query).await.map_err(|e| retry(format!("list issues: {e}")))?;
        if let Some(issue) = existing.iter().find(|i| i.body.as_deref().is_some_and(|b| b.contains(&marker))) {
            return settled(StepState::Done, format!("issue #{} is already open for it", issue.number));
        }
        let body = format!(
            "{marker}\nThe Aetherveil agent council agreed on **{}** for {}.\n\n\
             - Why: {}\n- What to do: {}\n- The plan, with each agent's view and the evidence: `GET /api/v1/plans/{}`\n",
            m.step.action, m.step.target, m.step.description, m.step.operation, m.plan_id
        );
        let new = NewIssue {
            title: format!("[aetherveil] {}: {}", m.step.action.replace('_', " "), m.step.target),
            body: Some(body),
            labels: vec![self.config.issue_label.clone()],
        };
        let issue = self.github.create_issue(&m.repo, &new).await.map_err(|e| retry(format!("create issue: {e}")))?;
        settled(StepState::Done, format!("issue #{} opened", issue.number))
    }

    async fn save_step(&self, record: &StepRecord) -> Result<(), HandlerError> {
        self.store.put(PLAN_STEPS, &record.id, to_value(record).map_err(retry)?).await.map_err(retry)
    }

    /// Attempt k of a run completed: if a plan step reran attempt k − 1, its outcome goes to
    /// `healing_history` (once) and onto the step.
    pub(crate) async fn record_plan_rerun_outcome(&self, run: &RunRecord) -> Result<Handled, HandlerError> {
        let q = Query::new().eq("run_id", run.run_id.0).eq("attempt", run.run_attempt - 1).limit(8);
        let docs = self.store.query(PLAN_STEPS, q).await.map_err(retry)?;
        let Some(doc) = docs.into_iter().find(|d| d.data["state"] == "done") else {
            return Ok(Handled::Ignored);
        };
        let mut record: StepRecord = doc.parse().map_err(retry)?;
        let success = run.conclusion.as_deref() == Some("success");
        if record.outcome.is_some() {
            return Ok(Handled::OutcomeRecorded { id: record.id, success });
        }
        record.outcome = Some(success);
        let entry = HistoryEntry {
            event_id: record.id.clone(),
            timestamp: run.updated_at,
            repository: record.repo.clone(),
            workflow_name: run.workflow_name.clone(),
            failure_type: "orchestration_plan".to_owned(),
            healing_actions: vec![record.action.clone()],
            success,
            duration_seconds: (run.updated_at - record.at).num_milliseconds().max(0) as f64 / 1000.0,
            priority: "normal".to_owned(),
            success_probability: 0.0,
            run_id: run.run_id.0,
            run_attempt: run.run_attempt - 1,
            rerun_minutes: record.rerun_minutes,
            evidence: Vec::new(),
            reason: format!("orchestration plan {} (step {})", record.plan_id, record.order),
            expected_value: 0.0,
        };
        let batch = WriteBatch::new()
            .put_with(collections::HEALING_HISTORY, &record.id, to_value(&entry).map_err(retry)?, Precondition::Absent)
            .put_with(PLAN_STEPS, &record.id, to_value(&record).map_err(retry)?, Precondition::Version(doc.version));
        match self.store.commit(batch).await {
            Ok(_) | Err(StoreError::Conflict { .. }) => Ok(Handled::OutcomeRecorded { id: record.id, success }),
            Err(e) => Err(retry(e)),
        }
    }
}

/// The first line of a plan issue's body: which recommendation, for what.
pub fn plan_issue_marker(action: &str, target: &str) -> String {
    format!("<!-- aetherveil-plan-issue: {action} {target} -->")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(operation: &str) -> PlanStep {
        PlanStep {
            order: 1,
            action: "rerun_failed_jobs".into(),
            executor: "healer".into(),
            operation: operation.into(),
            target: "acme/api run 5".into(),
            description: "d".into(),
        }
    }

    #[test]
    fn operations_of_ado_steps_map_to_what_the_healer_does() {
        assert_eq!(kind(&step("POST /repos/acme/api/actions/runs/5/rerun-failed-jobs")), Some(Kind::Rerun));
        assert_eq!(kind(&step("DELETE /repos/acme/api/actions/caches?ref=<the run's ref>")), Some(Kind::ClearCaches));
        assert_eq!(kind(&step("record the rerun's outcome in healing_history")), Some(Kind::RecordOutcome));
        assert_eq!(kind(&step("quarantine (healer_flaky)")), Some(Kind::Quarantine));
        assert_eq!(kind(&step("POST /repos/acme/api/issues (label aetherveil)")), Some(Kind::Issue));
        assert_eq!(kind(&step("promote the candidate")), None);
    }
}
