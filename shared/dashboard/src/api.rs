//! The dashboard's JSON API, under `/api/v1`:
//!
//! - `GET /api/v1/overview`: health per repository and overall, success rate, MTTR, open
//!   anomalies, heals and budget used today (event time), firing alerts
//! - `GET /api/v1/agents`: `agent_state` documents and each subscription's backlog
//! - `GET /api/v1/alerts?status=firing|resolved&limit=`: alert episodes, newest first
//! - `GET /api/v1/analytics/jobs?repo=`: per job, typical duration and queue time, failure rate;
//!   slowest and least reliable first
//! - `GET /api/v1/analytics/durations?repo=&workflow=&job=&limit=`: one job's latest attempts
//!   (duration, queue time, conclusion), its anomalies and baseline band
//! - `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the whole API

use crate::Dashboard;
use aetherveil_runtime::api::{ApiError, ApiResult, limit};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router(d: Dashboard) -> Router {
    Router::new()
        .route("/api/v1/overview", get(overview))
        .route("/api/v1/agents", get(agents))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/analytics/jobs", get(jobs))
        .route("/api/v1/analytics/durations", get(durations))
        .route("/api/v1/openapi.json", get(|| async { Json(crate::openapi::document()) }))
        .with_state(d)
}

/// Minutes to green saved by healing: reruns that passed × (median time to green of failures left
/// to people − that of healed failures), when both are known.
pub fn minutes_saved(stats: &Value) -> Option<f64> {
    let healed = stats["mttr_healed_seconds"].as_f64()?;
    let left = stats["mttr_not_healed_seconds"].as_f64()?;
    let n = stats["reruns_succeeded"].as_f64()?;
    Some(n * (left - healed).max(0.0) / 60.0)
}

async fn overview(State(d): State<Dashboard>) -> ApiResult {
    Ok(Json(d.overview().await?))
}

async fn agents(State(d): State<Dashboard>) -> ApiResult {
    Ok(Json(d.agents().await?))
}

#[derive(Deserialize)]
struct AlertsQuery {
    status: Option<String>,
    limit: Option<usize>,
}

async fn alerts(State(d): State<Dashboard>, Query(q): Query<AlertsQuery>) -> ApiResult {
    if let Some(s) = q.status.as_deref() {
        if !matches!(s, "firing" | "resolved") {
            return Err(ApiError::BadRequest(format!("status must be firing or resolved, got {s:?}")));
        }
    }
    let alerts = d.alerts_list(q.status.as_deref(), limit(q.limit)?).await?;
    Ok(Json(json!({"alerts": alerts, "rules": crate::alerts::rules::describe(&d.alerts)})))
}

#[derive(Deserialize)]
struct JobsQuery {
    repo: Option<String>,
}

async fn jobs(State(d): State<Dashboard>, Query(q): Query<JobsQuery>) -> ApiResult {
    Ok(Json(d.job_stats(q.repo.as_deref()).await?))
}

#[derive(Deserialize)]
struct DurationsQuery {
    repo: Option<String>,
    workflow: Option<String>,
    job: Option<String>,
    limit: Option<usize>,
}

async fn durations(State(d): State<Dashboard>, Query(q): Query<DurationsQuery>) -> ApiResult {
    let (Some(repo), Some(workflow), Some(job)) = (q.repo, q.workflow, q.job) else {
        return Err(ApiError::BadRequest("give repo, workflow and job".into()));
    };
    let n = match q.limit {
        None => crate::data::DURATION_POINTS,
        some => limit(some)?,
    };
    Ok(Json(d.durations(&repo, &workflow, &job, n).await?))
}
