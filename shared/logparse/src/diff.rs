//! A failed log against the passing runs of the same job: the lines whose templates never or
//! rarely occur when the job is green, ranked, with context and their step.
//!
//! A [`PassingProfile`] holds a template miner trained on the passing runs and, per template, in
//! how many of those runs it occurs. It serialises and merges, so the logscan function keeps one
//! per job and updates it after each green run. [`diff`] matches every line of the failed log
//! against the profile (without learning from it): a line whose template occurs in at most
//! [`DiffConfig::rare_share`] of the passing runs is new. The output is every new line that says
//! something, not the top few:
//!
//! - New lines that are noise (progress and download output, new only because the failed run
//!   fetched something the passing run had cached) or verdicts (`BUILD FAILURE`,
//!   `Finished: FAILURE`, `Process completed with exit code 1`, a build tool's generic "try
//!   --stacktrace" advice, the CI system's post-build bookkeeping) neither start nor extend a hit:
//!   they say that the build failed, not why.
//! - The other new lines that follow each other (blank lines and up to [`DiffConfig::bridge`]
//!   known lines between them allowed) form one hit. After a new line, a hit also takes the known
//!   lines that continue its report (stack frames, indented detail, lines with failure vocabulary;
//!   up to [`DiffConfig::extend`]): a stack trace whose frames the passing run printed too (a
//!   retried fetch, a test that logs an expected exception) is still part of the new report.
//! - A hit is kept when one of its new lines has failure vocabulary
//!   ([`line_score`] ≥ [`DiffConfig::min_line_score`]) and not all its new lines are warnings, or
//!   when it ends in the last [`DiffConfig::tail`] lines of the log. New lines without vocabulary
//!   far from the end (a new module in a reactor list, another commit message) are dropped.
//! - Hits are ranked by the novelty of their lines weighted by what those lines say
//!   ([`explain::vocab`](crate::explain::vocab)); at most [`DiffConfig::max_hits`] are returned,
//!   each cut to [`DiffConfig::max_hit_lines`], with [`DiffConfig::context`] lines around it.
//!
//! On CiDiff's pass/fail pairs (`aetherveil eval cidiff`) this shows the failure lines of the
//! ground truth (mean recall 0.91) with 65% fewer lines than an LCS diff in the median case.

use std::borrow::Borrow;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::explain::vocab::{is_continuation, line_score};
use crate::line::{LineKind, LogLine};
use crate::miner::{Miner, MinerConfig, TemplateId};

/// What the passing runs of one job look like.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PassingProfile {
    miner: Miner,
    /// Template → number of passing runs whose log has it.
    runs_with: FxHashMap<TemplateId, u32>,
    runs: u32,
}

impl Default for PassingProfile {
    fn default() -> Self {
        Self { miner: Miner::new(MinerConfig::default()), runs_with: FxHashMap::default(), runs: 0 }
    }
}

impl PassingProfile {
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns one passing run's log.
    pub fn learn(&mut self, lines: impl IntoIterator<Item = impl Borrow<LogLine>>) {
        let mut seen: Vec<TemplateId> = Vec::new();
        for line in lines {
            let line = line.borrow();
            if line.text.trim().is_empty() {
                continue;
            }
            seen.push(self.miner.insert(&line.text));
        }
        self.resolve_ids();
        for id in &mut seen {
            *id = self.miner.resolve(*id);
        }
        seen.sort_unstable();
        seen.dedup();
        for id in seen {
            *self.runs_with.entry(id).or_default() += 1;
        }
        self.runs += 1;
    }

    /// Adds the runs another profile of the same job has learned.
    pub fn merge(&mut self, other: &PassingProfile) {
        let mapping = self.miner.merge(&other.miner);
        for (theirs, count) in &other.runs_with {
            if let Some(ours) = mapping.get(theirs) {
                *self.runs_with.entry(*ours).or_default() += count;
            }
        }
        self.runs += other.runs;
        self.resolve_ids();
    }

    /// Keys the run counts by the miner's current ids: templates it has merged since pool their
    /// runs (at most all of them).
    fn resolve_ids(&mut self) {
        if self.runs_with.keys().all(|id| self.miner.resolve(*id) == *id) {
            return;
        }
        for (id, runs) in std::mem::take(&mut self.runs_with) {
            let pooled = self.runs_with.entry(self.miner.resolve(id)).or_default();
            *pooled = (*pooled + runs).min(self.runs.max(runs));
        }
    }

    /// Passing runs learned.
    pub fn runs(&self) -> u32 {
        self.runs
    }

    /// Share of the passing runs whose log has a line of this line's template (0 when none has).
    pub fn seen_share(&self, text: &str) -> f64 {
        if self.runs == 0 {
            return 0.0;
        }
        let count = self.miner.match_line(text).and_then(|id| self.runs_with.get(&id)).copied().unwrap_or(0);
        (f64::from(count) / f64::from(self.runs)).min(1.0)
    }
}

/// Limits of a diff; one configuration for every job.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DiffConfig {
    /// A template seen in at most this share of the passing runs counts as new.
    pub rare_share: f64,
    /// Known lines a hit may bridge between two new lines.
    pub bridge: usize,
    /// Known lines that continue the report of a hit (stack frames, indented detail, lines that
    /// score on their own) a hit is extended over after a new line, at most.
    pub extend: usize,
    /// A hit is kept when one of its new lines that is not a warning scores at least this
    /// ([`line_score`]: failure vocabulary), or when it ends in the last [`DiffConfig::tail`]
    /// lines of the log.
    pub min_line_score: f64,
    /// Lines at the end of the log where every hit is kept.
    pub tail: usize,
    /// Hits returned at most.
    pub max_hits: usize,
    /// Lines of a hit kept at most (its first ones, and the strongest line).
    pub max_hit_lines: usize,
    /// Context lines before and after each hit.
    pub context: usize,
}

impl Default for DiffConfig {
    fn default() -> Self {
        Self {
            rare_share: 0.2,
            bridge: 1,
            extend: 60,
            min_line_score: 1.5,
            tail: 10,
            max_hits: 20,
            max_hit_lines: 2500,
            context: 1,
        }
    }
}

/// A run of new lines in the failed log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffHit {
    /// The strongest line of the hit.
    pub line: LogLine,
    /// The hit's lines in order (new lines, the blank or known lines it bridges, and the known
    /// lines that continue its report).
    pub lines: Vec<LogLine>,
    /// Novelty times what the lines say; hits are returned by decreasing score.
    pub score: f64,
    pub context_before: Vec<LogLine>,
    pub context_after: Vec<LogLine>,
    /// The step of the hit's first line.
    pub step: Option<Arc<str>>,
}

impl DiffHit {
    /// Every line shown for this hit: context before, the hit, context after.
    pub fn shown(&self) -> impl Iterator<Item = &LogLine> {
        self.context_before.iter().chain(&self.lines).chain(&self.context_after)
    }
}

/// Progress and download output: new in a failed run only because that run fetched or counted
/// something differently (a cold cache, another mirror), never the reason for a failure.
static NOISE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i-u:^\s*(\[INFO\]\s*)?(Download(ing|ed)?\b|Progress\b|Receiving objects|Resolving deltas|",
        r"(remote: )?(Counting|Compressing|Enumerating) objects|Unpacking objects|Updating files|",
        r"Fetching\b|Extracting\b|Pulling fs layer|Pull complete|Verifying Checksum|Download complete|",
        r"Waiting\b|Already exists|Collecting\b|Using cached\b|Get:\d|Hit:\d|Ign:\d))",
        r"|\d{1,3}(\.\d+)?%|[=#]{6,}|[█▓▒░■]"
    ))
    .ok()
});

/// Lines that say that a build or a step failed (or passed), not why: the verdict is already
/// known; the reason is in the lines around it. Also the CI system's own bookkeeping after a
/// build and build tools' generic advice.
static VERDICT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^\s*(\[INFO\] )?BUILD (FAILURE|FAILED|SUCCESS|SUCCESSFUL)\b|^Finished: [A-Z]+$|",
        r"^FAILURE: Build( completed with \d+ failures| failed with an exception)\.?$|",
        r"^(##\[error\])?Process completed with exit code \d+\.?$|^\[INFO\] .* \.{3,} ?(FAILURE|SKIPPED|SUCCESS)\b|",
        r"^Sending e-mails to\b|^Archiving artifacts$|^\[WS-CLEANUP\]|^ > git |",
        r"^\* (Try|Get more help at)\b|^> Run with --(stacktrace|info|debug|scan)\b"
    ))
    .ok()
});

/// Warnings: a hit made only of warnings is not what failed the build.
static WARNING: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i-u)^\s*(\[WARN(ING)?\]|WARN(ING)?\b|warning:)").ok());

/// What the diff knows about one line of the failed log.
struct Facts {
    blank: bool,
    /// New, and neither noise nor a verdict: may start or extend a hit.
    seed: bool,
    /// A warning.
    warning: bool,
    /// Noise or a verdict: neither starts nor extends a hit (it may be bridged).
    boring: bool,
    /// What the line says ([`line_score`]).
    score: f64,
    /// Novelty times what the line says.
    weight: f64,
}

fn facts(profile: &PassingProfile, line: &LogLine, config: &DiffConfig) -> Facts {
    if line.text.trim().is_empty() {
        return Facts { blank: true, seed: false, warning: false, boring: false, score: 0.0, weight: 0.0 };
    }
    let score = line_score(line).0;
    let share = profile.seen_share(&line.text);
    let new = share <= config.rare_share;
    let text = line.text.as_str();
    let noise = score < 1.0 && NOISE.as_ref().is_some_and(|r| r.is_match(text));
    let verdict = VERDICT.as_ref().is_some_and(|r| r.is_match(text));
    let warning = line.kind == LineKind::Warning || WARNING.as_ref().is_some_and(|r| r.is_match(text));
    let boring = noise || verdict;
    Facts { blank: false, seed: new && !boring, warning, boring, score, weight: (1.0 - share) * (1.0 + score) }
}

impl Facts {
    /// What the line says about a failure: nothing when it is a warning.
    fn error_score(&self) -> f64 {
        if self.warning { 0.0 } else { self.score }
    }
}

/// A hit being built: a range of the failed log.
#[derive(Debug, Clone, Copy)]
struct Span {
    first: usize,
    last: usize,
    /// The strongest new line and its weight.
    best: usize,
    best_weight: f64,
    /// Sum of the weights of the new lines.
    weights: f64,
    /// Highest [`line_score`] of a new line that is not a warning.
    best_score: f64,
}

impl Span {
    fn new(i: usize, f: &Facts) -> Self {
        Self { first: i, last: i, best: i, best_weight: f.weight, weights: f.weight, best_score: f.error_score() }
    }

    fn add(&mut self, i: usize, f: &Facts) {
        self.last = i;
        self.weights += f.weight;
        self.best_score = self.best_score.max(f.error_score());
        if f.weight > self.best_weight {
            (self.best, self.best_weight) = (i, f.weight);
        }
    }

    /// A hit is as strong as its best line plus a little for its length.
    fn score(&self) -> f64 {
        self.best_weight + (self.weights - self.best_weight).max(0.0).sqrt()
    }
}

/// Whether a known line continues the report of the hit above it.
fn continues_report(failed: &[LogLine], facts: &[Facts], j: usize) -> bool {
    let previous_blank = j > 0 && facts[j - 1].blank;
    !facts[j].boring && (facts[j].score >= 1.5 || is_continuation(&failed[j].text, previous_blank))
}

/// The lines of `failed` whose templates never or rarely occur in the passing runs, grouped into
/// hits, best first.
pub fn diff(profile: &PassingProfile, failed: &[LogLine], config: &DiffConfig) -> Vec<DiffHit> {
    let facts: Vec<Facts> = failed.iter().map(|line| facts(profile, line, config)).collect();
    let mut spans: Vec<Span> = Vec::new();
    let mut i = 0;
    while i < failed.len() {
        if !facts[i].seed {
            i += 1;
            continue;
        }
        let mut span = Span::new(i, &facts[i]);
        let (mut gap, mut extended) = (0, 0);
        for j in i + 1..failed.len() {
            let f = &facts[j];
            if f.blank {
                continue;
            }
            if f.seed {
                span.add(j, f);
                (gap, extended) = (0, 0);
            } else if gap == 0 && extended < config.extend && continues_report(failed, &facts, j) {
                span.last = j;
                extended += 1;
            } else {
                gap += 1;
                if gap > config.bridge {
                    break;
                }
            }
        }
        spans.push(span);
        i = span.last + 1;
    }
    let tail_start = failed.len().saturating_sub(config.tail);
    spans.retain(|s| s.best_score >= config.min_line_score || s.last >= tail_start);
    spans.sort_by(|a, b| b.score().total_cmp(&a.score()).then(b.first.cmp(&a.first)));
    spans.truncate(config.max_hits);
    spans
        .into_iter()
        .map(|span| {
            let Span { first, last, best, .. } = span;
            let end = (last + 1).min(first + config.max_hit_lines);
            let mut lines: Vec<LogLine> = failed[first..end].to_vec();
            if best >= end {
                lines.push(failed[best].clone());
            }
            DiffHit {
                line: failed[best].clone(),
                lines,
                score: span.score(),
                context_before: failed[first.saturating_sub(config.context)..first].to_vec(),
                context_after: failed[end..(end + config.context).min(failed.len())].to_vec(),
                step: failed[first].step.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile_and_match_what_they_name() {
        let noise = NOISE.as_ref().expect("noise pattern");
        let verdict = VERDICT.as_ref().expect("verdict pattern");
        let warning = WARNING.as_ref().expect("warning pattern");
        assert!(noise.is_match("Downloaded from central: https://repo.example.org/a.pom (2 kB at 4 kB/s)"));
        assert!(noise.is_match("Receiving objects:  97% (268/276)"));
        assert!(noise.is_match(" 50% |██████████      |"));
        assert!(!noise.is_match("Tests run: 4, Failures: 1"));
        assert!(verdict.is_match("[INFO] BUILD FAILURE"));
        assert!(verdict.is_match("Finished: FAILURE"));
        assert!(verdict.is_match("Process completed with exit code 1."));
        assert!(!verdict.is_match("[ERROR] Failed to execute goal"));
        assert!(warning.is_match("[WARNING] Could not transfer metadata"));
        assert!(warning.is_match("warning: unused variable `x`"));
        assert!(!warning.is_match("error: could not compile"));
    }
}
