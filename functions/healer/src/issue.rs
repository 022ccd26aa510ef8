//! The tracking issue of one signature: one per (repository, job, signature), its body rewritten on
//! every occurrence (so writing it twice is harmless), found again after a crash by the marker in
//! its body.

use crate::record::SignatureRecord;
use chrono::{DateTime, Duration, Utc};
use std::fmt::Write;

/// The hidden marker that identifies the issue of a signature record.
pub fn marker(signature_id: &str) -> String {
    format!("<!-- aetherveil-signature: {signature_id} -->")
}

pub fn title(r: &SignatureRecord) -> String {
    let mut summary: String = r.summary.chars().take(80).collect();
    if summary.is_empty() {
        summary = r.cause.label().to_owned();
    }
    format!("[aetherveil] {} / {}: {summary}", r.workflow.as_deref().unwrap_or("workflow"), r.job)
}

/// The body: status, diagnosis, relevant lines, occurrences, and the marker.
pub fn body(id: &str, r: &SignatureRecord, now: DateTime<Utc>, healthy_after: Duration) -> String {
    let mut b = String::new();
    let healthy = now - r.last_seen >= healthy_after;
    if healthy {
        let days = (now - r.last_seen).num_hours() as f64 / 24.0;
        let _ = writeln!(
            b,
            "**Healthy again**: no occurrence since {} ({days:.1} days). Close this issue if the fix is known; \
             it is reopened and updated if the failure comes back.\n",
            r.last_seen.format("%Y-%m-%d %H:%M UTC")
        );
    } else {
        let _ = writeln!(
            b,
            "**Failing**: {} occurrence{} since {}, last {}.\n",
            r.total,
            if r.total == 1 { "" } else { "s" },
            r.first_seen.format("%Y-%m-%d %H:%M UTC"),
            r.last_seen.format("%Y-%m-%d %H:%M UTC")
        );
    }
    let _ = writeln!(b, "| | |\n|---|---|");
    let _ = writeln!(b, "| Repository | `{}` |", r.repo);
    let _ = writeln!(b, "| Workflow / job | {} / `{}` |", r.workflow.as_deref().unwrap_or("-"), r.job);
    let _ = writeln!(b, "| Cause | `{}` ({}) |", r.cause.label(), r.cause.describe());
    let _ = writeln!(b, "| Remedy | {} |", r.cause.remedy());
    let _ = writeln!(b, "| Signature | `{}` |", r.signature);
    let _ = writeln!(b, "| Failed reruns in a row | {} |\n", r.streak);
    let _ = writeln!(b, "### Diagnosis\n\n{}\n", r.summary);
    if !r.lines.is_empty() {
        let _ = writeln!(b, "### Relevant lines\n\n```text");
        for line in &r.lines {
            let _ = writeln!(b, "{}", line.replace("```", "'''"));
        }
        let _ = writeln!(b, "```\n");
    }
    let _ = writeln!(
        b,
        "### Occurrences (latest {})\n\n| When | Run | Attempt | Branch |\n|---|---|---|---|",
        r.occurrences.len()
    );
    for o in r.occurrences.iter().rev() {
        let run = match &o.url {
            Some(url) => format!("[{}]({url})", o.run_id),
            None => o.run_id.to_string(),
        };
        let _ = writeln!(
            b,
            "| {} | {run} | {} | {} |",
            o.at.format("%Y-%m-%d %H:%M"),
            o.attempt,
            o.branch.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(b, "\n_Opened and kept up to date by Aetherveil's healer._\n{}", marker(id));
    b
}
