//! What every read API under `/api/v1` shares: one error type (logged in full, answered with a
//! plain message, never leaking internal text) and the `limit` parameter's rules.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error: logged in full, answered with a plain message.
#[derive(Debug)]
pub enum ApiError {
    NotFound(String),
    BadRequest(String),
    Internal(String),
}

impl From<aetherveil_store::StoreError> for ApiError {
    fn from(e: aetherveil_store::StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "api request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log".to_owned())
            }
        };
        (status, Json(json!({"error": code, "message": message}))).into_response()
    }
}

pub type ApiResult = Result<Json<Value>, ApiError>;

/// Items a list returns when `limit` is not given, and the most it may ask for.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

/// The `limit` query parameter, checked.
pub fn limit(requested: Option<usize>) -> Result<usize, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}, got {n}"))),
    }
}

/// Adds `repo = <owner/name>` to `query` when the `repo` parameter is given, after checking its shape.
pub fn repo_filter(query: aetherveil_store::Query, repo: Option<&str>) -> Result<aetherveil_store::Query, ApiError> {
    match repo {
        None => Ok(query),
        Some(r) if r.split_once('/').is_some_and(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/')) => {
            Ok(query.eq("repo", r))
        }
        Some(r) => Err(ApiError::BadRequest(format!("repo must be owner/name, got {r:?}"))),
    }
}
