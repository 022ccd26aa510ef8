//! A small JSON Schema (draft-07) validator, enough for octokit/webhooks' payload schemas, and the
//! lookup of those schemas in `shared/datasets`.
//!
//! Supported: `type` (one or a list, with `null` and `integer`), `required`, `properties`,
//! `additionalProperties` (boolean or schema), `enum`, `const`, `$ref` (other files and JSON
//! pointers), `oneOf` / `anyOf` / `allOf`, `items` (one schema or a tuple), `minItems` /
//! `maxItems`, `minimum` / `maximum`, boolean schemas, and `format` `date-time` / `uri` checked
//! loosely (other formats are annotations). Annotations are skipped; any other keyword met while
//! validating is a schema error rather than being skipped silently, so a schema this validator
//! does not understand cannot pass a payload by accident.
//!
//! References resolve as in a registry keyed by path below the schemas folder (which is how
//! octokit's own tooling loads them): a document's base is its `$id` when it has one
//! (`workflow_run$completed` sits at the root, `common/workflow-run.schema.json` in `common/`),
//! else its path. So `common/user.schema.json` from a top-level event schema and
//! `user.schema.json` from a `common/` schema name the same file. Loaded files are cached.
//!
//! The simulator's tests and the root crate's fixture tests use it to check generated payloads.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

/// One way an instance breaks its schema, at a JSON path such as `$.workflow_run.actor.id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Validates instances against a folder (or an in-memory set) of draft-07 schema documents.
pub struct Validator {
    root: Option<PathBuf>,
    documents: RefCell<HashMap<String, Rc<Value>>>,
}

/// Keywords that describe rather than constrain (`definitions` only holds schemas for `$ref`).
const ANNOTATIONS: [&str; 10] = [
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "readOnly",
    "writeOnly",
    "definitions",
];

impl Validator {
    /// Schemas read from files below `root` on first use.
    pub fn open(root: impl Into<PathBuf>) -> Self {
        Self { root: Some(root.into()), documents: RefCell::default() }
    }

    /// Schemas given as `(path, document)` pairs; nothing is read from disk.
    pub fn in_memory<'a>(documents: impl IntoIterator<Item = (&'a str, Value)>) -> Self {
        let validator = Self { root: None, documents: RefCell::default() };
        for (uri, doc) in documents {
            validator.register(&normalize(uri), Rc::new(doc));
        }
        validator
    }

    /// Every violation of the schema document at `uri` (a path below the root) by `instance`.
    /// An `Err` is a problem with the schemas (unreadable, bad reference, unsupported keyword).
    pub fn validate(&self, uri: &str, instance: &Value) -> anyhow::Result<Vec<Violation>> {
        let uri = normalize(uri);
        let doc = self.document(&uri)?;
        let base = base_of(&uri, &doc);
        let mut out = Vec::new();
        self.check(&doc, &base, instance, "$", &mut out)?;
        Ok(out)
    }

    fn document(&self, uri: &str) -> anyhow::Result<Rc<Value>> {
        if let Some(doc) = self.documents.borrow().get(uri) {
            return Ok(Rc::clone(doc));
        }
        let root = self.root.as_ref().ok_or_else(|| anyhow!("no schema document `{uri}`"))?;
        let path = root.join(uri);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading schema {}", path.display()))?;
        let doc: Value = serde_json::from_str(&text).with_context(|| format!("parsing schema {}", path.display()))?;
        let doc = Rc::new(doc);
        self.register(uri, Rc::clone(&doc));
        Ok(doc)
    }

    /// Files under their path and, when they have one, their `$id`, so references to either find them.
    fn register(&self, uri: &str, doc: Rc<Value>) {
        let mut documents = self.documents.borrow_mut();
        if let Some(id) = doc.get("$id").and_then(Value::as_str) {
            documents.insert(normalize(id), Rc::clone(&doc));
        }
        documents.insert(uri.to_owned(), doc);
    }

    fn check(&self, schema: &Value, base: &str, instance: &Value, path: &str, out: &mut Vec<Violation>) -> Res {
        let keywords = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => {
                out.push(violation(path, "no value is allowed here"));
                return Ok(());
            }
            Value::Object(keywords) => keywords,
            other => bail!("a schema must be an object or a boolean, found {other}"),
        };
        // Draft-07: `$ref` replaces the schema it appears in; its siblings are ignored.
        if let Some(reference) = keywords.get("$ref") {
            let reference = reference.as_str().ok_or_else(|| anyhow!("`$ref` must be a string"))?;
            return self.check_ref(reference, base, instance, path, out);
        }
        for (keyword, value) in keywords {
            match keyword.as_str() {
                "type" => check_type(value, instance, path, out)?,
                "enum" => {
                    let allowed = value.as_array().ok_or_else(|| anyhow!("`enum` must be an array"))?;
                    if !allowed.contains(instance) {
                        out.push(violation(path, format!("{} is not one of {value}", brief(instance))));
                    }
                }
                "const" => {
                    if value != instance {
                        out.push(violation(path, format!("{} is not the constant {value}", brief(instance))));
                    }
                }
                "required" => {
                    let names = value.as_array().ok_or_else(|| anyhow!("`required` must be an array"))?;
                    if let Value::Object(object) = instance {
                        for name in names {
                            let name = name.as_str().ok_or_else(|| anyhow!("`required` must list strings"))?;
                            if !object.contains_key(name) {
                                out.push(violation(path, format!("missing required property `{name}`")));
                            }
                        }
                    }
                }
                "properties" => {
                    let properties = value.as_object().ok_or_else(|| anyhow!("`properties` must be an object"))?;
                    if let Value::Object(object) = instance {
                        for (name, sub) in properties {
                            if let Some(v) = object.get(name) {
                                self.check(sub, base, v, &child(path, name), out)?;
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    let declared = keywords.get("properties").and_then(Value::as_object);
                    if let Value::Object(object) = instance {
                        for (name, v) in object {
                            if declared.is_some_and(|d| d.contains_key(name)) {
                                continue;
                            }
                            let at = child(path, name);
                            if *value == Value::Bool(false) {
                                out.push(violation(&at, "property not allowed by the schema"));
                            } else {
                                self.check(value, base, v, &at, out)?;
                            }
                        }
                    }
                }
                "items" => {
                    if let Value::Array(items) = instance {
                        for (i, item) in items.iter().enumerate() {
                            let sub = match value {
                                Value::Array(tuple) => match tuple.get(i) {
                                    Some(sub) => sub,
                                    None => continue,
                                },
                                sub => sub,
                            };
                            self.check(sub, base, item, &format!("{path}[{i}]"), out)?;
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    let bound = value.as_u64().ok_or_else(|| anyhow!("`{keyword}` must be a count"))?;
                    if let Value::Array(items) = instance {
                        let n = items.len() as u64;
                        if (keyword == "minItems" && n < bound) || (keyword == "maxItems" && n > bound) {
                            out.push(violation(path, format!("{n} items breaks {keyword} {bound}")));
                        }
                    }
                }
                "minimum" | "maximum" => {
                    let bound = value.as_f64().ok_or_else(|| anyhow!("`{keyword}` must be a number"))?;
                    if let Some(n) = instance.as_f64() {
                        if (keyword == "minimum" && n < bound) || (keyword == "maximum" && n > bound) {
                            out.push(violation(path, format!("{n} breaks {keyword} {bound}")));
                        }
                    }
                }
                "allOf" => {
                    for sub in alternatives(keyword, value)? {
                        self.check(sub, base, instance, path, out)?;
                    }
                }
                "anyOf" | "oneOf" => {
                    let mut failures = Vec::new();
                    let mut matched = 0;
                    for (i, sub) in alternatives(keyword, value)?.iter().enumerate() {
                        let mut scratch = Vec::new();
                        self.check(sub, base, instance, path, &mut scratch)?;
                        if scratch.is_empty() {
                            matched += 1;
                        } else {
                            let reasons = scratch.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                            failures.push(format!("#{i}: {reasons}"));
                        }
                    }
                    if matched == 0 {
                        out.push(violation(path, format!("matches none of {keyword} [{}]", failures.join(" | "))));
                    } else if keyword == "oneOf" && matched > 1 {
                        out.push(violation(path, format!("matches {matched} oneOf alternatives, not exactly one")));
                    }
                }
                "format" => {
                    if let (Some(format), Some(s)) = (value.as_str(), instance.as_str()) {
                        check_format(format, s, path, out);
                    }
                }
                // octokit's hint for its TypeScript generator, not a JSON Schema keyword.
                "tsAdditionalProperties" => {}
                k if ANNOTATIONS.contains(&k) => {}
                other => bail!("unsupported schema keyword `{other}` (at {path}, base {base})"),
            }
        }
        Ok(())
    }

    fn check_ref(&self, reference: &str, base: &str, instance: &Value, path: &str, out: &mut Vec<Violation>) -> Res {
        let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let uri = if file.is_empty() { normalize(base) } else { resolve(base, file) };
        let doc = self.document(&uri).with_context(|| format!("resolving `$ref: {reference}` from {base}"))?;
        let target = lookup(&doc, pointer).with_context(|| format!("resolving `$ref: {reference}` in {uri}"))?;
        self.check(target, &base_of(&uri, &doc), instance, path, out)
    }
}

type Res = anyhow::Result<()>;

fn violation(path: &str, message: impl Into<String>) -> Violation {
    Violation { path: path.to_owned(), message: message.into() }
}

fn child(path: &str, name: &str) -> String {
    format!("{path}.{name}")
}

fn alternatives<'a>(keyword: &str, value: &'a Value) -> anyhow::Result<&'a Vec<Value>> {
    value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| anyhow!("`{keyword}` must be a non-empty array"))
}

fn check_type(expected: &Value, instance: &Value, path: &str, out: &mut Vec<Violation>) -> Res {
    let names: Vec<&str> = match expected {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => {
            many.iter().map(|t| t.as_str().ok_or_else(|| anyhow!("`type` lists strings"))).collect::<Result<_, _>>()?
        }
        _ => bail!("`type` must be a string or an array"),
    };
    let mut ok = false;
    for name in &names {
        ok |= match *name {
            "null" => instance.is_null(),
            "boolean" => instance.is_boolean(),
            "string" => instance.is_string(),
            "object" => instance.is_object(),
            "array" => instance.is_array(),
            "number" => instance.is_number(),
            "integer" => instance.is_i64() || instance.is_u64() || instance.as_f64().is_some_and(|f| f.fract() == 0.0),
            other => bail!("unknown type `{other}`"),
        };
    }
    if !ok {
        out.push(violation(path, format!("{} is not of type {}", brief(instance), names.join(" or "))));
    }
    Ok(())
}

fn check_format(format: &str, s: &str, path: &str, out: &mut Vec<Violation>) {
    let ok = match format {
        "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        // Loosely: a scheme, a colon, and nothing that cannot appear in a URI.
        "uri" => {
            let scheme_ok = s.split_once(':').is_some_and(|(scheme, _)| {
                scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            });
            scheme_ok && !s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
        }
        _ => true,
    };
    if !ok {
        out.push(violation(path, format!("{s:?} is not a valid {format}")));
    }
}

/// A short rendering of a value for messages.
fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s }
}

/// The base a document's references resolve against: its `$id` (relative to the root) or its path.
fn base_of(uri: &str, doc: &Value) -> String {
    match doc.get("$id").and_then(Value::as_str) {
        Some(id) => normalize(id),
        None => uri.to_owned(),
    }
}

/// `reference` relative to the folder of `base`.
fn resolve(base: &str, reference: &str) -> String {
    if let Some(absolute) = reference.strip_prefix('/') {
        return normalize(absolute);
    }
    let dir = base.rfind('/').map_or("", |i| &base[..=i]);
    normalize(&format!("{dir}{reference}"))
}

/// Removes `.` and `..` segments.
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

/// The subschema at JSON pointer `pointer` (`""` or `/definitions/x`).
fn lookup<'a>(doc: &'a Value, pointer: &str) -> anyhow::Result<&'a Value> {
    if pointer.is_empty() {
        return Ok(doc);
    }
    let mut at = doc;
    for token in pointer.strip_prefix('/').ok_or_else(|| anyhow!("bad JSON pointer `{pointer}`"))?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        at = match at {
            Value::Object(m) => m.get(&token),
            Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| anyhow!("JSON pointer `{pointer}` leads nowhere"))?;
    }
    Ok(at)
}

/// A validator over `github-webhooks/schemas` of the datasets folder, or `None` with a notice when
/// the folder is missing. Under CI (`CI=true`) a missing folder fails the calling test instead.
pub fn webhook_schemas(manifest_dir: &str, relative: &str) -> Option<Validator> {
    let dir = Path::new(manifest_dir).join(relative).join("github-webhooks").join("schemas");
    if dir.is_dir() {
        return Some(Validator::open(dir));
    }
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    assert!(!ci, "CI=true but the webhook schemas are missing at {}", dir.display());
    eprintln!("notice: skipping: webhook schemas not found at {}", dir.display());
    None
}
