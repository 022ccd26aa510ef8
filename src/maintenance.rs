//! The `maintenance` function: the periodic jobs of `scheduler/jobs.yaml` that have no other HTTP
//! home, each a POST that does one round and answers what it did. Cloud Scheduler calls them on
//! Google Cloud; `aetherveil serve` calls them from its own scheduler (src/schedule.rs). Each
//! reuses code that already runs elsewhere:
//!
//! - `POST /maintenance/baselines`: every repository's 7-day health score (the `/api/v1/health`
//!   answer, called in process) recorded in `health_baselines/<repo>`. The monitor's per-job
//!   baselines need no recompute: it commits them with every event it processes.
//! - `POST /maintenance/forecasts` `{"horizon_hours"?: 24}`: every repository's forecasts (the
//!   `/api/v1/forecasts` answer) recorded in `forecasts/<repo>`.
//! - `POST /maintenance/alerts`: one alert evaluation (`aetherveil_dashboard::alerts::scheduled`).
//! - `POST /maintenance/retention`: deletes journal events (`events`) and relayed outbox messages
//!   (`outbox`, the document-store shape of the bus) older than `bus.retention_hours`.
//! - `GET /api/v1/schedule`: the jobs of `scheduler/jobs.yaml` with their last recorded run
//!   (`schedule_runs/<job>`).

use aetherveil_models::names;
use aetherveil_runtime::api::{ApiError, ApiResult};
use aetherveil_store::{Op, Order, Query, Store, WriteBatch};
use axum::body::Body;
use axum::routing::{get, post};
use axum::{Json, Router, extract::State};
use chrono::Utc;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// Where the health baselines are recorded, one document per repository.
pub const HEALTH_BASELINES: &str = "health_baselines";
/// Days of history a health baseline covers.
const BASELINE_DAYS: u32 = 7;
/// Documents deleted per batch, and batches per retention round (the next round continues).
const RETENTION_BATCH: usize = 500;
const RETENTION_BATCHES: usize = 20;

#[derive(Clone)]
pub struct MaintenanceState {
    pub store: Arc<dyn Store>,
    /// The platform's JSON API, called in process.
    pub api: Router,
    pub dashboard: aetherveil_dashboard::Dashboard,
    /// How long journal events and relayed outbox messages are kept.
    pub retention: Duration,
}

pub fn router(state: MaintenanceState) -> Router {
    Router::new()
        .route("/maintenance/baselines", post(baselines))
        .route("/maintenance/forecasts", post(forecasts))
        .route("/maintenance/alerts", post(alerts))
        .route("/maintenance/retention", post(retention))
        .route("/api/v1/schedule", get(schedule))
        .with_state(state)
}

/// GETs `path` from the API in process.
async fn api_get(api: &Router, path: &str) -> Result<Value, ApiError> {
    let request = axum::http::Request::get(path)
        .body(Body::empty())
        .map_err(|e| ApiError::Internal(format!("bad path {path}: {e}")))?;
    let response = match api.clone().oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes =
        response.into_body().collect().await.map_err(|e| ApiError::Internal(format!("{path}: {e}")))?.to_bytes();
    if !status.is_success() {
        return Err(ApiError::Internal(format!("{path} answered {status}: {}", String::from_utf8_lossy(&bytes))));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::Internal(format!("{path}: not JSON: {e}")))
}

/// The repositories the monitor tracks, with their health over `days` days.
async fn health(api: &Router, days: u32) -> Result<Vec<Value>, ApiError> {
    let all = api_get(api, &format!("/api/v1/health?days={days}")).await?;
    Ok(all["repos"].as_array().cloned().unwrap_or_default())
}

async fn baselines(State(s): State<MaintenanceState>) -> ApiResult {
    let now = Utc::now();
    let mut recorded = Vec::new();
    for r in health(&s.api, BASELINE_DAYS).await? {
        let Some(repo) = r["repo"].as_str() else { continue };
        let h = &r["health"];
        let doc = json!({
            "repo": repo,
            "days": BASELINE_DAYS,
            "score": h["score"],
            "grade": h["grade"],
            "runs": h["runs"],
            "window": h["window"],
            "computed_at": now,
        });
        s.store.put(HEALTH_BASELINES, repo, doc).await?;
        recorded.push(json!({"repo": repo, "score": h["score"]}));
    }
    tracing::info!(repos = recorded.len(), "recorded health baselines");
    Ok(Json(json!({"repos": recorded.len(), "baselines": recorded})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ForecastRequest {
    horizon_hours: Option<usize>,
}

/// An empty body is the defaults; anything else must be the documented JSON.
fn parse_body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("not a valid request body: {e}")))
}

async fn forecasts(State(s): State<MaintenanceState>, body: axum::body::Bytes) -> ApiResult {
    let req: ForecastRequest = parse_body(&body)?;
    let horizon = req.horizon_hours.unwrap_or(24);
    let now = Utc::now();
    let mut recorded = Vec::new();
    for r in health(&s.api, BASELINE_DAYS).await? {
        let Some(repo) = r["repo"].as_str() else { continue };
        let path = format!("/api/v1/forecasts?repo={}&horizon={horizon}", aetherveil_dashboard::enc(repo));
        let f = api_get(&s.api, &path).await?;
        let series = f["series"].as_array().map_or(0, Vec::len);
        let doc = json!({"repo": repo, "horizon_hours": horizon, "series": f["series"], "computed_at": now});
        s.store.put(names::FORECASTS, repo, doc).await?;
        recorded.push(json!({"repo": repo, "series": series}));
    }
    tracing::info!(repos = recorded.len(), horizon, "recorded forecasts");
    Ok(Json(json!({"repos": recorded.len(), "horizon_hours": horizon, "forecasts": recorded})))
}

async fn alerts(State(s): State<MaintenanceState>) -> ApiResult {
    let out = aetherveil_dashboard::alerts::scheduled::evaluate_once(&s.dashboard).await?;
    Ok(Json(out))
}

/// Deletes documents of `collection` whose `field` is before `cutoff` (and that `keep` does not
/// spare), oldest first, in bounded batches; answers (deleted, whether more remain).
async fn prune(
    store: &dyn Store,
    collection: &str,
    field: &str,
    cutoff: &Value,
    spare: impl Fn(&Value) -> bool,
) -> Result<(usize, bool), ApiError> {
    let mut deleted = 0;
    let mut after: Option<Value> = None;
    for _ in 0..RETENTION_BATCHES {
        let mut q = Query::new().filter(field, Op::Lt, cutoff.clone());
        if let Some(a) = &after {
            q = q.filter(field, Op::Ge, a.clone());
        }
        let docs = store.query(collection, q.order_by(field, Order::Asc).limit(RETENTION_BATCH)).await?;
        let full = docs.len() == RETENTION_BATCH;
        after = docs.last().map(|d| d.data[field].clone());
        let mut batch = WriteBatch::new();
        for d in docs.iter().filter(|d| !spare(&d.data)) {
            batch = batch.delete(collection, &d.id);
            deleted += 1;
        }
        if !batch.is_empty() {
            store.commit(batch).await?;
        }
        if !full {
            return Ok((deleted, false));
        }
    }
    Ok((deleted, true))
}

async fn retention(State(s): State<MaintenanceState>) -> ApiResult {
    let keep = chrono::Duration::from_std(s.retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = Utc::now() - keep;
    let as_value = aetherveil_store::to_value(&cutoff)?;
    let (events, more_events) = prune(s.store.as_ref(), names::EVENTS, "journaled_at", &as_value, |_| false).await?;
    // Outbox documents a relay has not published yet are kept whatever their age.
    let rfc3339 = json!(cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let (outbox, more_outbox) =
        prune(s.store.as_ref(), aetherveil_store::outbox::COLLECTION, "created_at", &rfc3339, |d| {
            d["published"] != Value::Bool(true)
        })
        .await?;
    tracing::info!(events, outbox, cutoff = %cutoff, "applied retention");
    Ok(Json(json!({
        "cutoff": cutoff,
        "deleted": {"events": events, "outbox": outbox},
        "more": more_events || more_outbox,
    })))
}

async fn schedule(State(s): State<MaintenanceState>) -> ApiResult {
    let jobs = crate::schedule::jobs().map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let last = s.store.get(crate::schedule::RUNS, &job.name).await?.map(|d| d.data);
        out.push(json!({
            "name": job.name,
            "description": job.description,
            "schedule": job.schedule_text,
            "time_zone": job.time_zone,
            "target": job.target.describe(),
            "next_run_at": job.schedule.next_after(Utc::now()),
            "last": last,
        }));
    }
    Ok(Json(json!({"jobs": out})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aetherveil_store::{SqliteStore, Synchronous};

    #[tokio::test]
    async fn retention_deletes_old_documents_in_batches_and_spares_what_it_must() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("db"), Synchronous::Normal).expect("store");
        let at = |day: u32| format!("2026-01-{day:02}T00:00:00Z");
        for i in 0..(RETENTION_BATCH + 20) {
            store.put(names::EVENTS, &format!("old-{i}"), json!({"journaled_at": at(1)})).await.expect("put");
        }
        store.put(names::EVENTS, "new", json!({"journaled_at": at(20)})).await.expect("put");
        for (id, published) in [("sent", true), ("unsent", false)] {
            let doc = json!({"created_at": at(2), "published": published});
            store.put(aetherveil_store::outbox::COLLECTION, id, doc).await.expect("put");
        }
        let cutoff = json!(at(10));
        let (deleted, more) = prune(&store, names::EVENTS, "journaled_at", &cutoff, |_| false).await.expect("prune");
        assert_eq!((deleted, more), (RETENTION_BATCH + 20, false));
        assert!(store.get(names::EVENTS, "new").await.expect("get").is_some());
        assert!(store.get(names::EVENTS, "old-0").await.expect("get").is_none());
        let outbox = aetherveil_store::outbox::COLLECTION;
        let (deleted, _) =
            prune(&store, outbox, "created_at", &cutoff, |d| d["published"] != Value::Bool(true)).await.expect("prune");
        assert_eq!(deleted, 1);
        assert!(store.get(outbox, "sent").await.expect("get").is_none());
        assert!(store.get(outbox, "unsent").await.expect("get").is_some());
    }
}
