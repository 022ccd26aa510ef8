//! The monitor's read API, under `/api/v1`, over the stored documents (so any instance answers
//! the same):
//!
//! - `GET /api/v1/anomalies?repo=&kind=&status=&limit=` → `{"anomalies": [...]}`, latest first
//! - `GET /api/v1/anomalies/{id}` → one anomaly episode
//! - `GET /api/v1/baselines?repo=&limit=` → `{"baselines": [...]}`, one entry per series
//! - `GET /api/v1/flaky?repo=&state=&limit=` → `{"flaky": [...]}`, one entry per job

use crate::flaky::FlakyState;
use crate::model::{AnomalyKind, AnomalyStatus};
use crate::series::JobSummary;
use aetherveil_models::names;
use aetherveil_runtime::api::{ApiError, ApiResult, limit, repo_filter};
use aetherveil_store::{Order, Query, Store};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
}

pub fn api_router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/anomalies", get(list_anomalies))
        .route("/api/v1/anomalies/{id}", get(get_anomaly))
        .route("/api/v1/baselines", get(list_baselines))
        .route("/api/v1/flaky", get(list_flaky))
        .with_state(state)
}

#[derive(Deserialize)]
struct AnomaliesQuery {
    repo: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

async fn list_anomalies(State(s): State<ApiState>, UrlQuery(q): UrlQuery<AnomaliesQuery>) -> ApiResult {
    let mut query = repo_filter(Query::new(), q.repo.as_deref())?;
    if let Some(kind) = &q.kind {
        let k = AnomalyKind::parse(kind).ok_or_else(|| {
            let known: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.label()).collect();
            ApiError::BadRequest(format!("kind must be one of {}, got {kind:?}", known.join(", ")))
        })?;
        query = query.eq("kind", k.label());
    }
    if let Some(status) = &q.status {
        let st = AnomalyStatus::parse(status)
            .ok_or_else(|| ApiError::BadRequest(format!("status must be open or closed, got {status:?}")))?;
        query = query.eq("status", st.label());
    }
    let query = query.order_by("last_at_ms", Order::Desc).limit(limit(q.limit)?);
    let anomalies: Vec<Value> = s.store.query(names::ANOMALIES, query).await?.into_iter().map(|d| d.data).collect();
    Ok(Json(json!({"anomalies": anomalies})))
}

async fn get_anomaly(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    match s.store.get(names::ANOMALIES, &id).await? {
        Some(doc) => Ok(Json(doc.data)),
        None => Err(ApiError::NotFound(format!("no anomaly {id}"))),
    }
}

#[derive(Deserialize)]
struct BaselinesQuery {
    repo: Option<String>,
    limit: Option<usize>,
}

fn summaries(docs: Vec<aetherveil_store::Doc>) -> Vec<JobSummary> {
    docs.into_iter()
        .filter_map(|d| {
            match serde_json::from_value::<JobSummary>(d.data.get("summary").cloned().unwrap_or_default()) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(id = %d.id, error = %e, "baseline document without a readable summary");
                    None
                }
            }
        })
        .collect()
}

/// Jobs, newest activity first; `limit` counts jobs.
async fn list_baselines(State(s): State<ApiState>, UrlQuery(q): UrlQuery<BaselinesQuery>) -> ApiResult {
    let query =
        repo_filter(Query::new(), q.repo.as_deref())?.order_by("last_at_ms", Order::Desc).limit(limit(q.limit)?);
    let jobs = summaries(s.store.query(names::BASELINES, query).await?);
    let baselines: Vec<Value> = jobs
        .iter()
        .flat_map(|j| {
            j.series.iter().map(move |series| {
                json!({
                    "id": format!("{}~{}", j.id, series.branch_class.label()),
                    "repo": j.repo,
                    "workflow": j.workflow,
                    "job": j.job,
                    "branch_class": series.branch_class,
                    "n": series.n,
                    "window": series.window,
                    "center": series.center,
                    "spread": series.spread,
                    "ewma": series.ewma,
                    "seasonal": series.seasonal,
                    "queue": series.queue,
                    "failure_rate": series.failure_rate,
                    "attempts": series.attempts,
                    "first_at": series.first_at,
                    "last_at": series.last_at,
                    "regression_cusum": j.regression.cusum,
                })
            })
        })
        .collect();
    Ok(Json(json!({"baselines": baselines})))
}

#[derive(Deserialize)]
struct FlakyQuery {
    repo: Option<String>,
    state: Option<String>,
    limit: Option<usize>,
}

async fn list_flaky(State(s): State<ApiState>, UrlQuery(q): UrlQuery<FlakyQuery>) -> ApiResult {
    let mut query = repo_filter(Query::new(), q.repo.as_deref())?;
    if let Some(state) = &q.state {
        let st = FlakyState::parse(state).ok_or_else(|| {
            ApiError::BadRequest(format!("state must be healthy, flaky, broken or fixed, got {state:?}"))
        })?;
        query = query.eq("flaky_state", st.label());
    }
    let query = query.order_by("last_at_ms", Order::Desc).limit(limit(q.limit)?);
    let jobs = summaries(s.store.query(names::BASELINES, query).await?);
    let flaky: Vec<Value> = jobs
        .into_iter()
        .map(|j| {
            json!({
                "id": j.id,
                "repo": j.repo,
                "workflow": j.workflow,
                "job": j.job,
                "state": j.flaky.state,
                "since": j.flaky.since,
                "score": j.flaky.score,
                "runs": j.flaky.runs,
                "pass_on_retry": j.flaky.pass_on_retry,
                "retry_pass_rate": j.flaky.retry_pass_rate,
                "transitions": j.flaky.transitions,
                "failed_runs": j.flaky.failed_runs,
                "evidence_runs": j.flaky.evidence_runs,
            })
        })
        .collect();
    Ok(Json(json!({"flaky": flaky})))
}
