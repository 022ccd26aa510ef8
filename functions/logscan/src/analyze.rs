//! One pass over a job log: classification, explanation and diff against the passing runs, with
//! bounded memory whatever the size of the log.
//!
//! Every line is read once ([`JobLogReader`]) and fed to the classifier's scan and to the
//! explainer, both of which keep bounded state. The diff against the passing profile needs the
//! lines themselves, so the last [`DIFF_TAIL_LINES`] lines are kept in a ring (a failure shows at
//! the end of the failing step, which is at the end of the log: later steps are skipped after a
//! failure, and post-job cleanup is short); the explainer covers the whole log.

use crate::classify::{Classification, Classifier, JobContext};
use crate::diagnosis::{LogStats, RelevantLine};
use aetherveil_logparse::LogLine;
use aetherveil_logparse::diff::{DiffConfig, PassingProfile, diff};
use aetherveil_logparse::explain::{Explainer, Explanation};
use aetherveil_logparse::reader::{JobLogReader, ReadError};
use std::collections::VecDeque;
use std::io::{BufReader, Read};

/// Lines of the end of the log the diff looks at.
pub const DIFF_TAIL_LINES: usize = 50_000;
/// Longest line text kept in a diagnosis, in characters.
const MAX_TEXT_CHARS: usize = 400;

/// What one pass found.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub classification: Classification,
    /// How the cause was decided (`rules`, `model`, `rules+model`, `none`).
    pub method: String,
    pub summary: String,
    pub lines: Vec<RelevantLine>,
    pub stats: LogStats,
    pub features: Vec<String>,
}

/// Reads `input` (a job log) and analyses it. Errors only for input that is not a log at all
/// (empty, binary); the caller records those as `unknown` with the reason.
pub fn analyze(
    input: impl Read,
    ctx: &JobContext,
    classifier: &Classifier,
    profile: Option<&PassingProfile>,
    max_lines: usize,
) -> Result<Analysis, ReadError> {
    let mut scan = classifier.scan(ctx);
    let mut explainer = Explainer::new();
    let mut tail: VecDeque<LogLine> = VecDeque::new();
    let mut stats = LogStats::default();
    let mut last_step: Option<std::sync::Arc<str>> = None;
    for line in JobLogReader::new(BufReader::with_capacity(1 << 16, input)) {
        let line = line?;
        stats.lines += 1;
        if line.step.is_some() && line.step != last_step {
            stats.steps += 1;
            last_step.clone_from(&line.step);
        }
        scan.feed(&line);
        explainer.push(&line);
        if profile.is_some() {
            if tail.len() == DIFF_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    let features = scan.features();
    let classification = scan.finish();
    let explanation = explainer.finish();
    let diffed = profile.filter(|p| p.runs() > 0).map(|p| {
        let tail: Vec<LogLine> = tail.into();
        let hits = diff(p, &tail, &DiffConfig::default());
        let new_lines: u64 = hits.iter().map(|h| h.lines.len() as u64).sum();
        (hits, new_lines)
    });
    let lines = match &diffed {
        Some((hits, new_lines)) if !hits.is_empty() => {
            stats.new_lines = *new_lines;
            from_diff(hits, max_lines)
        }
        _ => from_explanation(&explanation, max_lines),
    };
    let method = classification.method.clone();
    let summary = summary(&classification, &lines, &explanation);
    Ok(Analysis { classification, method, summary, lines, stats, features })
}

fn relevant(line: &LogLine, score: f64) -> RelevantLine {
    let text = match line.text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &line.text[..cut]),
        None => line.text.clone(),
    };
    RelevantLine { line: line.number, step: line.step.as_deref().map(str::to_owned), text, score }
}

/// The explainer's chunk, cut to `max` lines around its best line (a little context before it,
/// more after: the message usually follows its header line).
fn from_explanation(explanation: &Explanation, max: usize) -> Vec<RelevantLine> {
    let lines = &explanation.lines;
    let Some(best) = lines.iter().enumerate().max_by(|a, b| a.1.score.total_cmp(&b.1.score)).map(|(i, _)| i) else {
        return Vec::new();
    };
    let start = best.saturating_sub(max / 4).min(lines.len().saturating_sub(max));
    lines.iter().skip(start).take(max).map(|s| relevant(&s.line, s.score)).collect()
}

/// The best-ranked diff hits' lines, in log order, up to `max`.
fn from_diff(hits: &[aetherveil_logparse::diff::DiffHit], max: usize) -> Vec<RelevantLine> {
    let mut out: Vec<RelevantLine> = Vec::new();
    for hit in hits {
        for line in hit.shown() {
            if out.len() == max {
                break;
            }
            if !out.iter().any(|r| r.line == line.number) {
                let score = if hit.lines.iter().any(|l| l.number == line.number) { hit.score } else { 0.0 };
                out.push(relevant(line, score));
            }
        }
    }
    out.sort_by_key(|r| r.line);
    out
}

/// One line: the cause, where, and the most telling line.
fn summary(c: &Classification, lines: &[RelevantLine], explanation: &Explanation) -> String {
    let best =
        c.findings.first().and_then(|f| f.evidence.first()).map(|e| (e.text.as_str(), e.step.as_deref())).or_else(
            || lines.iter().max_by(|a, b| a.score.total_cmp(&b.score)).map(|l| (l.text.as_str(), l.step.as_deref())),
        );
    let step = best.and_then(|b| b.1).or(explanation.failing_step.as_deref());
    let mut s = c.cause.describe().to_owned();
    if let Some(step) = step {
        s.push_str(&format!(" in step \"{step}\""));
    }
    if let Some((text, _)) = best {
        let text: String = text.chars().take(160).collect();
        s.push_str(&format!(": {}", text.trim()));
    }
    s
}
