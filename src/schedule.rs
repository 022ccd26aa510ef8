//! The local scheduler: the periodic jobs of `scheduler/jobs.yaml` (compiled in), run by
//! `aetherveil serve` as Cloud Scheduler runs them on Google Cloud.
//!
//! ```text
//! scheduler/jobs.yaml ──parse_jobs──▶ Job { cron (5 fields, Etc/UTC), target, body }
//! start(): one task; sleeps until the next due job, then per due job (one run at a time per job;
//!          a run still going when the next is due is recorded as skipped):
//!     function target ──HTTP──▶ this process's own address (method, path, JSON body)
//!     workflow target ──aetherveil_workflows::Executor──▶ workflows/<name>.yaml with body as args,
//!                       every AETHERVEIL_URL_* pointing at this process
//!     ──▶ log line + schedule_runs/<job>: last run (outcome, detail, duration), next run, counts
//! ```
//!
//! Cron syntax: numbers, `*`, `a-b`, `*/n`, `a-b/n` and lists `a,b`; day of week 0–7 (0 and 7 are
//! Sunday); when both day of month and day of week are restricted, either may match (as in cron).
//! Names (`MON`, `JAN`) and `@daily`-style macros are refused. Time zones: `Etc/UTC` (or `UTC`) only.

use aetherveil_store::Store;
use aetherveil_workflows::{Executor, Workflow};
use chrono::{DateTime, Datelike, Duration as ChronoDuration, TimeZone, Timelike, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use thiserror::Error;

/// The jobs file, compiled in.
pub const JOBS_YAML: &str = include_str!("../scheduler/jobs.yaml");

/// The workflow definitions, compiled in: `(name, YAML)`, name = file name without `.yaml`.
pub const WORKFLOWS: &[(&str, &str)] = &[
    ("triage-and-heal", include_str!("../workflows/triage-and-heal.yaml")),
    ("retrain", include_str!("../workflows/retrain.yaml")),
    ("release-rollout", include_str!("../workflows/release-rollout.yaml")),
];

/// Where each job's last run is recorded, one document per job name.
pub const RUNS: &str = "schedule_runs";

/// How long a function call of a job may take (the trainer's Cloud Run timeout is 900 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(1800);
/// The most of a response body or workflow result kept in the run record.
const DETAIL_MAX: usize = 4000;

#[derive(Debug, Error)]
pub enum ScheduleError {
    #[error("scheduler/jobs.yaml: {0}")]
    File(String),
    #[error("job {job}: {message}")]
    Job { job: String, message: String },
    #[error("cron {expr:?}: {message}")]
    Cron { expr: String, message: String },
}

/// A 5-field cron schedule, evaluated in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    dom_any: bool,
    dow_any: bool,
}

fn cron_field(expr: &str, text: &str, min: u32, max: u32) -> Result<u64, ScheduleError> {
    let bad = |message: String| ScheduleError::Cron { expr: expr.to_owned(), message };
    let num = |s: &str| -> Result<u32, ScheduleError> {
        let n: u32 = s.parse().map_err(|_| bad(format!("{s:?} is not a number (names are not supported)")))?;
        if n < min || n > max {
            return Err(bad(format!("{n} is outside {min}-{max}")));
        }
        Ok(n)
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 =
                    s.parse().ok().filter(|s| *s > 0).ok_or_else(|| bad(format!("bad step in {part:?}")))?;
                (r, Some(step))
            }
            None => (part, None),
        };
        let (lo, hi) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None if step.is_some() => (num(r)?, max),
                None => {
                    let n = num(r)?;
                    (n, n)
                }
            },
        };
        if lo > hi {
            return Err(bad(format!("empty range {range:?}")));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step.unwrap_or(1);
        }
    }
    Ok(bits)
}

impl Cron {
    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(ScheduleError::Cron { expr: expr.to_owned(), message: "needs 5 fields".into() });
        };
        let mut dow_bits = cron_field(expr, dow, 0, 7)?;
        if dow_bits & (1 << 7) != 0 {
            dow_bits = (dow_bits & !(1 << 7)) | 1;
        }
        Ok(Cron {
            minute: cron_field(expr, minute, 0, 59)?,
            hour: cron_field(expr, hour, 0, 23)?,
            dom: cron_field(expr, dom, 1, 31)?,
            month: cron_field(expr, month, 1, 12)?,
            dow: dow_bits,
            dom_any: dom.starts_with('*'),
            dow_any: dow.starts_with('*'),
        })
    }

    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let dom = self.dom & (1 << t.day()) != 0;
        let dow = self.dow & (1 << t.weekday().num_days_from_sunday()) != 0;
        if self.dom_any || self.dow_any { dom && dow } else { dom || dow }
    }

    /// The first minute strictly after `t` that the schedule names (`None` if none within 5 years).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = t.with_second(0)?.with_nanosecond(0)? + ChronoDuration::minutes(1);
        let mut t = start;
        let limit = start + ChronoDuration::days(5 * 366);
        while t < limit {
            if self.month & (1 << t.month()) == 0 {
                let (y, m) = if t.month() == 12 { (t.year() + 1, 1) } else { (t.year(), t.month() + 1) };
                t = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
            } else if !self.day_matches(&t) {
                t = (t + ChronoDuration::days(1)).with_hour(0)?.with_minute(0)?;
            } else if self.hour & (1 << t.hour()) == 0 {
                t = (t + ChronoDuration::hours(1)).with_minute(0)?;
            } else if self.minute & (1 << t.minute()) == 0 {
                t += ChronoDuration::minutes(1);
            } else {
                return Some(t);
            }
        }
        None
    }
}

/// What a job calls.
#[derive(Debug, Clone)]
pub enum Target {
    /// An HTTP endpoint of a function (a `FUNCTION_TARGET` name).
    Function { function: String, method: String, path: String },
    /// A workflow of `workflows/`, parsed.
    Workflow { name: String, workflow: Arc<Workflow> },
}

impl Target {
    pub fn describe(&self) -> Value {
        match self {
            Target::Function { function, method, path } => {
                json!({"function": function, "method": method, "path": path})
            }
            Target::Workflow { name, .. } => json!({"workflow": name}),
        }
    }
}

/// One periodic job.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub description: String,
    pub schedule_text: String,
    pub schedule: Cron,
    pub time_zone: String,
    pub target: Target,
    /// The JSON body of a function call, or a workflow's runtime arguments.
    pub body: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsFile {
    jobs: Vec<RawJob>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    description: String,
    schedule: String,
    time_zone: String,
    function: Option<String>,
    workflow: Option<String>,
    method: Option<String>,
    path: Option<String>,
    #[serde(default)]
    body: Option<Value>,
}

/// The workflow definition named `name` (compiled in).
pub fn workflow(name: &str) -> Option<&'static str> {
    WORKFLOWS.iter().find(|(n, _)| *n == name).map(|(_, src)| *src)
}

/// The compiled-in jobs.
pub fn jobs() -> Result<Vec<Job>, ScheduleError> {
    parse_jobs(JOBS_YAML)
}

/// Parses and checks a jobs file.
pub fn parse_jobs(src: &str) -> Result<Vec<Job>, ScheduleError> {
    let file: JobsFile = serde_norway::from_str(src).map_err(|e| ScheduleError::File(e.to_string()))?;
    let mut out: Vec<Job> = Vec::with_capacity(file.jobs.len());
    for raw in file.jobs {
        let job = raw.name.clone();
        let bad = |message: String| ScheduleError::Job { job: job.clone(), message };
        if raw.name.is_empty() || !raw.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(bad("a name is made of a-z, 0-9 and -".into()));
        }
        if out.iter().any(|j| j.name == raw.name) {
            return Err(bad("two jobs have this name".into()));
        }
        if !matches!(raw.time_zone.as_str(), "Etc/UTC" | "UTC") {
            return Err(bad(format!("time_zone {:?}: only Etc/UTC is supported", raw.time_zone)));
        }
        let target = match (raw.function, raw.workflow) {
            (Some(function), None) => {
                let method = raw.method.ok_or_else(|| bad("a function job needs a method".into()))?.to_uppercase();
                if !matches!(method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
                    return Err(bad(format!("method {method} is not an HTTP method")));
                }
                let path = raw.path.ok_or_else(|| bad("a function job needs a path".into()))?;
                if !path.starts_with('/') {
                    return Err(bad(format!("path {path:?} must start with /")));
                }
                Target::Function { function, method, path }
            }
            (None, Some(name)) => {
                if raw.method.is_some() || raw.path.is_some() {
                    return Err(bad("method and path are for function jobs".into()));
                }
                let src = workflow(&name).ok_or_else(|| bad(format!("no workflow workflows/{name}.yaml")))?;
                let workflow = Workflow::parse(src).map_err(|e| bad(format!("workflows/{name}.yaml: {e}")))?;
                Target::Workflow { name, workflow: Arc::new(workflow) }
            }
            _ => return Err(bad("name exactly one of function and workflow".into())),
        };
        out.push(Job {
            schedule: Cron::parse(&raw.schedule).map_err(|e| bad(e.to_string()))?,
            schedule_text: raw.schedule,
            name: raw.name,
            description: raw.description,
            time_zone: raw.time_zone,
            target,
            body: raw.body.unwrap_or_else(|| json!({})),
        });
    }
    Ok(out)
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub ok: bool,
    /// The answer (status and body) or workflow result, or the error.
    pub detail: Value,
}

/// Runs jobs against one platform address and records their runs.
#[derive(Clone)]
pub struct Runner {
    base_url: String,
    client: reqwest::Client,
    executor: Executor,
    store: Arc<dyn Store>,
}

impl Runner {
    /// `base_url`: the platform every function and `AETHERVEIL_URL_*` resolves to.
    pub fn new(base_url: &str, store: Arc<dyn Store>) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        Self { executor: Executor::new().base_url(&base_url), client: reqwest::Client::new(), base_url, store }
    }

    /// Runs one job now; does not record it.
    pub async fn run(&self, job: &Job) -> RunOutcome {
        match &job.target {
            Target::Function { method, path, .. } => {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
                let result = self
                    .client
                    .request(method, format!("{}{path}", self.base_url))
                    .timeout(CALL_TIMEOUT)
                    .json(&job.body)
                    .send()
                    .await;
                match result {
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(truncate(&text)));
                        RunOutcome { ok: status.is_success(), detail: json!({"status": status.as_u16(), "body": body}) }
                    }
                    Err(e) => RunOutcome { ok: false, detail: json!({"error": e.to_string()}) },
                }
            }
            Target::Workflow { workflow, .. } => match self.executor.run(workflow, job.body.clone()).await {
                Ok(result) => RunOutcome { ok: true, detail: json!({"result": result}) },
                Err(e) => RunOutcome { ok: false, detail: json!({"error": truncate(&e.to_string())}) },
            },
        }
    }

    /// Runs one job now, logs it and records it in `schedule_runs/<job>`.
    pub async fn run_and_record(&self, job: &Job) -> RunOutcome {
        let started = Utc::now();
        tracing::info!(job = %job.name, "scheduled job starting");
        let outcome = self.run(job).await;
        let finished = Utc::now();
        let ms = (finished - started).num_milliseconds();
        if outcome.ok {
            tracing::info!(job = %job.name, duration_ms = ms, "scheduled job succeeded");
        } else {
            tracing::warn!(job = %job.name, duration_ms = ms, detail = %outcome.detail, "scheduled job failed");
        }
        let label = if outcome.ok { "ok" } else { "failed" };
        self.record(
            job,
            json!({
                "started_at": started,
                "finished_at": finished,
                "duration_ms": ms,
                "outcome": label,
                "detail": clip(&outcome.detail),
            }),
        )
        .await;
        outcome
    }

    /// Merges `last_run` (when given) into the job's record, with its counts and next run.
    async fn record(&self, job: &Job, last_run: Value) {
        let next = job.schedule.next_after(Utc::now());
        let outcome = last_run["outcome"].as_str().map(str::to_owned);
        let result = aetherveil_store::update(self.store.as_ref(), RUNS, &job.name, |cur| {
            let mut doc = cur.cloned().unwrap_or_else(|| json!({"runs": 0, "failures": 0, "skipped": 0}));
            doc["job"] = json!(job.name);
            doc["target"] = job.target.describe();
            doc["schedule"] = json!(job.schedule_text);
            doc["next_run_at"] = json!(next);
            let bump = |doc: &mut Value, key: &str| doc[key] = json!(doc[key].as_u64().unwrap_or(0) + 1);
            match outcome.as_deref() {
                Some("skipped") => {
                    bump(&mut doc, "skipped");
                    doc["last_skipped_at"] = last_run["started_at"].clone();
                    return doc;
                }
                Some(o) => {
                    bump(&mut doc, "runs");
                    if o != "ok" {
                        bump(&mut doc, "failures");
                    }
                }
                None => {}
            }
            if !last_run.is_null() {
                doc["last_run"] = last_run.clone();
            }
            doc
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(job = %job.name, error = %e, "cannot record the scheduled job's run");
        }
    }

    /// Runs `jobs` on their schedules until the returned task is aborted (which also stops the
    /// runs in progress).
    pub fn start(self, jobs: Vec<Job>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let runner = Arc::new(self);
            let mut next: Vec<Option<DateTime<Utc>>> = jobs.iter().map(|j| j.schedule.next_after(Utc::now())).collect();
            let busy: Vec<Arc<AtomicBool>> = jobs.iter().map(|_| Arc::new(AtomicBool::new(false))).collect();
            let jobs: Vec<Arc<Job>> = jobs.into_iter().map(Arc::new).collect();
            for job in &jobs {
                runner.record(job, Value::Null).await;
            }
            tracing::info!(jobs = jobs.len(), "scheduler started");
            let mut running = tokio::task::JoinSet::new();
            loop {
                let Some(soonest) = next.iter().flatten().min().copied() else {
                    return;
                };
                let wait = (soonest - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                // Wake at least every minute, so a changed wall clock is noticed.
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(Duration::from_secs(60))) => {}
                    Some(_) = running.join_next(), if !running.is_empty() => continue,
                }
                let now = Utc::now();
                for (i, job) in jobs.iter().enumerate() {
                    if next[i].is_none_or(|t| t > now) {
                        continue;
                    }
                    next[i] = job.schedule.next_after(now);
                    if busy[i].swap(true, Ordering::AcqRel) {
                        tracing::warn!(job = %job.name, "scheduled job skipped: its previous run is still going");
                        runner.record(job, json!({"started_at": now, "outcome": "skipped", "detail": "the previous run was still going"})).await;
                        continue;
                    }
                    let (runner, job, busy) = (runner.clone(), job.clone(), busy[i].clone());
                    running.spawn(async move {
                        runner.run_and_record(&job).await;
                        busy.store(false, Ordering::Release);
                    });
                }
            }
        })
    }
}

/// The address a process listening on `addr` reaches itself at.
pub fn self_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// `aetherveil serve`'s scheduler: the compiled-in jobs against the process's own address.
pub fn start_local(store: Arc<dyn Store>, addr: SocketAddr) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let jobs = jobs()?;
    Ok(Runner::new(&self_url(addr), store).start(jobs))
}

fn truncate(s: &str) -> String {
    if s.len() <= DETAIL_MAX {
        return s.to_owned();
    }
    let mut end = DETAIL_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A detail small enough for the run record: large values are kept as truncated JSON text.
fn clip(v: &Value) -> Value {
    let text = v.to_string();
    if text.len() <= DETAIL_MAX { v.clone() } else { Value::String(truncate(&text)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    fn next(expr: &str, after: &str) -> String {
        Cron::parse(expr).expect("parses").next_after(at(after)).expect("a next run").to_rfc3339()
    }

    #[test]
    fn cron_next_runs() {
        assert_eq!(next("* * * * *", "2026-12-07T12:00:30Z"), "2026-12-07T12:01:00+00:00");
        assert_eq!(next("0 3 * * *", "2026-12-07T03:00:00Z"), "2026-12-08T03:00:00+00:00");
        assert_eq!(next("0 3 * * *", "2026-12-07T02:59:59Z"), "2026-12-07T03:00:00+00:00");
        assert_eq!(next("*/15 * * * *", "2026-12-07T12:16:00Z"), "2026-12-07T12:30:00+00:00");
        assert_eq!(next("5,35 8-9 * * *", "2026-12-07T09:40:00Z"), "2026-12-08T08:05:00+00:00");
        assert_eq!(next("0 0 1 1 *", "2026-12-07T00:00:00Z"), "2027-01-01T00:00:00+00:00");
        // 2026-12-07 is a Monday; 7 and 0 are Sunday.
        assert_eq!(next("0 12 * * 7", "2026-12-07T00:00:00Z"), "2026-12-13T12:00:00+00:00");
        assert_eq!(next("0 12 * * 1-5/2", "2026-12-07T13:00:00Z"), "2026-12-09T12:00:00+00:00");
        // Day of month and day of week both restricted: either matches.
        assert_eq!(next("0 0 13 * 5", "2026-12-07T00:00:00Z"), "2026-12-11T00:00:00+00:00");
        assert_eq!(next("0 0 29 2 *", "2026-12-07T00:00:00Z"), "2028-02-29T00:00:00+00:00");
        assert_eq!(Cron::parse("0 0 31 2 *").expect("parses").next_after(at("2026-12-07T00:00:00Z")), None);
    }

    #[test]
    fn cron_refuses_what_it_does_not_support() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "0 0 * * MON",
            "*/0 * * * *",
            "5-1 * * * *",
            "@daily",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_jobs_file_parses_and_every_workflow_job_names_a_workflow() {
        let jobs = jobs().expect("scheduler/jobs.yaml");
        assert!(jobs.len() >= 5);
        for job in &jobs {
            assert!(job.schedule.next_after(Utc::now()).is_some(), "{} never runs", job.name);
        }
        assert!(jobs.iter().any(|j| matches!(&j.target, Target::Workflow { name, .. } if name == "retrain")));
    }

    #[test]
    fn jobs_are_checked() {
        let job =
            |extra: &str| format!("jobs:\n  - name: a-job\n    description: d\n    schedule: \"* * * * *\"\n{extra}");
        let ok = job("    time_zone: Etc/UTC\n    function: trainer\n    method: post\n    path: /trainer/run\n");
        assert!(parse_jobs(&ok).is_ok());
        let cases = [
            ("    time_zone: Europe/Paris\n    function: trainer\n    method: POST\n    path: /x\n", "only Etc/UTC"),
            ("    time_zone: Etc/UTC\n    function: trainer\n    workflow: retrain\n", "exactly one"),
            ("    time_zone: Etc/UTC\n    workflow: nope\n", "no workflow"),
            ("    time_zone: Etc/UTC\n    workflow: retrain\n    path: /x\n", "for function jobs"),
            ("    time_zone: Etc/UTC\n    function: trainer\n    method: POST\n    path: x\n", "must start with /"),
            (
                "    time_zone: Etc/UTC\n    function: trainer\n    method: POST\n    path: /x\n    retries: 3\n",
                "unknown field",
            ),
        ];
        for (extra, expected) in cases {
            let e = parse_jobs(&job(extra)).expect_err(extra).to_string();
            assert!(e.contains(expected), "{e}");
        }
    }

    #[test]
    fn every_workflow_file_is_compiled_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("workflows/")
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".yaml").map(str::to_owned))
            .collect();
        files.sort();
        let mut known: Vec<String> = WORKFLOWS.iter().map(|(n, _)| (*n).to_owned()).collect();
        known.sort();
        assert_eq!(files, known);
    }

    #[test]
    fn self_url_reaches_the_listener() {
        assert_eq!(self_url("0.0.0.0:8080".parse().expect("addr")), "http://127.0.0.1:8080");
        assert_eq!(self_url("[::]:80".parse().expect("addr")), "http://[::1]:80");
        assert_eq!(self_url("10.1.2.3:9".parse().expect("addr")), "http://10.1.2.3:9");
    }
}
