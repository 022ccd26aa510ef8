//! The pages. Each handler reads through `data.rs` (the JSON API in process, or bounded store
//! queries) and renders one HTML document; tables work without JavaScript, charts are SVG.

use crate::data::{CHARTED_JOBS, DURATION_POINTS, enc, num, parse_time};
use crate::html::{duration, esc, filters, page, pct, stat, table};
use crate::svg::{ForecastStep, LineChart, Marker, Point, bars, columns};
use crate::{Dashboard, DashboardError};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

const STYLE: &str = include_str!("../assets/style.css");
const FAVICON: &str = include_str!("../assets/favicon.svg");

pub fn router(d: Dashboard) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/analytics", get(analytics))
        .route("/anomalies", get(anomalies))
        .route("/anomalies/{id}", get(anomaly))
        .route("/failures", get(failures))
        .route("/healing", get(healing))
        .route("/security", get(security))
        .route("/alerts", get(alerts))
        .route("/ui/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }))
        .route("/ui/favicon.svg", get(|| async { ([(header::CONTENT_TYPE, "image/svg+xml")], FAVICON) }))
        .with_state(d)
}

/// A page that could not be rendered: a plain message, details only in the log.
struct PageError(DashboardError);

impl From<DashboardError> for PageError {
    fn from(e: DashboardError) -> Self {
        PageError(e)
    }
}

impl From<aetherveil_store::StoreError> for PageError {
    fn from(e: aetherveil_store::StoreError) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self.0 {
            DashboardError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            DashboardError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            e => {
                tracing::error!(error = %e, "page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log".to_owned())
            }
        };
        (status, Html(page("", "Error", &format!("<p>{}</p>", esc(&message))))).into_response()
    }
}

type PageResult = Result<Html<String>, PageError>;

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn badge(text: &str) -> String {
    format!(r#"<span class="badge {}">{}</span>"#, esc(text), esc(text))
}

fn repo_check(repo: &Option<String>) -> Result<Option<String>, DashboardError> {
    match repo.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) if r.split('/').count() == 2 && !r.starts_with('/') && !r.ends_with('/') => Ok(Some(r.to_owned())),
        Some(r) => Err(DashboardError::BadRequest(format!("repo must be owner/name, got {r:?}"))),
    }
}

fn anomaly_link(a: &Value) -> String {
    let id = s(&a["id"]);
    format!(
        r#"<a class="anomaly-link" data-anomaly-id="{}" href="/anomalies/{}">{}</a>"#,
        esc(&id),
        enc(&id),
        esc(&s(&a["kind"]))
    )
}

async fn overview(State(d): State<Dashboard>) -> PageResult {
    let o = d.overview().await?;
    let agents = d.agents().await?;
    let overall = &o["overall"];
    let mut body = String::from(r#"<div class="stats">"#);
    let score = num(&overall["score"]);
    let grade = s(&overall["grade"]);
    body += &stat(
        "overall health",
        &score.map_or("–".into(), |v| format!("{v:.1}")),
        if grade == "healthy" { "good" } else { "warn" },
    );
    body += &stat(&format!("success rate ({} days)", s(&o["days"])), &pct(num(&o["success_rate"])), "");
    body += &stat(
        "open anomalies",
        &s(&o["open_anomalies"]),
        if o["open_anomalies"].as_u64() > Some(0) { "warn" } else { "good" },
    );
    body += &stat(&format!("heals today ({})", s(&o["today"])), &s(&o["heals_today"]), "");
    body += &stat(
        "budget used today",
        &format!(
            "{} reruns · {:.0} min",
            s(&o["budget_used_today"]["reruns"]),
            num(&o["budget_used_today"]["minutes"]).unwrap_or(0.0)
        ),
        "",
    );
    body += &stat(
        "alerts firing",
        &s(&o["alerts_firing"]),
        if o["alerts_firing"].as_u64() > Some(0) { "bad" } else { "good" },
    );
    body += "</div>";
    let repos = o["repos"].as_array().cloned().unwrap_or_default();
    let bars_rows: Vec<(String, f64, String)> =
        repos.iter().filter_map(|r| Some((s(&r["repo"]), num(&r["score"])?, s(&r["grade"])))).collect();
    body += r#"<h2>Health per repository</h2><div class="panel">"#;
    body += &bars("health per repository", &bars_rows, 100.0, "");
    body += "</div>";
    let rows: Vec<Vec<String>> = repos
        .iter()
        .map(|r| {
            let repo = s(&r["repo"]);
            vec![
                format!(r#"<a href="/analytics?repo={}">{}</a>"#, enc(&repo), esc(&repo)),
                format!("{} {}", num(&r["score"]).map_or("–".into(), |v| format!("{v:.1}")), badge(&s(&r["grade"]))),
                pct(num(&r["success_rate"])),
                s(&r["runs"]),
                duration(num(&r["mttr_seconds"])),
                format!(r#"<a href="/anomalies?repo={}&amp;status=open">{}</a>"#, enc(&repo), s(&r["open_anomalies"])),
                format!("{} of {}", s(&r["heals_today"]), s(&r["healing_actions_today"])),
                format!(
                    "{} reruns · {:.0} min",
                    s(&r["budget_used_today"]["reruns"]),
                    num(&r["budget_used_today"]["minutes"]).unwrap_or(0.0)
                ),
                esc(&r["explanation"].as_array().and_then(|e| e.last()).map(s).unwrap_or_default()),
            ]
        })
        .collect();
    body += &table(
        "repos",
        &[
            "repository",
            "health",
            "success rate",
            "runs",
            "MTTR",
            "open anomalies",
            "heals today",
            "budget used today",
            "why",
        ],
        &rows,
    );
    body += "<h2>Agents</h2>";
    let state_rows: Vec<Vec<String>> = agents["agent_state"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            vec![
                esc(&s(&a["id"])),
                s(&a["version"]),
                esc(&s(&a["heartbeat_at"])),
                esc(&a["fields"]
                    .as_array()
                    .map(|f| f.iter().map(s).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()),
            ]
        })
        .collect();
    body += &table("agents", &["agent_state", "version (writes)", "last heartbeat", "holds"], &state_rows);
    let sub_rows: Vec<Vec<String>> = agents["subscriptions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let retrying = a["retrying"].as_u64().unwrap_or(0);
            vec![
                esc(&s(&a["subscription"])),
                s(&a["backlog"]),
                s(&a["retrying"]),
                badge(if retrying == 0 { "healthy" } else { "degraded" }),
            ]
        })
        .collect();
    body += &table("subscriptions", &["function (subscription)", "backlog", "retrying", "state"], &sub_rows);
    Ok(Html(page("/", "Overview", &body)))
}

#[derive(Deserialize)]
struct RepoParams {
    repo: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    cause: Option<String>,
}

fn t(v: &Value) -> Option<f64> {
    parse_time(v).map(|t| t.timestamp() as f64)
}

/// One job's duration chart: points, baseline band, anomalies, forecast of the next runs.
fn duration_chart(series: &Value, forecast: Option<&Value>) -> String {
    let points: Vec<Point> = series["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(Point {
                x: t(&p["completed_at"])?,
                y: num(&p["duration_seconds"])?,
                label: format!(
                    "run {} attempt {}: {} in {}",
                    s(&p["run_id"]),
                    s(&p["run_attempt"]),
                    s(&p["conclusion"]),
                    duration(num(&p["duration_seconds"]))
                ),
                failed: p["conclusion"] != "success",
            })
        })
        .collect();
    let by_job: BTreeMap<String, f64> = series["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((s(&p["job_id"]), num(&p["duration_seconds"])?)))
        .collect();
    let first = points.first().map_or(f64::MIN, |p| p.x);
    let markers: Vec<Marker> = series["anomalies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["kind"] != "queue_time")
        .filter_map(|a| {
            let x = t(&a["at"])?;
            (x >= first).then(|| Marker {
                x,
                y: by_job.get(&s(&a["job_id"])).copied(),
                id: s(&a["id"]),
                label: format!(
                    "{} ({}), score {:.2} / {}",
                    s(&a["kind"]),
                    s(&a["status"]),
                    num(&a["score"]).unwrap_or(0.0),
                    s(&a["threshold"])
                ),
            })
        })
        .collect();
    let b = &series["baseline"];
    let band = match (num(&b["lower"]), num(&b["center"]), num(&b["upper"])) {
        (Some(l), Some(c), Some(u)) => Some((l, c, u)),
        _ => None,
    };
    let last = points.last().map(|p| p.x);
    let spacing =
        if points.len() > 1 { (points[points.len() - 1].x - points[0].x) / (points.len() - 1) as f64 } else { 3600.0 };
    let forecast: Vec<ForecastStep> = match (forecast, last) {
        (Some(f), Some(last)) => f["points"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let step = num(&p["step"])?;
                let i80 = p["intervals"].as_array()?.iter().find(|i| num(&i["level"]) == Some(0.8))?;
                Some(ForecastStep {
                    x: last + step * spacing,
                    mean: num(&p["mean"])?,
                    lower: num(&i80["lower"])?.max(0.0),
                    upper: num(&i80["upper"])?,
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    LineChart {
        title: format!("{} / {} durations", s(&series["workflow"]), s(&series["job"])),
        unit: "s".into(),
        points,
        band,
        markers,
        forecast,
        time_axis: true,
    }
    .render()
}

fn queue_chart(series: &Value) -> String {
    let points: Vec<Point> = series["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(Point {
                x: t(&p["completed_at"])?,
                y: num(&p["queue_seconds"])?,
                label: format!("run {}: queued {}", s(&p["run_id"]), duration(num(&p["queue_seconds"]))),
                failed: false,
            })
        })
        .collect();
    LineChart { title: "queue time".into(), unit: "s".into(), points, time_axis: true, ..LineChart::default() }.render()
}

async fn analytics(State(d): State<Dashboard>, Query(p): Query<RepoParams>) -> PageResult {
    let health = d.api_get("/api/v1/health").await?;
    let repos = d.repos(&health).await;
    let repo = match repo_check(&p.repo)? {
        Some(r) => Some(r),
        None => repos.first().cloned(),
    };
    let mut body = filters("/analytics", &[("repo", "repository", repo.clone().unwrap_or_default(), repos.clone())]);
    let stats = d.job_stats(None).await?;
    if let Some(repo) = &repo {
        let mine = d.job_stats(Some(repo)).await?;
        let forecasts = d.api_get(&format!("/api/v1/forecasts?repo={}&horizon=24", enc(repo))).await?;
        let anomalies = d.api_get(&format!("/api/v1/anomalies?repo={}&limit=50", enc(repo))).await?;
        body += &format!("<h2>Durations over time: {}</h2>", esc(repo));
        body += r#"<p class="muted small">Each dot is a job attempt (red: not successful). The shaded band is the monitor's baseline (robust center ± 2 spreads, log scale); red lines and circles mark anomalies; the dashed orange line and its band forecast the next five runs (80% interval).</p><div class="grid2">"#;
        let mut jobs: Vec<&Value> = mine["slowest"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        jobs.sort_by(|a, b| (s(&a["workflow"]), s(&a["job"])).cmp(&(s(&b["workflow"]), s(&b["job"]))));
        for j in jobs.into_iter().take(CHARTED_JOBS) {
            let (workflow, job) = (s(&j["workflow"]), s(&j["job"]));
            let series = d.durations(repo, &workflow, &job, DURATION_POINTS).await?;
            let forecast = forecasts["series"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| {
                    f["workflow"] == workflow.as_str()
                        && f["job"] == job.as_str()
                        && f["duration_seconds_next_5_runs"]["points"].is_array()
                })
                .max_by_key(|f| f["duration_seconds_next_5_runs"]["observations"].as_u64().unwrap_or(0))
                .map(|f| &f["duration_seconds_next_5_runs"]);
            body += &format!(
                r#"<div class="panel job-panel" data-job="{}"><h3>{} / {}</h3>{}<h3 class="muted">queue time</h3>{}</div>"#,
                esc(&format!("{workflow}/{job}")),
                esc(&workflow),
                esc(&job),
                duration_chart(&series, forecast),
                queue_chart(&series)
            );
        }
        body += "</div><h2>Anomalies in this repository</h2>";
        let rows: Vec<Vec<String>> = anomalies["anomalies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                vec![
                    anomaly_link(a),
                    esc(&format!("{} / {}", s(&a["workflow"]), s(&a["job"]))),
                    badge(&s(&a["status"])),
                    esc(&s(&a["at"])),
                    format!("{:.2} / {}", num(&a["score"]).unwrap_or(0.0), s(&a["threshold"])),
                ]
            })
            .collect();
        body += &table("anomalies", &["kind", "job", "status", "at", "score / threshold"], &rows);
        body += "<h2>Forecasts</h2>";
        let rows: Vec<Vec<String>> = forecasts["series"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                let next = &f["duration_seconds_next_5_runs"]["points"][0];
                let i95 = next["intervals"]
                    .as_array()
                    .and_then(|i| i.iter().find(|i| num(&i["level"]) == Some(0.95)).cloned())
                    .unwrap_or(Value::Null);
                let runs: f64 =
                    f["runs_per_hour"]["points"].as_array().into_iter().flatten().filter_map(|p| num(&p["mean"])).sum();
                vec![
                    esc(&format!("{} / {} ({})", s(&f["workflow"]), s(&f["job"]), s(&f["branch_class"]))),
                    duration(num(&next["mean"])),
                    format!("{} – {}", duration(num(&i95["lower"])), duration(num(&i95["upper"]))),
                    if f["runs_per_hour"]["points"].is_array() {
                        format!("{runs:.1}")
                    } else {
                        esc(&s(&f["runs_per_hour"]["error"]))
                    },
                ]
            })
            .collect();
        body += &table("forecasts", &["series", "next run's duration", "95% interval", "runs in the next 24 h"], &rows);
    }
    body += "<h2>Slowest jobs (all repositories)</h2>";
    let rows: Vec<Vec<String>> = stats["slowest"]
        .as_array()
        .into_iter()
        .flatten()
        .take(10)
        .map(|j| {
            vec![
                esc(&s(&j["repo"])),
                esc(&format!("{} / {}", s(&j["workflow"]), s(&j["job"]))),
                duration(num(&j["typical_duration_seconds"])),
                duration(num(&j["typical_queue_seconds"])),
            ]
        })
        .collect();
    body += &table("slowest", &["repository", "job", "typical duration", "typical queue time"], &rows);
    body += "<h2>Least reliable jobs</h2>";
    let rows: Vec<Vec<String>> = stats["least_reliable"]
        .as_array()
        .into_iter()
        .flatten()
        .take(10)
        .map(|j| {
            vec![
                esc(&s(&j["repo"])),
                esc(&format!("{} / {}", s(&j["workflow"]), s(&j["job"]))),
                pct(num(&j["failure_rate"])),
                format!("{} of {}", s(&j["failures"]), s(&j["runs"])),
            ]
        })
        .collect();
    body += &table("least-reliable", &["repository", "job", "failure rate", "failed attempts"], &rows);
    Ok(Html(page("/analytics", "Pipeline analytics", &body)))
}

async fn anomalies(State(d): State<Dashboard>, Query(p): Query<RepoParams>) -> PageResult {
    let repo = repo_check(&p.repo)?;
    let mut path = "/api/v1/anomalies?limit=200".to_owned();
    for (k, v) in [("repo", &repo), ("kind", &p.kind), ("status", &p.status)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            path += &format!("&{k}={}", enc(v));
        }
    }
    let list = d.api_get(&path).await?;
    let health = d.api_get("/api/v1/health").await?;
    let repos = d.repos(&health).await;
    let kinds =
        ["duration_outlier", "duration_regression", "failure_rate_spike", "queue_time"].map(String::from).to_vec();
    let mut body = filters(
        "/anomalies",
        &[
            ("repo", "repository", repo.unwrap_or_default(), repos),
            ("kind", "kind", p.kind.clone().unwrap_or_default(), kinds),
            ("status", "status", p.status.clone().unwrap_or_default(), vec!["open".into(), "closed".into()]),
        ],
    );
    let rows: Vec<Vec<String>> = list["anomalies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            vec![
                anomaly_link(a),
                esc(&s(&a["repo"])),
                esc(&format!("{} / {}", s(&a["workflow"]), s(&a["job"]))),
                esc(&s(&a["branch_class"])),
                badge(&s(&a["status"])),
                esc(&s(&a["at"])),
                format!("{:.2} / {}", num(&a["score"]).unwrap_or(0.0), s(&a["threshold"])),
                s(&a["count"]),
                esc(&evidence_line(&a["evidence"])),
            ]
        })
        .collect();
    body += &table(
        "anomalies",
        &["kind", "repository", "job", "branch", "status", "opened at", "score / threshold", "runs", "evidence"],
        &rows,
    );
    Ok(Html(page("/anomalies", "Anomalies", &body)))
}

fn evidence_line(e: &Value) -> String {
    e.as_object()
        .map(|o| {
            o.iter()
                .take(6)
                .map(|(k, v)| match v.as_f64() {
                    Some(f) if f.fract() != 0.0 => format!("{k} {f:.3}"),
                    _ => format!("{k} {}", s(v)),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

async fn anomaly(State(d): State<Dashboard>, Path(id): Path<String>) -> PageResult {
    let a = d.api_get(&format!("/api/v1/anomalies/{}", enc(&id))).await?;
    let (repo, workflow, job) = (s(&a["repo"]), s(&a["workflow"]), s(&a["job"]));
    let mut body = format!(
        r#"<p>{} in <a href="/analytics?repo={}">{}</a>, {} / {} ({} branches), {}</p>"#,
        anomaly_link(&a),
        enc(&repo),
        esc(&repo),
        esc(&workflow),
        esc(&job),
        esc(&s(&a["branch_class"])),
        badge(&s(&a["status"]))
    );
    let fields = [
        ("opened at", s(&a["at"])),
        ("last run meeting the condition", s(&a["last_at"])),
        ("closed at", s(&a["closed_at"])),
        ("score", s(&a["score"])),
        ("threshold", s(&a["threshold"])),
        ("max score", s(&a["max_score"])),
        ("runs in the episode", s(&a["count"])),
        ("opening run / job", format!("{} / {}", s(&a["run_id"]), s(&a["job_id"]))),
        ("latest run / job", format!("{} / {}", s(&a["last_run_id"]), s(&a["last_job_id"]))),
    ];
    let rows: Vec<Vec<String>> = fields.iter().map(|(k, v)| vec![esc(k), esc(v)]).collect();
    body += &table("detail", &["field", "value"], &rows);
    body += "<h2>Evidence</h2>";
    let rows: Vec<Vec<String>> =
        a["evidence"].as_object().into_iter().flatten().map(|(k, v)| vec![esc(k), esc(&s(v))]).collect();
    body += &table("evidence", &["measure", "value"], &rows);
    let series = d.durations(&repo, &workflow, &job, DURATION_POINTS).await?;
    body += &format!(
        r#"<h2>Durations of {} / {}</h2><div class="panel">{}</div>"#,
        esc(&workflow),
        esc(&job),
        duration_chart(&series, None)
    );
    Ok(Html(page("/anomalies", "Anomaly", &body)))
}

async fn failures(State(d): State<Dashboard>, Query(p): Query<RepoParams>) -> PageResult {
    let repo = repo_check(&p.repo)?;
    let mut path = "/api/v1/diagnoses?limit=100".to_owned();
    if let Some(r) = &repo {
        path += &format!("&repo={}", enc(r));
    }
    if let Some(c) = p.cause.as_deref().filter(|c| !c.is_empty()) {
        path += &format!("&cause={}", enc(c));
    }
    let list = d.api_get(&path).await?;
    let diagnoses = list["diagnoses"].as_array().cloned().unwrap_or_default();
    let mut by_cause: BTreeMap<String, f64> = BTreeMap::new();
    for x in &diagnoses {
        *by_cause.entry(s(&x["cause"])).or_default() += 1.0;
    }
    let mut body = filters(
        "/failures",
        &[
            ("repo", "repository (owner/name)", repo.unwrap_or_default(), vec![]),
            ("cause", "cause", p.cause.clone().unwrap_or_default(), vec![]),
        ],
    );
    let rows: Vec<(String, f64, String)> = by_cause.into_iter().map(|(c, n)| (c, n, String::new())).collect();
    body += &format!(
        r#"<h2>Causes of the latest {} failures</h2><div class="panel">{}</div>"#,
        diagnoses.len(),
        bars("causes", &rows, 0.0, "")
    );
    let mut table_rows = Vec::new();
    for x in &diagnoses {
        let decision_id = format!("{}-{}", s(&x["run_id"]), s(&x["run_attempt"]));
        let action = match d.store.get(aetherveil_healer::names::DECISIONS, &decision_id).await? {
            Some(doc) => {
                let dd = &doc.data;
                let actions = dd["decision"]["actions"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                format!(
                    "{} {}<div class=\"small muted\">{}</div>",
                    esc(&actions),
                    badge(&s(&dd["execution"]["state"])),
                    esc(&s(&dd["decision"]["reason"]))
                )
            }
            None => r#"<span class="muted">no decision yet</span>"#.to_owned(),
        };
        let lines: String = x["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .take(4)
            .map(|l| format!("{}:{} {}", s(&l["step"]), s(&l["line"]), s(&l["text"])))
            .collect::<Vec<_>>()
            .join("\n");
        table_rows.push(vec![
            esc(&s(&x["repo"])),
            format!(
                r#"{} / {}<div class="small"><a href="{}">run {} attempt {}</a></div>"#,
                esc(&s(&x["workflow_name"])),
                esc(&s(&x["job_name"])),
                esc(&s(&x["html_url"])),
                s(&x["run_id"]),
                s(&x["run_attempt"])
            ),
            format!(
                "{}<div class=\"small muted\">{}</div>",
                esc(&s(&x["cause"])),
                if x["transient"] == true { "transient" } else { "not transient" }
            ),
            format!("{:.0}%", num(&x["confidence"]).unwrap_or(0.0) * 100.0),
            format!(
                "{}<pre>{}</pre><div class=\"small muted\">remedy: {}</div>",
                esc(&s(&x["summary"])),
                esc(&lines),
                esc(&s(&x["remedy"]))
            ),
            action,
        ]);
    }
    body += &table(
        "diagnoses",
        &["repository", "job", "cause", "confidence", "why (relevant lines)", "action taken"],
        &table_rows,
    );
    Ok(Html(page("/failures", "Failures", &body)))
}

async fn healing(State(d): State<Dashboard>, Query(p): Query<RepoParams>) -> PageResult {
    let repo = repo_check(&p.repo)?;
    let q = repo.as_ref().map(|r| format!("&repo={}", enc(r))).unwrap_or_default();
    let h = d.api_get(&format!("/api/v1/healing?limit=500{q}")).await?;
    let decisions = d.api_get(&format!("/api/v1/decisions?limit=50{q}")).await?;
    let st = &h["stats"];
    let spent = num(&st["rerun_minutes"]).unwrap_or(0.0);
    let saved = crate::api::minutes_saved(st);
    let mut body = filters("/healing", &[("repo", "repository (owner/name)", repo.unwrap_or_default(), vec![])]);
    body += r#"<div class="stats">"#;
    body += &stat("heal rate", &pct(num(&st["heal_rate"])), "good");
    body += &stat("decisions", &s(&st["decisions"]), "");
    body += &stat("reruns executed", &s(&st["reruns_executed"]), "");
    body += &stat("reruns that passed", &s(&st["reruns_succeeded"]), "");
    body += &stat("runner minutes spent", &format!("{spent:.0}"), "");
    body += &stat("minutes to green saved", &saved.map_or("–".into(), |m| format!("{m:.0}")), "good");
    body += &stat(
        "MTTR healed / left to people",
        &format!("{} / {}", duration(num(&st["mttr_healed_seconds"])), duration(num(&st["mttr_not_healed_seconds"]))),
        "",
    );
    body += "</div>";
    body += r#"<p class="muted small">Minutes saved: for each rerun that passed, the median time to green of failures left to people minus that of healed ones (GET /api/v1/healing's MTTRs).</p>"#;
    let mut per_day: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for e in h["history"].as_array().into_iter().flatten() {
        let day = s(&e["timestamp"]).chars().take(10).collect::<String>();
        let slot = per_day.entry(day).or_default();
        if e["success"] == true {
            slot.0 += 1.0;
        } else {
            slot.1 += 1.0;
        }
    }
    let days: Vec<(String, f64, f64)> =
        per_day.into_iter().map(|(k, (g, b))| (k.chars().skip(5).collect(), g, b)).collect();
    body += &format!(
        r#"<h2>Healing actions per day</h2><div class="panel">{}<div class="small muted">green: healed · red: not healed or pending</div></div>"#,
        columns("healing actions per day", &days, "healed", "not healed")
    );
    body += "<h2>Decisions and their explanation</h2>";
    let rows: Vec<Vec<String>> = decisions["decisions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            vec![
                esc(&s(&x["failed_at"])),
                esc(&format!("{} / {}", s(&x["repo"]), s(&x["workflow_name"]))),
                format!(r#"<a href="{}">{}</a>"#, esc(&s(&x["run_url"])), esc(&s(&x["id"]))),
                esc(&x["decision"]["actions"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()),
                format!("{:.1}", num(&x["decision"]["expected_value"]).unwrap_or(0.0)),
                badge(&s(&x["execution"]["state"])),
                esc(&s(&x["outcome"])),
                esc(&s(&x["decision"]["reason"])),
            ]
        })
        .collect();
    body += &table(
        "decisions",
        &[
            "failed at",
            "repository / workflow",
            "run-attempt",
            "actions",
            "expected value (min)",
            "execution",
            "outcome",
            "explanation",
        ],
        &rows,
    );
    body += "<h2>History</h2>";
    let rows: Vec<Vec<String>> = h["history"]
        .as_array()
        .into_iter()
        .flatten()
        .take(100)
        .map(|e| {
            vec![
                esc(&s(&e["timestamp"])),
                esc(&s(&e["repository"])),
                esc(&e["healing_actions"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()),
                esc(&s(&e["failure_type"])),
                badge(match &e["success"] {
                    Value::Bool(true) => "success",
                    Value::Bool(false) => "failed",
                    _ => "pending",
                }),
                format!("{:.1}", num(&e["rerun_minutes"]).unwrap_or(0.0)),
                esc(&s(&e["reason"])),
            ]
        })
        .collect();
    body += &table(
        "history",
        &["at", "repository", "actions", "failure type", "result", "runner minutes", "reason"],
        &rows,
    );
    Ok(Html(page("/healing", "Self-healing", &body)))
}

async fn security(State(d): State<Dashboard>, Query(p): Query<RepoParams>) -> PageResult {
    let repo = repo_check(&p.repo)?;
    let q = repo.as_ref().map(|r| format!("&repo={}", enc(r))).unwrap_or_default();
    let sec = d.api_get(&format!("/api/v1/security?limit=500{q}")).await?;
    let mut body = filters("/security", &[("repo", "repository (owner/name)", repo.unwrap_or_default(), vec![])]);
    let repos = sec["repositories"].as_array().cloned().unwrap_or_default();
    if repos.is_empty() {
        body += r#"<p class="muted">No gate verdicts yet: POST /gate/trivy (docs/gate.md) records them.</p>"#;
    }
    let rows: Vec<Vec<String>> = repos
        .iter()
        .map(|r| {
            let l = &r["latest"];
            vec![
                esc(&s(&r["repo"])),
                badge(if l["passed"] == true { "passed" } else { "failed" }),
                format!("{} of {}", s(&r["passed"]), s(&r["verdicts"])),
                pct(num(&r["pass_rate"])),
                esc(&s(&r["change_since_previous"])),
                esc(&l["reasons"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect::<Vec<_>>().join("; "))
                    .unwrap_or_default()),
            ]
        })
        .collect();
    body += &table(
        "verdicts",
        &["repository", "latest verdict", "passed", "pass rate", "change since previous", "reasons"],
        &rows,
    );
    for r in &repos {
        let points: Vec<Point> = r["trend"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| {
                Some(Point {
                    x: t(&v["gated_at"])?,
                    y: num(&v["critical"]).unwrap_or(0.0) + num(&v["high"]).unwrap_or(0.0),
                    label: format!(
                        "{} {}: {} critical, {} high, {}",
                        s(&v["ref"]),
                        s(&v["gated_at"]),
                        s(&v["critical"]),
                        s(&v["high"]),
                        if v["passed"] == true { "passed" } else { "failed" }
                    ),
                    failed: v["passed"] != true,
                })
            })
            .collect();
        let chart = LineChart {
            title: "critical + high findings".into(),
            unit: String::new(),
            points,
            time_axis: true,
            ..LineChart::default()
        };
        body += &format!(
            r#"<h2>{}: critical and high findings per verdict</h2><div class="panel">{}</div>"#,
            esc(&s(&r["repo"])),
            chart.render()
        );
    }
    Ok(Html(page("/security", "Security", &body)))
}

async fn alerts(State(d): State<Dashboard>) -> PageResult {
    let firing = d.alerts_list(Some("firing"), 200).await?;
    let recent = d.alerts_list(None, 200).await?;
    let rules = crate::alerts::rules::describe(&d.alerts);
    let row = |a: &Value| {
        vec![
            badge(&s(&a["status"])),
            badge(&s(&a["severity"])),
            esc(&s(&a["rule"])),
            esc(&s(&a["subject"])),
            esc(&s(&a["summary"])),
            esc(&s(&a["started_at"])),
            esc(&s(&a["resolved_at"])),
            esc(&a["notifications"]
                .as_array()
                .map(|n| {
                    n.iter().map(|x| format!("{}: {}", s(&x["event"]), s(&x["result"]))).collect::<Vec<_>>().join(", ")
                })
                .unwrap_or_default()),
        ]
    };
    let headers = ["status", "severity", "rule", "subject", "summary", "since", "resolved", "notifications"];
    let mut body = format!("<h2>Firing ({})</h2>", firing.len());
    body += &table("alerts firing", &headers, &firing.iter().map(row).collect::<Vec<_>>());
    body += "<h2>Recent</h2>";
    body += &table("alerts recent", &headers, &recent.iter().map(row).collect::<Vec<_>>());
    body += "<h2>Rules</h2>";
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|r| vec![esc(&s(&r["name"])), esc(&s(&r["kind"])), badge(&s(&r["severity"])), esc(&s(&r["condition"]))])
        .collect();
    body += &table("rules", &["rule", "kind", "severity", "fires when"], &rows);
    Ok(Html(page("/alerts", "Alerts", &body)))
}
