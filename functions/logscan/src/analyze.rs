//! One pass over a job log: classification, explanation and diff against the passing runs, with
//! bounded memory whatever the size of the log.
//!
//! Every line is read once ([`JobLogReader`]) and fed to the classifier's scan and to the
//! explainer, both of which keep bounded state. The diff against the passing profile needs the
//! lines themselves, so the last [`DIFF_TAIL_LINES`] lines are kept in a ring (a failure shows at
//! the end of the failing step, which is at the end of the log: later steps are skipped after a
//! failure, and post-job cleanup is short); the explainer covers the whole log.

use crate::classify::{Classification, Classifier, JobContext, Scan};
use crate::diagnosis::{LogStats, Markdown, RelevantLine};
use crate::failing::FailingTests;
use aetherveil_logparse::LogLine;
use aetherveil_logparse::diff::{DiffConfig, DiffHit, PassingProfile, diff};
use aetherveil_logparse::explain::{Explainer, Explanation};
use aetherveil_logparse::reader::{JobLogReader, ReadError};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufReader, Read};

/// Lines of the end of the log the diff looks at.
pub const DIFF_TAIL_LINES: usize = 50_000;
/// Longest line text kept in a diagnosis, in characters.
const MAX_TEXT_CHARS: usize = 400;

/// What one pass found.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub classification: Classification,
    pub summary: String,
    pub lines: Vec<RelevantLine>,
    pub stats: LogStats,
    pub features: Vec<String>,
    /// The tests the log says failed, by name.
    pub failing_tests: Vec<String>,
}

impl Analysis {
    /// The analysis as Markdown, like a stored diagnosis of job `job_name` renders.
    pub fn markdown<'a>(&'a self, job_name: &'a str, compared_with: u32) -> Markdown<'a> {
        let c = &self.classification;
        Markdown {
            job_name,
            cause: c.cause,
            summary: &self.summary,
            confidence: c.confidence,
            transient: c.transient,
            reason: &c.reason,
            remedy: c.cause.remedy(),
            lines: &self.lines,
            compared_with,
            log: &self.stats,
        }
    }
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
    let mut analyzer = Analyzer::new(ctx, classifier, profile);
    for line in JobLogReader::new(BufReader::with_capacity(1 << 16, input)) {
        analyzer.push(line?);
    }
    Ok(analyzer.finish(max_lines))
}

/// The same pass, fed line by line (for logs that come as lines, such as a job of a run-log
/// archive).
pub struct Analyzer<'a> {
    scan: Scan<'a>,
    explainer: Explainer,
    profile: Option<&'a PassingProfile>,
    tail: VecDeque<LogLine>,
    stats: LogStats,
    last_step: Option<std::sync::Arc<str>>,
    failing: FailingTests,
}

impl<'a> Analyzer<'a> {
    pub fn new(ctx: &'a JobContext, classifier: &'a Classifier, profile: Option<&'a PassingProfile>) -> Self {
        Self {
            scan: classifier.scan(ctx),
            explainer: Explainer::new(),
            profile: profile.filter(|p| p.runs() > 0),
            tail: VecDeque::new(),
            stats: LogStats::default(),
            last_step: None,
            failing: FailingTests::default(),
        }
    }

    pub fn push(&mut self, line: LogLine) {
        self.stats.lines += 1;
        if line.step.is_some() && line.step != self.last_step {
            self.stats.steps += 1;
            self.last_step.clone_from(&line.step);
        }
        self.scan.feed(&line);
        self.explainer.push(&line);
        self.failing.push(&line.text);
        if self.profile.is_some() {
            if self.tail.len() == DIFF_TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(line);
        }
    }

    /// The analysis, with at most `max_lines` evidence lines.
    pub fn finish(self, max_lines: usize) -> Analysis {
        let mut stats = self.stats;
        let features = self.scan.features();
        let classification = self.scan.finish();
        let explanation = self.explainer.finish();
        let hits: Vec<DiffHit> = match self.profile {
            Some(p) => {
                let tail: Vec<LogLine> = self.tail.into();
                let hits = diff(p, &tail, &DiffConfig::default());
                stats.new_lines = hits.iter().map(|h| h.lines.len() as u64).sum();
                hits
            }
            None => Vec::new(),
        };
        let lines = select_lines(&classification, &explanation, &hits, max_lines);
        let summary = summary(&classification, &lines, &explanation);
        Analysis { classification, summary, lines, stats, features, failing_tests: self.failing.finish() }
    }
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn relevant(line: &LogLine, score: f64) -> RelevantLine {
    RelevantLine { line: line.number, step: line.step.as_deref().map(str::to_owned), text: clip(&line.text), score }
}

/// The lines a developer should read, in log order, at most `max`:
///
/// 1. the evidence of the deciding rule (the lines that named the cause), with the lines that
///    follow each (the message usually continues below its header);
/// 2. then the explainer's best lines (what the log itself says went wrong);
/// 3. then the lines the diff found new compared with the passing runs.
///
/// Context comes from the lines the explainer and the diff kept; evidence lines outside both are
/// shown alone.
fn select_lines(c: &Classification, explanation: &Explanation, hits: &[DiffHit], max: usize) -> Vec<RelevantLine> {
    // Every line we have the text of, with its score.
    let mut pool: BTreeMap<u32, RelevantLine> = BTreeMap::new();
    for s in &explanation.lines {
        pool.entry(s.line.number).or_insert_with(|| relevant(&s.line, s.score));
    }
    for hit in hits {
        for line in hit.shown() {
            let score = if hit.lines.iter().any(|l| l.number == line.number) { hit.score } else { 0.0 };
            pool.entry(line.number).or_insert_with(|| relevant(line, score));
        }
    }
    let deciding = c.findings.first().filter(|f| f.cause == c.cause).into_iter().flat_map(|f| &f.evidence);
    let mut anchors: Vec<u32> = Vec::new();
    for e in deciding.take(3) {
        pool.entry(e.line).or_insert_with(|| RelevantLine {
            line: e.line,
            step: e.step.as_deref().map(str::to_owned),
            text: clip(&e.text),
            score: 1.0,
        });
        anchors.push(e.line);
    }
    let mut by_score: Vec<(u32, f64)> =
        explanation.lines.iter().filter(|s| s.score > 0.0).map(|s| (s.line.number, s.score)).collect();
    by_score.sort_by(|a, b| b.1.total_cmp(&a.1));
    anchors.extend(by_score.iter().map(|a| a.0));
    let mut ranked_hits: Vec<&DiffHit> = hits.iter().collect();
    ranked_hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    anchors.extend(ranked_hits.iter().map(|h| h.line.number));

    let mut chosen: BTreeMap<u32, RelevantLine> = BTreeMap::new();
    for anchor in anchors {
        for n in anchor.saturating_sub(1)..=anchor.saturating_add(3) {
            if chosen.len() >= max {
                break;
            }
            // The anchor itself always; its neighbours in the same step when they follow it or say
            // something themselves.
            let step = pool.get(&anchor).map(|a| a.step.clone());
            let keep =
                |l: &&RelevantLine| n == anchor || (Some(&l.step) == step.as_ref() && (n > anchor || l.score > 0.0));
            if let Some(line) = pool.get(&n).filter(keep) {
                chosen.entry(n).or_insert_with(|| line.clone());
            }
        }
        if chosen.len() >= max {
            break;
        }
    }
    chosen.into_values().collect()
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
