//! `GET /api/v1/health` and `GET /api/v1/forecasts`: the monitor's state turned into a health
//! score (formula in `aetherveil_monitor::health`) and Holt-Winters forecasts (in
//! `aetherveil_monitor::forecast`). Both read the monitor's documents from the store, so any
//! instance can answer, and both use event time: the window ends at the newest day the monitor
//! has seen, not at the wall clock.

use aetherveil_monitor::forecast::{self, HoltWintersConfig, HourlySeries, Seasons};
use aetherveil_monitor::health::{self, Health, HealthConfig, HealthInputs, Window};
use aetherveil_monitor::{FlakyState, RepoHealthInputs, inputs};
use aetherveil_runtime::api::{ApiError, ApiResult};
use aetherveil_store::{Query, Store};
use axum::extract::{Query as QueryParams, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
pub struct InsightsState {
    pub store: Arc<dyn Store>,
}

pub fn router(state: InsightsState) -> Router {
    Router::new()
        .route("/api/v1/health", get(health_endpoint))
        .route("/api/v1/forecasts", get(forecasts_endpoint))
        .with_state(state)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

#[derive(Deserialize)]
struct HealthParams {
    repo: Option<String>,
    /// Days of history the score covers (default 7).
    days: Option<i64>,
}

/// The monitor's inputs of one repository, over the last `days` days it has seen.
fn health_inputs(r: &RepoHealthInputs, days: i64) -> HealthInputs {
    let end_day = r.daily.last().map(|d| d.date);
    let start_day = end_day.map(|d| d - Duration::days(days - 1));
    let in_window = |d: &chrono::NaiveDate| start_day.is_some_and(|s| *d >= s);
    let (mut runs, mut successes) = (0, 0);
    for d in r.daily.iter().filter(|d| in_window(&d.date)) {
        runs += d.all.success + d.all.failure;
        successes += d.all.success;
    }
    let day_start = |d: chrono::NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    let start = start_day.map(day_start).unwrap_or_else(Utc::now);
    let end = end_day.map(|d| day_start(d) + Duration::days(1)).unwrap_or(start);
    HealthInputs {
        runs,
        successes,
        recoveries: r
            .recoveries
            .iter()
            .filter(|s| s.recovered_at >= start)
            .map(|s| std::time::Duration::from_secs_f64(s.seconds.max(0.0)))
            .collect(),
        failing_since: r.failing_since.iter().map(|(_, t)| *t).min(),
        open_anomalies: r.open_anomalies.values().sum::<u64>().min(u64::from(u32::MAX)) as u32,
        flaky_jobs: r.jobs.iter().filter(|j| j.flaky_state == FlakyState::Flaky).count() as u32,
        jobs: r.jobs.len() as u32,
        window: Window { start, end: end.max(start) },
    }
}

async fn repo_health(store: &dyn Store, repo: &str, days: i64, config: &HealthConfig) -> Result<Health, ApiError> {
    let r = inputs::health_inputs(store, repo).await.map_err(internal)?;
    health::score(&health_inputs(&r, days), config).map_err(internal)
}

/// Repositories the monitor tracks.
async fn repos(store: &dyn Store) -> Result<Vec<String>, ApiError> {
    let docs = store.query(aetherveil_monitor::names::WORKFLOWS, Query::new()).await.map_err(internal)?;
    let mut out: Vec<String> =
        docs.iter().filter_map(|d| d.data.get("repo").and_then(Value::as_str).map(str::to_owned)).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

async fn health_endpoint(State(s): State<InsightsState>, QueryParams(p): QueryParams<HealthParams>) -> ApiResult {
    let days = p.days.unwrap_or(7);
    if !(1..=365).contains(&days) {
        return Err(ApiError::BadRequest(format!("days must be between 1 and 365, got {days}")));
    }
    let config = HealthConfig::default();
    let names = match p.repo {
        Some(repo) => vec![repo],
        None => repos(s.store.as_ref()).await?,
    };
    let mut scored = Vec::with_capacity(names.len());
    for name in names {
        let h = repo_health(s.store.as_ref(), &name, days, &config).await?;
        scored.push((name, h));
    }
    let pairs: Vec<(&str, &Health)> = scored.iter().map(|(n, h)| (n.as_str(), h)).collect();
    let overall = health::overall_by_runs(&pairs, &config);
    let repos: Vec<Value> = scored.iter().map(|(n, h)| json!({"repo": n, "health": h})).collect();
    Ok(Json(json!({"days": days, "overall": overall, "repos": repos})))
}

#[derive(Deserialize)]
struct ForecastParams {
    repo: Option<String>,
    /// Hours of run counts to forecast (default 24).
    horizon: Option<usize>,
}

/// Hourly run counts from the monitor's active hours (absent hours had no run).
fn hourly_series(buckets: &[aetherveil_monitor::stats::HourBucket]) -> Option<HourlySeries> {
    let first = buckets.iter().map(|b| b.hour).min()?;
    let last = buckets.iter().map(|b| b.hour).max()?;
    let mut counts = vec![0u64; (last - first + 1) as usize];
    for b in buckets {
        counts[(b.hour - first) as usize] += u64::from(b.runs);
    }
    let start = DateTime::<Utc>::from_timestamp(i64::from(first) * 3600, 0)?;
    Some(HourlySeries { start, counts, dropped: 0 })
}

async fn forecasts_endpoint(State(s): State<InsightsState>, QueryParams(p): QueryParams<ForecastParams>) -> ApiResult {
    let horizon = p.horizon.unwrap_or(24);
    if !(1..=forecast::MAX_HORIZON).contains(&horizon) {
        return Err(ApiError::BadRequest(format!("horizon must be between 1 and {}", forecast::MAX_HORIZON)));
    }
    let Some(repo) = p.repo else {
        return Err(ApiError::BadRequest("give a repository: ?repo=owner/name".into()));
    };
    let histories = inputs::forecast_inputs(s.store.as_ref(), &repo).await.map_err(internal)?;
    let counts_config = HoltWintersConfig::hourly_counts();
    let durations_config = HoltWintersConfig { seasons: Seasons::None, ..HoltWintersConfig::hourly_counts() };
    let series: Vec<Value> = histories
        .iter()
        .map(|h| {
            let runs = match hourly_series(&h.hourly) {
                Some(hs) if hs.counts.len() >= counts_config.warmup_len() => {
                    forecast::forecast_hourly(&hs, &counts_config, horizon).map_or_else(
                        |e| json!({"error": e.to_string()}),
                        |f| serde_json::to_value(f).unwrap_or(Value::Null),
                    )
                }
                _ => json!({"error": format!("needs {} hours of history", counts_config.warmup_len())}),
            };
            let durations = if h.recent_durations.len() >= durations_config.warmup_len() {
                forecast::HoltWinters::fit(durations_config, &h.recent_durations)
                    .and_then(|m| m.forecast(5))
                    .map_or_else(
                        |e| json!({"error": e.to_string()}),
                        |f| serde_json::to_value(f).unwrap_or(Value::Null),
                    )
            } else {
                json!({"error": "not enough successful runs yet"})
            };
            json!({
                "workflow": h.workflow,
                "job": h.job,
                "branch_class": h.branch_class,
                "runs_per_hour": runs,
                "duration_seconds_next_5_runs": durations,
            })
        })
        .collect();
    Ok(Json(json!({"repo": repo, "horizon_hours": horizon, "series": series})))
}
