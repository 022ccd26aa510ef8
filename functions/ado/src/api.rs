//! The orchestrator's API.
//!
//! - `POST /api/v1/plans` `{"repo"?, "run_id"?, "proposed_action"?, "context"?: {"event_type",
//!   "source_data", "current_state"}}`: context in, plan out (201), with its explanation.
//! - `GET /api/v1/plans[?repo=owner/name&limit=N]`: plans, newest first, in brief.
//! - `GET /api/v1/plans/{id}`: the plan, and its explanation: each agent's view, the vote, the
//!   evidence, the steps.
//! - `POST /api/v1/plans/{id}/outcome` `{"action", "success"}`: what was done after the plan and
//!   whether it worked; the role weights learn from it.

use crate::decision::Action;
use crate::names::API_PATH;
use crate::plan::{Plan, StepStatus};
use crate::shell::{Ado, AdoError, PlanRequest};
use aetherveil_models::names::ORCHESTRATION_PLANS;
use aetherveil_runtime::api::{ApiError, ApiResult, limit, repo_filter};
use aetherveil_store::{Order, Query};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

impl From<AdoError> for ApiError {
    fn from(e: AdoError) -> Self {
        match e {
            AdoError::BadRequest(m) => ApiError::BadRequest(m),
            AdoError::NotFound(m) => ApiError::NotFound(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

pub fn api_router(ado: Arc<Ado>) -> Router {
    Router::new()
        .route(API_PATH, get(list).post(create))
        .route(&format!("{API_PATH}/{{id}}"), get(one))
        .route(&format!("{API_PATH}/{{id}}/outcome"), post(outcome))
        .with_state(ado)
}

fn full(plan: &Plan) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(plan).map_err(|e| ApiError::Internal(e.to_string()))?;
    v["explanation"] = json!(plan.explanation());
    Ok(v)
}

async fn create(State(ado): State<Arc<Ado>>, body: axum::body::Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: PlanRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PlanRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("not a plan request: {e}")))?
    };
    let plan = ado.plan(req).await?;
    Ok((StatusCode::CREATED, Json(full(&plan)?)))
}

#[derive(Deserialize)]
struct ListQuery {
    repo: Option<String>,
    limit: Option<usize>,
}

async fn list(State(ado): State<Arc<Ado>>, UrlQuery(q): UrlQuery<ListQuery>) -> ApiResult {
    let query =
        repo_filter(Query::new(), q.repo.as_deref())?.order_by("created_at_ms", Order::Desc).limit(limit(q.limit)?);
    let mut plans = Vec::new();
    for doc in ado.store().query(ORCHESTRATION_PLANS, query).await? {
        let p: Plan = doc.parse()?;
        let c = &p.consensus_decision;
        plans.push(json!({
            "id": p.id,
            "repo": p.repo,
            "event_type": p.context.event_type,
            "run_id": p.run_id,
            "consensus": c.consensus,
            "primary_recommendation": c.primary_recommendation,
            "confidence": c.confidence,
            "vetoes": c.vetoes,
            "status": p.execution_plan.status,
            "llm": p.llm.outcome,
            "outcome": p.outcome,
            "created_at": p.created_at,
        }));
    }
    Ok(Json(json!({"plans": plans})))
}

async fn one(State(ado): State<Arc<Ado>>, Path(id): Path<String>) -> ApiResult {
    let Some(doc) = ado.store().get(ORCHESTRATION_PLANS, &id).await? else {
        return Err(ApiError::NotFound(format!("no plan {id}")));
    };
    let plan: Plan = doc.parse()?;
    let mut v = full(&plan)?;
    v["executions"] = executions(&ado, &plan).await?;
    Ok(Json(v))
}

/// What became of each dispatched step: the healer's record of it, or why nobody carries it out.
async fn executions(ado: &Ado, plan: &Plan) -> Result<Value, ApiError> {
    use crate::decision::Executor;
    let mut out = Vec::new();
    for step in plan.execution_plan.steps.iter().filter(|s| s.status == StepStatus::Dispatched) {
        let id = format!("plan-step:{}:{}", plan.id, step.order);
        let execution = match step.executor {
            Executor::Healer => match ado.store().get(aetherveil_healer::names::PLAN_STEPS, &id).await? {
                Some(d) => json!({"state": d.data["state"], "detail": d.data["detail"], "at": d.data["at"]}),
                None => json!({"state": "queued", "detail": "handed to the healer; not carried out yet"}),
            },
            Executor::Nobody => continue,
            other => json!({
                "state": "no_executor",
                "detail": format!(
                    "no {} executor is deployed in this installation: the step waits for a person",
                    format!("{other:?}").to_lowercase()
                ),
            }),
        };
        out.push(json!({"step": step.order, "action": step.action, "executor": step.executor, "execution": execution}));
    }
    Ok(Value::Array(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    action: String,
    success: bool,
    #[serde(default)]
    by: Option<String>,
}

async fn outcome(State(ado): State<Arc<Ado>>, Path(id): Path<String>, body: axum::body::Bytes) -> ApiResult {
    let b: OutcomeBody =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("not an outcome: {e}")))?;
    let action = Action::parse(&b.action)
        .filter(|a| *a != Action::Abstain)
        .ok_or_else(|| ApiError::BadRequest(format!("action {:?} is not in the closed set", b.action)))?;
    let source = b.by.map_or_else(|| "api".to_owned(), |by| format!("api:{by}"));
    let plan = ado.record_outcome(&id, action, b.success, &source).await?;
    Ok(Json(full(&plan)?))
}
