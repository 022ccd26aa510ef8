//! The healer's read API and its one switch.
//!
//! - `GET /api/v1/healing[?repo=owner/name&limit=N]`: statistics (heal rate, runner minutes spent,
//!   MTTR of healed failures against failures left to people), the history, flaky and
//!   quarantined jobs; with `repo`, also its mode and today's budget.
//! - `GET /api/v1/decisions[?repo=&limit=]` and `GET /api/v1/decisions/{id}`: a decision with
//!   everything it rests on, and its explanation.
//! - `GET|POST /api/v1/repos/{owner}/{name}/mode`: `{"mode": "observe" | "recommend" | "act"}`.

use crate::budget::{Allowance, Ledger};
use crate::decide::Mode;
use crate::names::{BUDGETS, DECISIONS, FLAKY, mode_id, repo_mode};
use crate::record::{DecisionRecord, ExecutionState, FlakyRecord, HistoryEntry};
use aetherveil_models::{RunRecord, names};
use aetherveil_runtime::api::{ApiError, ApiResult, limit, repo_filter};
use aetherveil_store::{Op, Order, Query, Store, to_value};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub default_mode: Mode,
    pub allowance: Allowance,
}

pub fn api_router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/healing", get(healing))
        .route("/api/v1/decisions", get(decisions))
        .route("/api/v1/decisions/{id}", get(decision))
        .route("/api/v1/repos/{owner}/{name}/mode", get(get_mode).post(set_mode))
        .with_state(state)
}

#[derive(Deserialize)]
struct ListQuery {
    repo: Option<String>,
    limit: Option<usize>,
}

/// Decisions read for the statistics.
const STATS_WINDOW: usize = 2000;
/// Failures left to people whose time to the next green run is looked up.
const MTTR_SAMPLE: usize = 200;

async fn healing(State(s): State<ApiState>, UrlQuery(q): UrlQuery<ListQuery>) -> ApiResult {
    let history_query = match &q.repo {
        Some(repo) => Query::new().eq("repository", repo.as_str()),
        None => Query::new(),
    };
    let history: Vec<HistoryEntry> = s
        .store
        .query(names::HEALING_HISTORY, history_query.order_by("timestamp", Order::Desc).limit(limit(q.limit)?))
        .await?
        .iter()
        .map(|d| d.parse())
        .collect::<Result<_, _>>()?;
    let decisions: Vec<DecisionRecord> = s
        .store
        .query(
            DECISIONS,
            repo_filter(Query::new(), q.repo.as_deref())?.order_by("failed_at", Order::Desc).limit(STATS_WINDOW),
        )
        .await?
        .iter()
        .map(|d| d.parse())
        .collect::<Result<_, _>>()?;
    let stats = statistics(s.store.as_ref(), &decisions).await?;
    let flaky: Vec<FlakyRecord> = s
        .store
        .query(FLAKY, repo_filter(Query::new(), q.repo.as_deref())?.order_by("since", Order::Desc).limit(500))
        .await?
        .iter()
        .map(|d| d.parse())
        .collect::<Result<_, _>>()?;
    let mut out = json!({ "stats": stats, "history": history, "flaky": flaky });
    if let Some(repo) = &q.repo {
        let ledger: Ledger = aetherveil_store::get_as(s.store.as_ref(), BUDGETS, repo).await?.unwrap_or_default();
        out["mode"] = json!(mode_of(&s, repo).await?.label());
        out["budget"] = json!({
            "allowance": s.allowance,
            "day": ledger.day,
            "reruns_spent": ledger.reruns,
            "minutes_spent": ledger.minutes,
        });
    }
    Ok(Json(out))
}

/// Heal rate, minutes and MTTR over `decisions` (newest first).
async fn statistics(store: &dyn Store, decisions: &[DecisionRecord]) -> Result<Value, ApiError> {
    let executed: Vec<&DecisionRecord> =
        decisions.iter().filter(|d| d.decision.reruns() && d.execution.state != ExecutionState::NotExecuted).collect();
    let finished: Vec<&&DecisionRecord> = executed.iter().filter(|d| d.outcome.is_some()).collect();
    let healed: Vec<&&&DecisionRecord> =
        finished.iter().filter(|d| d.outcome.as_ref().is_some_and(|o| o.success)).collect();
    let minutes: f64 = executed.iter().map(|d| d.decision.situation.rerun_minutes()).sum();
    let healed_seconds: Vec<f64> = healed
        .iter()
        .filter_map(|d| d.outcome.as_ref().map(|o| (o.completed_at - d.failed_at).num_seconds() as f64))
        .collect();
    // Failures the healer did not heal (not rerun, or the rerun failed): how long until the next
    // green run of the same workflow on the same branch.
    let mut left_seconds = Vec::new();
    let left = decisions
        .iter()
        .filter(|d| d.run_attempt == 1 && !d.outcome.as_ref().is_some_and(|o| o.success))
        .filter(|d| !d.decision.reruns() || d.execution.state == ExecutionState::NotExecuted || d.outcome.is_some())
        .take(MTTR_SAMPLE);
    for d in left {
        if let Some(seconds) = next_green(store, d).await? {
            left_seconds.push(seconds);
        }
    }
    let mut by_action = serde_json::Map::new();
    for d in decisions {
        let key = d.decision.actions.first().map_or("nothing", |a| a.label());
        let entry = by_action.entry(key).or_insert_with(|| json!({"decided": 0, "executed": 0}));
        entry["decided"] = json!(entry["decided"].as_u64().unwrap_or(0) + 1);
        if d.execution.state != ExecutionState::NotExecuted {
            entry["executed"] = json!(entry["executed"].as_u64().unwrap_or(0) + 1);
        }
    }
    Ok(json!({
        "decisions": decisions.len(),
        "reruns_executed": executed.len(),
        "reruns_finished": finished.len(),
        "reruns_succeeded": healed.len(),
        "heal_rate": if finished.is_empty() { Value::Null } else { json!(healed.len() as f64 / finished.len() as f64) },
        "rerun_minutes": minutes,
        "mttr_healed_seconds": mean(&healed_seconds),
        "mttr_not_healed_seconds": mean(&left_seconds),
        "mttr_samples": { "healed": healed_seconds.len(), "not_healed": left_seconds.len() },
        "by_action": by_action,
    }))
}

fn mean(xs: &[f64]) -> Value {
    if xs.is_empty() { Value::Null } else { json!(xs.iter().sum::<f64>() / xs.len() as f64) }
}

async fn next_green(store: &dyn Store, d: &DecisionRecord) -> Result<Option<f64>, ApiError> {
    let query = Query::new()
        .eq("repo", d.repo.as_str())
        .filter("updated_at", Op::Gt, to_value(&d.failed_at)?)
        .order_by("updated_at", Order::Asc)
        .limit(500);
    for doc in store.query(names::RUNS, query).await? {
        let run: RunRecord = doc.parse()?;
        if run.workflow_name == d.workflow_name
            && run.head_branch == d.head_branch
            && run.conclusion.as_deref() == Some("success")
        {
            return Ok(Some((run.updated_at - d.failed_at).num_seconds() as f64));
        }
    }
    Ok(None)
}

async fn decisions(State(s): State<ApiState>, UrlQuery(q): UrlQuery<ListQuery>) -> ApiResult {
    let query = repo_filter(Query::new(), q.repo.as_deref())?.order_by("failed_at", Order::Desc).limit(limit(q.limit)?);
    let list: Vec<Value> = s.store.query(DECISIONS, query).await?.into_iter().map(|d| d.data).collect();
    Ok(Json(json!({ "decisions": list })))
}

async fn decision(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    let record: DecisionRecord = aetherveil_store::get_as(s.store.as_ref(), DECISIONS, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no decision {id} (ids are <run id>-<attempt>)")))?;
    let mut v = to_value(&record)?;
    v["explanation"] = json!(explain(&record));
    Ok(Json(v))
}

/// The decision in a few lines of prose.
pub fn explain(r: &DecisionRecord) -> Vec<String> {
    let d = &r.decision;
    let s = &d.situation;
    let mut out = vec![format!(
        "Run {} attempt {} of {} ({} on {}) failed in {} job(s).",
        r.run_id,
        r.run_attempt,
        r.repo,
        s.trigger,
        r.head_branch.as_deref().unwrap_or("?"),
        s.failures.len()
    )];
    for f in &s.failures {
        out.push(format!(
            "{}: {} ({}, confidence {:.2}); a rerun passes with p = {:.2}; {:.1} runner minutes; {} failed reruns in a row.",
            f.job,
            f.cause,
            if f.transient { "transient" } else { "deterministic" },
            f.confidence,
            f.p_rerun,
            f.minutes,
            f.failing_streak
        ));
    }
    for e in &r.evidence {
        if let Some(why) = &e.recurred {
            out.push(format!("{}: the diagnosis says a test failure, but {why}.", e.job));
        }
        if let Some(why) = &e.streak_reset {
            out.push(format!("{}: {why}.", e.job));
        }
    }
    for (action, ev) in &d.alternatives {
        out.push(format!("expected value of {}: {ev:.1} runner minutes", action.label()));
    }
    out.push(format!(
        "Decision: {}. {}",
        d.actions.iter().map(|a| a.label()).collect::<Vec<_>>().join(" + "),
        d.reason
    ));
    out.push(match r.execution.state {
        ExecutionState::NotExecuted => "Not executed.".to_owned(),
        ExecutionState::Pending => format!("Being carried out (try {}).", r.execution.tries),
        ExecutionState::Done => {
            format!("Done: {}.", r.execution.steps.iter().map(|s| s.detail.as_str()).collect::<Vec<_>>().join("; "))
        }
    });
    if let Some(o) = &r.outcome {
        out.push(format!("Outcome: attempt {} {}.", o.attempt, if o.success { "passed" } else { "failed again" }));
    }
    out
}

async fn mode_of(s: &ApiState, repo: &str) -> Result<Mode, ApiError> {
    Ok(repo_mode(s.store.as_ref(), repo, s.default_mode).await?)
}

fn valid_part(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn repo_of(owner: &str, name: &str) -> Result<String, ApiError> {
    if !valid_part(owner) || !valid_part(name) {
        return Err(ApiError::BadRequest(format!("{owner}/{name} is not a repository name")));
    }
    Ok(format!("{owner}/{name}"))
}

async fn get_mode(State(s): State<ApiState>, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    let repo = repo_of(&owner, &name)?;
    Ok(Json(json!({ "repo": repo, "mode": mode_of(&s, &repo).await?.label() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: String,
}

async fn set_mode(
    State(s): State<ApiState>,
    Path((owner, name)): Path<(String, String)>,
    body: Result<Json<ModeBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let repo = repo_of(&owner, &name)?;
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("expected {{\"mode\": \"act\"}}: {e}")))?;
    let mode = Mode::parse(&body.mode)
        .ok_or_else(|| ApiError::BadRequest(format!("mode must be observe, recommend or act, got {:?}", body.mode)))?;
    let previous = mode_of(&s, &repo).await?;
    s.store
        .put(names::CONFIG, &mode_id(&repo), json!({ "repo": repo, "mode": mode.label(), "set_at": Utc::now() }))
        .await?;
    tracing::info!(repo, from = previous.label(), to = mode.label(), "healer mode changed");
    Ok(Json(json!({ "repo": repo, "mode": mode.label(), "previous": previous.label() })))
}
