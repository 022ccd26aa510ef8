//! The verdict as text (a terminal), Markdown (`$GITHUB_STEP_SUMMARY`, a check run's summary),
//! JSON (machines) and SARIF 2.1.0 (code scanning).

use crate::evaluate::{Assessed, Status, Verdict};
use aetherveil_reports::Severity;
use serde_json::{Value, json};
use std::fmt::Write;

/// Findings listed in the Markdown table; the rest are counted. GitHub caps a check run's
/// summary at 65,535 characters and a step summary at 1 MiB.
pub const MARKDOWN_ROWS: usize = 50;
/// Findings listed by the text output.
pub const TEXT_ROWS: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Sarif,
}

pub fn render(v: &Verdict, format: Format) -> String {
    match format {
        Format::Text => text(v),
        Format::Json => serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n",
        Format::Markdown => markdown(v),
        Format::Sarif => serde_json::to_string_pretty(&sarif(v)).unwrap_or_default() + "\n",
    }
}

fn subject(v: &Verdict) -> String {
    let name = if v.artifact_name.is_empty() { "the report".to_owned() } else { v.artifact_name.clone() };
    match &v.artifact_type {
        Some(t) => format!("{name} ({t}, {} report)", v.tool),
        None => format!("{name} ({} report)", v.tool),
    }
}

fn package(a: &Assessed) -> String {
    let f = &a.finding;
    match (&f.package, &f.installed_version, &f.fixed_version) {
        (Some(p), Some(i), Some(x)) => format!("{p} {i} → {x}"),
        (Some(p), Some(i), None) => format!("{p} {i} (no fix)"),
        (Some(p), None, _) => p.clone(),
        (None, _, _) => String::new(),
    }
}

fn why(a: &Assessed) -> String {
    let mut parts = a.reasons.clone();
    parts.extend(a.notes.iter().cloned());
    parts.join("; ")
}

pub fn text(v: &Verdict) -> String {
    let mut s = String::new();
    let c = &v.counts;
    let _ =
        writeln!(s, "security gate: {} — policy {}, {}", if v.passed { "PASS" } else { "FAIL" }, v.policy, subject(v));
    for r in &v.reasons {
        let _ = writeln!(s, "  ✗ {r}");
    }
    for w in &v.warnings {
        let _ = writeln!(s, "  ! {w}");
    }
    let _ = writeln!(
        s,
        "findings: {} ({}); considered {}, failing {}; ignored {}, baseline {}, not fixable {}, out of scope {}",
        c.all.total(),
        severity_line(&c.all),
        c.considered.total(),
        c.failing.total(),
        c.ignored,
        c.baseline,
        c.not_fixable,
        c.out_of_scope
    );
    let shown: Vec<&Assessed> = v.findings.iter().filter(|a| a.status != Status::OutOfScope).take(TEXT_ROWS).collect();
    if !shown.is_empty() {
        let _ = writeln!(s, "\n{:>5}  {:<11} {:<8} {:<22} {:<36} why", "risk", "status", "severity", "id", "package");
        for a in &shown {
            let _ = writeln!(
                s,
                "{:>5.1}  {:<11} {:<8} {:<22} {:<36} {}",
                a.risk.score,
                a.status.label(),
                a.finding.severity.label(),
                a.finding.id,
                package(a),
                why(a)
            );
        }
        let rest = v.findings.iter().filter(|a| a.status != Status::OutOfScope).count() - shown.len();
        if rest > 0 {
            let _ = writeln!(s, "... and {rest} more (--format json lists every finding)");
        }
    }
    s
}

fn severity_line(c: &crate::evaluate::SeverityCounts) -> String {
    Severity::ALL
        .iter()
        .filter(|sev| c.get(**sev) > 0)
        .map(|sev| format!("{} {sev}", c.get(*sev)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Markdown cell text: pipes and line breaks would break the table.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

pub fn markdown(v: &Verdict) -> String {
    let mut s = String::new();
    let c = &v.counts;
    let _ = writeln!(
        s,
        "## {} Security gate: {}\n",
        if v.passed { "✅" } else { "❌" },
        if v.passed { "passed" } else { "failed" }
    );
    let _ = writeln!(
        s,
        "Policy `{}` on {}{}.\n",
        cell(&v.policy),
        cell(&subject(v)),
        if v.baseline { ", compared with the baseline report" } else { "" }
    );
    for r in &v.reasons {
        let _ = writeln!(s, "- ❌ {}", cell(r));
    }
    for w in &v.warnings {
        let _ = writeln!(s, "- ⚠️ {}", cell(w));
    }
    if !v.reasons.is_empty() || !v.warnings.is_empty() {
        s.push('\n');
    }
    let _ = writeln!(s, "| severity | in report | considered | failing |\n|---|---:|---:|---:|");
    for sev in Severity::ALL {
        let _ = writeln!(s, "| {sev} | {} | {} | {} |", c.all.get(sev), c.considered.get(sev), c.failing.get(sev));
    }
    let _ = writeln!(
        s,
        "\nNot considered: {} ignored, {} in the baseline, {} without a fix, {} out of scope.\n",
        c.ignored, c.baseline, c.not_fixable, c.out_of_scope
    );
    let listed: Vec<&Assessed> = v.findings.iter().filter(|a| a.status.considered()).collect();
    if !listed.is_empty() {
        let _ = writeln!(s, "### Findings by risk\n");
        let _ = writeln!(
            s,
            "| # | risk | status | severity | id | package | target | why |\n|---:|---:|---|---|---|---|---|---|"
        );
        for (i, a) in listed.iter().take(MARKDOWN_ROWS).enumerate() {
            let id = match &a.finding.url {
                Some(u) => format!("[{}]({})", cell(&a.finding.id), u.replace(')', "%29")),
                None => cell(&a.finding.id),
            };
            let kev = if a.known_exploited { " 🔥" } else { "" };
            let _ = writeln!(
                s,
                "| {} | {:.1} | {} | {}{kev} | {id} | {} | {} | {} |",
                i + 1,
                a.risk.score,
                a.status.label(),
                a.finding.severity,
                cell(&package(a)),
                cell(&a.finding.target),
                cell(&why(a)),
            );
        }
        if listed.len() > MARKDOWN_ROWS {
            let _ =
                writeln!(s, "\n…and {} more considered findings (see the JSON output).", listed.len() - MARKDOWN_ROWS);
        }
        if let Some(top) = listed.first() {
            let _ = writeln!(s, "\nTop risk, explained: `{}` = {}.", cell(&top.finding.id), cell(&top.risk.explain()));
        }
    }
    let set_aside: Vec<&Assessed> = v
        .findings
        .iter()
        .filter(|a| matches!(a.status, Status::Ignored | Status::Baseline | Status::NotFixable))
        .collect();
    if !set_aside.is_empty() {
        let n = set_aside.len();
        let _ = writeln!(
            s,
            "\n<details><summary>{n} finding{} set aside (ignored, baseline, no fix)</summary>\n",
            if n == 1 { "" } else { "s" }
        );
        let _ = writeln!(s, "| risk | status | severity | id | package | why |\n|---:|---|---|---|---|---|");
        for a in set_aside.iter().take(MARKDOWN_ROWS) {
            let _ = writeln!(
                s,
                "| {:.1} | {} | {} | {} | {} | {} |",
                a.risk.score,
                a.status.label(),
                a.finding.severity,
                cell(&a.finding.id),
                cell(&package(a)),
                cell(&why(a))
            );
        }
        if set_aside.len() > MARKDOWN_ROWS {
            let _ = writeln!(s, "\n…and {} more.", set_aside.len() - MARKDOWN_ROWS);
        }
        let _ = writeln!(s, "\n</details>");
    }
    s
}

/// SARIF 2.1.0: one result per considered finding, `error` when it fails, `note` otherwise,
/// with the risk score and its explanation in the properties.
pub fn sarif(v: &Verdict) -> Value {
    let listed: Vec<&Assessed> = v.findings.iter().filter(|a| a.status.considered()).collect();
    let mut rule_ids: Vec<&str> = Vec::new();
    for a in &listed {
        if !rule_ids.contains(&a.finding.id.as_str()) {
            rule_ids.push(&a.finding.id);
        }
    }
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let a = listed.iter().find(|a| a.finding.id == *id).copied();
            let f = a.map(|a| &a.finding);
            let score = f.and_then(|f| f.cvss).unwrap_or_else(|| crate::risk::severity_proxy(f.map_or(Severity::Unknown, |f| f.severity)));
            json!({
                "id": id,
                "shortDescription": {"text": f.and_then(|f| f.title.clone()).unwrap_or_else(|| id.to_string())},
                "helpUri": f.and_then(|f| f.url.clone()),
                "properties": {
                    "tags": [f.map_or("vulnerability", |f| f.kind.label()), "security", f.map_or("UNKNOWN", |f| f.severity.label())],
                    "security-severity": format!("{score:.1}"),
                },
            })
        })
        .collect();
    let results: Vec<Value> = listed
        .iter()
        .map(|a| {
            let f = &a.finding;
            let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": f.path.clone().unwrap_or_else(|| f.target.clone())}}});
            if let Some(line) = f.line {
                location["physicalLocation"]["region"] = json!({"startLine": line});
            }
            json!({
                "ruleId": f.id,
                "ruleIndex": rule_ids.iter().position(|r| *r == f.id),
                "level": if a.status == Status::Fail { "error" } else { "note" },
                "message": {"text": format!("{} {} {}: {}", f.severity, f.id, package(a), why(a))},
                "locations": [location],
                "partialFingerprints": {"aetherveil/v1": f.key()},
                "properties": {"risk": a.risk.score, "risk_explained": a.risk.explain(), "status": a.status.label(), "known_exploited": a.known_exploited},
            })
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "aetherveil-gate", "rules": rules}},
            "results": results,
            "properties": {"passed": v.passed, "policy": v.policy, "reasons": v.reasons, "warnings": v.warnings},
        }],
    })
}
