//! The chunk of a failed log that explains the failure, from that log alone (no passing run).
//!
//! Lines are fed one at a time to an [`Explainer`]; its state is bounded (the blocks kept so far,
//! each capped, a count per line shape, and a few lines of the current section), so a 100 MB log
//! is fine.
//!
//! 1. Each line gets a score from what it says ([`vocab::chunk_score`]): `##[error]`
//!    annotations, the failure vocabulary (error, failed, exception, fatal, panicked, Traceback,
//!    assertion, expected/actual, ...) and tool formats (`error[E0425]`, `npm ERR!`, pytest
//!    `E   `, `--- FAIL`, `[ERROR]`, minitest's `Failure:`, TAP's `not ok`, mocha's `1) `,
//!    `file:line: error`). Lines that say a command failed but not why (exit markers,
//!    `make: ***`, test totals, mocha's `✖ 98/100 passing`, `BUILD FAILED`, npm's boilerplate)
//!    score little; so do progress lines that only name a failed test (pytest's
//!    `tests/a.py::test_b FAILED`), whose runner reports why further on. An end-of-run summary
//!    that a tool offers as its report (xcpretty's `  testName, message` items) scores above the
//!    tool's progress marks (`✗ testName`). Passing tests, package managers' progress lines and
//!    summaries that report zero failures score nothing; warnings and an application's own log
//!    records are capped below a tool's report.
//! 2. The log is cut into sections: a GitHub Actions step, or the output of one Travis command
//!    (`$ make test` ... `The command "make test" exited with 2.`). The first failing-exit
//!    marker names the failing section; Travis' `The command "npm install" failed. Retrying, 2
//!    of 3.` is one too (the first failure is the cause, even when a retry passes and a later
//!    command fails). Without one (a log cut short), the last section is.
//! 3. Inside a section, lines are grouped into blocks: a block opens at a scoring line (with the
//!    less indented line just above it, or above one blank line, which often names the file, test
//!    or suite) and goes on over blank lines, indented lines and stack frames, and over at most
//!    [`GAP`] other lines; it ends there without its trailing unscored lines, or at a wrap-up
//!    line, or at the section's end. A test runner's per-test report header opens a block of its
//!    own that takes every line up to the runner's next header or separator, whatever they look
//!    like (source, locals, YAML diagnostics): pytest's `____ test_x ____` (up to
//!    `---- Captured ... ----` or `==== ... ====`), TAP's `not ok 3` (up to `  ...` or the next
//!    result), PHP `run-tests.php`'s `========DIFF========` (up to its verdict line: with `FAIL`
//!    the block keeps the verdict, with `XFAIL` or `SKIP`, an expected failure, it is dropped).
//!    A summary item closes a block of progress marks.
//! 4. Each block of the failing section is scored (its best line, a little for its other scoring
//!    lines, rarity: a line whose shape occurs many times in the log is noise) and the first
//!    block that is nearly as strong as the strongest (`FIRST_STRONG`; for a per-test report,
//!    which is one failure among several alike, `FIRST_REPORT`) is the chunk: tools report a
//!    failure when it happens and summarise it at the end, and the first report is the cause.
//!    Leading wrap-ups (and the totals and blank lines between them and the first line that says
//!    more) are dropped, and the chunk is cut to [`MAX_CHUNK_LINES`] around its strongest lines.
//!    When nothing in the failing section scores, its last lines are the chunk. When the block
//!    list is full, the weakest older block goes, the latest of equals first, so that the first
//!    of many alike reports stays.
//!
//! Optional [`Hints`] (the shapes of chunks labelled in earlier logs of the same job) add to the
//! score of lines that look like them; without hints the explainer uses nothing but the log.

pub mod vocab;

use std::collections::VecDeque;
use std::hash::Hasher;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use serde::{Deserialize, Serialize};

use crate::line::{LineKind, LogLine};
use vocab::Reason;

/// Unscored, non-continuation lines a block may span before it ends.
pub const GAP: usize = 2;
/// Longest chunk returned.
pub const MAX_CHUNK_LINES: usize = 160;
/// Lines stored per block (a block can go on longer; its stored lines are its first ones).
const MAX_BLOCK_LINES: usize = 160;
/// Blocks kept while reading: the strongest ones, and always the latest ones.
const MAX_BLOCKS: usize = 192;
const KEEP_LATEST_BLOCKS: usize = 32;
/// Distinct line shapes counted for rarity; beyond, new shapes count as seen once.
const MAX_SHAPES: usize = 1 << 18;
/// Text kept per line in a chunk, in bytes.
const MAX_TEXT: usize = 2048;

/// A line of the explanation and why it is there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredLine {
    pub line: LogLine,
    /// The line's own score (0 for context lines).
    pub score: f64,
    pub reason: Reason,
}

/// The chunk that explains a failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Contiguous lines of the log, in order.
    pub lines: Vec<ScoredLine>,
    /// The block's score (0 when nothing in the log looked like a failure).
    pub score: f64,
    /// The step of the first failing-exit marker (`##[error]Process completed with exit code 2.`).
    pub failing_step: Option<Arc<str>>,
    /// Lines read.
    pub total_lines: u32,
}

/// Line shapes learned from labelled chunks of earlier logs of the same job (few-shot).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hints {
    /// Shape key → share of the examples whose chunk has a line of that shape.
    shapes: FxHashMap<u64, f64>,
    /// Leading-token key → share of the examples whose chunk has a line starting that way.
    heads: FxHashMap<u64, f64>,
    examples: u32,
}

impl Hints {
    /// Learns from one labelled chunk (its lines' text).
    pub fn learn<'a>(&mut self, chunk: impl IntoIterator<Item = &'a str>) {
        let mut shapes = FxHashSet::default();
        let mut heads = FxHashSet::default();
        for text in chunk {
            if text.trim().is_empty() {
                continue;
            }
            shapes.insert(shape_key(text));
            heads.insert(head_key(text));
        }
        let n = f64::from(self.examples);
        for w in self.shapes.values_mut().chain(self.heads.values_mut()) {
            *w = *w * n / (n + 1.0);
        }
        for key in shapes {
            *self.shapes.entry(key).or_default() += 1.0 / (n + 1.0);
        }
        for key in heads {
            *self.heads.entry(key).or_default() += 1.0 / (n + 1.0);
        }
        self.examples += 1;
    }

    fn bonus(&self, text: &str) -> f64 {
        if self.examples == 0 || text.trim().is_empty() {
            return 0.0;
        }
        let shape = self.shapes.get(&shape_key(text)).copied().unwrap_or(0.0);
        let head = self.heads.get(&head_key(text)).copied().unwrap_or(0.0);
        4.0 * shape + 2.0 * head
    }
}

/// One line inside a block.
#[derive(Debug, Clone)]
struct Entry {
    line: LogLine,
    base: f64,
    reason: Reason,
    shape: u64,
}

/// A run of lines around scoring lines.
#[derive(Debug, Clone)]
struct Block {
    entries: Vec<Entry>,
    /// Number of the last line that belongs to the block (scoring or continuation).
    last_kept: u32,
    /// Lines since `last_kept` that were neither scoring, blank nor continuations.
    gap: usize,
    best: f64,
    /// The section (step or command) the block is in.
    section: u32,
    /// Opened by a test runner's per-test report header (pytest's `____ test_x ____`): every
    /// line up to the runner's next header or separator belongs to it.
    report: bool,
}

/// The first failing-exit marker and what was seen of its section.
#[derive(Debug, Clone)]
struct Failing {
    step: Option<Arc<str>>,
    /// The section's blocks.
    blocks: Vec<Block>,
    /// The section's last output lines.
    tail: Vec<Entry>,
}

/// The streaming explainer. Feed every line of the log with [`Explainer::push`], then call
/// [`Explainer::finish`].
#[derive(Debug, Default)]
pub struct Explainer {
    hints: Hints,
    open: Option<Block>,
    blocks: VecDeque<Block>,
    shapes: FxHashMap<u64, u32>,
    failing: Option<Failing>,
    total: u32,
    previous_blank: bool,
    /// The current section: a step (GitHub Actions) or a command's output (Travis `$ command`).
    section: u32,
    section_step: Option<Arc<str>>,
    /// The last non-blank output line.
    previous: Option<Entry>,
    /// Inside a multi-line Travis exit marker.
    in_marker: bool,
    /// The current section's last non-blank output lines.
    tail: VecDeque<Entry>,
}

/// Output lines remembered at the end of each section (the chunk when nothing in it scores).
const TAIL_LINES: usize = 8;

impl Explainer {
    pub fn new() -> Self {
        Self::default()
    }

    /// An explainer that also scores lines by their likeness to the chunks in `hints`.
    pub fn with_hints(hints: Hints) -> Self {
        Self { hints, ..Self::default() }
    }

    pub fn push(&mut self, line: &LogLine) {
        self.total = self.total.max(line.number);
        let blank = line.text.trim().is_empty();
        let shape = if blank { 0 } else { shape_key(&line.text) };
        if !blank {
            let known = self.shapes.len() < MAX_SHAPES || self.shapes.contains_key(&shape);
            if known {
                *self.shapes.entry(shape).or_default() += 1;
            }
        }
        // Travis repeats a multi-line command in its exit marker: `The command "bash -c "` ...
        // `" exited with 1.`; the lines between are the command, not output.
        let in_marker = self.in_marker;
        if in_marker || (line.text.starts_with("The command \"") && !vocab::is_failing_exit(&line.text)) {
            let rest = if in_marker { line.text.as_str() } else { line.text.get(13..).unwrap_or_default() };
            self.in_marker = !rest.starts_with('"') && !rest.contains("\" exited") && !rest.contains("\" failed");
            if self.in_marker || !vocab::is_failing_exit(&line.text) {
                self.close();
                // A retried command failed: the first failure, even if a retry passes.
                if !self.in_marker && vocab::is_retry(&line.text) && self.failing.is_none() {
                    self.fail_here(line.step.clone());
                }
                return;
            }
        }
        let structure = vocab::is_ci_structure(&line.text);
        if line.step != self.section_step || (line.step.is_none() && vocab::is_command_echo(&line.text)) {
            self.close();
            self.section += 1;
            self.section_step = line.step.clone();
            self.tail.clear();
        }
        let (mut base, reason) = vocab::chunk_score(line);
        if reason == Reason::ExitCode && self.failing.is_none() {
            self.close();
            self.fail_here(line.step.clone());
        }
        base += self.hints.bonus(&line.text);
        let continuation =
            !blank && vocab::continues_report(&line.text, self.previous_blank) && !vocab::is_passing(&line.text);
        // Exit markers say a step failed, not why: they neither open nor extend a block.
        let telling = base > 0.0 && reason != Reason::ExitCode;
        self.previous_blank = blank;
        let entry = || Entry { line: truncated(line), base, reason, shape };
        let previous = if blank { None } else { self.previous.take() };
        if !blank && !structure && reason != Reason::ExitCode {
            self.previous = Some(entry());
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(entry());
        }
        if structure || reason == Reason::ExitCode {
            self.close();
            return;
        }

        // A wrap-up or boilerplate line ends a report: it closes the block it follows.
        let wrap_up = matches!(reason, Reason::Boilerplate);
        if wrap_up && self.open.as_ref().is_some_and(|b| b.best > base && !b.report) {
            self.close();
        }
        // A tool's end-of-run summary is a report of its own, apart from its progress lines.
        if vocab::is_summary_item(&line.text) && self.open.as_ref().is_some_and(|b| b.best < base) {
            self.close();
        }
        // A test runner's per-test report runs from its header to the next header or separator.
        let header = vocab::is_report_header(&line.text);
        if header || (self.open.as_ref().is_some_and(|b| b.report) && vocab::is_report_separator(&line.text)) {
            self.close();
        }
        // A verdict ends the report above it: an expected failure (`XFAIL`) was no failure.
        if let Some(verdict) = vocab::test_verdict(&line.text)
            && self.open.as_ref().is_some_and(|b| b.report)
        {
            match verdict {
                vocab::Verdict::Expected => self.open = None,
                vocab::Verdict::Failed => {
                    if let Some(block) = self.open.as_mut() {
                        if block.entries.len() < MAX_BLOCK_LINES {
                            block.entries.push(entry());
                        }
                        block.last_kept = line.number;
                        block.best = block.best.max(base);
                    }
                    self.close();
                }
            }
            return;
        }
        if let Some(block) = self.open.as_mut() {
            if telling || continuation || blank || block.report {
                if block.entries.len() < MAX_BLOCK_LINES {
                    block.entries.push(entry());
                }
                if !blank {
                    block.last_kept = line.number;
                    block.gap = 0;
                }
                block.best = block.best.max(base);
                return;
            }
            if block.gap < GAP && line.kind != LineKind::Group {
                block.gap += 1;
                if block.entries.len() < MAX_BLOCK_LINES {
                    block.entries.push(entry());
                }
                return;
            }
            self.close();
        }
        if telling {
            // The line just above a report often names what failed (a file, a test) without
            // failure words: it belongs to the report when it is less indented.
            let mut entries = Vec::with_capacity(8);
            if let Some(previous) = previous
                && line.number <= previous.line.number + 2
                && previous.base <= 0.0
                && indent(&previous.line.text) < indent(&line.text)
            {
                entries.push(previous);
            }
            entries.push(entry());
            self.open = Some(Block {
                entries,
                last_kept: line.number,
                gap: 0,
                best: base,
                section: self.section,
                report: header,
            });
        }
    }

    /// Records the current section as the failing one.
    fn fail_here(&mut self, step: Option<Arc<str>>) {
        let section = self.section;
        self.failing = Some(Failing {
            step,
            blocks: self.blocks.iter().filter(|b| b.section == section).cloned().collect(),
            tail: self.tail.iter().cloned().collect(),
        });
    }

    /// Ends the open block and keeps the block list bounded.
    fn close(&mut self) {
        let Some(mut block) = self.open.take() else { return };
        while block.entries.last().is_some_and(|e| e.line.number > block.last_kept) {
            block.entries.pop();
        }
        self.blocks.push_back(block);
        if self.blocks.len() > MAX_BLOCKS {
            let old = self.blocks.len() - KEEP_LATEST_BLOCKS;
            if let Some((weakest, _)) = self
                .blocks
                .iter()
                .take(old)
                .enumerate()
                .min_by(|a, b| a.1.best.total_cmp(&b.1.best).then(b.0.cmp(&a.0)))
            {
                self.blocks.remove(weakest);
            }
        }
    }

    /// How common a shape is in this log, as a factor on a line's score (1 for a unique line).
    fn rarity(&self, shape: u64) -> f64 {
        let count = self.shapes.get(&shape).copied().unwrap_or(1).max(1);
        1.0 / (1.0 + 0.35 * f64::from(count).ln())
    }

    /// A block's strength: its best line, and a little for its other scoring lines.
    fn block_score(&self, block: &Block) -> f64 {
        let mut best = 0.0_f64;
        let mut sum = 0.0;
        for e in &block.entries {
            let s = e.base * self.rarity(e.shape);
            best = best.max(s);
            sum += s.max(0.0);
        }
        best + 0.4 * (1.0 + sum - best).ln()
    }

    pub fn finish(mut self) -> Explanation {
        self.close();
        let failing_step = self.failing.as_ref().and_then(|f| f.step.clone());
        // The failing section's reports; without a failing-exit marker (a log cut short, a CI
        // system that prints none), the last section's. When nothing in the failing section
        // scores, its last lines are the chunk (a linter's plain `file:12: line too long`).
        let (candidates, tail): (Vec<&Block>, Vec<&Entry>) = match &self.failing {
            Some(f) => (f.blocks.iter().collect(), f.tail.iter().collect()),
            None => (self.blocks.iter().filter(|b| b.section == self.section).collect(), Vec::new()),
        };
        let scored: Vec<(f64, &Block)> = candidates.into_iter().map(|b| (self.block_score(b), b)).collect();
        let strongest = scored.iter().map(|s| s.0).fold(0.0_f64, f64::max);
        // The first strong report: tools report failures as they happen, and the first is the cause.
        // A test runner's per-test report is one failure among several alike: the first is it.
        let share = |b: &Block| if b.report { FIRST_REPORT } else { FIRST_STRONG };
        let best = scored.into_iter().find(|s| s.0 >= share(s.1) * strongest);
        let Some((score, block)) = best else {
            let lines: Vec<ScoredLine> = tail
                .iter()
                .rev()
                .take(FALLBACK_LINES)
                .rev()
                .map(|e| ScoredLine { line: e.line.clone(), score: e.base.max(0.0), reason: e.reason })
                .collect();
            return Explanation { lines, score: 0.0, failing_step, total_lines: self.total };
        };
        // A wrap-up that opened the block (`rake aborted!`) gives way to the message after it.
        // So do the totals and blank lines between wrap-ups and the first report line
        // (mocha's `✖ 3/5 passing`, `2 failing`, then `1) suite`).
        let lead = lead_len(&block.entries);
        let entries = if lead < block.entries.len() { &block.entries[lead..] } else { &block.entries[..] };
        let entries = trim_window(entries, |e| e.base * self.rarity(e.shape));
        let lines = entries
            .iter()
            .map(|e| ScoredLine { line: e.line.clone(), score: e.base.max(0.0), reason: e.reason })
            .collect();
        Explanation { lines, score, failing_step, total_lines: self.total }
    }
}

/// A block is strong when its score is at least this share of the strongest block's; the first
/// strong block of the failing section is the chunk.
const FIRST_STRONG: f64 = 0.9;
/// The same share for a block that is a test runner's per-test report.
const FIRST_REPORT: f64 = 0.7;
/// Lines returned from the end of the failing section when nothing in it scores.
const FALLBACK_LINES: usize = 2;

/// Entries at the start of a block that wrap up rather than report: leading wrap-up lines, and
/// when wrap-ups come before the first line that says more, everything up to the last of them
/// and the blank lines after it.
fn lead_len(entries: &[Entry]) -> usize {
    let mut lead = entries.iter().take_while(|e| e.reason == Reason::Boilerplate).count();
    let first_telling = entries.iter().position(|e| e.base > vocab::WRAP_UP_SCORE && e.reason != Reason::Boilerplate);
    if let Some(first) = first_telling
        && let Some(last_wrap_up) = entries[..first].iter().rposition(|e| e.reason == Reason::Boilerplate)
    {
        lead = lead.max(last_wrap_up + 1);
        lead += entries[lead..first].iter().take_while(|e| e.line.text.trim().is_empty()).count();
    }
    lead
}

/// The [`MAX_CHUNK_LINES`] consecutive entries with the highest total score.
fn trim_window(entries: &[Entry], score: impl Fn(&Entry) -> f64) -> &[Entry] {
    let max_chunk = MAX_CHUNK_LINES;
    if entries.len() <= max_chunk {
        return entries;
    }
    let scores: Vec<f64> = entries.iter().map(|e| score(e).max(0.0)).collect();
    let mut sum: f64 = scores[..max_chunk].iter().sum();
    let (mut best, mut at) = (sum, 0);
    for start in 1..=entries.len() - max_chunk {
        sum += scores[start + max_chunk - 1] - scores[start - 1];
        if sum > best + 1e-9 {
            (best, at) = (sum, start);
        }
    }
    &entries[at..at + max_chunk]
}

/// Leading whitespace of a line, in bytes.
fn indent(text: &str) -> usize {
    text.len() - text.trim_start().len()
}

/// Explains a whole log already in memory.
pub fn explain<'a>(lines: impl IntoIterator<Item = &'a LogLine>) -> Explanation {
    let mut explainer = Explainer::new();
    for line in lines {
        explainer.push(line);
    }
    explainer.finish()
}

fn truncated(line: &LogLine) -> LogLine {
    let mut line = line.clone();
    if line.text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !line.text.is_char_boundary(cut) {
            cut -= 1;
        }
        line.text.truncate(cut);
    }
    line
}

/// A line's shape: its text with digit runs and hex-looking words collapsed, hashed. Lines that
/// differ only in numbers, hashes or timings share a shape.
pub fn shape_key(text: &str) -> u64 {
    let mut hasher = FxHasher::default();
    for word in text.split_whitespace() {
        if word.len() >= 7 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
            hasher.write_u8(b'#');
        } else {
            let mut in_digits = false;
            for b in word.bytes() {
                if b.is_ascii_digit() {
                    if !in_digits {
                        hasher.write_u8(b'0');
                    }
                    in_digits = true;
                } else {
                    in_digits = false;
                    hasher.write_u8(b);
                }
            }
        }
        hasher.write_u8(b' ');
    }
    hasher.finish()
}

/// The shape of a line's first two words (how a tool starts the lines of its failure report).
fn head_key(text: &str) -> u64 {
    let head: Vec<&str> = text.split_whitespace().take(2).collect();
    shape_key(&head.join(" "))
}
