//! Logscan's API, under `/api/v1`, over the stored diagnoses:
//!
//! - `GET /api/v1/diagnoses?repo=&cause=&limit=` → `{"diagnoses": [...]}`, latest first
//! - `GET /api/v1/diagnoses/{job id}` → one diagnosis, with its rendering under `markdown`
//! - `POST /api/v1/diagnoses/{job id}/feedback` with `{"cause": "<cause>", "by": "<who>"}` →
//!   records a person's correction, the label the trainer learns from first

use crate::cause::Cause;
use crate::diagnosis::{Diagnosis, Feedback};
use aetherveil_models::names;
use aetherveil_runtime::api::{ApiError, ApiResult, limit, repo_filter};
use aetherveil_store::{Order, Precondition, Query, Store, StoreError, WriteBatch, to_value};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
}

pub fn api_router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/diagnoses", get(list))
        .route("/api/v1/diagnoses/{id}", get(one))
        .route("/api/v1/diagnoses/{id}/feedback", post(feedback))
        .with_state(state)
}

#[derive(Deserialize)]
struct ListQuery {
    repo: Option<String>,
    cause: Option<String>,
    limit: Option<usize>,
}

fn parse_cause(label: &str) -> Result<Cause, ApiError> {
    Cause::from_label(label).ok_or_else(|| {
        let known: Vec<&str> = Cause::ALL.iter().map(|c| c.label()).collect();
        ApiError::BadRequest(format!("cause must be one of {}, got {label:?}", known.join(", ")))
    })
}

async fn list(State(s): State<ApiState>, UrlQuery(q): UrlQuery<ListQuery>) -> ApiResult {
    let mut query = repo_filter(Query::new(), q.repo.as_deref())?;
    if let Some(cause) = &q.cause {
        query = query.eq("cause", parse_cause(cause)?.label());
    }
    let query = query.order_by("analysed_at", Order::Desc).limit(limit(q.limit)?);
    let diagnoses: Vec<Value> = s
        .store
        .query(names::DIAGNOSES, query)
        .await?
        .into_iter()
        .map(|d| {
            let mut v = d.data;
            if let Some(o) = v.as_object_mut() {
                o.remove("features");
            }
            v
        })
        .collect();
    Ok(Json(json!({ "diagnoses": diagnoses })))
}

async fn load(store: &dyn Store, id: &str) -> Result<(Diagnosis, u64), ApiError> {
    let doc = store.get(names::DIAGNOSES, id).await?.ok_or_else(|| ApiError::NotFound(format!("no diagnosis {id}")))?;
    let version = doc.version;
    let d: Diagnosis = doc.parse()?;
    Ok((d, version))
}

async fn one(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    let (d, _) = load(s.store.as_ref(), &id).await?;
    let markdown = d.markdown().to_string();
    let mut v = to_value(&d)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("markdown".into(), Value::String(markdown));
    }
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    cause: String,
    by: Option<String>,
}

async fn feedback(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    body: Result<Json<FeedbackBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let Json(body) =
        body.map_err(|e| ApiError::BadRequest(format!("expected {{\"cause\": ..., \"by\": ...}}: {e}")))?;
    let cause = parse_cause(&body.cause)?;
    let feedback = Feedback { cause, by: body.by, at: Utc::now() };
    for _ in 0..8 {
        let (mut d, version) = load(s.store.as_ref(), &id).await?;
        d.feedback = Some(feedback.clone());
        let batch = WriteBatch::new().put_with(names::DIAGNOSES, &id, to_value(&d)?, Precondition::Version(version));
        match s.store.commit(batch).await {
            Ok(_) => return Ok(Json(json!({ "id": id, "cause": d.cause, "feedback": feedback }))),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Internal(format!("diagnosis {id} kept changing while recording feedback")))
}
