//! The read API under `/api/v1`, plus `/healthz` and `/metrics`.

use aetherveil_bus::Bus;
use aetherveil_models::names;
use aetherveil_runtime::Metrics;
use aetherveil_runtime::api::{ApiError, ApiResult, limit};
use aetherveil_runtime::metrics::Gauge;
use aetherveil_store::{Order, Query, Store};
use aetherveil_webhook::IngestLog;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub metrics: Arc<Metrics>,
    /// The webhook's ingest log (`webhook.intake = "log"`): deliveries acknowledged and not yet
    /// in the store are read from it.
    pub ingest: Option<IngestLog>,
}

/// `GET /healthz` and `GET /metrics` of `aetherveil serve` (a single function gets its own from
/// the runtime), with the bus backlog and dead letters in the metrics.
pub fn operational(state: ApiState) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics)).with_state(state)
}

/// The read API.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/runs", get(list_runs))
        .route("/api/v1/runs/{id}", get(get_run))
        .route("/api/v1/deliveries/{id}", get(get_delivery))
        .route("/api/v1/deliveries/{id}/raw", get(get_raw_delivery))
        .route("/api/v1/events", get(list_events))
        .route("/api/v1/dead-letters", get(list_dead_letters))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn metrics(State(s): State<ApiState>) -> Response {
    match s.bus.stats().await {
        Ok(stats) => {
            for st in stats {
                s.metrics.set(Gauge::BusBacklog, &[("subscription", &st.subscription)], st.backlog as f64);
                s.metrics.set(Gauge::BusRetrying, &[("subscription", &st.subscription)], st.retrying as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read bus stats for metrics"),
    }
    if let Some(log) = &s.ingest {
        s.metrics.set(Gauge::WebhookLogUnapplied, &[], log.pending_count() as f64);
    }
    match s.store.query(names::DEAD_LETTERS, Query::new()).await {
        Ok(docs) => s.metrics.set(Gauge::DeadLetters, &[], docs.len() as f64),
        Err(e) => tracing::warn!(error = %e, "cannot count dead letters for metrics"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

#[derive(Deserialize)]
struct RunsQuery {
    repo: Option<String>,
    limit: Option<usize>,
}

async fn list_runs(State(s): State<ApiState>, UrlQuery(q): UrlQuery<RunsQuery>) -> ApiResult {
    let mut query = Query::new().order_by("updated_at", Order::Desc).limit(limit(q.limit)?);
    if let Some(repo) = &q.repo {
        if !repo.contains('/') {
            return Err(ApiError::BadRequest(format!("repo must be owner/name, got {repo:?}")));
        }
        query = query.eq("repo", repo.as_str());
    }
    let runs: Vec<Value> = s.store.query(names::RUNS, query).await?.into_iter().map(|d| d.data).collect();
    Ok(Json(json!({"runs": runs})))
}

async fn get_run(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    let run_id: u64 = id.parse().map_err(|_| ApiError::BadRequest(format!("run id must be a number, got {id:?}")))?;
    let run = s.store.get(names::RUNS, &id).await?;
    let jobs: Vec<Value> = s
        .store
        .query(names::JOBS, Query::new().eq("run_id", run_id).order_by("job_id", Order::Asc))
        .await?
        .into_iter()
        .map(|d| d.data)
        .collect();
    match run {
        Some(run) => Ok(Json(json!({"run": run.data, "jobs": jobs}))),
        // Job events can arrive before any workflow_run event of their run.
        None if !jobs.is_empty() => Ok(Json(json!({"run": null, "jobs": jobs}))),
        None => Err(ApiError::NotFound(format!("no run {run_id}"))),
    }
}

async fn get_delivery(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    // Pending first: the applier may store it between a store miss and a look at the log.
    let pending = s.ingest.as_ref().and_then(|log| log.pending(&id));
    match (s.store.get(names::DELIVERIES, &id).await?, pending) {
        (Some(doc), _) => Ok(Json(doc.data)),
        (None, Some(p)) => Ok(Json(aetherveil_webhook::pending_record(&id, &p))),
        (None, None) => Err(ApiError::NotFound(format!("no delivery {id}"))),
    }
}

async fn get_raw_delivery(State(s): State<ApiState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let pending = s.ingest.as_ref().is_some_and(|log| log.is_pending(&id));
    let delivery = s.store.get(names::DELIVERIES, &id).await?.ok_or_else(|| match pending {
        true => ApiError::NotFound(format!("delivery {id} is acknowledged and not stored yet; try again in a moment")),
        false => ApiError::NotFound(format!("no delivery {id}")),
    })?;
    let key = delivery.data["raw_key"].as_str().unwrap_or_default().to_owned();
    match s.store.get_blob(names::RAW_DELIVERIES_BLOBS, &key).await? {
        Some(bytes) => Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response()),
        None => Err(ApiError::NotFound(format!("no raw body for delivery {id}"))),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    delivery_id: Option<String>,
    repo: Option<String>,
    limit: Option<usize>,
}

async fn list_events(State(s): State<ApiState>, UrlQuery(q): UrlQuery<EventsQuery>) -> ApiResult {
    // One delivery publishes at most one event, named in its delivery record.
    if let Some(delivery_id) = &q.delivery_id {
        let message_id = s
            .store
            .get(names::DELIVERIES, delivery_id)
            .await?
            .and_then(|d| d.data["message_id"].as_str().map(str::to_owned));
        let event = match message_id {
            Some(id) => s.store.get(names::EVENTS, &id).await?.map(|d| d.data),
            None => None,
        };
        return Ok(Json(json!({"events": event.into_iter().collect::<Vec<_>>()})));
    }
    let mut query = Query::new().order_by("journaled_at", Order::Desc).limit(limit(q.limit)?);
    if let Some(r) = &q.repo {
        query = query.eq("repo", r.as_str());
    }
    let events: Vec<Value> = s.store.query(names::EVENTS, query).await?.into_iter().map(|d| d.data).collect();
    Ok(Json(json!({"events": events})))
}

async fn list_dead_letters(State(s): State<ApiState>, UrlQuery(q): UrlQuery<RunsQuery>) -> ApiResult {
    let query = Query::new().order_by("failed_at_ms", Order::Desc).limit(limit(q.limit)?);
    let docs: Vec<Value> = s.store.query(names::DEAD_LETTERS, query).await?.into_iter().map(|d| d.data).collect();
    Ok(Json(json!({"dead_letters": docs})))
}
