//! The async shell: a [`Handler`] on `pipeline-events` (run completions) and on `diagnoses`.
//!
//! ```text
//! run attempt completed with a failure ─┐
//! diagnosis of one of its jobs ─────────┴─▶ decidable? (every failed job of the attempt, listed
//!                                           by GitHub, has its diagnosis)
//!        ─▶ decide ─▶ commit: decision (create-only, `<run id>-<attempt>`) + budget spent +
//!                     signature occurrences          ← the intent, before any call
//!        ─▶ carry out, reconciling first: a rerun is asked for only while GitHub still shows
//!           the failed attempt as the latest; an issue is found again by its marker
//!        ─▶ commit: execution done
//! run attempt k > 1 completed ─▶ outcome of decision k − 1: healing_history, posteriors, streaks
//! run completed green ─▶ signatures of the repository quiet for `healthy_after`: said in their issue
//! ```
//!
//! Every step is idempotent, so a webhook redelivery, a bus redelivery or a crash at any point
//! repeats work without repeating an action. Work on one run is serialized in this process.

use crate::budget::Ledger;
use crate::config::HealerConfig;
use crate::decide::{Action, Failure, Mode, Situation, decide};
use crate::issue;
use crate::names::{self, BUDGETS, DECISIONS, FLAKY, POSTERIORS_ID, SIGNATURES};
use crate::posterior::Posteriors;
use crate::priors;
use crate::record::{
    DecisionRecord, Evidence, Execution, ExecutionState, FlakyRecord, HistoryEntry, MAX_LINES, RerunOutcome,
    SignatureRecord, Step,
};
use crate::signature::signature;
use aetherveil_bus::{Delivery, Handler, HandlerError};
use aetherveil_github::{GitHub, IssuePatch, IssueState, NewIssue};
use aetherveil_logscan::{Cause, Diagnosis};
use aetherveil_models::{PipelineEvent, PipelineEventKind, RunRecord, names as collections};
use aetherveil_store::{Order, Precondition, Query, Store, StoreError, WriteBatch, get_as, to_value};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use tokio::sync::Mutex;

/// Optimistic commits tried before the delivery is handed back to the bus.
const COMMIT_TRIES: usize = 8;
/// Recent passing runs of a job whose median duration is its usual duration.
const PASSING_SAMPLE: usize = 5;

/// What one delivery did (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    Ignored,
    /// A failed attempt whose jobs are not all diagnosed yet.
    Waiting,
    Decided {
        id: String,
        actions: Vec<Action>,
        executed: bool,
    },
    /// A decision already taken (a redelivery); finished if it was not.
    AlreadyDecided {
        id: String,
    },
    OutcomeRecorded {
        id: String,
        success: bool,
    },
    HealthyNoted(usize),
    /// A failed run left alone because the GitHub client has no credentials: the healer can
    /// neither list its jobs reliably nor rerun them.
    NoCredentials,
    /// A step of an orchestration plan, settled (or found settled).
    PlanStep {
        id: String,
        state: crate::plan_step::StepState,
    },
}

pub struct Healer {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) github: GitHub,
    pub(crate) config: HealerConfig,
    /// One lock per run in flight, so that two deliveries about one run never act at once, and
    /// one per issue marker, so that two runs with the same failure never open two issues.
    locks: StdMutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Default branches, read once per repository.
    default_branches: StdMutex<HashMap<String, String>>,
}

pub(crate) fn retry(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retry(e.to_string())
}

fn is_failed(conclusion: Option<&str>) -> bool {
    matches!(conclusion, Some("failure" | "timed_out" | "cancelled"))
}

impl Healer {
    pub fn new(store: Arc<dyn Store>, github: GitHub, config: HealerConfig) -> Self {
        Self {
            store,
            github,
            config,
            locks: StdMutex::new(HashMap::new()),
            default_branches: StdMutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &HealerConfig {
        &self.config
    }

    /// Declares the indexes behind the healer's queries (idempotent).
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        for (collection, fields) in names::INDEXES {
            self.store.ensure_index(collection, fields).await?;
        }
        Ok(())
    }

    /// Handles one message of either topic.
    pub async fn process(&self, delivery: &Delivery) -> Result<Handled, HandlerError> {
        let data = &delivery.message.data;
        if delivery.message.topic == names::TOPIC_PLAN_STEPS {
            let step: crate::plan_step::StepMessage =
                serde_json::from_slice(data).map_err(|e| HandlerError::Permanent(format!("not a plan step: {e}")))?;
            return self.on_plan_step(&delivery.message.id, &step).await;
        }
        if delivery.message.topic == aetherveil_logscan::names::TOPIC_DIAGNOSES {
            let diagnosis: Diagnosis =
                serde_json::from_slice(data).map_err(|e| HandlerError::Permanent(format!("not a diagnosis: {e}")))?;
            return self.on_diagnosis(&diagnosis).await;
        }
        let event: PipelineEvent =
            serde_json::from_slice(data).map_err(|e| HandlerError::Permanent(format!("not a pipeline event: {e}")))?;
        match &event.kind {
            PipelineEventKind::Run(run) if run.status.as_deref() == Some("completed") => self.on_run(run).await,
            _ => Ok(Handled::Ignored),
        }
    }

    async fn on_diagnosis(&self, d: &Diagnosis) -> Result<Handled, HandlerError> {
        let Some(run) =
            get_as::<RunRecord>(self.store.as_ref(), collections::RUNS, &d.run_id.to_string()).await.map_err(retry)?
        else {
            return Ok(Handled::Waiting);
        };
        if run.run_attempt != d.run_attempt
            || run.status.as_deref() != Some("completed")
            || !is_failed(run.conclusion.as_deref())
        {
            return Ok(Handled::Waiting);
        }
        self.try_decide(&run).await
    }

    async fn on_run(&self, run: &RunRecord) -> Result<Handled, HandlerError> {
        let mut handled = Handled::Ignored;
        if run.run_attempt > 1 {
            handled = self.record_outcome(run).await?;
            if handled == Handled::Ignored {
                handled = self.record_plan_rerun_outcome(run).await?;
            }
        }
        if is_failed(run.conclusion.as_deref()) {
            return self.try_decide(run).await;
        }
        if run.conclusion.as_deref() == Some("success") && handled == Handled::Ignored {
            return self.note_healthy(&run.repo.0, run.updated_at).await;
        }
        Ok(handled)
    }

    pub(crate) fn lock(&self, run_id: u64) -> Arc<Mutex<()>> {
        self.keyed_lock(format!("run:{run_id}"))
    }

    /// The lock of an issue marker: held from looking the issue up to recording its number.
    pub(crate) fn issue_lock(&self, marker: &str) -> Arc<Mutex<()>> {
        self.keyed_lock(format!("issue:{marker}"))
    }

    fn keyed_lock(&self, key: String) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if locks.len() > 4096 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(key).or_default().clone()
    }

    pub(crate) async fn mode(&self, repo: &str) -> Result<Mode, HandlerError> {
        names::repo_mode(self.store.as_ref(), repo, self.config.default_mode).await.map_err(retry)
    }

    async fn default_branch(&self, repo: &str) -> Option<String> {
        if let Some(b) = self.default_branches.lock().ok().and_then(|m| m.get(repo).cloned()) {
            return Some(b);
        }
        match self.github.get_repo(repo).await {
            Ok(r) => {
                if let Ok(mut m) = self.default_branches.lock() {
                    m.insert(repo.to_owned(), r.default_branch.clone());
                }
                Some(r.default_branch)
            }
            Err(e) => {
                tracing::warn!(repo, error = %e, "cannot read the repository's default branch");
                None
            }
        }
    }

    /// Decides about a failed run attempt once every failed job has its diagnosis, then acts.
    async fn try_decide(&self, run: &RunRecord) -> Result<Handled, HandlerError> {
        if !self.github.has_credentials() {
            return Ok(Handled::NoCredentials);
        }
        let lock = self.lock(run.run_id.0);
        let _guard = lock.lock().await;
        let repo = run.repo.0.as_str();
        let id = DecisionRecord::id_for(run.run_id.0, run.run_attempt);
        if let Some(doc) = self.store.get(DECISIONS, &id).await.map_err(retry)? {
            let record: DecisionRecord = doc.parse().map_err(retry)?;
            if record.execution.state == ExecutionState::Pending {
                self.execute(record, doc.version).await?;
            }
            return Ok(Handled::AlreadyDecided { id });
        }
        let jobs = match self.github.list_jobs(repo, run.run_id.0, Some(run.run_attempt)).await {
            Ok(jobs) => jobs,
            Err(aetherveil_github::Error::NotFound) => return Ok(Handled::Ignored),
            Err(e) => return Err(retry(format!("cannot list the jobs of run {}: {e}", run.run_id.0))),
        };
        let failed: Vec<_> = jobs
            .iter()
            .filter(|j| j.status.as_deref() == Some("completed") && is_failed(j.conclusion.as_deref()))
            .filter(|j| j.conclusion.as_deref() != Some("cancelled") || j.started_at.is_some())
            .collect();
        if failed.is_empty() {
            return Ok(Handled::Ignored);
        }
        let mut diagnoses = Vec::with_capacity(failed.len());
        for job in &failed {
            match get_as::<Diagnosis>(self.store.as_ref(), collections::DIAGNOSES, &job.id.to_string())
                .await
                .map_err(retry)?
            {
                Some(d) => diagnoses.push(d),
                // Its diagnosis will arrive on `diagnoses` and bring us back here.
                None => return Ok(Handled::Waiting),
            }
        }
        let mode = self.mode(repo).await?;
        let default_branch = self.default_branch(repo).await;
        let on_default = run.head_branch.is_some() && run.head_branch == default_branch && !run.from_fork;
        let now = run.updated_at;
        // What each failed job is, whatever the retries below: its signature, costs and evidence.
        let mut jobs_in = Vec::with_capacity(failed.len());
        for (job, d) in failed.iter().zip(&diagnoses) {
            let sig = signature(d);
            let sig_id = SignatureRecord::id_for(repo, run.workflow_name.as_deref(), &job.name, &sig);
            let minutes = match (job.started_at, job.completed_at) {
                (Some(s), Some(c)) => ((c - s).num_seconds().max(0) as f64 / 60.0).max(0.5),
                _ => 1.0,
            };
            let pass_minutes = self.usual_minutes(repo, &job.name).await?;
            let known = get_as::<SignatureRecord>(self.store.as_ref(), SIGNATURES, &sig_id).await.map_err(retry)?;
            let recurred = match &known {
                Some(k) if on_default && d.cause == Cause::Test && !d.transient => {
                    self.recurred_after_passing(run, &job.name, k).await?
                }
                _ => None,
            };
            let streak_reset = match &known {
                Some(k) if k.streak >= self.config.policy.masking_streak => {
                    self.streak_reset(run, &job.name, k).await?
                }
                _ => None,
            };
            let evidence = Evidence {
                job: job.name.clone(),
                job_id: job.id,
                cause: if recurred.is_some() { Cause::FlakyTest } else { d.cause },
                transient: d.transient || recurred.is_some(),
                summary: d.summary.clone(),
                signature: sig,
                lines: top_lines(d),
                html_url: job.html_url.clone(),
                recurred,
                streak_reset,
            };
            jobs_in.push((sig_id, d, minutes, pass_minutes, evidence));
        }
        // The versioned state (posteriors, budget, signature records) is read again on a conflict.
        for _ in 0..COMMIT_TRIES {
            let posteriors: Posteriors = self.read_or_default(collections::AGENT_STATE, POSTERIORS_ID).await?.0;
            let (ledger, ledger_version) = self.read_or_default::<Ledger>(BUDGETS, repo).await?;
            let mut failures = Vec::new();
            let mut signatures = Vec::new();
            for (sig_id, d, minutes, pass_minutes, e) in &jobs_in {
                let doc = self.store.get(SIGNATURES, sig_id).await.map_err(retry)?;
                let current: Option<SignatureRecord> = doc.as_ref().map(|d| d.parse()).transpose().map_err(retry)?;
                let estimate = posteriors.probability(e.cause, &e.signature, &e.job);
                let (p, exploring) = estimate.for_decision(e.transient);
                failures.push(Failure {
                    job: e.job.clone(),
                    job_id: e.job_id,
                    cause: e.cause,
                    transient: e.transient,
                    confidence: d.confidence,
                    signature: e.signature.clone(),
                    minutes: *minutes,
                    pass_minutes: *pass_minutes,
                    p_rerun: p * priors::attempt_factor(run.run_attempt),
                    exploring,
                    p_cache: None,
                    failing_streak: if e.streak_reset.is_some() { 0 } else { current.as_ref().map_or(0, |c| c.streak) },
                });
                signatures.push((sig_id.clone(), current, doc.map(|d| d.version)));
            }
            let situation = Situation {
                failures,
                run_attempt: run.run_attempt,
                trigger: run.event.clone(),
                from_fork: run.from_fork,
                default_branch: on_default,
                budget: ledger.remaining(&self.config.allowance, now),
                mode,
            };
            let decision = decide(&situation, &self.config.policy);
            let mut ledger = ledger;
            if decision.execute && decision.reruns() {
                let spent = ledger.spend(&self.config.allowance, now, situation.rerun_minutes());
                debug_assert!(spent, "decide checked the budget");
            }
            let record = DecisionRecord {
                id: id.clone(),
                repo: repo.to_owned(),
                run_id: run.run_id.0,
                run_attempt: run.run_attempt,
                workflow_name: run.workflow_name.clone(),
                head_branch: run.head_branch.clone(),
                run_url: run.html_url.clone(),
                failed_at: now,
                evidence: jobs_in.iter().map(|j| j.4.clone()).collect(),
                execution: Execution {
                    state: if decision.execute { ExecutionState::Pending } else { ExecutionState::NotExecuted },
                    steps: Vec::new(),
                    tries: 0,
                    last_error: None,
                },
                decision,
                outcome: None,
            };
            let mut batch = WriteBatch::new().put_with(DECISIONS, &id, decision_doc(&record)?, Precondition::Absent);
            if record.decision.execute && record.decision.reruns() {
                batch = batch.put_with(BUDGETS, repo, to_value(&ledger).map_err(retry)?, precondition(ledger_version));
            }
            for ((sig_id, mut current, version), e) in signatures.into_iter().zip(&record.evidence) {
                if let (Some(c), Some(_)) = (current.as_mut(), &e.streak_reset) {
                    c.streak = 0;
                }
                let next = SignatureRecord::with_occurrence(current, &record, e);
                batch = batch.put_with(SIGNATURES, &sig_id, signature_doc(&next)?, precondition(version));
            }
            match self.store.commit(batch).await {
                Ok(_) => {}
                Err(StoreError::Conflict { .. }) => {
                    if self.store.get(DECISIONS, &id).await.map_err(retry)?.is_some() {
                        return Ok(Handled::AlreadyDecided { id });
                    }
                    continue;
                }
                Err(e) => return Err(retry(e)),
            }
            tracing::info!(
                decision = %id,
                repo,
                actions = ?record.decision.actions,
                execute = record.decision.execute,
                reason = %record.decision.reason,
                "healer decided"
            );
            let (actions, executed) = (record.decision.actions.clone(), record.decision.execute);
            if executed {
                self.execute(record, 1).await?;
            }
            return Ok(Handled::Decided { id, actions, executed });
        }
        Err(HandlerError::Retry(format!("decision {id}: too much contention on the healer's records")))
    }

    /// Whether a test failure on the default branch came back: its signature failed on an earlier
    /// run of the branch, and the job passed there since (see [`Self::passed_since`]). The default
    /// branch is expected green, and a breakage there fails every run until it is fixed; a test
    /// that fails, passes, then fails the same way is flaky (Trunk flags tests that flip on
    /// protected branches). Pull request branches are left out: their author may break, fix and
    /// break the same test again.
    async fn recurred_after_passing(
        &self,
        run: &RunRecord,
        job: &str,
        sig: &SignatureRecord,
    ) -> Result<Option<String>, HandlerError> {
        let Some(branch) = run.head_branch.as_deref() else { return Ok(None) };
        let Some(earlier) = sig
            .occurrences
            .iter()
            .filter(|o| o.branch.as_deref() == Some(branch) && o.run_id != run.run_id.0 && o.at < run.updated_at)
            .min_by_key(|o| o.at)
        else {
            return Ok(None);
        };
        let Some(pass) = self.passed_since(run, job, branch, earlier.at).await? else { return Ok(None) };
        Ok(Some(format!(
            "the same failure hit run {} on {branch} at {}, and {job} passed on {branch} since (run {}): a flaky test",
            earlier.run_id,
            earlier.at.format("%Y-%m-%d %H:%M"),
            pass.run_id.0
        )))
    }

    /// Whether a masked signature (its last `masking_streak` reruns failed) may be rerun again:
    /// the job passed on this branch since the signature last failed, so the failure does not
    /// fail every run. Without this, a transient failure that failed a few reruns by bad luck
    /// would never be rerun again; a fault that fails every run stays masked.
    async fn streak_reset(
        &self,
        run: &RunRecord,
        job: &str,
        sig: &SignatureRecord,
    ) -> Result<Option<String>, HandlerError> {
        let Some(branch) = run.head_branch.as_deref() else { return Ok(None) };
        let Some(pass) = self.passed_since(run, job, branch, sig.last_seen).await? else { return Ok(None) };
        Ok(Some(format!(
            "its last {} reruns failed, but {job} passed on {branch} since (run {}): it may be rerun again",
            sig.streak, pass.run_id.0
        )))
    }

    /// The first passing attempt of `job` on `branch` in a run created after `after` that passed
    /// before `run` completed, if any: a late run of an older commit, or a rerun of one, does not
    /// count.
    async fn passed_since(
        &self,
        run: &RunRecord,
        job: &str,
        branch: &str,
        after: DateTime<Utc>,
    ) -> Result<Option<aetherveil_models::JobRecord>, HandlerError> {
        let mut query = Query::new().eq("repo", run.repo.0.as_str());
        if let Some(workflow) = run.workflow_name.as_deref() {
            query = query.eq("workflow_name", workflow);
        }
        let query = query
            .eq("name", job)
            .eq("head_branch", branch)
            .eq("conclusion", "success")
            .filter("created_at", aetherveil_store::Op::Gt, to_value(&after).map_err(retry)?)
            .order_by("created_at", Order::Asc)
            .limit(PASSING_SAMPLE);
        let passed = self.store.query(collections::JOBS, query).await.map_err(retry)?;
        Ok(passed
            .iter()
            .filter_map(|d| d.parse::<aetherveil_models::JobRecord>().ok())
            .find(|j| j.run_attempt == 1 && j.completed_at.is_some_and(|at| at < run.updated_at)))
    }

    /// The median duration of the job's last passing runs, in minutes.
    async fn usual_minutes(&self, repo: &str, job: &str) -> Result<Option<f64>, HandlerError> {
        let query = Query::new()
            .eq("repo", repo)
            .eq("name", job)
            .eq("conclusion", "success")
            .order_by("completed_at", Order::Desc)
            .limit(PASSING_SAMPLE);
        let mut minutes: Vec<f64> = self
            .store
            .query(collections::JOBS, query)
            .await
            .map_err(retry)?
            .iter()
            .filter_map(|d| d.parse::<aetherveil_models::JobRecord>().ok())
            .filter_map(|j| Some((j.completed_at? - j.started_at?).num_seconds() as f64 / 60.0))
            .filter(|m| *m >= 0.0)
            .collect();
        if minutes.is_empty() {
            return Ok(None);
        }
        minutes.sort_by(f64::total_cmp);
        Ok(Some(minutes[minutes.len() / 2].max(0.5)))
    }

    async fn read_or_default<T: DeserializeOwned + Default>(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<(T, Option<u64>), HandlerError> {
        match self.store.get(collection, id).await.map_err(retry)? {
            Some(doc) => Ok((doc.parse().map_err(retry)?, Some(doc.version))),
            None => Ok((T::default(), None)),
        }
    }

    /// Carries out a pending decision. Each action checks GitHub's state first, so repeating this
    /// after a crash or a failed call never repeats an action.
    async fn execute(&self, mut record: DecisionRecord, mut version: u64) -> Result<(), HandlerError> {
        record.execution.tries += 1;
        let result = self.carry_out(&mut record).await;
        match &result {
            Ok(()) => record.execution.state = ExecutionState::Done,
            Err(e) => {
                record.execution.last_error = Some(e.clone());
                tracing::warn!(decision = %record.id, error = %e, tries = record.execution.tries, "healing action failed; will retry");
            }
        }
        // Save progress (steps, error) whatever happened; the version guards against a racing writer.
        for _ in 0..COMMIT_TRIES {
            let doc = decision_doc(&record)?;
            match self
                .store
                .commit(WriteBatch::new().put_with(DECISIONS, &record.id, doc, Precondition::Version(version)))
                .await
            {
                Ok(_) => break,
                Err(StoreError::Conflict { .. }) => {
                    let Some(current) = self.store.get(DECISIONS, &record.id).await.map_err(retry)? else { break };
                    let stored: DecisionRecord = current.parse().map_err(retry)?;
                    // Keep an outcome recorded meanwhile.
                    record.outcome = record.outcome.take().or(stored.outcome);
                    version = current.version;
                }
                Err(e) => return Err(retry(e)),
            }
        }
        result.map_err(HandlerError::Retry)
    }

    async fn carry_out(&self, record: &mut DecisionRecord) -> Result<(), String> {
        let repo = record.repo.clone();
        let actions = record.decision.actions.clone();
        for action in actions {
            if record.execution.steps.iter().any(|s| s.action == action) {
                continue;
            }
            let detail = match action {
                Action::RerunFailedJobs => self.rerun(record).await?,
                Action::ClearCachesThenRerun => {
                    let cleared = self.clear_caches(&repo, record.head_branch.as_deref()).await?;
                    format!("{cleared}; {}", self.rerun(record).await?)
                }
                Action::OpenIssue => {
                    let mut numbers = Vec::new();
                    for &i in &record.decision.issue_for.clone() {
                        let e = record.evidence[i].clone();
                        numbers.push(self.upsert_issue(record, &e).await?);
                    }
                    numbers.iter().map(|n| format!("issue #{n} up to date")).collect::<Vec<_>>().join(", ")
                }
                Action::MarkFlaky | Action::Quarantine => self.mark_flaky(record, action).await?,
                Action::Nothing => continue,
            };
            record.execution.steps.push(Step { action, detail, at: Utc::now() });
        }
        Ok(())
    }

    /// Asks GitHub to rerun the failed jobs, unless the run has moved past the failed attempt (a
    /// rerun already happened: ours before a crash, or someone else's).
    async fn rerun(&self, record: &DecisionRecord) -> Result<String, String> {
        let run = self.github.get_run(&record.repo, record.run_id).await.map_err(|e| format!("get run: {e}"))?;
        if let Some(latest) = run.run_attempt.filter(|a| *a > record.run_attempt) {
            return Ok(format!("already rerun: attempt {latest} exists"));
        }
        self.github
            .rerun_failed_jobs(&record.repo, record.run_id)
            .await
            .map_err(|e| format!("rerun failed jobs: {e}"))?;
        Ok(format!("rerun of the failed jobs requested (attempt {})", record.run_attempt + 1))
    }

    pub(crate) async fn clear_caches(&self, repo: &str, branch: Option<&str>) -> Result<String, String> {
        let caches = self.github.list_caches(repo, None).await.map_err(|e| format!("list caches: {e}"))?;
        let wanted = branch.map(|b| format!("refs/heads/{b}"));
        let mut deleted = 0;
        for c in caches.iter().filter(|c| wanted.as_deref().is_none_or(|w| c.git_ref == w)) {
            match self.github.delete_cache(repo, c.id).await {
                Ok(()) | Err(aetherveil_github::Error::NotFound) => deleted += 1,
                Err(e) => return Err(format!("delete cache {}: {e}", c.id)),
            }
        }
        Ok(format!("{deleted} caches cleared"))
    }

    /// Opens the signature's issue, or finds it again (after a crash, by its marker), and rewrites
    /// its body with the latest occurrences.
    async fn upsert_issue(&self, record: &DecisionRecord, e: &Evidence) -> Result<u64, String> {
        let sig_id = SignatureRecord::id_for(&record.repo, record.workflow_name.as_deref(), &e.job, &e.signature);
        // Another run with the same failure may be opening its issue right now.
        let lock = self.issue_lock(&sig_id);
        let _guard = lock.lock().await;
        let doc = self.store.get(SIGNATURES, &sig_id).await.map_err(|e| e.to_string())?;
        let Some(doc) = doc else { return Err(format!("signature {sig_id} is not recorded")) };
        let sig: SignatureRecord = doc.parse().map_err(|e| e.to_string())?;
        let body = issue::body(&sig_id, &sig, record.failed_at, self.config.healthy_after);
        let number = match sig.issue {
            Some(n) => n,
            None => {
                let marker = issue::marker(&sig_id);
                let query = aetherveil_github::IssueQuery {
                    state: Some(aetherveil_github::IssueStateFilter::All),
                    labels: vec![self.config.issue_label.clone()],
                };
                let existing =
                    self.github.list_issues(&record.repo, &query).await.map_err(|e| format!("list issues: {e}"))?;
                match existing.iter().find(|i| i.body.as_deref().is_some_and(|b| b.contains(&marker))) {
                    Some(i) => i.number,
                    None => {
                        let new = NewIssue {
                            title: issue::title(&sig),
                            body: Some(body.clone()),
                            labels: vec![self.config.issue_label.clone()],
                        };
                        self.github
                            .create_issue(&record.repo, &new)
                            .await
                            .map_err(|e| format!("create issue: {e}"))?
                            .number
                    }
                }
            }
        };
        let patch = IssuePatch { body: Some(body), state: Some(IssueState::Open), ..IssuePatch::default() };
        self.github
            .update_issue(&record.repo, number, &patch)
            .await
            .map_err(|e| format!("update issue #{number}: {e}"))?;
        if sig.issue != Some(number) {
            aetherveil_store::update(self.store.as_ref(), SIGNATURES, &sig_id, |cur| {
                let mut v = cur.cloned().unwrap_or_default();
                v["issue"] = number.into();
                v
            })
            .await
            .map_err(|e| e.to_string())?;
        }
        Ok(number)
    }

    async fn mark_flaky(&self, record: &DecisionRecord, action: Action) -> Result<String, String> {
        let status = if action == Action::Quarantine { "quarantined" } else { "flaky" };
        let mut marked = Vec::new();
        for &i in &record.decision.flaky {
            let e = &record.evidence[i];
            let id = format!("{}:{}:{}", record.repo, record.workflow_name.as_deref().unwrap_or("-"), e.job);
            let current: Option<FlakyRecord> =
                get_as(self.store.as_ref(), FLAKY, &id).await.map_err(|e| e.to_string())?;
            // Quarantine is the stronger mark: a later flaky mark does not lift it.
            let status = match &current {
                Some(c) if c.status == "quarantined" => "quarantined",
                _ => status,
            };
            let flaky = FlakyRecord {
                repo: record.repo.clone(),
                workflow: record.workflow_name.clone(),
                job: e.job.clone(),
                status: status.to_owned(),
                since: current.as_ref().map_or(record.failed_at, |c| c.since),
                last_seen: record.failed_at,
                signature: e.signature.clone(),
                reason: record.decision.reason.clone(),
            };
            let doc = to_value(&flaky).map_err(|e| e.to_string())?;
            self.store.put(FLAKY, &id, doc).await.map_err(|e| e.to_string())?;
            marked.push(format!("{} {status}", e.job));
        }
        Ok(marked.join(", "))
    }

    /// The run's attempt k completed: records how the rerun of attempt k − 1 went.
    async fn record_outcome(&self, run: &RunRecord) -> Result<Handled, HandlerError> {
        let lock = self.lock(run.run_id.0);
        let _guard = lock.lock().await;
        let id = DecisionRecord::id_for(run.run_id.0, run.run_attempt - 1);
        let Some(record) = get_as::<DecisionRecord>(self.store.as_ref(), DECISIONS, &id).await.map_err(retry)? else {
            return Ok(Handled::Ignored);
        };
        if !record.decision.reruns() || record.execution.state == ExecutionState::NotExecuted {
            return Ok(Handled::Ignored);
        }
        if let Some(o) = &record.outcome {
            return Ok(Handled::OutcomeRecorded { id, success: o.success });
        }
        let jobs = self
            .github
            .list_jobs(&record.repo, run.run_id.0, Some(run.run_attempt))
            .await
            .map_err(|e| retry(format!("cannot list the jobs of the rerun: {e}")))?;
        let passed = |name: &str| jobs.iter().any(|j| j.name == name && j.conclusion.as_deref() == Some("success"));
        let success = run.conclusion.as_deref() == Some("success");
        let per_job: Vec<(String, bool)> = record.evidence.iter().map(|e| (e.job.clone(), passed(&e.job))).collect();
        let outcome =
            RerunOutcome { success, attempt: run.run_attempt, completed_at: run.updated_at, jobs: per_job.clone() };
        let entry = history_entry(&record, run, success);
        for _ in 0..COMMIT_TRIES {
            let Some(doc) = self.store.get(DECISIONS, &id).await.map_err(retry)? else { return Ok(Handled::Ignored) };
            let mut current: DecisionRecord = doc.parse().map_err(retry)?;
            if current.outcome.is_some() {
                return Ok(Handled::OutcomeRecorded { id, success });
            }
            current.outcome = Some(outcome.clone());
            let (mut posteriors, p_version) =
                self.read_or_default::<Posteriors>(collections::AGENT_STATE, POSTERIORS_ID).await?;
            let mut batch = WriteBatch::new()
                .put_with(collections::HEALING_HISTORY, &id, to_value(&entry).map_err(retry)?, Precondition::Absent)
                .put_with(DECISIONS, &id, decision_doc(&current)?, Precondition::Version(doc.version));
            for (e, (_, ok)) in current.evidence.iter().zip(&per_job) {
                posteriors.record(e.cause, &e.signature, &e.job, *ok);
                let sig_id =
                    SignatureRecord::id_for(&current.repo, current.workflow_name.as_deref(), &e.job, &e.signature);
                if let Some(doc) = self.store.get(SIGNATURES, &sig_id).await.map_err(retry)? {
                    let mut sig: SignatureRecord = doc.parse().map_err(retry)?;
                    sig.streak = if *ok { 0 } else { sig.streak + 1 };
                    batch =
                        batch.put_with(SIGNATURES, &sig_id, signature_doc(&sig)?, Precondition::Version(doc.version));
                }
            }
            batch = batch.put_with(
                collections::AGENT_STATE,
                POSTERIORS_ID,
                to_value(&posteriors).map_err(retry)?,
                precondition(p_version),
            );
            match self.store.commit(batch).await {
                Ok(_) => {
                    tracing::info!(decision = %id, success, "healing outcome recorded");
                    return Ok(Handled::OutcomeRecorded { id, success });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(retry(e)),
            }
        }
        Err(HandlerError::Retry(format!("outcome {id}: too much contention on the healer's records")))
    }

    /// A green run in `repo`: every signature with an issue that has not failed for
    /// `healthy_after` is said to be healthy in its issue (once, until it fails again).
    async fn note_healthy(&self, repo: &str, now: DateTime<Utc>) -> Result<Handled, HandlerError> {
        if self.mode(repo).await? != Mode::Act {
            return Ok(Handled::Ignored);
        }
        let quiet_since = now - self.config.healthy_after;
        let query = Query::new()
            .eq("repo", repo)
            .filter("last_seen", aetherveil_store::Op::Lt, to_value(&quiet_since).map_err(retry)?)
            .order_by("last_seen", Order::Asc)
            .limit(200);
        let docs = self.store.query(SIGNATURES, query).await.map_err(retry)?;
        let mut noted = 0;
        for doc in docs {
            let mut sig: SignatureRecord = doc.parse().map_err(retry)?;
            let Some(number) = sig.issue else { continue };
            if sig.healthy_noted.is_some() {
                continue;
            }
            let body = issue::body(&doc.id, &sig, now, self.config.healthy_after);
            let patch = IssuePatch { body: Some(body), ..IssuePatch::default() };
            self.github
                .update_issue(repo, number, &patch)
                .await
                .map_err(|e| retry(format!("cannot update issue #{number}: {e}")))?;
            sig.healthy_noted = Some(now);
            // Quiet for `healthy_after`: a masked signature may be retried again.
            sig.streak = 0;
            match self
                .store
                .commit(WriteBatch::new().put_with(
                    SIGNATURES,
                    &doc.id,
                    signature_doc(&sig)?,
                    Precondition::Version(doc.version),
                ))
                .await
            {
                Ok(_) => noted += 1,
                // A new occurrence landed meanwhile: its decision rewrites the issue.
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(retry(e)),
            }
        }
        Ok(if noted == 0 { Handled::Ignored } else { Handled::HealthyNoted(noted) })
    }
}

#[async_trait]
impl Handler for Healer {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        self.process(delivery).await.map(|_| ())
    }
}

fn history_entry(record: &DecisionRecord, run: &RunRecord, success: bool) -> HistoryEntry {
    HistoryEntry {
        event_id: record.id.clone(),
        timestamp: run.updated_at,
        repository: record.repo.clone(),
        workflow_name: record.workflow_name.clone(),
        failure_type: record.evidence.iter().map(|e| e.cause.label()).collect::<Vec<_>>().join(","),
        healing_actions: record.decision.actions.iter().map(|a| a.label().to_owned()).collect(),
        success,
        duration_seconds: (run.updated_at - record.failed_at).num_milliseconds().max(0) as f64 / 1000.0,
        priority: if record.decision.situation.default_branch { "high" } else { "normal" }.to_owned(),
        success_probability: record.decision.success_probability,
        run_id: record.run_id,
        run_attempt: record.run_attempt,
        rerun_minutes: record.decision.situation.rerun_minutes(),
        evidence: record.evidence.clone(),
        reason: record.decision.reason.clone(),
        expected_value: record.decision.expected_value,
    }
}

fn precondition(version: Option<u64>) -> Precondition {
    version.map_or(Precondition::Absent, Precondition::Version)
}

fn decision_doc(record: &DecisionRecord) -> Result<serde_json::Value, HandlerError> {
    to_value(record).map_err(retry)
}

fn signature_doc(record: &SignatureRecord) -> Result<serde_json::Value, HandlerError> {
    to_value(record).map_err(retry)
}

/// The diagnosis's most relevant lines, in log order.
fn top_lines(d: &Diagnosis) -> Vec<String> {
    let mut scored: Vec<_> = d.lines.iter().filter(|l| l.score > 0.0).collect();
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    scored.truncate(MAX_LINES);
    scored.sort_by_key(|l| l.line);
    scored.iter().map(|l| l.text.clone()).collect()
}
