//! What the pages and the dashboard's API read: the platform's JSON API called in process, and
//! a few bounded, indexed store queries of their own.

use crate::names::ALERTS;
use crate::{Dashboard, DashboardError};
use aetherveil_models::names;
use aetherveil_store::{Order, Query};
use axum::body::Body;
use chrono::{DateTime, NaiveDate, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tower::ServiceExt;

/// Points of one job's duration chart.
pub const DURATION_POINTS: usize = 200;
/// Jobs charted on the analytics page.
pub const CHARTED_JOBS: usize = 12;

/// Percent-encodes a URL component (a query value or a path segment): RFC 3986 unreserved bytes stay.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A number from JSON, or `None`.
pub fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

impl Dashboard {
    /// GETs `path` from the platform's API in process and returns its JSON.
    pub(crate) async fn api_get(&self, path: &str) -> Result<Value, DashboardError> {
        let request = axum::http::Request::get(path)
            .body(Body::empty())
            .map_err(|e| DashboardError::BadRequest(format!("bad path {path}: {e}")))?;
        let response = match self.api.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| DashboardError::Decode { path: path.to_owned(), reason: e.to_string() })?
            .to_bytes();
        match status {
            200 => serde_json::from_slice(&bytes)
                .map_err(|e| DashboardError::Decode { path: path.to_owned(), reason: e.to_string() }),
            400 => Err(DashboardError::BadRequest(message(&bytes))),
            404 => Err(DashboardError::NotFound(message(&bytes))),
            _ => Err(DashboardError::Api { path: path.to_owned(), status }),
        }
    }

    /// Repositories the monitor tracks, sorted (from the health answer, which lists them all).
    pub(crate) async fn repos(&self, health: &Value) -> Vec<String> {
        let mut out: Vec<String> = health["repos"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["repo"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The UTC day of the newest run the platform has seen: "today" in event time, the way the
    /// healer's budget and the health window count days.
    pub(crate) async fn event_today(&self) -> Result<Option<NaiveDate>, DashboardError> {
        let newest = self.store.query(names::RUNS, Query::new().order_by("updated_at", Order::Desc).limit(1)).await?;
        Ok(newest.first().and_then(|d| parse_time(&d.data["updated_at"])).map(|t| t.date_naive()))
    }

    /// The overview: health per repository and overall, success rate, MTTR, open anomalies,
    /// heals and budget used today, agents, firing alerts.
    pub(crate) async fn overview(&self) -> Result<Value, DashboardError> {
        let health = self.api_get("/api/v1/health").await?;
        let today = self.event_today().await?;
        let open = self
            .store
            .query(names::ANOMALIES, Query::new().eq("status", "open").order_by("last_at_ms", Order::Desc).limit(1000))
            .await?;
        let mut open_by_repo: BTreeMap<String, u64> = BTreeMap::new();
        for d in &open {
            *open_by_repo.entry(d.data["repo"].as_str().unwrap_or("").to_owned()).or_default() += 1;
        }
        let budgets = self.store.query(aetherveil_healer::names::BUDGETS, Query::new().limit(1000)).await?;
        let mut budget_by_repo: BTreeMap<String, Value> = BTreeMap::new();
        for b in budgets {
            let on_day = today.map(|t| t.to_string());
            let used_today = on_day.is_some() && b.data["day"].as_str() == on_day.as_deref();
            let (reruns, minutes) = if used_today {
                (b.data["reruns"].as_u64().unwrap_or(0), num(&b.data["minutes"]).unwrap_or(0.0))
            } else {
                (0, 0.0)
            };
            budget_by_repo.insert(b.id.clone(), json!({"reruns": reruns, "minutes": minutes}));
        }
        let mut heals_by_repo: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        if let Some(day) = today {
            let start = format!("{day}T00:00:00Z");
            let history = self
                .store
                .query(
                    names::HEALING_HISTORY,
                    Query::new()
                        .filter("timestamp", aetherveil_store::Op::Ge, start.as_str())
                        .order_by("timestamp", Order::Desc)
                        .limit(1000),
                )
                .await?;
            for h in history {
                let e = heals_by_repo.entry(h.data["repository"].as_str().unwrap_or("").to_owned()).or_default();
                e.0 += 1;
                if h.data["success"] == Value::Bool(true) {
                    e.1 += 1;
                }
            }
        }
        let mut repos = Vec::new();
        let (mut runs, mut successes) = (0.0, 0.0);
        for r in health["repos"].as_array().into_iter().flatten() {
            let name = r["repo"].as_str().unwrap_or("").to_owned();
            let h = &r["health"];
            let comps = &h["components"];
            let rate = num(&comps["success_rate"]["measure"]);
            let n = num(&h["runs"]).unwrap_or(0.0);
            if let Some(rate) = rate {
                runs += n;
                successes += rate * n;
            }
            let (actions, healed) = heals_by_repo.get(&name).copied().unwrap_or((0, 0));
            repos.push(json!({
                "repo": name,
                "score": h["score"],
                "grade": h["grade"],
                "runs": h["runs"],
                "success_rate": rate,
                "mttr_seconds": comps["recovery"]["measure"],
                "open_anomalies": open_by_repo.get(&name).copied().unwrap_or(0),
                "healing_actions_today": actions,
                "heals_today": healed,
                "budget_used_today": budget_by_repo.get(&name).cloned().unwrap_or(json!({"reruns": 0, "minutes": 0.0})),
                "explanation": h["explanation"],
            }));
        }
        let firing = self.alerts_list(Some("firing"), 100).await?;
        Ok(json!({
            "today": today.map(|d| d.to_string()),
            "overall": health["overall"],
            "days": health["days"],
            "success_rate": if runs > 0.0 { json!(successes / runs) } else { Value::Null },
            "open_anomalies": open.len(),
            "heals_today": heals_by_repo.values().map(|v| v.1).sum::<u64>(),
            "healing_actions_today": heals_by_repo.values().map(|v| v.0).sum::<u64>(),
            "budget_used_today": {
                "reruns": budget_by_repo.values().filter_map(|b| b["reruns"].as_u64()).sum::<u64>(),
                "minutes": budget_by_repo.values().filter_map(|b| num(&b["minutes"])).sum::<f64>(),
            },
            "repos": repos,
            "alerts_firing": firing.len(),
        }))
    }

    /// Agents: each `agent_state` document (its id, version and when it last changed) and each
    /// bus subscription's backlog (the functions' heartbeat: a subscription that keeps up is alive).
    pub(crate) async fn agents(&self) -> Result<Value, DashboardError> {
        let docs = self.store.query(names::AGENT_STATE, Query::new().limit(200)).await?;
        let state: Vec<Value> = docs
            .iter()
            .map(|d| {
                let at = ["heartbeat_at", "updated_at", "trained_at", "at"]
                    .iter()
                    .find_map(|k| d.data.get(*k).filter(|v| v.is_string()).cloned())
                    .unwrap_or(Value::Null);
                let keys: Vec<&str> =
                    d.data.as_object().map(|o| o.keys().map(String::as_str).take(8).collect()).unwrap_or_default();
                json!({"id": d.id, "version": d.version, "heartbeat_at": at, "fields": keys})
            })
            .collect();
        let subs = self.bus.stats().await.map_err(|e| DashboardError::Bus(e.to_string()))?;
        let subscriptions: Vec<Value> = subs
            .iter()
            .map(|s| json!({"subscription": s.subscription, "backlog": s.backlog, "retrying": s.retrying}))
            .collect();
        Ok(json!({"agent_state": state, "subscriptions": subscriptions}))
    }

    /// Alerts, newest first; `status` firing or resolved.
    pub(crate) async fn alerts_list(&self, status: Option<&str>, limit: usize) -> Result<Vec<Value>, DashboardError> {
        let mut q = Query::new();
        if let Some(s) = status {
            q = q.eq("status", s);
        }
        let docs = self.store.query(ALERTS, q.order_by("started_at_ms", Order::Desc).limit(limit)).await?;
        Ok(docs.into_iter().map(|d| d.data).collect())
    }

    /// One job's latest completions (duration, queue time, conclusion), oldest first, with the
    /// anomalies of that job and its baseline band.
    pub(crate) async fn durations(
        &self,
        repo: &str,
        workflow: &str,
        job: &str,
        limit: usize,
    ) -> Result<Value, DashboardError> {
        let docs = self
            .store
            .query(
                names::JOBS,
                Query::new()
                    .eq("repo", repo)
                    .eq("workflow_name", workflow)
                    .eq("name", job)
                    .order_by("completed_at", Order::Desc)
                    .limit(limit),
            )
            .await?;
        let mut points: Vec<Value> = docs
            .iter()
            .filter_map(|d| {
                let j = &d.data;
                let end = parse_time(&j["completed_at"])?;
                let start = parse_time(&j["started_at"]);
                let created = parse_time(&j["created_at"]);
                let secs = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_milliseconds() as f64 / 1000.0;
                Some(json!({
                    "job_id": j["job_id"],
                    "run_id": j["run_id"],
                    "run_attempt": j["run_attempt"],
                    "completed_at": j["completed_at"],
                    "conclusion": j["conclusion"],
                    "duration_seconds": start.map(|s| secs(s, end)),
                    "queue_seconds": match (created, start) { (Some(c), Some(s)) => Some(secs(c, s).max(0.0)), _ => None },
                }))
            })
            .collect();
        points.reverse();
        let anomalies: Vec<Value> = self
            .store
            .query(names::ANOMALIES, Query::new().eq("repo", repo).order_by("last_at_ms", Order::Desc).limit(500))
            .await?
            .into_iter()
            .map(|d| d.data)
            .filter(|a| a["workflow"] == workflow && a["job"] == job)
            .collect();
        let baselines = self.api_get(&format!("/api/v1/baselines?repo={}&limit=1000", enc(repo))).await?;
        let band = baselines["baselines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["workflow"] == workflow && b["job"] == job)
            .max_by_key(|b| b["n"].as_u64().unwrap_or(0))
            .and_then(|b| {
                let center = num(&b["center"])?;
                let spread = num(&b["spread"])?;
                Some(json!({
                    "branch_class": b["branch_class"],
                    "center": center,
                    "lower": center * (-2.0 * spread).exp(),
                    "upper": center * (2.0 * spread).exp(),
                    "sigmas": 2,
                }))
            });
        Ok(json!({
            "repo": repo, "workflow": workflow, "job": job,
            "points": points, "anomalies": anomalies, "baseline": band,
        }))
    }

    /// Per job (all branch classes pooled): typical duration, typical queue time, failure share
    /// and runs, from the monitor's baselines; ranked slowest first and least reliable first.
    pub(crate) async fn job_stats(&self, repo: Option<&str>) -> Result<Value, DashboardError> {
        let path = match repo {
            Some(r) => format!("/api/v1/baselines?repo={}&limit=1000", enc(r)),
            None => "/api/v1/baselines?limit=1000".to_owned(),
        };
        let baselines = self.api_get(&path).await?;
        let mut jobs: BTreeMap<(String, String, String), JobTotals> = BTreeMap::new();
        for b in baselines["baselines"].as_array().into_iter().flatten() {
            let key = (
                b["repo"].as_str().unwrap_or("").to_owned(),
                b["workflow"].as_str().unwrap_or("").to_owned(),
                b["job"].as_str().unwrap_or("").to_owned(),
            );
            let e = jobs.entry(key).or_default();
            let n = b["n"].as_u64().unwrap_or(0) as f64;
            let qn = b["queue"]["n"].as_u64().unwrap_or(0) as f64;
            if let Some(c) = num(&b["center"]) {
                e.0 += c * n;
                e.1 += n;
            }
            if let Some(q) = num(&b["queue"]["center"]) {
                e.2 += q * qn;
                e.3 += qn;
            }
            e.4 += b["failure_rate"]["total_failures"].as_u64().unwrap_or(0);
            e.5 += b["failure_rate"]["total_passes"].as_u64().unwrap_or(0);
        }
        let rows: Vec<Value> = jobs
            .into_iter()
            .map(|((repo, workflow, job), (dsum, dn, qsum, qn, fails, passes))| {
                let runs = fails + passes;
                json!({
                    "repo": repo, "workflow": workflow, "job": job,
                    "typical_duration_seconds": if dn > 0.0 { json!(dsum / dn) } else { Value::Null },
                    "typical_queue_seconds": if qn > 0.0 { json!(qsum / qn) } else { Value::Null },
                    "failures": fails,
                    "runs": runs,
                    "failure_rate": if runs > 0 { json!(fails as f64 / runs as f64) } else { Value::Null },
                })
            })
            .collect();
        let mut slowest = rows.clone();
        slowest.sort_by(|a, b| {
            num(&b["typical_duration_seconds"])
                .unwrap_or(0.0)
                .total_cmp(&num(&a["typical_duration_seconds"]).unwrap_or(0.0))
        });
        let mut least_reliable = rows;
        least_reliable.retain(|r| r["runs"].as_u64() > Some(0));
        least_reliable
            .sort_by(|a, b| num(&b["failure_rate"]).unwrap_or(0.0).total_cmp(&num(&a["failure_rate"]).unwrap_or(0.0)));
        Ok(json!({"slowest": slowest, "least_reliable": least_reliable}))
    }
}

/// Per job: duration sum and count, queue sum and count, failures, passes.
type JobTotals = (f64, f64, f64, f64, u64, u64);

fn message(bytes: &[u8]) -> String {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "request refused".to_owned())
}
