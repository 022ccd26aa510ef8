//! A small fake of the GitHub REST API on loopback, speaking the real shapes (status codes, bodies,
//! `x-ratelimit-*` and `Link` headers, the 302 to a log blob on another origin), plus a fault
//! switch: "answer the next N requests to METHOD PATH with ...". It keeps only what the tests
//! assert on; the project's simulator is the full model.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const REPO: &str = "octo-org/hello-world";
pub const TOKEN: &str = "test-token";
/// The one workflow run the fake knows, with `JOB_COUNT` jobs numbered from `FIRST_JOB_ID`.
pub const RUN_ID: u64 = 30_433_642;
pub const FIRST_JOB_ID: u64 = 399_444_000;
pub const JOB_COUNT: u64 = 250;
pub const LOG_TEXT: &str = "2024-05-01T10:00:00.0000000Z ##[group]Run cargo test --locked\n\
2024-05-01T10:00:00.1000000Z cargo test --locked\n\
2024-05-01T10:00:00.2000000Z ##[endgroup]\n\
2024-05-01T10:00:05.0000000Z error: could not compile `hello` (lib) due to 1 previous error\n\
2024-05-01T10:00:05.1000000Z ##[error]Process completed with exit code 101.\n";
/// The smallest valid zip archive: an end-of-central-directory record.
pub const EMPTY_ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// A recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// "The next `times` requests to `method path` get this instead." Without a status, the request is
/// served normally and only the headers are overridden.
#[derive(Debug, Clone)]
pub struct Fault {
    method: Method,
    path: String,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body: Value,
    times: usize,
    delay: Duration,
}

impl Fault {
    pub fn new(method: Method, path: impl Into<String>, status: u16) -> Self {
        Self { status: Some(status), ..Self::headers_only(method, path) }
    }

    /// Serve normally, but override these headers.
    pub fn headers_only(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            status: None,
            headers: Vec::new(),
            body: Value::Null,
            times: 1,
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: impl ToString) -> Self {
        self.headers.push((name.to_owned(), value.to_string()));
        self
    }

    /// GitHub's error body.
    pub fn message(mut self, message: &str) -> Self {
        self.body = json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": self.status.map(|s| s.to_string()),
        });
        self
    }

    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    /// Sleep before answering (to trip the client's timeout).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Shared {
    origin: String,
    /// `/api/v3` when mounted like GitHub Enterprise Server (nested routes see the path without it).
    prefix: String,
    blob_origin: String,
    requests: Mutex<Vec<Recorded>>,
    blob_requests: Mutex<Vec<Recorded>>,
    faults: Mutex<Vec<Fault>>,
    served: AtomicU64,
    caches: Mutex<Vec<Value>>,
    issues: Mutex<BTreeMap<u64, Value>>,
    check_runs: Mutex<BTreeMap<u64, Value>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fake, listening on two loopback ports: the API and a log blob store.
pub struct FakeGitHub {
    /// What the client is configured with (includes the path prefix, if any).
    pub base_url: String,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl FakeGitHub {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_prefix("").await
    }

    /// `prefix` like `/api/v3` mounts the API where GitHub Enterprise Server has it.
    pub async fn start_with_prefix(prefix: &str) -> anyhow::Result<Self> {
        let api = TcpListener::bind("127.0.0.1:0").await?;
        let blob_listener = TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", api.local_addr()?);
        let shared = Arc::new(Shared {
            origin: origin.clone(),
            prefix: prefix.to_owned(),
            blob_origin: format!("http://{}", blob_listener.local_addr()?),
            caches: Mutex::new(initial_caches()),
            ..Shared::default()
        });
        let routes = api_routes();
        let routes = if prefix.is_empty() { routes } else { Router::new().nest(prefix, routes) };
        let api_app = routes
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(shared.clone(), record_and_inject))
            .with_state(shared.clone());
        let blob_app = Router::new().route("/blobs/{kind}/{file}", get(serve_blob)).with_state(shared.clone());
        let tasks = vec![
            tokio::spawn(async move {
                axum::serve(api, api_app).await.ok();
            }),
            tokio::spawn(async move {
                axum::serve(blob_listener, blob_app).await.ok();
            }),
        ];
        Ok(Self { base_url: format!("{origin}{prefix}"), shared, tasks })
    }

    pub fn fault(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Requests the API port received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Requests to `method path` (path without query).
    pub fn requests_to(&self, method: Method, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == method && r.path == path).collect()
    }

    /// Requests the blob port received.
    pub fn blob_requests(&self) -> Vec<Recorded> {
        lock(&self.shared.blob_requests).clone()
    }
}

fn api_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}", get(get_run))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", get(list_jobs))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/jobs", get(list_attempt_jobs))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/logs", get(run_logs))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/rerun", post(rerun))
        .route("/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs", post(rerun))
        .route("/repos/{owner}/{repo}/actions/jobs/{job_id}", get(get_job))
        .route("/repos/{owner}/{repo}/actions/jobs/{job_id}/logs", get(job_logs))
        .route("/repos/{owner}/{repo}/actions/caches", get(list_caches).delete(delete_caches_by_key))
        .route("/repos/{owner}/{repo}/actions/caches/{cache_id}", delete(delete_cache))
        .route("/repos/{owner}/{repo}/issues", get(list_issues).post(create_issue))
        .route("/repos/{owner}/{repo}/issues/{number}", patch(update_issue))
        .route("/repos/{owner}/{repo}/issues/{number}/comments", post(comment_issue))
        .route("/repos/{owner}/{repo}/check-runs", post(create_check_run))
        .route("/repos/{owner}/{repo}/check-runs/{id}", patch(update_check_run))
        .route("/app/installations/{id}/access_tokens", post(access_token))
}

/// Installations from this id on get tokens that expire in two minutes (inside the client's
/// refresh margin), to exercise the refresh.
pub const SHORT_LIVED_INSTALLATION: u64 = 1000;

/// `POST /app/installations/{id}/access_tokens`: a new token each time (GitHub checks the App's
/// JWT; the tests check it on the recorded request).
async fn access_token(State(shared): State<Arc<Shared>>, Path(id): Path<u64>) -> Response {
    let n = shared.served.load(Ordering::SeqCst);
    let ttl = if id >= SHORT_LIVED_INSTALLATION { chrono::Duration::minutes(2) } else { chrono::Duration::hours(1) };
    let body = json!({"token": format!("ghs_{id}_{n}"), "expires_at": (chrono::Utc::now() + ttl).to_rfc3339()});
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// Records the request, plays a matching fault, and adds GitHub's rate-limit headers.
async fn record_and_inject(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    lock(&shared.requests).push(Recorded {
        method: parts.method.clone(),
        path: path.clone(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers.clone(),
        body: body.to_vec(),
    });
    let served = shared.served.fetch_add(1, Ordering::SeqCst) + 1;
    let fault = {
        let mut faults = lock(&shared.faults);
        let found = faults.iter_mut().find(|f| f.times > 0 && f.method == parts.method && f.path == path);
        found.map(|f| {
            f.times -= 1;
            f.clone()
        })
    };
    let mut response = match &fault {
        Some(f) if !f.delay.is_zero() || f.status.is_some() => {
            tokio::time::sleep(f.delay).await;
            match f.status {
                Some(status) => {
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    if f.body.is_null() {
                        status.into_response()
                    } else {
                        (status, axum::Json(f.body.clone())).into_response()
                    }
                }
                None => next.run(Request::from_parts(parts, Body::from(body))).await,
            }
        }
        _ => next.run(Request::from_parts(parts, Body::from(body))).await,
    };
    let reset = chrono::Utc::now().timestamp() + 3600;
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", "5000".to_owned()),
        ("x-ratelimit-remaining", 5000u64.saturating_sub(served).to_string()),
        ("x-ratelimit-used", served.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
        ("x-github-api-version-selected", "2022-11-28".to_owned()),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("0")));
    }
    if let Some(f) = fault {
        for (name, value) in f.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(&value)) {
                headers.insert(name, value);
            }
        }
    }
    response
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    (status, axum::Json(body)).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

fn validation_failed(resource: &str, field: &str) -> Response {
    let body = json!({
        "message": "Validation Failed",
        "errors": [{"resource": resource, "code": "missing_field", "field": field}],
        "documentation_url": "https://docs.github.com/rest",
        "status": "422",
    });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

fn run_json(owner: &str, repo: &str, run_id: u64) -> Value {
    json!({
        "id": run_id,
        "name": "CI",
        "node_id": "WFR_kwLOABCDEF4B0Mfq",
        "head_branch": "main",
        "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
        "path": ".github/workflows/ci.yml",
        "display_title": "Fix the flaky test",
        "run_number": 562,
        "event": "push",
        "status": "completed",
        "conclusion": "failure",
        "workflow_id": 159_038,
        "check_suite_id": 414_944_374,
        "url": format!("https://api.github.com/repos/{owner}/{repo}/actions/runs/{run_id}"),
        "html_url": format!("https://github.com/{owner}/{repo}/actions/runs/{run_id}"),
        "pull_requests": [],
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:05:00Z",
        "actor": {"login": "octocat", "id": 1, "type": "User"},
        "run_attempt": 1,
        "run_started_at": "2024-05-01T10:00:00Z",
        "jobs_url": format!("https://api.github.com/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
        "logs_url": format!("https://api.github.com/repos/{owner}/{repo}/actions/runs/{run_id}/logs"),
        "head_commit": {"id": "acb5820ced9479c074f688cc328bf03f341a511d", "message": "Fix the flaky test"},
        "repository": {"id": 1_296_269, "name": repo, "full_name": format!("{owner}/{repo}")},
    })
}

fn job_json(owner: &str, repo: &str, job_id: u64, attempt: u32) -> Value {
    let index = job_id - FIRST_JOB_ID;
    let failed = index == 7;
    json!({
        "id": job_id,
        "run_id": RUN_ID,
        "run_url": format!("https://api.github.com/repos/{owner}/{repo}/actions/runs/{RUN_ID}"),
        "run_attempt": attempt,
        "node_id": "CR_kwDOABCDEF8AAAAF4MN3Mg",
        "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
        "head_branch": "main",
        "url": format!("https://api.github.com/repos/{owner}/{repo}/actions/jobs/{job_id}"),
        "html_url": format!("https://github.com/{owner}/{repo}/actions/runs/{RUN_ID}/job/{job_id}"),
        "status": "completed",
        "conclusion": if failed { "failure" } else { "success" },
        "created_at": "2024-05-01T10:00:00Z",
        "started_at": "2024-05-01T10:00:02Z",
        "completed_at": "2024-05-01T10:01:02Z",
        "name": format!("test ({index})"),
        "steps": [
            {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1,
             "started_at": "2024-05-01T10:00:02Z", "completed_at": "2024-05-01T10:00:03Z"},
            {"name": "Run cargo test --locked", "status": "completed",
             "conclusion": if failed { "failure" } else { "success" }, "number": 2,
             "started_at": "2024-05-01T10:00:03Z", "completed_at": "2024-05-01T10:01:00Z"},
        ],
        "check_run_url": format!("https://api.github.com/repos/{owner}/{repo}/check-runs/{job_id}"),
        "labels": ["ubuntu-latest"],
        "runner_id": 1,
        "runner_name": "GitHub Actions 1",
        "runner_group_id": 1,
        "runner_group_name": "GitHub Actions",
        "workflow_name": "CI",
    })
}

async fn get_run(Path((owner, repo, run_id)): Path<(String, String, u64)>) -> Response {
    if run_id != RUN_ID {
        return not_found().await;
    }
    axum::Json(run_json(&owner, &repo, run_id)).into_response()
}

async fn get_job(Path((owner, repo, job_id)): Path<(String, String, u64)>) -> Response {
    if !(FIRST_JOB_ID..FIRST_JOB_ID + JOB_COUNT).contains(&job_id) {
        return not_found().await;
    }
    axum::Json(job_json(&owner, &repo, job_id, 1)).into_response()
}

/// `per_page` (default 30, at most 100) and `page` (from 1), with GitHub's `Link` header.
fn paginate(shared: &Shared, uri: &Uri, query: &HashMap<String, String>, key: &str, items: Vec<Value>) -> Response {
    let per_page = query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30usize).clamp(1, 100);
    let page = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1usize).max(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let base = format!("{}{}{}", shared.origin, shared.prefix, uri.path());
    let mut extra: Vec<(String, String)> =
        query.iter().filter(|(k, _)| *k != "page" && *k != "per_page").map(|(k, v)| (k.clone(), v.clone())).collect();
    extra.sort();
    let link_to = |n: usize, rel: &str| {
        let mut q: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        q.push(format!("per_page={per_page}"));
        q.push(format!("page={n}"));
        format!("<{base}?{}>; rel=\"{rel}\"", q.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link_to(page - 1, "prev"));
    }
    if page < last {
        links.push(link_to(page + 1, "next"));
        links.push(link_to(last, "last"));
    }
    if page > 1 {
        links.push(link_to(1, "first"));
    }
    let mut body = serde_json::Map::new();
    body.insert("total_count".into(), json!(total));
    body.insert(key.into(), Value::Array(slice));
    let mut response = axum::Json(Value::Object(body)).into_response();
    if !links.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn jobs_page(
    shared: &Shared,
    uri: &Uri,
    query: &HashMap<String, String>,
    owner: &str,
    repo: &str,
    run_id: u64,
    attempt: u32,
) -> Response {
    if run_id != RUN_ID {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let jobs = (FIRST_JOB_ID..FIRST_JOB_ID + JOB_COUNT).map(|id| job_json(owner, repo, id, attempt)).collect();
    paginate(shared, uri, query, "jobs", jobs)
}

async fn list_jobs(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    Path((owner, repo, run_id)): Path<(String, String, u64)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    jobs_page(&shared, &uri, &query, &owner, &repo, run_id, 1)
}

async fn list_attempt_jobs(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    Path((owner, repo, run_id, attempt)): Path<(String, String, u64, u32)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    jobs_page(&shared, &uri, &query, &owner, &repo, run_id, attempt)
}

fn redirect(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn job_logs(State(shared): State<Arc<Shared>>, Path((_, _, job_id)): Path<(String, String, u64)>) -> Response {
    if !(FIRST_JOB_ID..FIRST_JOB_ID + JOB_COUNT).contains(&job_id) {
        return not_found().await;
    }
    redirect(format!("{}/blobs/jobs/{job_id}.txt?sv=2021-08-06&se=2099-01-01&sig=s3cr3t", shared.blob_origin))
}

async fn run_logs(State(shared): State<Arc<Shared>>, Path((_, _, run_id)): Path<(String, String, u64)>) -> Response {
    if run_id != RUN_ID {
        return not_found().await;
    }
    redirect(format!("{}/blobs/runs/{run_id}.zip?sv=2021-08-06&se=2099-01-01&sig=s3cr3t", shared.blob_origin))
}

/// The blob store: refuses requests that carry GitHub credentials, as a signed-URL store would not
/// expect them (and the test must notice if they leak).
async fn serve_blob(
    State(shared): State<Arc<Shared>>,
    Path((kind, file)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    lock(&shared.blob_requests).push(Recorded {
        method: Method::GET,
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers: headers.clone(),
        body: Vec::new(),
    });
    if headers.contains_key(header::AUTHORIZATION) {
        return (StatusCode::BAD_REQUEST, "authorization header forwarded to the blob store").into_response();
    }
    if !uri.query().unwrap_or("").contains("sig=s3cr3t") {
        return (StatusCode::FORBIDDEN, "signature missing").into_response();
    }
    match (kind.as_str(), file.rsplit_once('.')) {
        ("jobs", Some((_, "txt"))) => ([(header::CONTENT_TYPE, "text/plain")], LOG_TEXT).into_response(),
        ("runs", Some((_, "zip"))) => ([(header::CONTENT_TYPE, "application/zip")], EMPTY_ZIP).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn rerun(Path((_, _, run_id)): Path<(String, String, u64)>) -> Response {
    if run_id != RUN_ID {
        return not_found().await;
    }
    (StatusCode::CREATED, axum::Json(json!({}))).into_response()
}

fn initial_caches() -> Vec<Value> {
    let cache = |id: u64, key: &str, git_ref: &str, size: u64| {
        json!({
            "id": id,
            "ref": git_ref,
            "key": key,
            "version": "73885106f58cc52a7df9ec4d4a5622a5614813162cb516c759a30af6bf56e6f0",
            "last_accessed_at": "2024-05-01T10:00:00.000000000Z",
            "created_at": "2024-04-30T10:00:00.000000000Z",
            "size_in_bytes": size,
        })
    };
    vec![
        cache(1, "Linux-node-aaa", "refs/heads/main", 1024),
        cache(2, "Linux-node-bbb", "refs/heads/main", 2048),
        cache(3, "Linux-cargo-abc+def", "refs/pull/1/merge", 4096),
        cache(4, "Linux-cargo-abc+def", "refs/heads/main", 8192),
    ]
}

async fn list_caches(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caches = lock(&shared.caches).clone();
    let key = query.get("key");
    let matching = caches
        .into_iter()
        .filter(|c| key.is_none_or(|k| c["key"].as_str().is_some_and(|ck| ck.starts_with(k.as_str()))));
    paginate(&shared, &uri, &query, "actions_caches", matching.collect())
}

async fn delete_cache(State(shared): State<Arc<Shared>>, Path((_, _, id)): Path<(String, String, u64)>) -> Response {
    let mut caches = lock(&shared.caches);
    let before = caches.len();
    caches.retain(|c| c["id"].as_u64() != Some(id));
    if caches.len() == before {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_caches_by_key(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(key) = query.get("key") else { return validation_failed("ActionsCache", "key") };
    let git_ref = query.get("ref");
    let mut caches = lock(&shared.caches);
    let matches = |c: &Value| {
        c["key"].as_str() == Some(key.as_str()) && git_ref.is_none_or(|r| c["ref"].as_str() == Some(r.as_str()))
    };
    let deleted: Vec<Value> = caches.iter().filter(|c| matches(c)).cloned().collect();
    if deleted.is_empty() {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    caches.retain(|c| !matches(c));
    axum::Json(json!({"total_count": deleted.len(), "actions_caches": deleted})).into_response()
}

fn issue_labels(labels: &Value) -> Value {
    let names = labels.as_array().cloned().unwrap_or_default();
    Value::Array(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| json!({"id": 208_045_946 + i, "name": name, "color": "f29513", "default": false}))
            .collect(),
    )
}

async fn create_issue(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    axum::Json(input): axum::Json<Value>,
) -> Response {
    let Some(title) = input["title"].as_str().filter(|t| !t.is_empty()) else {
        return validation_failed("Issue", "title");
    };
    let mut issues = lock(&shared.issues);
    let number = issues.len() as u64 + 1;
    let issue = json!({
        "id": 1_000_000 + number,
        "node_id": "I_kwDOABCDEF5Q2Ml",
        "url": format!("https://api.github.com/repos/{owner}/{repo}/issues/{number}"),
        "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}"),
        "number": number,
        "state": "open",
        "state_reason": null,
        "title": title,
        "body": input["body"],
        "user": {"login": "aetherveil[bot]", "id": 2, "type": "Bot"},
        "labels": issue_labels(&input["labels"]),
        "comments": 0,
        "created_at": "2024-05-01T10:10:00Z",
        "updated_at": "2024-05-01T10:10:00Z",
        "closed_at": null,
    });
    issues.insert(number, issue.clone());
    (StatusCode::CREATED, axum::Json(issue)).into_response()
}

/// Every stored issue on one page, whatever the query (the client's query is read from the recorded
/// request), followed by a pull request, which GitHub lists on this endpoint too.
async fn list_issues(State(shared): State<Arc<Shared>>, Path((owner, repo)): Path<(String, String)>) -> Response {
    let mut items: Vec<Value> = lock(&shared.issues).values().cloned().collect();
    let number = items.len() as u64 + 1;
    items.push(json!({
        "id": 1_000_000 + number,
        "number": number,
        "state": "open",
        "title": "Bump serde from 1.0.200 to 1.0.201",
        "labels": issue_labels(&json!(["dependencies"])),
        "pull_request": {"url": format!("https://api.github.com/repos/{owner}/{repo}/pulls/{number}")},
    }));
    axum::Json(items).into_response()
}

async fn update_issue(
    State(shared): State<Arc<Shared>>,
    Path((_, _, number)): Path<(String, String, u64)>,
    axum::Json(input): axum::Json<Value>,
) -> Response {
    let mut issues = lock(&shared.issues);
    let Some(issue) = issues.get_mut(&number) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    for field in ["title", "body", "state"] {
        if let Some(value) = input.get(field) {
            issue[field] = value.clone();
        }
    }
    if let Some(labels) = input.get("labels") {
        issue["labels"] = issue_labels(labels);
    }
    if input["state"] == "closed" {
        issue["state_reason"] = json!("completed");
        issue["closed_at"] = json!("2024-05-01T11:00:00Z");
    }
    issue["updated_at"] = json!("2024-05-01T11:00:00Z");
    axum::Json(issue.clone()).into_response()
}

async fn comment_issue(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    axum::Json(input): axum::Json<Value>,
) -> Response {
    if !lock(&shared.issues).contains_key(&number) {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let Some(body) = input["body"].as_str() else { return validation_failed("IssueComment", "body") };
    let id = 1_081_119_451 + number;
    let comment = json!({
        "id": id,
        "node_id": "IC_kwDOABCDEF5AcBlb",
        "url": format!("https://api.github.com/repos/{owner}/{repo}/issues/comments/{id}"),
        "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}#issuecomment-{id}"),
        "body": body,
        "user": {"login": "aetherveil[bot]", "id": 2, "type": "Bot"},
        "created_at": "2024-05-01T10:20:00Z",
        "updated_at": "2024-05-01T10:20:00Z",
    });
    (StatusCode::CREATED, axum::Json(comment)).into_response()
}

fn apply_check_fields(check: &mut Value, input: &Value) {
    for field in
        ["name", "head_sha", "status", "conclusion", "details_url", "external_id", "started_at", "completed_at"]
    {
        if let Some(value) = input.get(field) {
            check[field] = value.clone();
        }
    }
    if let Some(output) = input.get("output") {
        check["output"] = json!({
            "title": output["title"],
            "summary": output["summary"],
            "text": output.get("text").cloned().unwrap_or(Value::Null),
            "annotations_count": 0,
        });
    }
    if !input["conclusion"].is_null() {
        check["status"] = json!("completed");
    }
}

async fn create_check_run(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    axum::Json(input): axum::Json<Value>,
) -> Response {
    for field in ["name", "head_sha"] {
        if input[field].as_str().is_none_or(str::is_empty) {
            return validation_failed("CheckRun", field);
        }
    }
    let mut runs = lock(&shared.check_runs);
    let id = 4_000_000 + runs.len() as u64 + 1;
    let mut check = json!({
        "id": id,
        "node_id": "CR_kwDOABCDEF8AAAAF4MN3Mg",
        "external_id": "",
        "url": format!("https://api.github.com/repos/{owner}/{repo}/check-runs/{id}"),
        "html_url": format!("https://github.com/{owner}/{repo}/runs/{id}"),
        "details_url": null,
        "status": "queued",
        "conclusion": null,
        "started_at": "2024-05-01T10:30:00Z",
        "completed_at": null,
        "output": {"title": null, "summary": null, "text": null, "annotations_count": 0},
        "check_suite": {"id": 5},
        "app": {"id": 1, "slug": "aetherveil", "name": "Aetherveil"},
        "pull_requests": [],
    });
    apply_check_fields(&mut check, &input);
    runs.insert(id, check.clone());
    (StatusCode::CREATED, axum::Json(check)).into_response()
}

async fn update_check_run(
    State(shared): State<Arc<Shared>>,
    Path((_, _, id)): Path<(String, String, u64)>,
    axum::Json(input): axum::Json<Value>,
) -> Response {
    let mut runs = lock(&shared.check_runs);
    let Some(check) = runs.get_mut(&id) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    apply_check_fields(check, &input);
    axum::Json(check.clone()).into_response()
}
