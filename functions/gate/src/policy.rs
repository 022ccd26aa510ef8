//! The gate's policy: a YAML file (reference in docs/gate.md, JSON Schema in
//! `policy.schema.json`), read strictly: an unknown key, a bad severity, an ignore rule without a
//! reason or an expiry date is an error that names it, never a silently weaker gate.

use crate::finding::Kind;
use crate::glob::Glob;
use aetherveil_reports::Severity;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The only policy format version.
pub const VERSION: u32 = 1;
/// The policy `serve` uses when the policy directory has none of the requested default name.
pub const BUILTIN_DEFAULT: &str = include_str!("../policies/default.yml");

#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("policy {source_name} is not valid: {reason}")]
    Syntax { source_name: String, reason: String },
    #[error("policy {source_name}: `{field}` {reason}")]
    Invalid { source_name: String, field: String, reason: String },
    #[error("policy {source_name}: cannot read the known-exploited list {path}: {reason}")]
    KnownExploited { source_name: String, path: String, reason: String },
}

/// The file as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    fail_on: FailOnFile,
    #[serde(default)]
    max_counts: BTreeMap<String, u64>,
    #[serde(default)]
    ignore: Vec<IgnoreFile>,
    #[serde(default)]
    scope: ScopeFile,
    #[serde(default)]
    known_exploited: KnownExploitedFile,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FailOnFile {
    #[serde(default = "default_severities")]
    severities: Vec<String>,
    #[serde(default)]
    only_fixable: bool,
    #[serde(default)]
    min_cvss: Option<f64>,
}

impl Default for FailOnFile {
    fn default() -> Self {
        Self { severities: default_severities(), only_fixable: false, min_cvss: None }
    }
}

fn default_severities() -> Vec<String> {
    vec!["CRITICAL".into(), "HIGH".into()]
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct IgnoreFile {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ScopeFile {
    #[serde(default)]
    kinds: Vec<Kind>,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    exclude_targets: Vec<String>,
    #[serde(default)]
    artifact_types: Vec<String>,
    #[serde(default)]
    classes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct KnownExploitedFile {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    file: Option<String>,
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub name: String,
    /// Severities that fail (empty: only `min_cvss` decides).
    pub fail_severities: BTreeSet<Severity>,
    /// Vulnerabilities without a fixed version never fail (known-exploited ones still do).
    pub only_fixable: bool,
    /// A finding with a CVSS score below this does not fail on its severity.
    pub min_cvss: Option<f64>,
    /// At most this many considered findings per severity.
    pub max_counts: BTreeMap<Severity, u64>,
    pub ignores: Vec<IgnoreRule>,
    pub scope: Scope,
    /// Known-exploited vulnerability ids (upper case): these always fail.
    pub known_exploited: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IgnoreRule {
    pub id: Option<String>,
    pub package: Option<Glob>,
    pub path: Option<Glob>,
    pub reason: String,
    /// The last day the rule applies.
    pub expires: NaiveDate,
}

impl IgnoreRule {
    /// What the rule names, for messages: `CVE-1 in openssl under usr/**`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = &self.id {
            parts.push(id.clone());
        }
        if let Some(p) = &self.package {
            parts.push(format!("package {}", p.as_str()));
        }
        if let Some(p) = &self.path {
            parts.push(format!("path {}", p.as_str()));
        }
        parts.join(", ")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scope {
    /// Finding kinds the gate considers (empty: all).
    pub kinds: BTreeSet<Kind>,
    /// Targets considered (empty: all), then excluded.
    pub targets: Vec<Glob>,
    pub exclude_targets: Vec<Glob>,
    /// Report artifact types gated (empty: all); a report of another type passes, out of scope.
    pub artifact_types: Vec<String>,
    /// Trivy result classes considered (empty: all).
    pub classes: Vec<String>,
}

impl Policy {
    /// Reads and checks a policy file. A relative `known_exploited.file` is read beside it.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError::Read { path: path.display().to_string(), reason: e.to_string() })?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Self::parse(&text, &path.display().to_string(), &name, path.parent())
    }

    /// The built-in default policy.
    pub fn builtin_default() -> Self {
        Self::parse(BUILTIN_DEFAULT, "built-in default", "default", None).expect("the built-in default policy is valid")
    }

    /// Checks a policy's text. `source_name` names it in errors, `name` is used when the file
    /// has none, `dir` resolves a relative known-exploited file (without it such a file is an error).
    pub fn parse(text: &str, source_name: &str, name: &str, dir: Option<&Path>) -> Result<Self, PolicyError> {
        let file: PolicyFile = serde_norway::from_str(text)
            .map_err(|e| PolicyError::Syntax { source_name: source_name.to_owned(), reason: e.to_string() })?;
        let invalid = |field: &str, reason: String| PolicyError::Invalid {
            source_name: source_name.to_owned(),
            field: field.to_owned(),
            reason,
        };
        if file.version != VERSION {
            return Err(invalid("version", format!("must be {VERSION}, got {}", file.version)));
        }
        let severity = |field: &str, s: &str| {
            Severity::parse(s).ok_or_else(|| {
                invalid(field, format!("{s:?} is not a severity (CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN)"))
            })
        };
        let fail_severities =
            file.fail_on.severities.iter().map(|s| severity("fail_on.severities", s)).collect::<Result<_, _>>()?;
        if let Some(m) = file.fail_on.min_cvss {
            if !(m.is_finite() && (0.0..=10.0).contains(&m)) {
                return Err(invalid("fail_on.min_cvss", format!("must be between 0 and 10, got {m}")));
            }
        }
        let max_counts = file
            .max_counts
            .iter()
            .map(|(k, v)| Ok((severity(&format!("max_counts.{k}"), k)?, *v)))
            .collect::<Result<_, PolicyError>>()?;
        let mut ignores = Vec::new();
        for (i, rule) in file.ignore.iter().enumerate() {
            let field = |f: &str| format!("ignore[{i}].{f}");
            let reason = rule.reason.as_deref().map(str::trim).unwrap_or("");
            if reason.is_empty() {
                return Err(invalid(&field("reason"), "is required: say why the finding is accepted".into()));
            }
            let expires = rule.expires.as_deref().map(str::trim).unwrap_or("");
            if expires.is_empty() {
                return Err(invalid(
                    &field("expires"),
                    "is required: the last day (YYYY-MM-DD) the rule applies".into(),
                ));
            }
            let expires = NaiveDate::parse_from_str(expires, "%Y-%m-%d")
                .map_err(|_| invalid(&field("expires"), format!("{expires:?} is not a date (YYYY-MM-DD)")))?;
            let id = rule.id.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
            let package = rule.package.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(Glob::new);
            let path = rule.path.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(Glob::new);
            if id.is_none() && package.is_none() && path.is_none() {
                return Err(invalid(&format!("ignore[{i}]"), "must name at least one of id, package or path".into()));
            }
            ignores.push(IgnoreRule { id, package, path, reason: reason.to_owned(), expires });
        }
        let mut known_exploited: BTreeSet<String> =
            file.known_exploited.ids.iter().map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()).collect();
        if let Some(kev) = &file.known_exploited.file {
            let path = match dir {
                _ if Path::new(kev).is_absolute() => PathBuf::from(kev),
                Some(d) => d.join(kev),
                None => PathBuf::from(kev),
            };
            let text = std::fs::read_to_string(&path).map_err(|e| PolicyError::KnownExploited {
                source_name: source_name.to_owned(),
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            known_exploited.extend(read_known_exploited(&text).map_err(|reason| PolicyError::KnownExploited {
                source_name: source_name.to_owned(),
                path: path.display().to_string(),
                reason,
            })?);
        }
        let s = file.scope;
        Ok(Policy {
            name: file.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| name.to_owned()),
            fail_severities,
            only_fixable: file.fail_on.only_fixable,
            min_cvss: file.fail_on.min_cvss,
            max_counts,
            ignores,
            scope: Scope {
                kinds: s.kinds.into_iter().collect(),
                targets: s.targets.iter().map(|t| Glob::new(t)).collect(),
                exclude_targets: s.exclude_targets.iter().map(|t| Glob::new(t)).collect(),
                artifact_types: s.artifact_types,
                classes: s.classes,
            },
            known_exploited,
        })
    }
}

/// A known-exploited list: CISA's KEV JSON (`vulnerabilities[].cveID`), or plain text with one
/// id per line (`#` starts a comment).
pub fn read_known_exploited(text: &str) -> Result<BTreeSet<String>, String> {
    if text.trim_start().starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let list = v
            .get("vulnerabilities")
            .and_then(|l| l.as_array())
            .ok_or("a JSON list must have a `vulnerabilities` array (CISA KEV format)")?;
        return Ok(list
            .iter()
            .filter_map(|e| e.get("cveID").and_then(|c| c.as_str()))
            .map(|c| c.trim().to_ascii_uppercase())
            .collect());
    }
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_ascii_uppercase)
        .collect())
}
