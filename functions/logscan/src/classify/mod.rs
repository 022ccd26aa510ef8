//! Cause classification: rules, then a learned model.
//!
//! A [`Scan`] is fed every line of a job log once (streaming, bounded memory) and then finished into
//! a [`Classification`]:
//!
//! 1. **Rules** (`rules/<cause>.rs`, listed in `registry.rs`). One Aho-Corasick pass over each line
//!    finds the needles of every rule; only the rules whose needles occur run their regexes. Each
//!    firing rule becomes a [`Finding`] with at most [`EVIDENCE_HEAD`] + [`EVIDENCE_TAIL`] lines of
//!    evidence, however long the log.
//! 2. **Precedence**, when several rules fire:
//!    - a timeout (the job's conclusion `timed_out`, or the runner's "exceeded the maximum execution
//!      time") wins: whatever was running when the clock ran out is a symptom;
//!    - then a lost runner ("received a shutdown signal", "lost communication"): the log was cut, so
//!      a test failure before it says nothing;
//!    - then the conclusion `cancelled`;
//!    - otherwise the findings compete on a score: the rule's confidence (specific messages rank above
//!      generic ones, `error[E0599]` above `could not compile`), minus a penalty for distance from the
//!      failure point (the last `##[error]` line; 0.002 per line, at most 0.3) and for sitting in
//!      another step than the one that failed (0.15). So a network warning that was retried and a test
//!      failure later is `test`, and a registry 503 on the line before pip's "no matching
//!      distribution" is `network`. Running out of memory or disk gets a bonus of 0.08: it explains the
//!      failed test or compile step that follows it.
//!    - A `test` winner becomes `flaky_test` when a flaky hint (a refused loopback connection, a test
//!      deadline, an upstream 5xx, a blown timing budget, a race, a port in use, a test container that
//!      did not start, a rerun marker) sits within `FLAKY_WINDOW` lines of the test failure. Flaky
//!      hints never win on their own; a hint's pattern may span the previous line and the current one,
//!      since test tools print expected and actual values on two lines.
//! 3. **Model** (`model.rs`, optional): when the best rule scores at least [`CONFIDENT`], the rules
//!    decide and the model only moves the confidence (up by half of its agreement, down by a quarter of
//!    its preference for another cause). Below that, the output is the even mixture of the rules'
//!    scores and the model's posterior (the posterior alone when no rule fired), and the cause with
//!    the largest mixture wins if it reaches [`MIN_CONFIDENCE`]; otherwise the diagnosis is
//!    `unknown` with the reason.
//!
//! Bad input never panics: an empty log, a log of binary garbage and a log in which nothing is
//! recognised all give `unknown` with a reason that says which.

pub mod features;
pub mod model;
pub mod registry;
pub mod rules;

use std::collections::VecDeque;
use std::sync::Arc;

use aetherveil_logparse::{LineKind, LogLine};
use serde::{Deserialize, Serialize};

use crate::cause::Cause;

pub use model::{Model, ModelArtifact, ModelError};
use registry::{COMPILED, Compiled};

/// Evidence lines kept per rule from its first firings.
pub const EVIDENCE_HEAD: usize = 4;
/// Evidence lines kept per rule from its last firings.
pub const EVIDENCE_TAIL: usize = 2;
/// A decision by the rules at or above this score stands; below it the model takes part.
pub const CONFIDENT: f64 = 0.6;
/// Below this, the diagnosis is `unknown`.
pub const MIN_CONFIDENCE: f64 = 0.3;
/// Bytes of a line looked at (a longer line is cut; minified bundles have megabyte lines).
const MAX_LINE_BYTES: usize = 4096;
/// Error-ish lines whose tokens are kept for the model (the last ones).
const MAX_FEATURE_LINES: usize = 64;
/// Features returned by [`Scan::features`] at most.
const MAX_FEATURES: usize = 2048;
/// Added to the score of running out of memory or disk: it explains the test or compile failure that
/// follows it (a killed test binary is reported as a failed test).
const EXHAUSTION_BONUS: f64 = 0.08;
/// Lines before and after a test failure where a flaky hint counts.
const FLAKY_WINDOW: u32 = 30;
/// Bytes of the previous line kept for flaky hints that span two lines (expected and actual values).
const MAX_PREVIOUS_BYTES: usize = 512;

/// What the classifier knows about the job besides its log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobContext {
    pub job_name: String,
    /// GitHub's conclusion: `failure`, `cancelled` or `timed_out`.
    pub conclusion: Option<String>,
    /// `runs-on` labels; `self-hosted` among them means a self-hosted runner.
    pub runner_labels: Vec<String>,
    /// Name of the first step that failed, from the jobs API.
    pub failed_step: Option<String>,
}

impl JobContext {
    /// Whether the job ran on a GitHub-hosted runner (no `self-hosted` label).
    pub fn hosted(&self) -> bool {
        !self.runner_labels.iter().any(|l| l.eq_ignore_ascii_case("self-hosted"))
    }
}

/// A line that supports a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// 1-based line number in the log.
    pub line: u32,
    pub step: Option<Arc<str>>,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// What one rule found in a log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's id, e.g. `rust.compile_error`.
    pub id: String,
    pub cause: Cause,
    pub severity: Severity,
    /// The rule's confidence, a little higher when it fired more than once or in the step it expects.
    pub confidence: f64,
    /// The first and the last lines it fired on, in log order.
    pub evidence: Vec<Evidence>,
}

/// The classifier's answer for one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub cause: Cause,
    /// Calibrated to [0, 1]; 0 for `unknown` from bad input.
    pub confidence: f64,
    /// Worth a rerun: running the same code again usually passes.
    pub transient: bool,
    /// Every rule that fired, the deciding one first.
    pub findings: Vec<Finding>,
    /// Why this cause, one line.
    pub reason: String,
    /// How it was decided: `rules`, `model`, `rules+model` or `none`.
    pub method: String,
}

/// A diagnosis of `unknown`, for input that cannot be classified (unreadable, empty, not a log).
pub fn unknown(reason: impl Into<String>) -> Classification {
    Classification {
        cause: Cause::Unknown,
        confidence: 0.0,
        transient: false,
        findings: Vec::new(),
        reason: reason.into(),
        method: "none".to_owned(),
    }
}

/// The rule registry plus an optional trained model. Cheap to share; one per process.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    model: Option<Model>,
}

impl Classifier {
    pub fn new(model: Option<Model>) -> Self {
        Classifier { model }
    }

    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// Starts scanning the log of one job.
    pub fn scan<'a>(&'a self, ctx: &'a JobContext) -> Scan<'a> {
        let (compiled, registry_error) = match &*COMPILED {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let rules = compiled.map_or(0, |c| c.rules.len());
        Scan {
            classifier: self,
            ctx,
            compiled,
            registry_error,
            states: (0..rules).map(|_| None).collect(),
            candidates: Vec::new(),
            lines: 0,
            last_number: 0,
            garbage_lines: 0,
            last_error: None,
            saw_end: false,
            errorish: VecDeque::new(),
            previous: String::new(),
        }
    }

    /// Scans all of `lines` and finishes.
    pub fn classify<'l>(&self, ctx: &JobContext, lines: impl IntoIterator<Item = &'l LogLine>) -> Classification {
        let mut scan = self.scan(ctx);
        for line in lines {
            scan.feed(line);
        }
        scan.finish()
    }
}

/// What one rule has seen so far.
#[derive(Debug)]
struct RuleState {
    hits: u32,
    first_line: u32,
    last_line: u32,
    head: Vec<Evidence>,
    tail: VecDeque<Evidence>,
    in_expected_step: bool,
}

/// The last `##[error]` line.
#[derive(Debug)]
struct ErrorLine {
    line: u32,
    step: Option<Arc<str>>,
    text: String,
}

/// One log being classified: feed it every line, then finish.
#[derive(Debug)]
pub struct Scan<'a> {
    classifier: &'a Classifier,
    ctx: &'a JobContext,
    compiled: Option<&'static Compiled>,
    registry_error: Option<String>,
    states: Vec<Option<RuleState>>,
    candidates: Vec<usize>,
    lines: u64,
    last_number: u32,
    garbage_lines: u64,
    last_error: Option<ErrorLine>,
    /// A runner end marker was seen (`Process completed with exit code`, `Cleaning up orphan processes`).
    saw_end: bool,
    /// Features of the last error-ish lines.
    errorish: VecDeque<Vec<String>>,
    /// The previous line (its first [`MAX_PREVIOUS_BYTES`]), for flaky hints that span two lines.
    previous: String,
}

impl Scan<'_> {
    /// Looks at one line. Cost: one Aho-Corasick pass, plus the regexes of the rules whose needles occur.
    pub fn feed(&mut self, line: &LogLine) {
        self.lines += 1;
        self.last_number = line.number;
        let text = cut(&line.text, MAX_LINE_BYTES);
        if is_garbage(text) {
            self.garbage_lines += 1;
            self.previous.clear();
            return;
        }
        if line.kind == LineKind::Error {
            self.last_error =
                Some(ErrorLine { line: line.number, step: line.step.clone(), text: cut(text, 240).to_owned() });
        }
        if text.starts_with("Process completed with exit code")
            || text.starts_with("Cleaning up orphan processes")
            || text.starts_with("Complete job")
        {
            self.saw_end = true;
        }
        let Some(compiled) = self.compiled else { return };
        let mut errorish = line.kind == LineKind::Error;
        self.candidates.clear();
        for m in compiled.needles.find_overlapping_iter(text) {
            match compiled.needle_rule.get(m.pattern().as_usize()) {
                Some(Some(rule)) => self.candidates.push(*rule),
                Some(None) => errorish = true,
                None => {}
            }
        }
        self.candidates.sort_unstable();
        self.candidates.dedup();
        let mut lower: Option<String> = None;
        let mut joined: Option<String> = None;
        for &index in &self.candidates {
            let Some(compiled_rule) = compiled.rules.get(index) else { continue };
            let rule = compiled_rule.rule;
            if rule.kind.is_some_and(|k| k != line.kind) {
                continue;
            }
            if !compiled_rule.unless.is_empty() {
                let lower = lower.get_or_insert_with(|| text.to_ascii_lowercase());
                if compiled_rule.unless.iter().any(|u| lower.contains(u.as_str())) {
                    continue;
                }
            }
            if !compiled_rule.patterns.is_empty()
                && !compiled_rule.patterns.iter().any(|(p, two_lines)| {
                    if *two_lines {
                        p.is_match(joined.get_or_insert_with(|| format!("{}\n{text}", self.previous)))
                    } else {
                        p.is_match(text)
                    }
                })
            {
                continue;
            }
            errorish = true;
            let evidence = Evidence { line: line.number, step: line.step.clone(), text: cut(text, 400).to_owned() };
            let expected_step = line
                .step
                .as_deref()
                .is_some_and(|s| rule.step_hints.iter().any(|h| s.to_ascii_lowercase().contains(h)));
            match &mut self.states[index] {
                Some(state) => {
                    state.hits += 1;
                    state.last_line = line.number;
                    state.in_expected_step |= expected_step;
                    if state.head.len() < EVIDENCE_HEAD {
                        state.head.push(evidence);
                    } else {
                        state.tail.push_back(evidence);
                        if state.tail.len() > EVIDENCE_TAIL {
                            state.tail.pop_front();
                        }
                    }
                }
                slot @ None => {
                    *slot = Some(RuleState {
                        hits: 1,
                        first_line: line.number,
                        last_line: line.number,
                        head: vec![evidence],
                        tail: VecDeque::new(),
                        in_expected_step: expected_step,
                    });
                }
            }
        }
        if errorish {
            self.errorish.push_back(features::line_features(text));
            if self.errorish.len() > MAX_FEATURE_LINES {
                self.errorish.pop_front();
            }
        }
        self.previous.clear();
        self.previous.push_str(cut(text, MAX_PREVIOUS_BYTES));
    }

    /// The model's features of what was fed so far: `r:<rule id>` for each rule that fired, then the
    /// masked tokens of the last error-ish lines (see [`features`]). The trainer learns from these.
    pub fn features(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(compiled) = self.compiled {
            for (state, rule) in self.states.iter().zip(&compiled.rules) {
                if state.is_some() {
                    out.push(format!("r:{}", rule.rule.id));
                }
            }
        }
        for line in &self.errorish {
            for f in line {
                if out.len() >= MAX_FEATURES {
                    return out;
                }
                out.push(f.clone());
            }
        }
        out
    }

    /// Decides the cause (see the module documentation for the precedence).
    pub fn finish(self) -> Classification {
        if let Some(e) = &self.registry_error {
            return unknown(format!("the rule registry did not compile: {e}"));
        }
        if self.lines == 0 {
            return unknown("empty log: there are no lines to classify");
        }
        if self.garbage_lines * 2 > self.lines {
            return unknown(format!(
                "the log is not text: {} of {} lines are binary or undecodable",
                self.garbage_lines, self.lines
            ));
        }
        let scored = self.score();
        let (contest, hints): (Vec<&Scored>, Vec<&Scored>) =
            scored.iter().partition(|s| s.finding.cause != Cause::FlakyTest);
        let hosted = self.ctx.hosted();
        let conclusion = self.ctx.conclusion.as_deref();
        let first_of = |cause: Cause| contest.iter().copied().find(|s| s.finding.cause == cause);

        let decided: Option<(Cause, f64, String, Option<&Scored>)> = if let Some(t) = first_of(Cause::Timeout) {
            Some((Cause::Timeout, t.finding.confidence, rule_reason(t), Some(t)))
        } else if conclusion == Some("timed_out") {
            Some((Cause::Timeout, 0.9, "the job's conclusion is timed_out".to_owned(), None))
        } else if let Some(i) = first_of(Cause::Infrastructure) {
            Some((Cause::Infrastructure, i.finding.confidence, rule_reason(i), Some(i)))
        } else if conclusion == Some("cancelled") {
            Some((Cause::Cancelled, 0.95, "the job's conclusion is cancelled".to_owned(), None))
        } else {
            None
        };
        let model = self.classifier.model.as_ref().map(|m| m.predict(&self.features()));
        let mut out = match decided {
            Some((cause, confidence, reason, _)) => classification(cause, confidence, reason, "rules", hosted),
            None => self.contest(&contest, &hints, model.as_deref(), hosted),
        };
        // The deciding finding first, then the rest by score.
        let mut ordered: Vec<&Scored> = scored.iter().collect();
        ordered.sort_by(|a, b| {
            (b.finding.cause == out.cause).cmp(&(a.finding.cause == out.cause)).then(b.score.total_cmp(&a.score))
        });
        out.findings = ordered.into_iter().map(|s| s.finding.clone()).collect();
        out
    }

    /// The findings, scored for the contest, best first.
    fn score(&self) -> Vec<Scored> {
        let Some(compiled) = self.compiled else { return Vec::new() };
        let failure_point = self.last_error.as_ref().map_or(self.last_number, |e| e.line);
        let failed_step = self.last_error.as_ref().and_then(|e| e.step.clone());
        let mut scored: Vec<Scored> = self
            .states
            .iter()
            .zip(&compiled.rules)
            .filter_map(|(state, compiled_rule)| {
                let state = state.as_ref()?;
                let rule = compiled_rule.rule;
                let mut confidence = rule.confidence;
                if state.hits > 1 {
                    confidence += 0.02;
                }
                if state.in_expected_step {
                    confidence += 0.03;
                }
                let confidence = confidence.min(0.99);
                let distance = failure_point.saturating_sub(state.last_line);
                let mut score = confidence - (f64::from(distance) * 0.002).min(0.3);
                if matches!(rule.cause, Cause::Resources | Cause::Disk) {
                    score += EXHAUSTION_BONUS;
                }
                let last_step = state.tail.back().or(state.head.last()).and_then(|e| e.step.clone());
                if let (Some(failed), Some(here)) = (&failed_step, &last_step)
                    && failed != here
                {
                    score -= 0.15;
                }
                let evidence = state.head.iter().chain(state.tail.iter()).cloned().collect();
                Some(Scored {
                    finding: Finding {
                        id: rule.id.to_owned(),
                        cause: rule.cause,
                        severity: rule.severity,
                        confidence,
                        evidence,
                    },
                    first_line: state.first_line,
                    last_line: state.last_line,
                    score: score.max(0.0),
                })
            })
            .collect();
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.last_line.cmp(&a.last_line))
                .then(b.finding.confidence.total_cmp(&a.finding.confidence))
        });
        scored
    }

    /// The findings compete (no timeout, lost runner or cancellation decided it).
    fn contest(
        &self,
        contest: &[&Scored],
        hints: &[&Scored],
        model: Option<&[(Cause, f64)]>,
        hosted: bool,
    ) -> Classification {
        let best = contest.first().copied();
        let model = model.filter(|m| !m.is_empty());
        if let Some(best) = best
            && best.score >= CONFIDENT
        {
            let mut cause = best.finding.cause;
            let mut confidence = best.score;
            let mut reason = rule_reason(best);
            // Next to the test failure: within the window of any line a test rule fired on (the
            // summary can be far below the failing test's own output: vitest reports the other files
            // in between), judged by the lines the hint fired on, not the span between its firings.
            let tests: Vec<&Scored> = contest.iter().copied().filter(|s| s.finding.cause == Cause::Test).collect();
            let near_test = |line: u32| {
                tests.iter().any(|t| line + FLAKY_WINDOW >= t.first_line && line <= t.last_line + FLAKY_WINDOW)
            };
            if cause == Cause::Test
                && let Some(hint) = hints.iter().find(|h| h.finding.evidence.iter().any(|e| near_test(e.line)))
            {
                cause = Cause::FlakyTest;
                confidence = confidence.min(hint.finding.confidence + 0.1);
                reason = format!("{reason}; next to it {}", rule_reason(hint));
            }
            let Some(model) = model else { return classification(cause, confidence, reason, "rules", hosted) };
            let agrees = model.iter().find(|(c, _)| *c == cause).map_or(0.0, |(_, p)| *p);
            let (top, top_p) = model[0];
            let (confidence, note) = if top == cause {
                (confidence + (1.0 - confidence) * 0.5 * agrees, format!("the model agrees (p={agrees:.2})"))
            } else {
                (confidence * (1.0 - 0.25 * (top_p - agrees)), format!("the model prefers {top} (p={top_p:.2})"))
            };
            return classification(cause, confidence, format!("{reason}; {note}"), "rules+model", hosted);
        }
        if let Some(model) = model {
            let rule_score = |c: Cause| contest.iter().find(|s| s.finding.cause == c).map_or(0.0, |s| s.score);
            // Even mixture with the rules' scores; the model alone when no rule fired at all.
            let w = if best.is_some() { 0.5 } else { 0.0 };
            let mixed = model.iter().map(|&(c, p)| (c, (1.0 - w) * p + w * rule_score(c)));
            let best_rule_only = best.map(|b| (b.finding.cause, w * b.score));
            let (cause, confidence) = mixed
                .chain(best_rule_only.filter(|(c, _)| !model.iter().any(|(m, _)| m == c)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((Cause::Unknown, 0.0));
            if confidence >= MIN_CONFIDENCE && cause != Cause::Unknown {
                let method = if rule_score(cause) > 0.0 { "rules+model" } else { "model" };
                let reason = match best {
                    Some(b) if b.finding.cause == cause => {
                        format!("{} (weak), supported by the model (p={:.2})", rule_reason(b), prob(model, cause))
                    }
                    _ => format!("the model's choice (p={:.2}); no rule was confident", prob(model, cause)),
                };
                return classification(cause, confidence, reason, method, hosted);
            }
        } else if let Some(best) = best
            && best.score >= MIN_CONFIDENCE
        {
            return classification(
                best.finding.cause,
                best.score,
                format!("{} (weak)", rule_reason(best)),
                "rules",
                hosted,
            );
        }
        let mut reason = match (&self.last_error, best) {
            (_, Some(b)) => format!("no confident rule: the best, {}, scores {:.2}", b.finding.id, b.score),
            (Some(e), None) => format!("no rule recognises the failure; last error at line {}: {}", e.line, e.text),
            (None, None) => format!("no rule recognises anything in {} lines and there is no error line", self.lines),
        };
        if !self.saw_end {
            reason.push_str("; the log has no end marker, it may be truncated");
        }
        let mut out = unknown(reason);
        out.method = if model.is_some() { "rules+model" } else { "rules" }.to_owned();
        out
    }
}

/// A finding with its place in the log and its contest score.
#[derive(Debug)]
struct Scored {
    finding: Finding,
    first_line: u32,
    last_line: u32,
    score: f64,
}

fn classification(cause: Cause, confidence: f64, reason: String, method: &str, hosted: bool) -> Classification {
    Classification {
        cause,
        confidence: confidence.clamp(0.0, 1.0),
        transient: cause.transient_on(hosted),
        findings: Vec::new(),
        reason,
        method: method.to_owned(),
    }
}

fn rule_reason(s: &Scored) -> String {
    let line =
        s.finding.evidence.last().map_or(String::new(), |e| format!(" at line {}: {}", e.line, cut(&e.text, 160)));
    format!("rule {}{line}", s.finding.id)
}

fn prob(model: &[(Cause, f64)], cause: Cause) -> f64 {
    model.iter().find(|(c, _)| *c == cause).map_or(0.0, |(_, p)| *p)
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A line that is mostly control characters or replacement characters (binary read as text).
fn is_garbage(text: &str) -> bool {
    let mut total = 0usize;
    let mut bad = 0usize;
    for c in text.chars() {
        total += 1;
        if c == '\u{FFFD}' || (c.is_control() && c != '\t') {
            bad += 1;
        }
    }
    total > 0 && bad * 10 > total * 3
}
