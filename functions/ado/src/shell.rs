//! The async shell: triggers in, evidence gathered from the store, the council consulted, the
//! plan recorded (and, in `act`, its steps handed to their executors).
//!
//! ```text
//! diagnoses     ─▶ the healer cannot settle it? (unknown cause, confidence below
//!                  min_diagnosis_confidence, or a pull_request_target / fork run, which the
//!                  healer never reruns)                        plan `diagnosis-<job id>`
//! anomalies     ─▶ an episode opened                           plan `anomaly-<episode id>`
//! gate-verdicts ─▶ a verdict failed                            plan `gate-<report id>`
//! POST /api/v1/plans, `aetherveil plan --run <id>`             plan `manual-<uuid>`
//!
//! ─▶ learn pending outcomes of the repository's plans (healing_history) into the weights
//! ─▶ gather evidence ─▶ council (experts, model, consensus) ─▶ execution plan in the repo's mode
//! ─▶ one commit: the plan (create-only, so redeliveries plan once) + in `act`, one message per
//!    step on `orchestration-steps`
//! ```

use crate::config::AdoConfig;
use crate::council::Council;
use crate::decision::{Action, Role};
use crate::evidence::{
    AnomalyFacts, Context, DiagnosisFacts, Evidence, FlakyJob, FlakyTest, GateFacts, HealerView, HealingFacts, RunFacts,
};
use crate::llm::LlmClient;
use crate::names::{TOPIC_STEPS, WEIGHTS_ID};
use crate::plan::{Mode, Plan, PlanOutcome, StepStatus, execution_plan};
use crate::weights::Records;
use aetherveil_bus::{Delivery, Handler, HandlerError};
use aetherveil_gate::SecurityReport;
use aetherveil_logscan::{Cause, Diagnosis};
use aetherveil_models::RunRecord;
use aetherveil_models::names::{
    AGENT_STATE, ANOMALIES, BASELINES, DIAGNOSES, HEALING_HISTORY, ORCHESTRATION_PLANS, RUNS, SECURITY_REPORTS,
};
use aetherveil_monitor::{Anomaly, AnomalyStatus};
use aetherveil_store::{Message, Order, Precondition, Query, Store, StoreError, WriteBatch, get_as, to_value};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What went wrong in the orchestrator.
#[derive(Debug, thiserror::Error)]
pub enum AdoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("cannot build the model client: {0}")]
    Client(String),
}

/// What one delivery did (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Not for the council (settled by the healer, a closed anomaly, a passing verdict).
    Ignored(&'static str),
    Planned {
        id: String,
        action: Action,
        agreed: bool,
    },
    AlreadyPlanned(String),
}

/// An on-demand request (`POST /api/v1/plans`): context in, plan out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// `owner/name`; taken from the run when `run_id` is given.
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub run_id: Option<u64>,
    /// An action to decide about (`promote_release` before a deploy, say).
    #[serde(default)]
    pub proposed_action: Option<String>,
    /// The seed's context. A `current_state` object is taken as the evidence itself (fields of
    /// [`Evidence`]), instead of gathering it from the store.
    #[serde(default)]
    pub context: Option<RequestContext>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestContext {
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub source_data: Value,
    #[serde(default)]
    pub current_state: Value,
}

/// The orchestrator function.
pub struct Ado {
    store: Arc<dyn Store>,
    council: Council,
    config: AdoConfig,
}

fn retry(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retry(e.to_string())
}

/// Branches a release is cut from.
fn release_branch(branch: Option<&str>) -> bool {
    branch.is_some_and(|b| matches!(b, "main" | "master" | "trunk") || b.starts_with("release"))
}

fn run_facts(r: &RunRecord) -> RunFacts {
    RunFacts {
        run_id: r.run_id.0,
        run_attempt: r.run_attempt,
        workflow: r.workflow_name.clone(),
        event: r.event.clone(),
        from_fork: r.from_fork,
        head_branch: r.head_branch.clone(),
        head_sha: r.head_sha.clone(),
        release_branch: release_branch(r.head_branch.as_deref()) && !r.from_fork,
        conclusion: r.conclusion.clone(),
    }
}

fn diagnosis_facts(d: &Diagnosis) -> DiagnosisFacts {
    DiagnosisFacts {
        id: d.id.clone(),
        job: d.job_name.clone(),
        cause: d.cause,
        confidence: d.confidence,
        transient: d.transient,
        summary: d.summary.clone(),
        failing_tests: d.failing_tests.clone(),
    }
}

fn anomaly_facts(a: &Anomaly) -> AnomalyFacts {
    AnomalyFacts {
        id: a.id.clone(),
        workflow: a.workflow.clone(),
        job: a.job.clone(),
        kind: a.kind,
        branch_class: a.branch_class.clone(),
        score: a.score,
        threshold: a.threshold,
        ratio: a.evidence.ratio,
        value: a.evidence.value,
        center: a.evidence.expected.unwrap_or(a.evidence.center),
        open: a.status == AnomalyStatus::Open,
    }
}

fn gate_facts(r: &SecurityReport) -> GateFacts {
    GateFacts {
        id: r.id.clone(),
        passed: r.passed,
        policy: r.policy.clone(),
        git_ref: r.git_ref.clone(),
        reasons: r.reasons.clone(),
        max_risk: r.max_risk,
    }
}

/// A document id from an arbitrary key (anomaly ids hold `~` and encoded names).
fn safe_id(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect()
}

/// What a trigger carries into the evidence.
#[derive(Default)]
struct Seed {
    diagnosis: Option<Diagnosis>,
    anomaly: Option<Anomaly>,
    gate: Option<SecurityReport>,
    proposed: Option<Action>,
}

impl Ado {
    pub fn new(store: Arc<dyn Store>, config: AdoConfig) -> Result<Self, AdoError> {
        let llm = match &config.llm {
            Some(c) => Some(LlmClient::new(c.clone()).map_err(|e| AdoError::Client(e.to_string()))?),
            None => None,
        };
        Ok(Self { store, council: Council { rule: config.rule, llm }, config })
    }

    pub fn config(&self) -> &AdoConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Declares the indexes behind the orchestrator's queries (idempotent).
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        for (collection, fields) in crate::names::INDEXES {
            self.store.ensure_index(collection, fields).await?;
        }
        Ok(())
    }

    /// Handles one message of `diagnoses`, `anomalies` or `gate-verdicts`.
    pub async fn process(&self, delivery: &Delivery) -> Result<Handled, HandlerError> {
        let m = &delivery.message;
        let bad = |what: &str, e: serde_json::Error| HandlerError::Permanent(format!("not {what}: {e}"));
        if m.topic == aetherveil_logscan::names::TOPIC_DIAGNOSES {
            let d: Diagnosis = serde_json::from_slice(&m.data).map_err(|e| bad("a diagnosis", e))?;
            return self.on_diagnosis(d).await;
        }
        if m.topic == aetherveil_monitor::TOPIC_ANOMALIES {
            let v: Value = serde_json::from_slice(&m.data).map_err(|e| bad("an anomaly message", e))?;
            if v["change"] != "opened" {
                return Ok(Handled::Ignored("the anomaly did not open"));
            }
            let a: Anomaly = serde_json::from_value(v["anomaly"].clone()).map_err(|e| bad("an anomaly", e))?;
            let id = format!("anomaly-{}", safe_id(&a.id));
            let source = v["anomaly"].clone();
            let repo = a.repo.clone();
            return self.make(id, "anomaly", source, &repo, None, Seed { anomaly: Some(a), ..Seed::default() }).await;
        }
        if m.topic == aetherveil_gate::names::TOPIC_VERDICTS {
            let r: SecurityReport = serde_json::from_slice(&m.data).map_err(|e| bad("a gate verdict", e))?;
            if r.passed {
                return Ok(Handled::Ignored("the gate passed"));
            }
            let run = match r.run_id {
                Some(id) => get_as::<RunRecord>(self.store.as_ref(), RUNS, &id.to_string()).await.map_err(retry)?,
                None => None,
            };
            let id = format!("gate-{}", safe_id(&r.id));
            let source = to_value(&r).map_err(retry)?;
            let repo = r.repo.clone();
            return self.make(id, "gate_failure", source, &repo, run, Seed { gate: Some(r), ..Seed::default() }).await;
        }
        Ok(Handled::Ignored("not a topic of the orchestrator"))
    }

    /// Whether a diagnosis goes to the council: the healer cannot settle it.
    pub fn unsettled(&self, d: &Diagnosis, run: Option<&RunRecord>) -> bool {
        d.cause == Cause::Unknown
            || d.confidence < self.config.min_diagnosis_confidence
            || run.is_some_and(|r| r.event == "pull_request_target" || r.from_fork)
    }

    async fn on_diagnosis(&self, d: Diagnosis) -> Result<Handled, HandlerError> {
        let run = get_as::<RunRecord>(self.store.as_ref(), RUNS, &d.run_id.to_string()).await.map_err(retry)?;
        if !self.unsettled(&d, run.as_ref()) {
            return Ok(Handled::Ignored("the healer settles this diagnosis"));
        }
        let id = format!("diagnosis-{}", d.job_id);
        let source = to_value(&d).map_err(retry)?;
        let repo = d.repo.clone();
        self.make(id, "diagnosis", source, &repo, run, Seed { diagnosis: Some(d), ..Seed::default() }).await
    }

    async fn make(
        &self,
        id: String,
        event_type: &str,
        source: Value,
        repo: &str,
        run: Option<RunRecord>,
        seed: Seed,
    ) -> Result<Handled, HandlerError> {
        if self.store.get(ORCHESTRATION_PLANS, &id).await.map_err(retry)?.is_some() {
            return Ok(Handled::AlreadyPlanned(id));
        }
        let evidence = self.gather(repo, run.as_ref(), seed).await.map_err(retry)?;
        let plan = self.deliberate(id.clone(), event_type, source, evidence, Utc::now()).await.map_err(retry)?;
        let handled = Handled::Planned {
            id: id.clone(),
            action: plan.consensus_decision.primary_recommendation,
            agreed: plan.consensus_decision.consensus == crate::consensus::Consensus::Agreed,
        };
        match self.store.commit(self.batch(&plan).map_err(retry)?).await {
            Ok(_) => Ok(handled),
            Err(StoreError::Conflict { .. }) => Ok(Handled::AlreadyPlanned(id)),
            Err(e) => Err(retry(e)),
        }
    }

    /// The plan (create-only) and, for dispatched steps, their messages.
    fn batch(&self, plan: &Plan) -> Result<WriteBatch, StoreError> {
        let mut batch = WriteBatch::new().create(ORCHESTRATION_PLANS, &plan.id, to_value(plan)?);
        for step in plan.execution_plan.steps.iter().filter(|s| s.status == StepStatus::Dispatched) {
            let data = serde_json::to_vec(
                &json!({"plan_id": plan.id, "repo": plan.repo, "run_id": plan.run_id, "step": step}),
            )
            .map_err(|e| StoreError::Encode(e.to_string()))?;
            batch = batch.publish(Message {
                id: format!("plan-step:{}:{}", plan.id, step.order),
                topic: TOPIC_STEPS.to_owned(),
                key: Some(plan.repo.clone()),
                attributes: [
                    ("action".to_owned(), step.action.label().to_owned()),
                    ("repo".to_owned(), plan.repo.clone()),
                    ("executor".to_owned(), format!("{:?}", step.executor).to_lowercase()),
                ]
                .into_iter()
                .collect(),
                data,
            });
        }
        Ok(batch)
    }

    /// The council's plan for `evidence` (not stored).
    pub async fn deliberate(
        &self,
        id: String,
        event_type: &str,
        source_data: Value,
        evidence: Evidence,
        now: DateTime<Utc>,
    ) -> Result<Plan, StoreError> {
        let repo = evidence.repo.clone();
        if let Err(e) = self.learn_outcomes(&repo).await {
            tracing::warn!(repo, error = %e, "cannot learn the outcomes of past plans; the weights stay as they were");
        }
        let weights = self.weights().await?;
        let mode: Mode =
            aetherveil_healer::names::repo_mode(self.store.as_ref(), &repo, self.config.default_mode).await?.into();
        let deliberation = self.council.deliberate(&evidence, &weights, event_type).await;
        let execution = execution_plan(&deliberation.verdict, &evidence, mode);
        Ok(Plan {
            run_id: evidence.run.as_ref().map(|r| r.run_id),
            context: Context { event_type: event_type.to_owned(), source_data, current_state: to_value(&evidence)? },
            repo,
            id,
            agent_decisions: deliberation.decisions,
            consensus_decision: deliberation.verdict,
            execution_plan: execution,
            llm: deliberation.llm,
            outcome: None,
            created_at: now,
            created_at_ms: now.timestamp_millis(),
        })
    }

    /// The role weights learned so far.
    pub async fn weights(&self) -> Result<BTreeMap<Role, f64>, StoreError> {
        let records: Records = get_as(self.store.as_ref(), AGENT_STATE, WEIGHTS_ID).await?.unwrap_or_default();
        Ok(records.weights(self.config.weight_prior))
    }

    /// The evidence about `repo` (and its run), as the store holds it now.
    async fn gather(&self, repo: &str, run: Option<&RunRecord>, seed: Seed) -> Result<Evidence, StoreError> {
        let s = self.store.as_ref();
        let mut e =
            Evidence { repo: repo.to_owned(), run: run.map(run_facts), proposed: seed.proposed, ..Evidence::default() };
        if let Some(d) = &seed.diagnosis {
            e.diagnoses.push(diagnosis_facts(d));
        }
        if let Some(r) = run {
            let q = Query::new().eq("repo", repo).eq("run_id", r.run_id.0).eq("run_attempt", r.run_attempt).limit(50);
            for doc in s.query(DIAGNOSES, q).await? {
                let d: Diagnosis = doc.parse()?;
                if !e.diagnoses.iter().any(|x| x.id == d.id) {
                    e.diagnoses.push(diagnosis_facts(&d));
                }
            }
            if let Some(doc) =
                s.get(aetherveil_healer::names::DECISIONS, &format!("{}-{}", r.run_id.0, r.run_attempt)).await?
            {
                let v = &doc.data["decision"];
                e.healer = Some(HealerView {
                    id: doc.id.clone(),
                    actions: v["actions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(str::to_owned))
                        .collect(),
                    execute: v["execute"].as_bool().unwrap_or(false),
                    reason: v["reason"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
        if let Some(a) = &seed.anomaly {
            e.anomalies.push(anomaly_facts(a));
        }
        let q = Query::new().eq("repo", repo).eq("status", "open").order_by("last_at_ms", Order::Desc).limit(20);
        for doc in s.query(ANOMALIES, q).await? {
            let a: Anomaly = doc.parse()?;
            if !e.anomalies.iter().any(|x| x.id == a.id) {
                e.anomalies.push(anomaly_facts(&a));
            }
        }
        let q = Query::new().eq("repo", repo).eq("flaky_state", "flaky").limit(100);
        for doc in s.query(BASELINES, q).await? {
            let d = &doc.data;
            e.flaky_jobs.push(FlakyJob {
                id: doc.id.clone(),
                workflow: d["workflow"].as_str().unwrap_or_default().to_owned(),
                job: d["job"].as_str().unwrap_or_default().to_owned(),
                score: d["summary"]["flaky"]["score"].as_f64().unwrap_or(0.0),
            });
        }
        let q = Query::new().eq("repo", repo).limit(200);
        for doc in s.query(aetherveil_logscan::names::FLAKY_TESTS, q).await? {
            let d = &doc.data;
            e.flaky_tests.push(FlakyTest {
                id: doc.id.clone(),
                job: d["job_name"].as_str().unwrap_or_default().to_owned(),
                test: d["test"].as_str().unwrap_or_default().to_owned(),
                occurrences: d["occurrences"].as_u64().unwrap_or(0),
            });
        }
        e.gate = match &seed.gate {
            Some(r) => Some(gate_facts(r)),
            None => {
                let q = Query::new().eq("repo", repo).order_by("gated_at", Order::Desc).limit(1);
                match s.query(SECURITY_REPORTS, q).await?.first() {
                    Some(doc) => Some(gate_facts(&doc.parse::<SecurityReport>()?)),
                    None => None,
                }
            }
        };
        let q = Query::new().eq("repository", repo).order_by("timestamp", Order::Desc).limit(200);
        let mut healing = HealingFacts::default();
        for doc in s.query(HEALING_HISTORY, q).await? {
            healing.reruns += 1;
            if doc.data["success"].as_bool() == Some(true) {
                healing.succeeded += 1;
            }
        }
        e.healing = healing;
        Ok(e)
    }

    /// Plans recent enough to look for their outcome.
    const PENDING_WINDOW: usize = 50;

    /// Learns, for the repository's agreed plans about a run, the outcome of the healer's rerun
    /// of that run (`healing_history`), and folds it into the weights.
    async fn learn_outcomes(&self, repo: &str) -> Result<(), AdoError> {
        let q = Query::new().eq("repo", repo).order_by("created_at_ms", Order::Desc).limit(Self::PENDING_WINDOW);
        for doc in self.store.query(ORCHESTRATION_PLANS, q).await? {
            let plan: Plan = doc.parse()?;
            let (Some(run_id), None) = (plan.run_id, &plan.outcome) else { continue };
            let q = Query::new().eq("repository", repo).eq("run_id", run_id).limit(1);
            let Some(entry) = self.store.query(HEALING_HISTORY, q).await?.into_iter().next() else { continue };
            let success = entry.data["success"].as_bool().unwrap_or(false);
            let cleared = entry.data["healing_actions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("clear_caches_then_rerun")));
            let action = if cleared { Action::ClearCachesThenRerun } else { Action::RerunFailedJobs };
            self.record_outcome(&plan.id, action, success, "healing_history").await?;
        }
        Ok(())
    }

    /// Records what happened after a plan (`action` was carried out, it worked or not) and
    /// learns from it, atomically; a plan's first outcome is the one kept.
    pub async fn record_outcome(
        &self,
        id: &str,
        action: Action,
        success: bool,
        source: &str,
    ) -> Result<Plan, AdoError> {
        for _ in 0..8 {
            let Some(doc) = self.store.get(ORCHESTRATION_PLANS, id).await? else {
                return Err(AdoError::NotFound(format!("no plan {id}")));
            };
            let mut plan: Plan = doc.parse()?;
            if plan.outcome.is_some() {
                return Ok(plan);
            }
            plan.outcome = Some(PlanOutcome { action, success, source: source.to_owned(), at: Utc::now() });
            let weights_doc = self.store.get(AGENT_STATE, WEIGHTS_ID).await?;
            let mut records: Records = weights_doc.as_ref().map(|d| d.parse()).transpose()?.unwrap_or_default();
            records.learn(&plan.agent_decisions, action, success);
            let wp = weights_doc.map_or(Precondition::Absent, |d| Precondition::Version(d.version));
            let batch = WriteBatch::new()
                .put_with(ORCHESTRATION_PLANS, id, to_value(&plan)?, Precondition::Version(doc.version))
                .put_with(AGENT_STATE, WEIGHTS_ID, to_value(&records)?, wp);
            match self.store.commit(batch).await {
                Ok(_) => return Ok(plan),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Contended { collection: ORCHESTRATION_PLANS.to_owned(), id: id.to_owned() }.into())
    }

    /// On demand: context in, plan out (stored).
    pub async fn plan(&self, req: PlanRequest) -> Result<Plan, AdoError> {
        let proposed = match req.proposed_action.as_deref() {
            None => None,
            Some(s) => Some(Action::parse(s).filter(|a| *a != Action::Abstain).ok_or_else(|| {
                AdoError::BadRequest(format!("proposed_action {s:?} is not an action of the closed set"))
            })?),
        };
        let ctx = req.context.unwrap_or_default();
        let run = match req.run_id {
            Some(id) => Some(
                get_as::<RunRecord>(self.store.as_ref(), RUNS, &id.to_string())
                    .await?
                    .ok_or_else(|| AdoError::NotFound(format!("no run {id}")))?,
            ),
            None => None,
        };
        let repo = match (&req.repo, &run) {
            (Some(r), _) => r.clone(),
            (None, Some(run)) => run.repo.0.clone(),
            (None, None) => ctx.current_state["repo"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| AdoError::BadRequest("give repo, run_id or context.current_state.repo".into()))?,
        };
        if repo.split_once('/').is_none_or(|(o, n)| o.is_empty() || n.is_empty() || n.contains('/')) {
            return Err(AdoError::BadRequest(format!("repo must be owner/name, got {repo:?}")));
        }
        let evidence = if ctx.current_state.is_object() {
            let mut state = ctx.current_state.clone();
            state["repo"] = json!(repo);
            let mut e: Evidence = serde_json::from_value(state)
                .map_err(|e| AdoError::BadRequest(format!("context.current_state is not evidence: {e}")))?;
            if proposed.is_some() {
                e.proposed = proposed;
            }
            e
        } else {
            self.gather(&repo, run.as_ref(), Seed { proposed, ..Seed::default() }).await?
        };
        let event_type = ctx.event_type.unwrap_or_else(|| "on_demand".to_owned());
        let source = if ctx.source_data.is_null() {
            json!({"repo": repo, "run_id": req.run_id, "proposed_action": req.proposed_action})
        } else {
            ctx.source_data
        };
        let id = format!("manual-{}", uuid::Uuid::new_v4().simple());
        let plan = self.deliberate(id, &event_type, source, evidence, Utc::now()).await?;
        self.store.commit(self.batch(&plan)?).await?;
        Ok(plan)
    }
}

#[async_trait]
impl Handler for Ado {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let handled = self.process(delivery).await?;
        tracing::debug!(message = %delivery.message.id, ?handled, "ado");
        Ok(())
    }
}
