//! The record of staged release rollouts, which `workflows/release-rollout.yaml` writes as it goes
//! (collection `releases`). The rollout's judgement (gate verdict, health, anomalies) lives in the
//! workflow; this API keeps what it decided, so a person can see every stage and why a release was
//! promoted, rolled back or blocked.
//!
//! - `POST /api/v1/releases` `{"repo": "owner/name", "version": "v1.2.3"}` → 201, the release
//!   (`state: "started"`)
//! - `POST /api/v1/releases/{id}/events` `{"action": "stage"|"promote"|"rollback"|"block",
//!   "percent"?: 0–100, "detail"?: any}` → the release, with the event appended and its state
//!   (`canary`, `promoted`, `rolled_back`, `blocked`); a finished release takes no more events (400)
//! - `GET /api/v1/releases/{id}` → the release

use aetherveil_models::names::RELEASES;
use aetherveil_runtime::api::{ApiError, ApiResult};
use aetherveil_store::Store;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// States after which a release takes no more events.
const FINISHED: &[&str] = &["promoted", "rolled_back", "blocked"];

#[derive(Clone)]
pub struct ReleasesState {
    pub store: Arc<dyn Store>,
}

pub fn router(state: ReleasesState) -> Router {
    Router::new()
        .route("/api/v1/releases", post(create))
        .route("/api/v1/releases/{id}", get(one))
        .route("/api/v1/releases/{id}/events", post(event))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRelease {
    repo: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEvent {
    action: String,
    #[serde(default)]
    percent: Option<f64>,
    #[serde(default)]
    detail: Value,
}

fn body<T: serde::de::DeserializeOwned>(
    b: Result<Json<T>, axum::extract::rejection::JsonRejection>,
    shape: &str,
) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| ApiError::BadRequest(format!("expected {shape}: {e}")))
}

async fn create(
    State(s): State<ReleasesState>,
    b: Result<Json<NewRelease>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = body(b, r#"{"repo": "owner/name", "version": "..."}"#)?;
    if !r.repo.split_once('/').is_some_and(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/')) {
        return Err(ApiError::BadRequest(format!("repo must be owner/name, got {:?}", r.repo)));
    }
    if r.version.is_empty() || r.version.len() > 200 {
        return Err(ApiError::BadRequest("version must be 1 to 200 characters".into()));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let doc = json!({
        "id": id,
        "repo": r.repo,
        "version": r.version,
        "state": "started",
        "started_at": Utc::now(),
        "events": [],
    });
    s.store.put(RELEASES, &id, doc.clone()).await?;
    tracing::info!(release = %id, repo = %r.repo, version = %r.version, "release rollout started");
    Ok((StatusCode::CREATED, Json(doc)))
}

async fn one(State(s): State<ReleasesState>, Path(id): Path<String>) -> ApiResult {
    match s.store.get(RELEASES, &id).await? {
        Some(d) => Ok(Json(d.data)),
        None => Err(ApiError::NotFound(format!("no release {id}"))),
    }
}

async fn event(
    State(s): State<ReleasesState>,
    Path(id): Path<String>,
    b: Result<Json<NewEvent>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let e = body(b, r#"{"action": "stage|promote|rollback|block", "percent"?: 10, "detail"?: ...}"#)?;
    let state = match e.action.as_str() {
        "stage" => "canary",
        "promote" => "promoted",
        "rollback" => "rolled_back",
        "block" => "blocked",
        other => {
            return Err(ApiError::BadRequest(format!(
                "action must be stage, promote, rollback or block, got {other:?}"
            )));
        }
    };
    if e.percent.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
        return Err(ApiError::BadRequest("percent must be between 0 and 100".into()));
    }
    let current = s.store.get(RELEASES, &id).await?.ok_or_else(|| ApiError::NotFound(format!("no release {id}")))?;
    let was = current.data["state"].as_str().unwrap_or("").to_owned();
    if FINISHED.contains(&was.as_str()) {
        return Err(ApiError::BadRequest(format!("release {id} is {was}: it takes no more events")));
    }
    let entry = json!({"action": e.action, "percent": e.percent, "detail": e.detail, "at": Utc::now()});
    let updated = aetherveil_store::update(s.store.as_ref(), RELEASES, &id, |cur| {
        let mut doc = cur.cloned().unwrap_or_else(|| current.data.clone());
        if let Some(events) = doc["events"].as_array_mut() {
            events.push(entry.clone());
        }
        doc["state"] = json!(state);
        doc
    })
    .await?;
    tracing::info!(release = %id, action = %e.action, percent = ?e.percent, "release rollout event");
    Ok(Json(updated))
}
