//! The diagnosis record (collection `diagnoses`, one per failed job attempt) and its rendering.

use crate::cause::Cause;
use crate::classify::Finding;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why one job failed, with the evidence, as stored in `diagnoses/<job id>` and published on
/// topic `diagnoses`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The job id (GitHub gives each attempt of a job its own id).
    pub id: String,
    pub repo: String,
    pub run_id: u64,
    pub run_attempt: u32,
    pub job_id: u64,
    pub job_name: String,
    pub workflow_name: Option<String>,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub html_url: Option<String>,
    /// The job's conclusion on GitHub (`failure`, `timed_out`).
    pub conclusion: Option<String>,
    pub cause: Cause,
    /// In [0, 1].
    pub confidence: f64,
    /// Worth a rerun: running the same code again usually passes.
    pub transient: bool,
    /// One line: what failed, where.
    pub summary: String,
    /// Why this cause (the deciding rule or the model), or why the log could not be analysed.
    pub reason: String,
    pub remedy: String,
    /// How the cause was decided: `rules`, `model`, `rules+model`, `flaky-history` or `none`.
    pub method: String,
    /// The lines a developer should read, in log order.
    pub lines: Vec<RelevantLine>,
    pub findings: Vec<Finding>,
    /// The tests the log says failed, by name (cargo, pytest, go, jest, vitest, maven).
    #[serde(default)]
    pub failing_tests: Vec<String>,
    /// Passing logs of the same job the diff compared against (0: explained from this log alone).
    pub compared_with: u32,
    pub log: LogStats,
    /// Version of the trained model that took part, if any.
    pub model_version: Option<u64>,
    /// The classifier's features of this log, kept so the trainer can learn from it without
    /// fetching the log again.
    #[serde(default)]
    pub features: Vec<String>,
    /// A person's correction, the strongest training label.
    #[serde(default)]
    pub feedback: Option<Feedback>,
    pub analysed_at: DateTime<Utc>,
}

/// One line of evidence, pointing back at the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelevantLine {
    /// 1-based line number in the job log.
    pub line: u32,
    pub step: Option<String>,
    pub text: String,
    /// Relevance score; context lines around a relevant one score 0.
    pub score: f64,
}

/// What was read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogStats {
    pub bytes: u64,
    pub lines: u64,
    pub steps: u32,
    /// Lines the failed log has whose template never or rarely appears in the passing logs.
    pub new_lines: u64,
}

/// A correction of the cause, recorded through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub cause: Cause,
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

impl Diagnosis {
    /// Markdown for a check run, an issue or a chat message: the cause, the verdict on a rerun,
    /// the remedy, and the lines to read with their step and line number.
    pub fn markdown(&self) -> Markdown<'_> {
        Markdown {
            job_name: &self.job_name,
            cause: self.cause,
            summary: &self.summary,
            confidence: self.confidence,
            transient: self.transient,
            reason: &self.reason,
            remedy: &self.remedy,
            lines: &self.lines,
            compared_with: self.compared_with,
            log: &self.log,
        }
    }
}

/// A diagnosis rendered as Markdown ([`Diagnosis::markdown`], or an analysis of a local log).
pub struct Markdown<'a> {
    pub job_name: &'a str,
    pub cause: Cause,
    pub summary: &'a str,
    pub confidence: f64,
    pub transient: bool,
    pub reason: &'a str,
    pub remedy: &'a str,
    pub lines: &'a [RelevantLine],
    pub compared_with: u32,
    pub log: &'a LogStats,
}

impl fmt::Display for Markdown<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self;
        let verdict = if d.transient { "transient: a rerun is likely to pass" } else { "deterministic: fix the cause" };
        writeln!(out, "### {} failed: {}", d.job_name, d.cause.describe())?;
        writeln!(out)?;
        writeln!(out, "**{}** ({:.0}% confident, {verdict})  ", d.summary, d.confidence * 100.0)?;
        writeln!(out, "Why: {}  ", d.reason)?;
        writeln!(out, "Remedy: {}", d.remedy)?;
        if !d.lines.is_empty() {
            writeln!(out, "\n```text")?;
            let mut step: Option<&str> = None;
            for (i, l) in d.lines.iter().enumerate() {
                if i == 0 || l.step.as_deref() != step {
                    step = l.step.as_deref();
                    writeln!(out, "── {} ──", step.unwrap_or("(no step)"))?;
                }
                writeln!(out, "{:>6} | {}", l.line, l.text)?;
            }
            writeln!(out, "```")?;
        }
        if d.compared_with > 0 {
            writeln!(
                out,
                "\n{} of {} lines are new compared with {} passing run(s) of this job.",
                d.log.new_lines, d.log.lines, d.compared_with
            )?;
        }
        Ok(())
    }
}
