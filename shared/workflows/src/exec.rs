//! Running a parsed [`Workflow`]: steps in order, `next` jumps, subworkflow calls, HTTP calls
//! through reqwest, `try`/`retry`/`except` with Workflows' error values.

use crate::expr::{self, Scope, error, type_name};
use crate::parse::{
    Backoff, Body, Callee, Case, ForLoop, ForSource, Predicate, Retry, Step, Target, TargetSeg, Template, Workflow,
};
use crate::{Location, WorkflowError};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Waits between retries and in `sys.sleep`; tests give one that records instead of sleeping.
pub trait Sleeper: Send + Sync + 'static {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock.
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// One HTTP call a run made, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCall {
    pub method: &'static str,
    pub url: String,
    /// The status code, or `None` when no response came (connection error, timeout).
    pub code: Option<u16>,
}

/// What a run did besides its result.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub http: Vec<HttpCall>,
    pub steps: u64,
}

/// Runs workflows. Configure once, run many.
#[derive(Clone)]
pub struct Executor {
    client: reqwest::Client,
    env: BTreeMap<String, String>,
    base_url: Option<String>,
    sleeper: Arc<dyn Sleeper>,
    max_steps: u64,
    process_env: bool,
}

/// The environment variables whose unset value is the local platform's address.
pub const URL_PREFIX: &str = "AETHERVEIL_URL_";

/// Cloud Workflows' own limit on steps per execution.
const MAX_STEPS: u64 = 100_000;
/// The HTTP timeout when `args.timeout` is absent (Cloud Workflows' maximum is 1800 s).
const DEFAULT_TIMEOUT_SECS: f64 = 300.0;

impl Default for Executor {
    fn default() -> Self {
        Self::new()
    }
}

impl Executor {
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::new(),
            env: BTreeMap::new(),
            base_url: None,
            sleeper: Arc::new(TokioSleeper),
            max_steps: MAX_STEPS,
            process_env: false,
        }
    }

    /// Sets a variable `sys.get_env` answers (as `--set-env-vars` does for a deployed workflow).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// The local shape: every `AETHERVEIL_URL_<SERVICE>` not set explicitly is `url`, because
    /// one process serves every function.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Lets `sys.get_env` fall back to this process's environment (for `aetherveil workflow run`).
    pub fn process_env(mut self, on: bool) -> Self {
        self.process_env = on;
        self
    }

    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    pub fn max_steps(mut self, n: u64) -> Self {
        self.max_steps = n;
        self
    }

    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    fn lookup_env(&self, name: &str) -> Option<String> {
        if let Some(v) = self.env.get(name) {
            return Some(v.clone());
        }
        if self.process_env {
            if let Ok(v) = std::env::var(name) {
                return Some(v);
            }
        }
        if name.starts_with(URL_PREFIX) {
            return self.base_url.clone();
        }
        None
    }

    /// Runs `main` with `args` as its one parameter (when it declares one).
    pub async fn run(&self, wf: &Workflow, args: Value) -> Result<Value, WorkflowError> {
        self.run_traced(wf, args).await.0
    }

    /// [`Executor::run`], with the HTTP calls made and the steps taken.
    pub async fn run_traced(&self, wf: &Workflow, args: Value) -> (Result<Value, WorkflowError>, Trace) {
        let run = Run { exec: self, wf, steps: AtomicU64::new(0), http: Mutex::new(Vec::new()) };
        let main = &wf.subworkflows["main"];
        let mut bound = Map::new();
        if let Some((p, _)) = main.params.first() {
            bound.insert(p.clone(), args);
        }
        let result = match run.call_sub("main", bound).await {
            Ok(v) => Ok(v),
            Err(Fail::Raise(v, at)) => Err(WorkflowError::Raised { value: v, at }),
            Err(Fail::Fatal(e)) => Err(e),
        };
        let trace = Trace {
            http: run.http.lock().map(|h| h.clone()).unwrap_or_default(),
            steps: run.steps.load(Ordering::Relaxed),
        };
        (result, trace)
    }
}

enum Fail {
    /// A Workflows exception (catchable), with the step that raised it.
    Raise(Value, Location),
    /// Stops the run (the step limit).
    Fatal(WorkflowError),
}

type Out<'a, T> = Pin<Box<dyn Future<Output = Result<T, Fail>> + Send + 'a>>;

enum Flow {
    Normal,
    Goto(String),
    Return(Value),
    End,
    Break,
    Continue,
}

struct Run<'a> {
    exec: &'a Executor,
    wf: &'a Workflow,
    steps: AtomicU64,
    http: Mutex<Vec<HttpCall>>,
}

struct Vars<'a> {
    vars: &'a Map<String, Value>,
    exec: &'a Executor,
}

impl Scope for Vars<'_> {
    fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }
    fn env(&self, name: &str) -> Option<String> {
        self.exec.lookup_env(name)
    }
}

impl<'a> Run<'a> {
    fn eval(&self, vars: &Map<String, Value>, t: &Template, at: &Location) -> Result<Value, Fail> {
        let scope = Vars { vars, exec: self.exec };
        render(t, &scope).map_err(|e| Fail::Raise(e, at.clone()))
    }

    fn call_sub(&'a self, name: &'a str, args: Map<String, Value>) -> Out<'a, Value> {
        Box::pin(async move {
            let sub = &self.wf.subworkflows[name];
            let mut vars = Map::new();
            for (p, default) in &sub.params {
                let value = match (args.get(p), default) {
                    (Some(v), _) => v.clone(),
                    (None, Some(d)) => d.clone(),
                    (None, None) if name == "main" => Value::Null,
                    (None, None) => {
                        let at = Location { line: None, path: name.to_owned() };
                        return Err(Fail::Raise(error("TypeError", format!("{name}: missing argument {p}")), at));
                    }
                };
                vars.insert(p.clone(), value);
            }
            match self.steps(&mut vars, &sub.steps).await? {
                Flow::Return(v) => Ok(v),
                Flow::Goto(t) => Err(Fail::Fatal(WorkflowError::Invalid {
                    at: Location { line: None, path: name.to_owned() },
                    message: format!("next: `{t}` is not reachable from where it is used"),
                })),
                _ => Ok(Value::Null),
            }
        })
    }

    fn steps(&'a self, vars: &'a mut Map<String, Value>, steps: &'a [Step]) -> Out<'a, Flow> {
        Box::pin(async move {
            let mut i = 0;
            while let Some(step) = steps.get(i) {
                let taken = self.steps.fetch_add(1, Ordering::Relaxed) + 1;
                if taken > self.exec.max_steps {
                    return Err(Fail::Fatal(WorkflowError::StepLimit { limit: self.exec.max_steps }));
                }
                let flow = match self.step(vars, step).await? {
                    Flow::Normal => match &step.next {
                        Some(t) => jump(t),
                        None => Flow::Normal,
                    },
                    other => other,
                };
                match flow {
                    Flow::Normal => i += 1,
                    Flow::Goto(t) => match steps.iter().position(|s| s.name == t) {
                        Some(at) => i = at,
                        None => return Ok(Flow::Goto(t)),
                    },
                    other => return Ok(other),
                }
            }
            Ok(Flow::Normal)
        })
    }

    fn step(&'a self, vars: &'a mut Map<String, Value>, step: &'a Step) -> Out<'a, Flow> {
        Box::pin(async move {
            let at = &step.location;
            match &step.body {
                Body::Jump => Ok(Flow::Normal),
                Body::Assign(items) => {
                    self.assign(vars, items, at)?;
                    Ok(Flow::Normal)
                }
                Body::Return(t) => Ok(Flow::Return(self.eval(vars, t, at)?)),
                Body::Raise(t) => Err(Fail::Raise(self.eval(vars, t, at)?, at.clone())),
                Body::Steps(inner) => self.steps(vars, inner).await,
                Body::Call { callee, args, result } => {
                    let mut evaluated = Map::new();
                    for (k, t) in args {
                        evaluated.insert(k.clone(), self.eval(vars, t, at)?);
                    }
                    let value = self.call(callee, evaluated, at).await?;
                    if let Some(r) = result {
                        vars.insert(r.clone(), value);
                    }
                    Ok(Flow::Normal)
                }
                Body::Switch(cases) => self.switch(vars, cases, at).await,
                Body::For(l) => self.for_loop(vars, l, at).await,
                Body::Try { body, retry, except } => {
                    let mut retries = 0u32;
                    loop {
                        let failure = match self.steps(vars, body).await {
                            Ok(flow) => return Ok(flow),
                            Err(Fail::Raise(e, _)) => e,
                            Err(fatal) => return Err(fatal),
                        };
                        if let Some(r) = retry {
                            if retries < r.max_retries && self.should_retry(r, &failure, at).await? {
                                let delay = backoff(&r.backoff, retries);
                                tracing::info!(step = %step.name, retry = retries + 1, delay_s = delay.as_secs_f64(), "retrying");
                                self.exec.sleeper.sleep(delay).await;
                                retries += 1;
                                continue;
                            }
                        }
                        return match except {
                            Some((name, steps)) => {
                                vars.insert(name.clone(), failure);
                                self.steps(vars, steps).await
                            }
                            None => Err(Fail::Raise(failure, at.clone())),
                        };
                    }
                }
            }
        })
    }

    fn assign(&self, vars: &mut Map<String, Value>, items: &[(Target, Template)], at: &Location) -> Result<(), Fail> {
        for (target, t) in items {
            let value = self.eval(vars, t, at)?;
            let mut keys = Vec::with_capacity(target.path.len());
            for seg in &target.path {
                keys.push(match seg {
                    TargetSeg::Key(k) => Value::String(k.clone()),
                    TargetSeg::Index(e) => {
                        let scope = Vars { vars, exec: self.exec };
                        expr::eval(e, &scope).map_err(|e| Fail::Raise(e, at.clone()))?
                    }
                });
            }
            if keys.is_empty() {
                vars.insert(target.root.clone(), value);
                continue;
            }
            let Some(mut slot) = vars.get_mut(&target.root) else {
                return Err(Fail::Raise(error("KeyError", format!("variable not found: {}", target.root)), at.clone()));
            };
            let last = keys.len() - 1;
            for (i, key) in keys.iter().enumerate() {
                let next = match (slot, key) {
                    (Value::Object(m), Value::String(k)) => {
                        if i == last {
                            m.insert(k.clone(), value);
                            break;
                        }
                        m.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()))
                    }
                    (Value::Array(l), Value::Number(n)) => {
                        let len = l.len();
                        let Some(item) = n.as_u64().and_then(|n| usize::try_from(n).ok()).and_then(|n| l.get_mut(n))
                        else {
                            return Err(Fail::Raise(
                                error("IndexError", format!("index {n} out of range (length {len})")),
                                at.clone(),
                            ));
                        };
                        if i == last {
                            *item = value;
                            break;
                        }
                        item
                    }
                    (other, key) => {
                        let msg = format!("cannot assign {key} in a {}", type_name(other));
                        return Err(Fail::Raise(error("TypeError", msg), at.clone()));
                    }
                };
                slot = next;
            }
        }
        Ok(())
    }

    async fn switch(
        &'a self,
        vars: &'a mut Map<String, Value>,
        cases: &'a [Case],
        at: &'a Location,
    ) -> Result<Flow, Fail> {
        for case in cases {
            let hit = self.eval(vars, &case.condition, at)?;
            let Some(hit) = hit.as_bool() else {
                let msg = format!("a switch condition must be a boolean, got {}", type_name(&hit));
                return Err(Fail::Raise(error("TypeError", msg), at.clone()));
            };
            if !hit {
                continue;
            }
            if let Some(steps) = &case.steps {
                match self.steps(vars, steps).await? {
                    Flow::Normal => {}
                    other => return Ok(other),
                }
            }
            return Ok(case.next.as_deref().map_or(Flow::Normal, jump));
        }
        Ok(Flow::Normal)
    }

    async fn for_loop(
        &'a self,
        vars: &'a mut Map<String, Value>,
        l: &'a ForLoop,
        at: &'a Location,
    ) -> Result<Flow, Fail> {
        let items: Vec<Value> = match &l.source {
            ForSource::In(t) => match self.eval(vars, t, at)? {
                Value::Array(items) => items,
                Value::Object(m) => m.keys().map(|k| Value::String(k.clone())).collect(),
                other => {
                    let msg = format!("for: `in` needs a list, got {}", type_name(&other));
                    return Err(Fail::Raise(error("TypeError", msg), at.clone()));
                }
            },
            ForSource::Range(t) => {
                let r = self.eval(vars, t, at)?;
                match r.as_array().map(|r| r.iter().map(Value::as_i64).collect::<Vec<_>>()).as_deref() {
                    Some([Some(a), Some(b)]) => (*a..=*b).map(|n| json!(n)).collect(),
                    _ => {
                        return Err(Fail::Raise(
                            error("TypeError", "for: range needs [first, last] integers"),
                            at.clone(),
                        ));
                    }
                }
            }
        };
        // Variables created inside the loop do not outlive it (as in Cloud Workflows).
        let before: Vec<String> = vars.keys().cloned().collect();
        let mut out = Flow::Normal;
        for (i, item) in items.into_iter().enumerate() {
            vars.insert(l.value.clone(), item);
            if let Some(index) = &l.index {
                vars.insert(index.clone(), json!(i));
            }
            match self.steps(vars, &l.steps).await {
                Ok(Flow::Normal | Flow::Continue) => {}
                Ok(Flow::Break) => break,
                Ok(other) => {
                    out = other;
                    break;
                }
                Err(e) => {
                    vars.retain(|k, _| before.contains(k));
                    return Err(e);
                }
            }
        }
        vars.retain(|k, _| before.contains(k));
        Ok(out)
    }

    async fn should_retry(&'a self, r: &'a Retry, e: &Value, at: &Location) -> Result<bool, Fail> {
        let tags: Vec<&str> = e["tags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let code = e["code"].as_u64();
        match &r.predicate {
            Predicate::Http => Ok(matches!(code, Some(429 | 502 | 503 | 504))
                || tags.iter().any(|t| matches!(*t, "ConnectionError" | "ConnectionFailedError" | "TimeoutError"))),
            Predicate::HttpNonIdempotent => {
                Ok(matches!(code, Some(429 | 503)) || tags.contains(&"ConnectionFailedError"))
            }
            Predicate::Subworkflow(name) => {
                let param = self.wf.subworkflows[name].params[0].0.clone();
                let decision = self.call_sub(name, Map::from_iter([(param, e.clone())])).await?;
                decision.as_bool().ok_or_else(|| {
                    let msg = format!("retry predicate {name} returned a {}, not a boolean", type_name(&decision));
                    Fail::Raise(error("TypeError", msg), at.clone())
                })
            }
        }
    }

    async fn call(&'a self, callee: &'a Callee, args: Map<String, Value>, at: &Location) -> Result<Value, Fail> {
        match callee {
            Callee::Subworkflow(name) => self.call_sub(name, args).await,
            Callee::SysLog => {
                let text = match (args.get("text"), args.get("data")) {
                    (Some(Value::String(s)), _) => s.clone(),
                    (Some(v), _) | (None, Some(v)) => v.to_string(),
                    (None, None) => String::new(),
                };
                let severity = args.get("severity").and_then(Value::as_str).unwrap_or("DEFAULT");
                match severity {
                    "ERROR" | "CRITICAL" | "ALERT" | "EMERGENCY" => tracing::error!(step = %at.path, "{text}"),
                    "WARNING" => tracing::warn!(step = %at.path, "{text}"),
                    _ => tracing::info!(step = %at.path, "{text}"),
                }
                Ok(Value::Null)
            }
            Callee::SysSleep => {
                let Some(seconds) = args.get("seconds").and_then(Value::as_f64).filter(|s| *s >= 0.0) else {
                    return Err(Fail::Raise(error("TypeError", "sys.sleep needs seconds >= 0"), at.clone()));
                };
                self.exec.sleeper.sleep(Duration::from_secs_f64(seconds.min(31_536_000.0))).await;
                Ok(Value::Null)
            }
            Callee::Http(method) => self.http(method, args).await.map_err(|e| Fail::Raise(e, at.clone())),
        }
    }

    async fn http(&self, method: &'static str, args: Map<String, Value>) -> Result<Value, Value> {
        let Some(Value::String(url)) = args.get("url") else {
            return Err(error("TypeError", "args.url must be a string"));
        };
        let mut url = reqwest::Url::parse(url).map_err(|e| error("ValueError", format!("bad url {url:?}: {e}")))?;
        if let Some(q) = args.get("query") {
            let Value::Object(q) = q else {
                return Err(error("TypeError", "args.query must be a map"));
            };
            let mut pairs = url.query_pairs_mut();
            for (k, v) in q {
                let values = match v {
                    Value::Array(items) => items.clone(),
                    one => vec![one.clone()],
                };
                for v in values {
                    pairs.append_pair(k, &scalar_text(&v));
                }
            }
        }
        let timeout = args.get("timeout").and_then(Value::as_f64).unwrap_or(DEFAULT_TIMEOUT_SECS).clamp(0.001, 1800.0);
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| error("ValueError", e.to_string()))?;
        let mut req = self.exec.client.request(m, url.clone()).timeout(Duration::from_secs_f64(timeout));
        if let Some(h) = args.get("headers") {
            let Value::Object(h) = h else {
                return Err(error("TypeError", "args.headers must be a map"));
            };
            for (k, v) in h {
                req = req.header(k.as_str(), scalar_text(v));
            }
        }
        match args.get("body") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => req = req.body(s.clone()),
            Some(body) => req = req.json(body),
        }
        // `auth` (OIDC or OAuth2 in the cloud) has no meaning on one local address.
        let record = |code: Option<u16>| {
            if let Ok(mut h) = self.http.lock() {
                h.push(HttpCall { method, url: url.to_string(), code });
            }
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                record(None);
                return Err(if e.is_timeout() {
                    json!({"message": format!("{method} {url}: timed out after {timeout} s"), "tags": ["TimeoutError"]})
                } else if e.is_connect() {
                    json!({"message": format!("{method} {url}: cannot connect: {e}"), "tags": ["ConnectionFailedError", "ConnectionError"]})
                } else {
                    json!({"message": format!("{method} {url}: {e}"), "tags": ["ConnectionError"]})
                });
            }
        };
        let code = resp.status().as_u16();
        record(Some(code));
        let mut headers = Map::new();
        for (k, v) in resp.headers() {
            headers.insert(k.as_str().to_owned(), Value::String(v.to_str().unwrap_or("").to_owned()));
        }
        let is_json = headers.get("content-type").and_then(Value::as_str).is_some_and(|c| c.contains("json"));
        let text = resp
            .text()
            .await
            .map_err(|e| json!({"message": format!("{method} {url}: {e}"), "tags": ["ConnectionError"]}))?;
        let body =
            if is_json { serde_json::from_str(&text).unwrap_or(Value::String(text)) } else { Value::String(text) };
        tracing::debug!(method, %url, code, "workflow http call");
        if (200..300).contains(&code) {
            Ok(json!({"code": code, "headers": headers, "body": body}))
        } else {
            Err(json!({
                "message": format!("HTTP server responded with error code {code}"),
                "code": code,
                "headers": headers,
                "body": body,
                "tags": ["HttpError"],
            }))
        }
    }
}

fn jump(target: &str) -> Flow {
    match target {
        "end" => Flow::End,
        "break" => Flow::Break,
        "continue" => Flow::Continue,
        t => Flow::Goto(t.to_owned()),
    }
}

/// The delay before retry number `retries + 1`.
pub fn backoff(b: &Backoff, retries: u32) -> Duration {
    let d = b.initial_delay * b.multiplier.powi(i32::try_from(retries).unwrap_or(i32::MAX));
    Duration::from_secs_f64(d.min(b.max_delay).max(0.0))
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render(t: &Template, scope: &dyn Scope) -> Result<Value, Value> {
    match t {
        Template::Lit(v) => Ok(v.clone()),
        Template::Expr(e) => expr::eval(e, scope),
        Template::List(items) => Ok(Value::Array(items.iter().map(|i| render(i, scope)).collect::<Result<_, _>>()?)),
        Template::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                m.insert(k.clone(), render(v, scope)?);
            }
            Ok(Value::Object(m))
        }
    }
}
