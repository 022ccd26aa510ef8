//! The verdict: each finding through scope → ignore rules → baseline → only-fixable → severity
//! and CVSS, then the counts per severity; known-exploited findings in scope fail whatever the
//! other steps say.

use crate::finding::{Finding, Findings, Kind};
use crate::policy::{IgnoreRule, Policy};
use crate::risk::{self, Risk};
use aetherveil_reports::Severity;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// What happened to one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It fails the gate (see its reasons).
    Fail,
    /// Considered (counted), but no rule fails it.
    Pass,
    /// An ignore rule in force covers it.
    Ignored,
    /// It is in the baseline report too: not new.
    Baseline,
    /// `only_fixable` and no fixed version exists.
    NotFixable,
    /// Outside the policy's scope (kind, target, class or artifact type).
    OutOfScope,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Pass => "pass",
            Status::Ignored => "ignored",
            Status::Baseline => "baseline",
            Status::NotFixable => "not fixable",
            Status::OutOfScope => "out of scope",
        }
    }

    /// Counted toward `max_counts` and the considered totals.
    pub fn considered(self) -> bool {
        matches!(self, Status::Fail | Status::Pass)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessed {
    #[serde(flatten)]
    pub finding: Finding,
    pub status: Status,
    pub known_exploited: bool,
    pub risk: Risk,
    /// Why it fails (empty unless `status` is `fail`).
    pub reasons: Vec<String>,
    /// Everything else worth saying: the ignore rule that applies or expired, the CVSS threshold.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub unknown: usize,
}

impl SeverityCounts {
    pub fn add(&mut self, s: Severity) {
        *self.get_mut(s) += 1;
    }

    pub fn get(&self, s: Severity) -> usize {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Unknown => self.unknown,
        }
    }

    fn get_mut(&mut self, s: Severity) -> &mut usize {
        match s {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Unknown => &mut self.unknown,
        }
    }

    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.unknown
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Every finding in the report.
    pub all: SeverityCounts,
    /// Findings in scope, not ignored, not in the baseline, fixable if the policy asks.
    pub considered: SeverityCounts,
    pub failing: SeverityCounts,
    pub ignored: usize,
    pub baseline: usize,
    pub not_fixable: usize,
    pub out_of_scope: usize,
}

/// An ignore rule past its expiry that matched findings: they are no longer ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiredIgnore {
    pub rule: String,
    pub reason: String,
    pub expired_on: NaiveDate,
    pub findings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: bool,
    pub policy: String,
    pub format: String,
    pub tool: String,
    pub artifact_name: String,
    pub artifact_type: Option<String>,
    pub evaluated_at: DateTime<Utc>,
    /// Whether a baseline report was compared against.
    pub baseline: bool,
    /// Why the gate failed (empty when it passed).
    pub reasons: Vec<String>,
    /// Things a reader must know even when it passed (expired ignores, an out-of-scope report).
    pub warnings: Vec<String>,
    pub counts: Counts,
    pub expired_ignores: Vec<ExpiredIgnore>,
    /// Every finding, ranked by risk (highest first).
    pub findings: Vec<Assessed>,
}

impl Verdict {
    /// The CLI's exit code: 0 pass, 1 fail.
    pub fn exit_code(&self) -> u8 {
        if self.passed { 0 } else { 1 }
    }

    pub fn failing(&self) -> impl Iterator<Item = &Assessed> {
        self.findings.iter().filter(|a| a.status == Status::Fail)
    }
}

/// The findings of a baseline report (the default branch's), by [`Finding::key`].
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    keys: HashSet<String>,
}

impl Baseline {
    pub fn from_findings(findings: &Findings) -> Self {
        Self { keys: findings.findings.iter().map(Finding::key).collect() }
    }

    pub fn from_keys(keys: impl IntoIterator<Item = String>) -> Self {
        Self { keys: keys.into_iter().collect() }
    }

    pub fn contains(&self, f: &Finding) -> bool {
        self.keys.contains(&f.key())
    }
}

/// Gates `input` against `policy` at time `now` (ignore expiry, finding age).
pub fn evaluate(input: &Findings, policy: &Policy, baseline: Option<&Baseline>, now: DateTime<Utc>) -> Verdict {
    let today = now.date_naive();
    let mut counts = Counts::default();
    let mut warnings = Vec::new();
    let mut expired: Vec<(usize, usize)> = Vec::new();
    let artifact_in_scope = policy.scope.artifact_types.is_empty()
        || input.artifact_type.as_ref().is_some_and(|t| policy.scope.artifact_types.iter().any(|a| a == t));
    if !artifact_in_scope {
        warnings.push(format!(
            "the report's artifact type ({}) is outside the policy's scope ({}): nothing was gated",
            input.artifact_type.as_deref().unwrap_or("none"),
            policy.scope.artifact_types.join(", ")
        ));
    }
    let mut findings = Vec::with_capacity(input.findings.len());
    for f in &input.findings {
        counts.all.add(f.severity);
        let kev = f.kind == Kind::Vulnerability && policy.known_exploited.contains(&f.id.to_ascii_uppercase());
        let mut a = Assessed {
            finding: f.clone(),
            status: Status::Pass,
            known_exploited: kev,
            risk: risk::score(f, kev, now),
            reasons: Vec::new(),
            notes: Vec::new(),
        };
        a.status = assess(&mut a, policy, baseline, artifact_in_scope, today, &mut expired);
        match a.status {
            Status::Fail => {
                counts.considered.add(f.severity);
                counts.failing.add(f.severity);
            }
            Status::Pass => counts.considered.add(f.severity),
            Status::Ignored => counts.ignored += 1,
            Status::Baseline => counts.baseline += 1,
            Status::NotFixable => counts.not_fixable += 1,
            Status::OutOfScope => counts.out_of_scope += 1,
        }
        findings.push(a);
    }
    findings.sort_by(|a, b| {
        b.risk
            .score
            .total_cmp(&a.risk.score)
            .then(b.finding.severity.cmp(&a.finding.severity))
            .then_with(|| a.finding.id.cmp(&b.finding.id))
            .then_with(|| a.finding.target.cmp(&b.finding.target))
    });

    let mut reasons = Vec::new();
    let failing = counts.failing.total();
    if failing > 0 {
        let kev = findings.iter().filter(|a| a.status == Status::Fail && a.known_exploited).count();
        let by_severity = Severity::ALL
            .iter()
            .filter(|s| counts.failing.get(**s) > 0)
            .map(|s| format!("{} {s}", counts.failing.get(*s)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut line = format!("{failing} finding{} fail the policy ({by_severity})", plural(failing));
        if kev > 0 {
            line.push_str(&format!(", {kev} of them known exploited"));
        }
        reasons.push(line);
    }
    for (severity, max) in &policy.max_counts {
        let n = counts.considered.get(*severity) as u64;
        if n > *max {
            reasons.push(format!("{n} {severity} finding{} exceed the maximum of {max}", plural(n as usize)));
        }
    }
    expired.sort_unstable();
    let mut expired_ignores: Vec<ExpiredIgnore> = Vec::new();
    for (rule, n) in summarize(&expired) {
        let r = &policy.ignores[rule];
        warnings.push(format!(
            "ignore rule {} expired on {}: {n} finding{} no longer ignored (reason was: {})",
            r.describe(),
            r.expires,
            plural(n),
            r.reason
        ));
        expired_ignores.push(ExpiredIgnore {
            rule: r.describe(),
            reason: r.reason.clone(),
            expired_on: r.expires,
            findings: n,
        });
    }
    Verdict {
        passed: reasons.is_empty(),
        policy: policy.name.clone(),
        format: input.format.clone(),
        tool: input.tool.clone(),
        artifact_name: input.artifact_name.clone(),
        artifact_type: input.artifact_type.clone(),
        evaluated_at: now,
        baseline: baseline.is_some(),
        reasons,
        warnings,
        counts,
        expired_ignores,
        findings,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// (rule index, matches) from the sorted list of rule indexes, one per expired match.
fn summarize(sorted: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (rule, _) in sorted {
        match out.last_mut() {
            Some((r, n)) if r == rule => *n += 1,
            _ => out.push((*rule, 1)),
        }
    }
    out
}

fn assess(
    a: &mut Assessed,
    policy: &Policy,
    baseline: Option<&Baseline>,
    artifact_in_scope: bool,
    today: NaiveDate,
    expired: &mut Vec<(usize, usize)>,
) -> Status {
    let f = &a.finding;
    if let Some(why) = out_of_scope(f, policy, artifact_in_scope) {
        a.notes.push(why);
        return Status::OutOfScope;
    }
    let kev = a.known_exploited;
    // A rule in force wins over an expired one that also matches.
    let matching = || policy.ignores.iter().enumerate().filter(|(_, r)| ignore_matches(r, f));
    if let Some((index, rule)) = matching().find(|(_, r)| today <= r.expires).or_else(|| matching().next()) {
        if today > rule.expires {
            a.notes.push(format!("ignore rule {} expired on {}; no longer ignored", rule.describe(), rule.expires));
            expired.push((index, expired.len()));
        } else if kev {
            a.notes.push(format!("ignore rule {} does not apply: the id is known exploited", rule.describe()));
        } else {
            a.notes.push(format!("ignored until {}: {}", rule.expires, rule.reason));
            return Status::Ignored;
        }
    }
    if let Some(b) = baseline {
        if b.contains(f) {
            if !kev {
                a.notes.push("also in the baseline report: not new".into());
                return Status::Baseline;
            }
            a.notes.push("in the baseline report, but known exploited".into());
        }
    }
    if policy.only_fixable && !f.fixable() && !kev {
        a.notes.push("no fixed version (only_fixable)".into());
        return Status::NotFixable;
    }
    if kev {
        a.reasons.push("known exploited (on the policy's known-exploited list)".into());
    }
    let severity_listed = if policy.fail_severities.is_empty() {
        policy.min_cvss.is_some()
    } else {
        policy.fail_severities.contains(&f.severity)
    };
    let cvss_ok = match (policy.min_cvss, f.cvss) {
        (None, _) => true,
        (Some(min), Some(c)) => c >= min,
        (Some(_), None) => !policy.fail_severities.is_empty(),
    };
    match (severity_listed, cvss_ok) {
        (true, true) => a.reasons.push(match (policy.min_cvss, f.cvss) {
            (Some(min), Some(c)) if policy.fail_severities.is_empty() => format!("CVSS {c} ≥ min_cvss {min}"),
            (Some(min), Some(c)) => format!("severity {} with CVSS {c} ≥ min_cvss {min}", f.severity),
            _ => format!("severity {} is in fail_on.severities", f.severity),
        }),
        (true, false) => {
            if let (Some(min), Some(c)) = (policy.min_cvss, f.cvss) {
                a.notes.push(format!("CVSS {c} below min_cvss {min}"));
            }
        }
        _ => {}
    }
    if a.reasons.is_empty() { Status::Pass } else { Status::Fail }
}

fn out_of_scope(f: &Finding, policy: &Policy, artifact_in_scope: bool) -> Option<String> {
    let s = &policy.scope;
    if !artifact_in_scope {
        return Some("the report's artifact type is out of scope".into());
    }
    if !s.kinds.is_empty() && !s.kinds.contains(&f.kind) {
        return Some(format!("kind {} is out of scope", f.kind.label()));
    }
    if !s.classes.is_empty() && !s.classes.iter().any(|c| c == &f.class) {
        return Some(format!("class {:?} is out of scope", f.class));
    }
    if !s.targets.is_empty() && !s.targets.iter().any(|g| g.matches(&f.target)) {
        return Some(format!("target {} matches no scope.targets pattern", f.target));
    }
    if let Some(g) = s.exclude_targets.iter().find(|g| g.matches(&f.target)) {
        return Some(format!("target {} is excluded by {}", f.target, g.as_str()));
    }
    None
}

/// Every field the rule names matches: the id (case-insensitive), the package name (pattern),
/// the path (pattern, against the finding's package path, then its target).
pub fn ignore_matches(rule: &IgnoreRule, f: &Finding) -> bool {
    rule.id.as_ref().is_none_or(|id| id.eq_ignore_ascii_case(&f.id))
        && rule.package.as_ref().is_none_or(|p| f.package.as_deref().is_some_and(|name| p.matches(name)))
        && rule.path.as_ref().is_none_or(|p| f.path.as_deref().is_some_and(|x| p.matches(x)) || p.matches(&f.target))
}
