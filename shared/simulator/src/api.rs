//! The simulated GitHub REST API: the real paths, status codes, JSON shapes and rate-limit
//! headers for what the platform calls, plus injected faults.
//!
//! Every route under `/repos` needs an `Authorization` header (any token), is counted against
//! the primary rate limit (`x-ratelimit-*` headers on every answer, 403 once exhausted) and a
//! secondary one (429 with `retry-after` past `burst_per_second`), and may be hit by a fault
//! (5xx or a slow answer) at the scenario's rates or by one queued with [`ApiState::inject`].
//! Log downloads answer 302 to `/_blobs/...`, which serves the bytes without auth, like GitHub's
//! pre-signed blob URLs.

use crate::engine::Shared;
use crate::model::Status;
use crate::payloads;
use crate::rng::Rng;
use crate::scenario::ApiSettings;
use crate::world::{Cache, CheckRun, Issue, RerunError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fault queued for the next matching requests.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Applies to request paths starting with this (`""` matches all).
    pub path_prefix: String,
    /// How many requests it hits.
    pub count: u32,
    pub kind: FaultKind,
}

#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status (5xx, or 403/429 with `retry_after` for a secondary limit).
    Status { status: u16, retry_after: Option<u64> },
    /// The primary rate limit is exhausted: 403 with `x-ratelimit-remaining: 0`, reset this far ahead.
    RateLimited { reset_in: Duration },
    /// Answer normally after this delay.
    Slow(Duration),
}

struct Limits {
    window_start: Instant,
    window_reset: i64,
    used: u64,
    second_start: Instant,
    in_second: u64,
    rng: Rng,
    faults: VecDeque<Fault>,
}

/// Rate-limit and fault state of the REST side, plus counters for the report.
pub struct ApiState {
    settings: ApiSettings,
    pub base_url: String,
    limits: Mutex<Limits>,
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub faults_injected: AtomicU64,
}

impl ApiState {
    pub fn new(settings: ApiSettings, base_url: String) -> Self {
        Self {
            limits: Mutex::new(Limits {
                window_start: Instant::now(),
                window_reset: Utc::now().timestamp() + window_secs(&settings),
                used: 0,
                second_start: Instant::now(),
                in_second: 0,
                rng: Rng::derive(0, "api-faults"),
                faults: VecDeque::new(),
            }),
            settings,
            base_url,
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            faults_injected: AtomicU64::new(0),
        }
    }

    /// Queues a fault for the next matching requests (tests of the GitHub client use this).
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn window_secs(s: &ApiSettings) -> i64 {
    s.rate_window.num_seconds().max(1)
}

enum Verdict {
    Pass { limit: u64, remaining: u64, used: u64, reset: i64, delay: Option<Duration> },
    Answer(Response),
}

fn rate_headers(h: &mut HeaderMap, limit: u64, remaining: u64, used: u64, reset: i64) {
    for (name, value) in [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

fn github_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    json_response(status, body)
}

const SECONDARY: &str = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

fn decide(api: &ApiState, path: &str) -> Verdict {
    let s = &api.settings;
    let mut l = api.lock();
    if l.window_start.elapsed().as_secs() as i64 >= window_secs(s) {
        l.window_start = Instant::now();
        l.window_reset = Utc::now().timestamp() + window_secs(s);
        l.used = 0;
    }
    if l.second_start.elapsed() >= Duration::from_secs(1) {
        l.second_start = Instant::now();
        l.in_second = 0;
    }
    let mut delay = None;
    if let Some(i) = l.faults.iter().position(|f| path.starts_with(&f.path_prefix)) {
        let kind = l.faults[i].kind.clone();
        l.faults[i].count = l.faults[i].count.saturating_sub(1);
        if l.faults[i].count == 0 {
            l.faults.remove(i);
        }
        api.faults_injected.fetch_add(1, Relaxed);
        match kind {
            FaultKind::Status { status, retry_after } => {
                let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let message = if matches!(status, 403 | 429) { SECONDARY } else { "Server Error" };
                let mut r = github_error(code, message);
                if let Some(secs) = retry_after {
                    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                }
                return Verdict::Answer(r);
            }
            FaultKind::RateLimited { reset_in } => {
                api.rate_limited.fetch_add(1, Relaxed);
                let reset = Utc::now().timestamp() + reset_in.as_secs().max(1) as i64;
                let mut r = github_error(StatusCode::FORBIDDEN, "API rate limit exceeded for installation.");
                rate_headers(r.headers_mut(), s.rate_limit, 0, s.rate_limit, reset);
                return Verdict::Answer(r);
            }
            FaultKind::Slow(d) => delay = Some(d),
        }
    }
    l.in_second += 1;
    if l.in_second > s.burst_per_second {
        api.rate_limited.fetch_add(1, Relaxed);
        let mut r = github_error(StatusCode::TOO_MANY_REQUESTS, SECONDARY);
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        return Verdict::Answer(r);
    }
    if l.used >= s.rate_limit {
        api.rate_limited.fetch_add(1, Relaxed);
        let mut r = github_error(StatusCode::FORBIDDEN, "API rate limit exceeded for installation.");
        rate_headers(r.headers_mut(), s.rate_limit, 0, l.used, l.window_reset);
        return Verdict::Answer(r);
    }
    l.used += 1;
    if s.error_rate > 0.0 && l.rng.chance(s.error_rate) {
        api.faults_injected.fetch_add(1, Relaxed);
        let statuses = [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE];
        let status = *l.rng.pick(&statuses);
        return Verdict::Answer(github_error(status, "Server Error"));
    }
    if delay.is_none() && s.slow_rate > 0.0 && l.rng.chance(s.slow_rate) {
        api.faults_injected.fetch_add(1, Relaxed);
        delay = s.slow.to_std().ok();
    }
    Verdict::Pass { limit: s.rate_limit, remaining: s.rate_limit - l.used, used: l.used, reset: l.window_reset, delay }
}

async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    shared.api.requests.fetch_add(1, Relaxed);
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") || v.starts_with("token "));
    if !authorized {
        return github_error(StatusCode::UNAUTHORIZED, "Requires authentication");
    }
    let path = request.uri().path().to_owned();
    match decide(&shared.api, &path) {
        Verdict::Answer(r) => r,
        Verdict::Pass { limit, remaining, used, reset, delay } => {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            let mut response = next.run(request).await;
            rate_headers(response.headers_mut(), limit, remaining, used, reset);
            response
        }
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    let github = Router::new()
        .route("/repos/{owner}/{repo}", get(get_repo))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}", get(get_run))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}", get(get_run_attempt))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", get(list_jobs))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/jobs", get(list_attempt_jobs))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/logs", get(run_logs))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/rerun", post(rerun))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs", post(rerun_failed))
        .route("/repos/{owner}/{repo}/actions/jobs/{job_id}", get(get_job))
        .route("/repos/{owner}/{repo}/actions/jobs/{job_id}/logs", get(job_logs))
        .route("/repos/{owner}/{repo}/actions/caches", get(list_caches).delete(delete_caches_by_key))
        .route("/repos/{owner}/{repo}/actions/caches/{cache_id}", delete(delete_cache))
        .route("/repos/{owner}/{repo}/issues", get(list_issues).post(create_issue))
        .route("/repos/{owner}/{repo}/issues/{number}", get(get_issue).patch(update_issue))
        .route("/repos/{owner}/{repo}/issues/{number}/comments", post(comment_issue))
        .route("/repos/{owner}/{repo}/check-runs", post(create_check_run))
        .route("/repos/{owner}/{repo}/check-runs/{id}", patch(update_check_run).get(get_check_run))
        .layer(middleware::from_fn_with_state(shared.clone(), guard));
    Router::new()
        .merge(github)
        // Not counted against the limit, as on GitHub.
        .route("/rate_limit", get(rate_limit))
        .route("/_blobs/job-logs/{job_id}", get(blob_job_log))
        .route("/_blobs/run-logs/{run_id}", get(blob_run_logs))
        .route("/_sim/state", get(sim_state))
        .with_state(shared)
}

type RepoPath = (String, String);
type RepoItem = (String, String, u64);

fn full(owner: &str, repo: &str) -> String {
    format!("{owner}/{repo}")
}

fn not_found() -> Response {
    github_error(StatusCode::NOT_FOUND, "Not Found")
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
}

async fn get_repo(State(s): State<Arc<Shared>>, Path((owner, repo)): Path<RepoPath>) -> Response {
    let name = full(&owner, &repo);
    let world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    let mut repo = payloads::repository_object(&name);
    // The scenario's branch, which its pushes use, not the one derived from the name.
    repo["default_branch"] = world.repos[r].default_branch.clone().into();
    json_response(StatusCode::OK, repo)
}

async fn get_run(State(s): State<Arc<Shared>>, Path((owner, repo, run_id)): Path<RepoItem>) -> Response {
    let world = s.world();
    match world.runs.get(&run_id).filter(|r| r.info.repo == full(&owner, &repo)) {
        Some(run) => json_response(StatusCode::OK, payloads::run_object(&run.info)),
        None => not_found(),
    }
}

async fn get_run_attempt(
    State(s): State<Arc<Shared>>,
    Path((owner, repo, run_id, attempt)): Path<(String, String, u64, u32)>,
) -> Response {
    let world = s.world();
    let Some(run) = world.runs.get(&run_id).filter(|r| r.info.repo == full(&owner, &repo)) else {
        return not_found();
    };
    if attempt == 0 || attempt > run.info.attempt {
        return not_found();
    }
    let mut info = run.info.clone();
    if attempt < info.attempt {
        // An earlier attempt: completed, with the conclusion its jobs gave.
        let jobs = &run.attempts[attempt as usize - 1];
        let failed =
            jobs.iter().filter_map(|j| world.jobs.get(j)).any(|j| j.info.conclusion.as_deref() != Some("success"));
        info.attempt = attempt;
        info.status = Status::Completed;
        info.conclusion = Some(if failed { "failure" } else { "success" }.to_owned());
    }
    json_response(StatusCode::OK, payloads::run_object(&info))
}

#[derive(Deserialize, Default)]
struct Page {
    per_page: Option<usize>,
    page: Option<usize>,
    filter: Option<String>,
    key: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    state: Option<String>,
    /// Issues: comma-separated label names, all of which an issue must carry.
    labels: Option<String>,
}

/// The slice of `total` items for the requested page, and the `Link` header GitHub sends with it.
fn paginate(base: &str, path: &str, q: &Page, total: usize) -> (std::ops::Range<usize>, Option<String>) {
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let page = q.page.unwrap_or(1).max(1);
    let start = ((page - 1) * per_page).min(total);
    let end = (start + per_page).min(total);
    let last = total.div_ceil(per_page).max(1);
    let mut extra = String::new();
    let pairs =
        [("filter", &q.filter), ("key", &q.key), ("ref", &q.git_ref), ("state", &q.state), ("labels", &q.labels)];
    for (k, v) in pairs {
        if let Some(v) = v {
            extra.push_str(&format!("&{k}={v}"));
        }
    }
    let link = |p: usize, rel: &str| format!("<{base}{path}?per_page={per_page}&page={p}{extra}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    (start..end, (!links.is_empty()).then(|| links.join(", ")))
}

fn with_link(mut r: Response, link: Option<String>) -> Response {
    if let Some(v) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LINK, v);
    }
    r
}

fn jobs_page(s: &Shared, world: &crate::world::World, ids: &[u64], path: &str, q: &Page) -> Response {
    let (range, link) = paginate(&s.api.base_url, path, q, ids.len());
    let jobs: Vec<Value> =
        ids[range].iter().filter_map(|id| world.jobs.get(id)).map(|j| payloads::job_object(&j.info)).collect();
    with_link(json_response(StatusCode::OK, json!({"total_count": ids.len(), "jobs": jobs})), link)
}

async fn list_jobs(
    State(s): State<Arc<Shared>>,
    Path((owner, repo, run_id)): Path<RepoItem>,
    Query(q): Query<Page>,
) -> Response {
    let world = s.world();
    let Some(run) = world.runs.get(&run_id).filter(|r| r.info.repo == full(&owner, &repo)) else {
        return not_found();
    };
    let ids: Vec<u64> = if q.filter.as_deref() == Some("all") {
        let mut all: Vec<u64> = run.attempts.iter().flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    } else {
        run.attempts.last().cloned().unwrap_or_default()
    };
    let path = format!("/repos/{owner}/{repo}/actions/runs/{run_id}/jobs");
    jobs_page(&s, &world, &ids, &path, &q)
}

async fn list_attempt_jobs(
    State(s): State<Arc<Shared>>,
    Path((owner, repo, run_id, attempt)): Path<(String, String, u64, u32)>,
    Query(q): Query<Page>,
) -> Response {
    let world = s.world();
    let Some(run) = world.runs.get(&run_id).filter(|r| r.info.repo == full(&owner, &repo)) else {
        return not_found();
    };
    let Some(ids) = attempt.checked_sub(1).and_then(|i| run.attempts.get(i as usize)) else {
        return not_found();
    };
    let path = format!("/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/jobs");
    jobs_page(&s, &world, ids, &path, &q)
}

async fn get_job(State(s): State<Arc<Shared>>, Path((owner, repo, job_id)): Path<RepoItem>) -> Response {
    let world = s.world();
    match world.jobs.get(&job_id).filter(|j| j.info.repo == full(&owner, &repo)) {
        Some(job) => json_response(StatusCode::OK, payloads::job_object(&job.info)),
        None => not_found(),
    }
}

fn redirect(location: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn job_logs(State(s): State<Arc<Shared>>, Path((owner, repo, job_id)): Path<RepoItem>) -> Response {
    let world = s.world();
    match world.jobs.get(&job_id).filter(|j| j.info.repo == full(&owner, &repo)) {
        Some(j) if j.info.status != Status::Queued => redirect(format!("{}/_blobs/job-logs/{job_id}", s.api.base_url)),
        _ => not_found(),
    }
}

async fn blob_job_log(State(s): State<Arc<Shared>>, Path(job_id): Path<u64>) -> Response {
    let log = s.world().job_log(job_id);
    match log {
        Some(log) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], log.text).into_response(),
        None => github_error(StatusCode::NOT_FOUND, "BlobNotFound"),
    }
}

async fn run_logs(State(s): State<Arc<Shared>>, Path((owner, repo, run_id)): Path<RepoItem>) -> Response {
    let world = s.world();
    match world.runs.get(&run_id).filter(|r| r.info.repo == full(&owner, &repo)) {
        Some(r) if r.info.status == Status::Completed => {
            redirect(format!("{}/_blobs/run-logs/{run_id}", s.api.base_url))
        }
        _ => not_found(),
    }
}

/// The archive GitHub serves for a run: one `<n>_<job>.txt` per job, and the job's steps as
/// `<job>/<n>_<step>.txt`.
async fn blob_run_logs(State(s): State<Arc<Shared>>, Path(run_id): Path<u64>) -> Response {
    let logs: Vec<(String, crate::logs::RenderedLog)> = {
        let world = s.world();
        let Some(run) = world.runs.get(&run_id) else { return github_error(StatusCode::NOT_FOUND, "BlobNotFound") };
        let ids = run.attempts.last().cloned().unwrap_or_default();
        ids.iter().filter_map(|id| Some((world.jobs.get(id)?.info.name.clone(), world.job_log(*id)?))).collect()
    };
    match zip_logs(&logs) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/zip")], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot build a run log archive");
            github_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
        }
    }
}

fn zip_logs(logs: &[(String, crate::logs::RenderedLog)]) -> zip::result::ZipResult<Vec<u8>> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let safe = |name: &str| name.replace(['/', '\\', ':'], "_");
    for (i, (name, log)) in logs.iter().enumerate() {
        let job = safe(name);
        w.start_file(format!("{i}_{job}.txt"), options)?;
        w.write_all(log.text.as_bytes())?;
        // Each step's file holds the lines stamped within the step's start and end.
        for step in &log.steps {
            let (Some(from), Some(to)) = (step.started_at, step.completed_at) else { continue };
            let lines: Vec<&str> = log
                .text
                .lines()
                .filter(|l| {
                    let stamp = l.split(' ').next().and_then(|t| t.parse::<chrono::DateTime<Utc>>().ok());
                    stamp.is_some_and(|t| t >= from && t <= to)
                })
                .collect();
            w.start_file(format!("{job}/{}_{}.txt", step.number, safe(&step.name)), options)?;
            w.write_all(lines.join("\n").as_bytes())?;
        }
    }
    Ok(w.finish()?.into_inner())
}

async fn do_rerun(s: Arc<Shared>, owner: String, repo: String, run_id: u64, failed_only: bool) -> Response {
    let now = s.clock.now();
    let result = s.world().rerun(&full(&owner, &repo), run_id, failed_only, now);
    match result {
        Ok(()) => {
            s.wake.notify_one();
            json_response(StatusCode::CREATED, json!({}))
        }
        Err(RerunError::NotFound) => not_found(),
        Err(RerunError::Refused(m)) => github_error(StatusCode::FORBIDDEN, &m),
    }
}

async fn rerun(State(s): State<Arc<Shared>>, Path((owner, repo, run_id)): Path<RepoItem>) -> Response {
    do_rerun(s, owner, repo, run_id, false).await
}

async fn rerun_failed(State(s): State<Arc<Shared>>, Path((owner, repo, run_id)): Path<RepoItem>) -> Response {
    do_rerun(s, owner, repo, run_id, true).await
}

fn caches_body(total: usize, caches: &[&Cache]) -> Value {
    json!({"total_count": total, "actions_caches": caches})
}

async fn list_caches(
    State(s): State<Arc<Shared>>,
    Path((owner, repo)): Path<RepoPath>,
    Query(q): Query<Page>,
) -> Response {
    let world = s.world();
    let Some(r) = world.repo_index(&full(&owner, &repo)) else { return not_found() };
    let caches: Vec<&Cache> = world.repos[r]
        .caches
        .iter()
        .filter(|c| q.key.as_ref().is_none_or(|k| c.key.starts_with(k.as_str())))
        .filter(|c| q.git_ref.as_ref().is_none_or(|g| &c.git_ref == g))
        .collect();
    let path = format!("/repos/{owner}/{repo}/actions/caches");
    let (range, link) = paginate(&s.api.base_url, &path, &q, caches.len());
    with_link(json_response(StatusCode::OK, caches_body(caches.len(), &caches[range])), link)
}

async fn delete_cache(State(s): State<Arc<Shared>>, Path((owner, repo, id)): Path<RepoItem>) -> Response {
    let now = s.clock.now();
    let name = full(&owner, &repo);
    let mut world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    let before = world.repos[r].caches.len();
    world.repos[r].caches.retain(|c| c.id != id);
    if world.repos[r].caches.len() == before {
        return not_found();
    }
    world.record_action(now, &name, "delete_cache", id.to_string());
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_caches_by_key(
    State(s): State<Arc<Shared>>,
    Path((owner, repo)): Path<RepoPath>,
    Query(q): Query<Page>,
) -> Response {
    let Some(key) = q.key.clone() else {
        return invalid("Validation Failed: key is required");
    };
    let now = s.clock.now();
    let name = full(&owner, &repo);
    let mut world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    let (gone, kept): (Vec<Cache>, Vec<Cache>) = std::mem::take(&mut world.repos[r].caches)
        .into_iter()
        .partition(|c| c.key == key && q.git_ref.as_ref().is_none_or(|g| &c.git_ref == g));
    world.repos[r].caches = kept;
    if gone.is_empty() {
        return not_found();
    }
    world.record_action(now, &name, "delete_caches_by_key", key);
    json_response(StatusCode::OK, caches_body(gone.len(), &gone.iter().collect::<Vec<_>>()))
}

fn issue_json(base: &str, repo: &str, i: &Issue) -> Value {
    json!({
        "id": i.id,
        "node_id": payloads::node_id("Issue", i.id),
        "number": i.number,
        "url": format!("{base}/repos/{repo}/issues/{}", i.number),
        "html_url": format!("https://github.com/{repo}/issues/{}", i.number),
        "title": i.title,
        "body": i.body,
        "state": i.state,
        "labels": i.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "comments": i.comments.len(),
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    })
}

/// The request body, or GitHub's 422 for one that does not parse.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("Invalid request. {e}"))
}

fn invalid(message: &str) -> Response {
    github_error(StatusCode::UNPROCESSABLE_ENTITY, message)
}

#[derive(Deserialize)]
struct NewIssue {
    title: String,
    body: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

async fn create_issue(State(s): State<Arc<Shared>>, Path((owner, repo)): Path<RepoPath>, body: Bytes) -> Response {
    let new: NewIssue = match parse_body(&body) {
        Ok(n) => n,
        Err(m) => return invalid(&m),
    };
    let now = s.clock.now();
    let name = full(&owner, &repo);
    let mut world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    world.next_id += 1;
    let id = world.next_id;
    let number = 10_000 + world.repos[r].issues.len() as u64 + 1;
    let issue = Issue {
        id,
        number,
        title: new.title,
        body: new.body,
        state: "open".into(),
        labels: new.labels,
        comments: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    let out = issue_json(&s.api.base_url, &name, &issue);
    world.repos[r].issues.push(issue);
    world.record_action(now, &name, "create_issue", number.to_string());
    json_response(StatusCode::CREATED, out)
}

async fn list_issues(
    State(s): State<Arc<Shared>>,
    Path((owner, repo)): Path<RepoPath>,
    Query(q): Query<Page>,
) -> Response {
    let name = full(&owner, &repo);
    let world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    let state = q.state.clone().unwrap_or_else(|| "open".into());
    // GitHub matches label names without regard to case.
    let wanted: Vec<&str> =
        q.labels.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|l| !l.is_empty()).collect();
    let has = |i: &Issue, label: &str| i.labels.iter().any(|l| l.eq_ignore_ascii_case(label));
    let issues: Vec<&Issue> = world.repos[r]
        .issues
        .iter()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| wanted.iter().all(|l| has(i, l)))
        .collect();
    let path = format!("/repos/{owner}/{repo}/issues");
    let (range, link) = paginate(&s.api.base_url, &path, &q, issues.len());
    let body: Vec<Value> = issues[range].iter().map(|i| issue_json(&s.api.base_url, &name, i)).collect();
    with_link(json_response(StatusCode::OK, Value::Array(body)), link)
}

async fn get_issue(State(s): State<Arc<Shared>>, Path((owner, repo, number)): Path<RepoItem>) -> Response {
    let name = full(&owner, &repo);
    let world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    match world.repos[r].issues.iter().find(|i| i.number == number) {
        Some(i) => json_response(StatusCode::OK, issue_json(&s.api.base_url, &name, i)),
        None => not_found(),
    }
}

#[derive(Deserialize)]
struct IssuePatch {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    labels: Option<Vec<String>>,
}

async fn update_issue(
    State(s): State<Arc<Shared>>,
    Path((owner, repo, number)): Path<RepoItem>,
    body: Bytes,
) -> Response {
    let patch: IssuePatch = match parse_body(&body) {
        Ok(p) => p,
        Err(m) => return invalid(&m),
    };
    if patch.state.as_deref().is_some_and(|s| s != "open" && s != "closed") {
        return invalid("Validation Failed: state must be open or closed");
    }
    let now = s.clock.now();
    let name = full(&owner, &repo);
    let mut world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    let Some(issue) = world.repos[r].issues.iter_mut().find(|i| i.number == number) else { return not_found() };
    if let Some(t) = patch.title {
        issue.title = t;
    }
    if let Some(b) = patch.body {
        issue.body = Some(b);
    }
    if let Some(st) = patch.state {
        issue.state = st;
    }
    if let Some(l) = patch.labels {
        issue.labels = l;
    }
    issue.updated_at = now;
    let out = issue_json(&s.api.base_url, &name, issue);
    world.record_action(now, &name, "update_issue", number.to_string());
    json_response(StatusCode::OK, out)
}

#[derive(Deserialize)]
struct NewComment {
    body: String,
}

async fn comment_issue(
    State(s): State<Arc<Shared>>,
    Path((owner, repo, number)): Path<RepoItem>,
    body: Bytes,
) -> Response {
    let comment: NewComment = match parse_body(&body) {
        Ok(c) => c,
        Err(m) => return invalid(&m),
    };
    let now = s.clock.now();
    let name = full(&owner, &repo);
    let mut world = s.world();
    world.next_id += 1;
    let id = world.next_id;
    let Some(r) = world.repo_index(&name) else { return not_found() };
    let Some(issue) = world.repos[r].issues.iter_mut().find(|i| i.number == number) else { return not_found() };
    issue.comments.push(comment.body.clone());
    issue.updated_at = now;
    world.record_action(now, &name, "comment_issue", number.to_string());
    let base = &s.api.base_url;
    json_response(
        StatusCode::CREATED,
        json!({
            "id": id,
            "node_id": payloads::node_id("IssueComment", id),
            "url": format!("{base}/repos/{name}/issues/comments/{id}"),
            "html_url": format!("https://github.com/{name}/issues/{number}#issuecomment-{id}"),
            "issue_url": format!("{base}/repos/{name}/issues/{number}"),
            "body": comment.body,
            "created_at": now,
            "updated_at": now,
        }),
    )
}

#[derive(Deserialize)]
struct CheckRunBody {
    name: Option<String>,
    head_sha: Option<String>,
    status: Option<String>,
    conclusion: Option<String>,
    output: Option<Value>,
    details_url: Option<String>,
    external_id: Option<String>,
}

fn check_run_json(base: &str, repo: &str, c: &CheckRun) -> Value {
    json!({
        "id": c.id,
        "node_id": payloads::node_id("CheckRun", c.id),
        "name": c.name,
        "head_sha": c.head_sha,
        "status": c.status,
        "conclusion": c.conclusion,
        "output": c.output,
        "details_url": c.details_url,
        "external_id": c.external_id,
        "started_at": c.started_at,
        "completed_at": c.completed_at,
        "url": format!("{base}/repos/{repo}/check-runs/{}", c.id),
        "html_url": format!("https://github.com/{repo}/runs/{}", c.id),
    })
}

const CHECK_STATUSES: [&str; 3] = ["queued", "in_progress", "completed"];
const CHECK_CONCLUSIONS: [&str; 8] =
    ["action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"];

fn check_fields(b: &CheckRunBody) -> Result<(), &'static str> {
    let bad_status = b.status.as_deref().is_some_and(|s| !CHECK_STATUSES.contains(&s));
    let bad_conclusion = b.conclusion.as_deref().is_some_and(|c| !CHECK_CONCLUSIONS.contains(&c));
    if bad_status || bad_conclusion {
        return Err("Validation Failed: bad status or conclusion");
    }
    Ok(())
}

async fn create_check_run(State(s): State<Arc<Shared>>, Path((owner, repo)): Path<RepoPath>, body: Bytes) -> Response {
    let b: CheckRunBody = match parse_body(&body) {
        Ok(b) => b,
        Err(m) => return invalid(&m),
    };
    let (Some(check_name), Some(head_sha)) = (b.name.clone(), b.head_sha.clone()) else {
        return invalid("Validation Failed: name and head_sha are required");
    };
    if let Err(m) = check_fields(&b) {
        return invalid(m);
    }
    let now = s.clock.now();
    let name = full(&owner, &repo);
    let mut world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    world.next_id += 1;
    let status =
        if b.conclusion.is_some() { "completed".to_owned() } else { b.status.unwrap_or_else(|| "queued".into()) };
    let check = CheckRun {
        id: world.next_id,
        name: check_name,
        head_sha,
        completed_at: (status == "completed").then_some(now),
        status,
        conclusion: b.conclusion,
        output: b.output.unwrap_or(Value::Null),
        details_url: b.details_url,
        external_id: b.external_id,
        started_at: now,
    };
    let out = check_run_json(&s.api.base_url, &name, &check);
    world.record_action(now, &name, "create_check_run", check.id.to_string());
    world.repos[r].check_runs.push(check);
    json_response(StatusCode::CREATED, out)
}

async fn update_check_run(
    State(s): State<Arc<Shared>>,
    Path((owner, repo, id)): Path<RepoItem>,
    body: Bytes,
) -> Response {
    let b: CheckRunBody = match parse_body(&body) {
        Ok(b) => b,
        Err(m) => return invalid(&m),
    };
    if let Err(m) = check_fields(&b) {
        return invalid(m);
    }
    let now = s.clock.now();
    let name = full(&owner, &repo);
    let mut world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    let Some(c) = world.repos[r].check_runs.iter_mut().find(|c| c.id == id) else { return not_found() };
    if let Some(n) = b.name {
        c.name = n;
    }
    if let Some(st) = b.status {
        c.status = st;
    }
    if let Some(con) = b.conclusion {
        c.conclusion = Some(con);
        c.status = "completed".into();
    }
    if c.status == "completed" && c.completed_at.is_none() {
        c.completed_at = Some(now);
    }
    if let Some(o) = b.output {
        c.output = o;
    }
    if let Some(d) = b.details_url {
        c.details_url = Some(d);
    }
    let out = check_run_json(&s.api.base_url, &name, c);
    world.record_action(now, &name, "update_check_run", id.to_string());
    json_response(StatusCode::OK, out)
}

async fn get_check_run(State(s): State<Arc<Shared>>, Path((owner, repo, id)): Path<RepoItem>) -> Response {
    let name = full(&owner, &repo);
    let world = s.world();
    let Some(r) = world.repo_index(&name) else { return not_found() };
    match world.repos[r].check_runs.iter().find(|c| c.id == id) {
        Some(c) => json_response(StatusCode::OK, check_run_json(&s.api.base_url, &name, c)),
        None => not_found(),
    }
}

async fn rate_limit(State(s): State<Arc<Shared>>) -> Response {
    let l = s.api.lock();
    let limit = s.api.settings.rate_limit;
    let core =
        json!({"limit": limit, "remaining": limit.saturating_sub(l.used), "used": l.used, "reset": l.window_reset});
    json_response(StatusCode::OK, json!({"resources": {"core": core}, "rate": core}))
}

/// Ground truth so far (not a GitHub endpoint): for people watching a run, and for tests.
async fn sim_state(State(s): State<Arc<Shared>>) -> Response {
    let world = s.world();
    json_response(
        StatusCode::OK,
        json!({
            "sim_now": s.clock.now(),
            "runs": world.runs.len(),
            "jobs": world.jobs.len(),
            "failures": world.failures.len(),
            "reruns": world.reruns.len(),
            "actions": world.actions.len(),
        }),
    )
}
