//! From YAML text to a checked [`Workflow`]: every key, call and expression outside the subset is
//! refused here, with its line, before anything runs.

use crate::expr::{self, Expr};
use crate::locate::{self, Seg};
use crate::{Location, WorkflowError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A parsed workflow: `main` and its subworkflows.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub subworkflows: BTreeMap<String, Subworkflow>,
}

#[derive(Debug, Clone)]
pub struct Subworkflow {
    /// Parameter names with their defaults (a parameter without one is required).
    pub params: Vec<(String, Option<Value>)>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub body: Body,
    pub next: Option<String>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub enum Body {
    Assign(Vec<(Target, Template)>),
    Call {
        callee: Callee,
        args: Vec<(String, Template)>,
        result: Option<String>,
    },
    Switch(Vec<Case>),
    For(ForLoop),
    Try {
        body: Vec<Step>,
        retry: Option<Retry>,
        except: Option<(String, Vec<Step>)>,
    },
    Raise(Template),
    Return(Template),
    Steps(Vec<Step>),
    /// A step with only `next`.
    Jump,
}

/// What a `call` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callee {
    /// `http.get` … `http.delete`: the method in upper case.
    Http(&'static str),
    /// `sys.log` (args `text` or `data`, `severity`).
    SysLog,
    /// `sys.sleep` (arg `seconds`).
    SysSleep,
    Subworkflow(String),
}

/// An assignment target: `x`, `x.y`, `x["y"]`, `x[0]`.
#[derive(Debug, Clone)]
pub struct Target {
    pub root: String,
    pub path: Vec<TargetSeg>,
}

#[derive(Debug, Clone)]
pub enum TargetSeg {
    Key(String),
    Index(Expr),
}

/// A YAML value whose strings of the form `${...}` are expressions.
#[derive(Debug, Clone)]
pub enum Template {
    Lit(Value),
    Expr(Expr),
    List(Vec<Template>),
    Map(Vec<(String, Template)>),
}

#[derive(Debug, Clone)]
pub struct Case {
    pub condition: Template,
    pub next: Option<String>,
    pub steps: Option<Vec<Step>>,
}

#[derive(Debug, Clone)]
pub struct ForLoop {
    pub value: String,
    pub index: Option<String>,
    pub source: ForSource,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub enum ForSource {
    In(Template),
    /// `[first, last]`, both included.
    Range(Template),
}

#[derive(Debug, Clone)]
pub struct Retry {
    pub predicate: Predicate,
    pub max_retries: u32,
    pub backoff: Backoff,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `http.default_retry_predicate`: 429, 502, 503, 504, connection errors, timeouts.
    Http,
    /// `http.default_retry_predicate_non_idempotent`: 429, 503, connection refused before sending.
    HttpNonIdempotent,
    /// A subworkflow taking the error and returning a boolean.
    Subworkflow(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial_delay: f64,
    pub max_delay: f64,
    pub multiplier: f64,
}

/// `http.default_retry`'s policy.
const DEFAULT_BACKOFF: Backoff = Backoff { initial_delay: 1.0, max_delay: 60.0, multiplier: 1.25 };
const DEFAULT_MAX_RETRIES: u32 = 5;

impl Template {
    /// The expression of a `${...}` template.
    pub fn expr(&self) -> Option<&Expr> {
        match self {
            Template::Expr(e) => Some(e),
            _ => None,
        }
    }
}

impl Workflow {
    /// Parses and checks a workflow definition.
    pub fn parse(src: &str) -> Result<Self, WorkflowError> {
        let yaml: serde_norway::Value =
            serde_norway::from_str(src).map_err(|e| WorkflowError::Yaml { message: e.to_string() })?;
        let doc: Value = serde_json::to_value(&yaml)
            .map_err(|e| WorkflowError::Yaml { message: format!("not a JSON-compatible document: {e}") })?;
        let mut p = Parser { src, path: Vec::new() };
        let mut subworkflows = BTreeMap::new();
        match &doc {
            Value::Array(_) => {
                subworkflows.insert("main".to_owned(), Subworkflow { params: Vec::new(), steps: p.steps(&doc)? });
            }
            Value::Object(m) => {
                for (name, def) in m {
                    p.path.push(Seg::Key(name.clone()));
                    subworkflows.insert(name.clone(), p.subworkflow(def)?);
                    p.path.pop();
                }
            }
            _ => return Err(p.invalid("a workflow is a map of subworkflows (with `main`) or a list of steps")),
        }
        let wf = Workflow { subworkflows };
        if !wf.subworkflows.contains_key("main") {
            return Err(p.invalid("there is no `main` subworkflow"));
        }
        wf.check()?;
        Ok(wf)
    }

    /// Every `call: http.*` with its method and the literal parts of its URL (see
    /// [`expr::render_pattern`]), for consistency checks.
    pub fn http_calls(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for sub in self.subworkflows.values() {
            visit(&sub.steps, &mut |s| {
                if let Body::Call { callee: Callee::Http(method), args, .. } = &s.body {
                    if let Some((_, url)) = args.iter().find(|(k, _)| k == "url") {
                        let pattern = match url {
                            Template::Lit(Value::String(s)) => s.clone(),
                            Template::Expr(e) => expr::render_pattern(e),
                            _ => "{}".into(),
                        };
                        out.push((*method, pattern));
                    }
                }
            });
        }
        out
    }

    /// Subworkflow calls and `next` targets must exist; `break`/`continue` only inside `for`.
    fn check(&self) -> Result<(), WorkflowError> {
        for (name, sub) in &self.subworkflows {
            let mut names = Vec::new();
            visit(&sub.steps, &mut |s| names.push(s.name.clone()));
            let mut error = None;
            visit(&sub.steps, &mut |s| {
                if error.is_some() {
                    return;
                }
                let mut targets: Vec<&String> = s.next.iter().collect();
                if let Body::Switch(cases) = &s.body {
                    targets.extend(cases.iter().filter_map(|c| c.next.as_ref()));
                }
                for t in targets {
                    if !matches!(t.as_str(), "end" | "break" | "continue") && !names.contains(t) {
                        error = Some(WorkflowError::Invalid {
                            at: s.location.clone(),
                            message: format!("next: no step named `{t}` in subworkflow `{name}`"),
                        });
                    }
                }
                let mut called = Vec::new();
                if let Body::Call { callee: Callee::Subworkflow(c), args, .. } = &s.body {
                    called.push((c, Some(args)));
                }
                if let Body::Try { retry: Some(Retry { predicate: Predicate::Subworkflow(c), .. }), .. } = &s.body {
                    called.push((c, None));
                }
                for (callee, args) in called {
                    let Some(target) = self.subworkflows.get(callee) else {
                        error = Some(WorkflowError::Unsupported {
                            at: s.location.clone(),
                            construct: format!(
                                "call `{callee}` (not http.get|post|put|patch|delete, sys.log, sys.sleep or a subworkflow of this file)"
                            ),
                        });
                        return;
                    };
                    match args {
                        Some(args) => {
                            let missing =
                                target.params.iter().find(|(p, d)| d.is_none() && !args.iter().any(|(a, _)| a == p));
                            let unknown = args.iter().find(|(a, _)| !target.params.iter().any(|(p, _)| p == a));
                            if let Some((m, _)) = missing {
                                error = Some(WorkflowError::Invalid {
                                    at: s.location.clone(),
                                    message: format!("call `{callee}` needs the argument `{m}`"),
                                });
                            } else if let Some((u, _)) = unknown {
                                error = Some(WorkflowError::Invalid {
                                    at: s.location.clone(),
                                    message: format!("subworkflow `{callee}` has no parameter `{u}`"),
                                });
                            }
                        }
                        None if target.params.len() != 1 => {
                            error = Some(WorkflowError::Invalid {
                                at: s.location.clone(),
                                message: format!("retry predicate `{callee}` must take exactly one parameter"),
                            });
                        }
                        None => {}
                    }
                }
            });
            if let Some(e) = error {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Calls `f` on every step, nested ones included.
pub fn visit<'a>(steps: &'a [Step], f: &mut dyn FnMut(&'a Step)) {
    for s in steps {
        f(s);
        match &s.body {
            Body::Steps(inner) => visit(inner, f),
            Body::For(l) => visit(&l.steps, f),
            Body::Try { body, except, .. } => {
                visit(body, f);
                if let Some((_, steps)) = except {
                    visit(steps, f);
                }
            }
            Body::Switch(cases) => {
                for c in cases {
                    if let Some(steps) = &c.steps {
                        visit(steps, f);
                    }
                }
            }
            _ => {}
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    path: Vec<Seg>,
}

/// Keys a step body may hold.
const STEP_KEYS: &[&str] = &[
    "assign", "call", "args", "result", "switch", "for", "try", "retry", "except", "raise", "return", "steps", "next",
];
const HTTP_ARGS: &[&str] = &["url", "body", "headers", "query", "timeout", "auth"];

impl Parser<'_> {
    fn here(&self) -> Location {
        Location { line: locate::line_of(self.src, &self.path), path: locate::display(&self.path) }
    }
    fn at(&self, key: &str) -> Location {
        let mut path = self.path.clone();
        path.push(Seg::Key(key.to_owned()));
        Location { line: locate::line_of(self.src, &path), path: locate::display(&path) }
    }
    fn invalid(&self, message: impl Into<String>) -> WorkflowError {
        WorkflowError::Invalid { at: self.here(), message: message.into() }
    }
    fn unsupported_key(&self, key: &str, what: &str) -> WorkflowError {
        WorkflowError::Unsupported { at: self.at(key), construct: format!("{what} `{key}`") }
    }
    fn nested<T>(
        &mut self,
        seg: Seg,
        f: impl FnOnce(&mut Self) -> Result<T, WorkflowError>,
    ) -> Result<T, WorkflowError> {
        self.path.push(seg);
        let out = f(self);
        self.path.pop();
        out
    }
    fn key<T>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> Result<T, WorkflowError>) -> Result<T, WorkflowError> {
        self.nested(Seg::Key(key.to_owned()), f)
    }

    fn map<'v>(&self, v: &'v Value, what: &str) -> Result<&'v Map<String, Value>, WorkflowError> {
        v.as_object().ok_or_else(|| self.invalid(format!("{what} must be a map")))
    }
    fn list<'v>(&self, v: &'v Value, what: &str) -> Result<&'v Vec<Value>, WorkflowError> {
        v.as_array().ok_or_else(|| self.invalid(format!("{what} must be a list")))
    }
    fn name(&self, v: &Value, what: &str) -> Result<String, WorkflowError> {
        match v.as_str() {
            Some(s) if valid_name(s) => Ok(s.to_owned()),
            _ => Err(self.invalid(format!("{what} must be a name (letters, digits, _), got {v}"))),
        }
    }

    fn subworkflow(&mut self, def: &Value) -> Result<Subworkflow, WorkflowError> {
        let m = self.map(def, "a subworkflow")?;
        let mut params = Vec::new();
        let mut steps = None;
        for (k, v) in m {
            match k.as_str() {
                "params" => self.key("params", |p| {
                    for (i, item) in p.list(v, "params")?.iter().enumerate() {
                        p.nested(Seg::Index(i), |p| {
                            match item {
                                Value::Object(m) if m.len() == 1 => {
                                    if let Some((name, default)) = m.iter().next() {
                                        params.push((
                                            p.name(&Value::String(name.clone()), "a parameter")?,
                                            Some(default.clone()),
                                        ));
                                    }
                                }
                                other => params.push((p.name(other, "a parameter")?, None)),
                            }
                            Ok(())
                        })?;
                    }
                    Ok(())
                })?,
                "steps" => steps = Some(self.key("steps", |p| p.steps(v))?),
                other => return Err(self.unsupported_key(other, "subworkflow key")),
            }
        }
        let steps = steps.ok_or_else(|| self.invalid("a subworkflow needs `steps`"))?;
        Ok(Subworkflow { params, steps })
    }

    fn steps(&mut self, v: &Value) -> Result<Vec<Step>, WorkflowError> {
        let items = self.list(v, "steps")?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(self.nested(Seg::Index(i), |p| {
                let m = p.map(item, "a step")?;
                let (name, body) = match m.iter().next() {
                    Some((name, body)) if m.len() == 1 => (name, body),
                    _ => return Err(p.invalid("a step is a map with one key, its name")),
                };
                if !valid_name(name) {
                    return Err(p.invalid(format!("step name `{name}`: use letters, digits and _")));
                }
                p.key(name, |p| p.step(name, body))
            })?);
        }
        Ok(out)
    }

    fn step(&mut self, name: &str, v: &Value) -> Result<Step, WorkflowError> {
        let location = self.here();
        let m = self.map(v, "a step body")?;
        if let Some(k) = m.keys().find(|k| !STEP_KEYS.contains(&k.as_str())) {
            return Err(self.unsupported_key(k, "step key"));
        }
        let next = match m.get("next") {
            Some(n) => Some(self.key("next", |p| p.name(n, "next"))?),
            None => None,
        };
        let has = |k: &str| m.contains_key(k);
        let kinds: Vec<&str> = ["assign", "call", "switch", "for", "try", "raise", "return", "steps"]
            .into_iter()
            .filter(|k| has(k))
            .collect();
        if kinds.len() > 1 {
            return Err(self.invalid(format!("a step does one thing; this one has {}", kinds.join(" and "))));
        }
        let kind = kinds.first().copied();
        let extras: &[&str] = match kind {
            Some("call") => &["args", "result"],
            Some("try") => &["retry", "except"],
            _ => &[],
        };
        if let Some(k) =
            m.keys().find(|k| k.as_str() != "next" && Some(k.as_str()) != kind && !extras.contains(&k.as_str()))
        {
            return Err(self.invalid(format!("`{k}` does not belong in this step")));
        }
        if next.is_some() && matches!(kinds.first().copied(), Some("raise") | Some("return")) {
            return Err(self.invalid("a step that returns or raises has no `next`"));
        }
        let body = match kinds.first().copied() {
            Some("assign") => Body::Assign(self.key("assign", |p| p.assign(&m["assign"]))?),
            Some("call") => self.call(m)?,
            Some("switch") => Body::Switch(self.key("switch", |p| p.switch(&m["switch"]))?),
            Some("for") => Body::For(self.key("for", |p| p.for_loop(&m["for"]))?),
            Some("try") => self.try_step(m)?,
            Some("raise") => Body::Raise(self.key("raise", |p| p.template(&m["raise"]))?),
            Some("return") => Body::Return(self.key("return", |p| p.template(&m["return"]))?),
            Some("steps") => Body::Steps(self.key("steps", |p| p.steps(&m["steps"]))?),
            _ if next.is_some() => Body::Jump,
            _ => return Err(self.invalid("an empty step")),
        };
        Ok(Step { name: name.to_owned(), body, next, location })
    }

    fn assign(&mut self, v: &Value) -> Result<Vec<(Target, Template)>, WorkflowError> {
        let items = self.list(v, "assign")?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            out.push(self.nested(Seg::Index(i), |p| {
                let m = p.map(item, "an assignment")?;
                let (target, value) = match m.iter().next() {
                    Some(kv) if m.len() == 1 => kv,
                    _ => return Err(p.invalid("an assignment is a map with one key")),
                };
                p.key(target, |p| Ok((p.target(target)?, p.template(value)?)))
            })?);
        }
        Ok(out)
    }

    fn target(&self, src: &str) -> Result<Target, WorkflowError> {
        let e = expr::parse(src).map_err(|e| self.expr_error(src, e))?;
        let mut path = Vec::new();
        let mut cur = e;
        let root = loop {
            match cur {
                Expr::Var(v) => break v,
                Expr::Field(inner, key) => {
                    path.push(TargetSeg::Key(key));
                    cur = *inner;
                }
                Expr::Index(inner, index) => {
                    path.push(TargetSeg::Index(*index));
                    cur = *inner;
                }
                _ => return Err(self.invalid(format!("`{src}` cannot be assigned to"))),
            }
        };
        path.reverse();
        Ok(Target { root, path })
    }

    fn expr_error(&self, src: &str, e: expr::SyntaxError) -> WorkflowError {
        match e.construct {
            Some(construct) => WorkflowError::Unsupported { at: self.here(), construct },
            None => self.invalid(format!("expression `{src}`: {}", e.message)),
        }
    }

    fn template(&mut self, v: &Value) -> Result<Template, WorkflowError> {
        Ok(match v {
            Value::String(s) => match s.trim().strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                Some(inner) => Template::Expr(expr::parse(inner).map_err(|e| self.expr_error(inner, e))?),
                None => Template::Lit(v.clone()),
            },
            Value::Array(items) => Template::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.nested(Seg::Index(i), |p| p.template(item)))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => Template::Map(
                m.iter()
                    .map(|(k, item)| Ok((k.clone(), self.key(k, |p| p.template(item))?)))
                    .collect::<Result<_, WorkflowError>>()?,
            ),
            other => Template::Lit(other.clone()),
        })
    }

    fn call(&mut self, m: &Map<String, Value>) -> Result<Body, WorkflowError> {
        let name = m["call"].as_str().ok_or_else(|| self.invalid("call: needs a name"))?;
        let callee = match name {
            "http.get" => Callee::Http("GET"),
            "http.post" => Callee::Http("POST"),
            "http.put" => Callee::Http("PUT"),
            "http.patch" => Callee::Http("PATCH"),
            "http.delete" => Callee::Http("DELETE"),
            "sys.log" => Callee::SysLog,
            "sys.sleep" => Callee::SysSleep,
            n if valid_name(n) => Callee::Subworkflow(n.to_owned()),
            n => {
                return Err(WorkflowError::Unsupported {
                    at: self.at("call"),
                    construct: format!(
                        "call `{n}` (not http.get|post|put|patch|delete, sys.log, sys.sleep or a subworkflow of this file)"
                    ),
                });
            }
        };
        let mut args = Vec::new();
        if let Some(a) = m.get("args") {
            self.key("args", |p| {
                let a = p.map(a, "args")?;
                let allowed: Option<&[&str]> = match &callee {
                    Callee::Http(_) => Some(HTTP_ARGS),
                    Callee::SysLog => Some(&["text", "data", "severity"]),
                    Callee::SysSleep => Some(&["seconds"]),
                    Callee::Subworkflow(_) => None,
                };
                for (k, v) in a {
                    if allowed.is_some_and(|allowed| !allowed.contains(&k.as_str())) {
                        return Err(p.unsupported_key(k, &format!("argument of {name}")));
                    }
                    args.push((k.clone(), p.key(k, |p| p.template(v))?));
                }
                Ok(())
            })?;
        }
        if matches!(callee, Callee::Http(_)) && !args.iter().any(|(k, _)| k == "url") {
            return Err(self.invalid(format!("{name} needs args.url")));
        }
        let result = match m.get("result") {
            Some(r) => Some(self.key("result", |p| p.name(r, "result"))?),
            None => None,
        };
        Ok(Body::Call { callee, args, result })
    }

    fn switch(&mut self, v: &Value) -> Result<Vec<Case>, WorkflowError> {
        let items = self.list(v, "switch")?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            out.push(self.nested(Seg::Index(i), |p| {
                let m = p.map(item, "a switch case")?;
                // The documented keys only: an `assign`, `return` or `raise` goes in `steps`.
                if let Some(k) = m.keys().find(|k| !["condition", "next", "steps"].contains(&k.as_str())) {
                    return Err(p.unsupported_key(k, "switch key"));
                }
                let condition = match m.get("condition") {
                    Some(c) => p.key("condition", |p| p.template(c))?,
                    None => return Err(p.invalid("a switch case needs a condition")),
                };
                Ok(Case {
                    condition,
                    next: m.get("next").map(|n| p.key("next", |p| p.name(n, "next"))).transpose()?,
                    steps: m.get("steps").map(|s| p.key("steps", |p| p.steps(s))).transpose()?,
                })
            })?);
        }
        Ok(out)
    }

    fn for_loop(&mut self, v: &Value) -> Result<ForLoop, WorkflowError> {
        let m = self.map(v, "for")?;
        if let Some(k) = m.keys().find(|k| !["value", "index", "in", "range", "steps"].contains(&k.as_str())) {
            return Err(self.unsupported_key(k, "for key"));
        }
        let value = match m.get("value") {
            Some(v) => self.key("value", |p| p.name(v, "value"))?,
            None => return Err(self.invalid("for needs `value`")),
        };
        let index = m.get("index").map(|i| self.key("index", |p| p.name(i, "index"))).transpose()?;
        let source = match (m.get("in"), m.get("range")) {
            (Some(i), None) => ForSource::In(self.key("in", |p| p.template(i))?),
            (None, Some(r)) => ForSource::Range(self.key("range", |p| p.template(r))?),
            _ => return Err(self.invalid("for needs exactly one of `in` and `range`")),
        };
        let steps = match m.get("steps") {
            Some(s) => self.key("steps", |p| p.steps(s))?,
            None => return Err(self.invalid("for needs `steps`")),
        };
        Ok(ForLoop { value, index, source, steps })
    }

    fn try_step(&mut self, m: &Map<String, Value>) -> Result<Body, WorkflowError> {
        let body = self.key("try", |p| {
            let t = p.map(&m["try"], "try")?;
            if t.contains_key("steps") && t.len() == 1 {
                p.key("steps", |p| p.steps(&t["steps"]))
            } else if t.contains_key("call") {
                // A single call: the same keys as a call step.
                let location = p.here();
                if let Some(k) = t.keys().find(|k| !["call", "args", "result"].contains(&k.as_str())) {
                    return Err(p.unsupported_key(k, "key of a try call"));
                }
                Ok(vec![Step { name: "try".into(), body: p.call(t)?, next: None, location }])
            } else {
                Err(p.invalid("try holds `steps` or one `call`"))
            }
        })?;
        let retry = m.get("retry").map(|r| self.key("retry", |p| p.retry(r))).transpose()?;
        let except = match m.get("except") {
            Some(e) => Some(self.key("except", |p| {
                let e = p.map(e, "except")?;
                if let Some(k) = e.keys().find(|k| !["as", "steps"].contains(&k.as_str())) {
                    return Err(p.unsupported_key(k, "except key"));
                }
                let name = match e.get("as") {
                    Some(a) => p.key("as", |p| p.name(a, "as"))?,
                    None => return Err(p.invalid("except needs `as`")),
                };
                let steps = match e.get("steps") {
                    Some(s) => p.key("steps", |p| p.steps(s))?,
                    None => return Err(p.invalid("except needs `steps`")),
                };
                Ok((name, steps))
            })?),
            None => None,
        };
        if retry.is_none() && except.is_none() {
            return Err(self.invalid("try needs `retry` or `except`"));
        }
        Ok(Body::Try { body, retry, except })
    }

    fn retry(&mut self, v: &Value) -> Result<Retry, WorkflowError> {
        if let Some(s) = v.as_str() {
            let policy = |predicate| Retry { predicate, max_retries: DEFAULT_MAX_RETRIES, backoff: DEFAULT_BACKOFF };
            return match reference(s) {
                Some("http.default_retry") => Ok(policy(Predicate::Http)),
                Some("http.default_retry_non_idempotent") => Ok(policy(Predicate::HttpNonIdempotent)),
                _ => Err(WorkflowError::Unsupported { at: self.here(), construct: format!("retry policy `{s}`") }),
            };
        }
        let m = self.map(v, "retry")?;
        if let Some(k) = m.keys().find(|k| !["predicate", "max_retries", "backoff"].contains(&k.as_str())) {
            return Err(self.unsupported_key(k, "retry key"));
        }
        let predicate = self.key("predicate", |p| {
            let s = m.get("predicate").and_then(Value::as_str).ok_or_else(|| p.invalid("retry needs a predicate"))?;
            match reference(s) {
                Some("http.default_retry_predicate") => Ok(Predicate::Http),
                Some("http.default_retry_predicate_non_idempotent") => Ok(Predicate::HttpNonIdempotent),
                Some(name) if valid_name(name) => Ok(Predicate::Subworkflow(name.to_owned())),
                _ => Err(WorkflowError::Unsupported { at: p.here(), construct: format!("retry predicate `{s}`") }),
            }
        })?;
        let max_retries = self.key("max_retries", |p| {
            m.get("max_retries")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| p.invalid("retry needs max_retries, a whole number"))
        })?;
        let backoff = match m.get("backoff") {
            None => DEFAULT_BACKOFF,
            Some(b) => self.key("backoff", |p| {
                let b = p.map(b, "backoff")?;
                if let Some(k) = b.keys().find(|k| !["initial_delay", "max_delay", "multiplier"].contains(&k.as_str()))
                {
                    return Err(p.unsupported_key(k, "backoff key"));
                }
                let get = |k: &str, d: f64| match b.get(k) {
                    None => Ok(d),
                    Some(v) => v
                        .as_f64()
                        .filter(|x| *x >= 0.0)
                        .ok_or_else(|| p.invalid(format!("backoff.{k} must be a number >= 0"))),
                };
                Ok(Backoff {
                    initial_delay: get("initial_delay", DEFAULT_BACKOFF.initial_delay)?,
                    max_delay: get("max_delay", DEFAULT_BACKOFF.max_delay)?,
                    multiplier: get("multiplier", DEFAULT_BACKOFF.multiplier)?,
                })
            })?,
        };
        Ok(Retry { predicate, max_retries, backoff })
    }
}

/// `${name.path}` → `name.path`.
fn reference(s: &str) -> Option<&str> {
    s.trim().strip_prefix("${").and_then(|r| r.strip_suffix('}')).map(str::trim)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}
