//! The chunk of a failed log that explains the failure, from that log alone (no passing run).
//!
//! Lines are fed one at a time to an [`Explainer`]; its state is bounded (the blocks kept so far,
//! each capped, and a count per line shape), so a 100 MB log is fine.
//!
//! 1. Each line gets a base score from what it says ([`vocab`]): `##[error]` annotations, the
//!    failure vocabulary (error, failed, exception, fatal, panicked, Traceback, assertion, ...) and
//!    tool patterns (`error[E0425]`, `npm ERR!`, pytest `E   `, `--- FAIL`, `[ERROR]`,
//!    `FAILURE:`, `make: ***`, `file:line: error`). Low-information lines (`Process completed
//!    with exit code 1.`, npm's boilerplate) score little, and summary lines that report zero
//!    failures score nothing.
//! 2. Lines are grouped into blocks: a block opens at a scoring line and goes on over blank
//!    lines, indented lines and stack frames, and over at most [`GAP`] other lines; it ends after
//!    that, without its trailing unscored lines.
//! 3. When the log ends, each block is scored: its best line, a little for its other scoring
//!    lines, rarity (a line whose shape occurs many times in this log is noise), position (the
//!    end of the log, and the lines just before the first failing-exit marker, where the failing
//!    step stops), then the best block is returned, cut to [`MAX_CHUNK_LINES`] around its
//!    strongest lines.
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
use vocab::{Reason, line_score};

/// Unscored, non-continuation lines a block may span before it ends.
pub const GAP: usize = 2;
/// Longest chunk returned.
pub const MAX_CHUNK_LINES: usize = 40;
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
}

impl Block {
    fn first(&self) -> u32 {
        self.entries.first().map_or(0, |e| e.line.number)
    }
}

/// The streaming explainer. Feed every line of the log with [`Explainer::push`], then call
/// [`Explainer::finish`].
#[derive(Debug, Default)]
pub struct Explainer {
    hints: Hints,
    open: Option<Block>,
    blocks: VecDeque<Block>,
    shapes: FxHashMap<u64, u32>,
    /// The first failing-exit marker: its line number and step.
    failing: Option<(u32, Option<Arc<str>>)>,
    total: u32,
    previous_blank: bool,
}

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
        let (mut base, reason) = line_score(line);
        if reason == Reason::ExitCode && self.failing.is_none() {
            self.failing = Some((line.number, line.step.clone()));
        }
        base += self.hints.bonus(&line.text);
        let continuation = !blank && vocab::is_continuation(&line.text, self.previous_blank);
        // Exit markers and boilerplate say a step failed, not why: they neither open nor extend a block.
        let telling = base > 0.0 && !matches!(reason, Reason::ExitCode | Reason::Boilerplate);
        self.previous_blank = blank;
        let entry = || Entry { line: truncated(line), base, reason, shape };

        if let Some(block) = self.open.as_mut() {
            let same_step = block.entries.first().is_none_or(|e| e.line.step == line.step);
            if same_step && (telling || continuation || blank) {
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
            if same_step && block.gap < GAP && line.kind != LineKind::Group {
                block.gap += 1;
                if block.entries.len() < MAX_BLOCK_LINES {
                    block.entries.push(entry());
                }
                return;
            }
            self.close();
        }
        if telling {
            self.open = Some(Block { entries: vec![entry()], last_kept: line.number, gap: 0, best: base });
        }
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
            if let Some((weakest, _)) =
                self.blocks.iter().take(old).enumerate().min_by(|a, b| a.1.best.total_cmp(&b.1.best))
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

    fn block_score(&self, block: &Block) -> f64 {
        let mut best = 0.0_f64;
        let mut sum = 0.0;
        for e in &block.entries {
            let s = e.base * self.rarity(e.shape);
            best = best.max(s);
            sum += s.max(0.0);
        }
        let total = f64::from(self.total.max(1));
        let position = f64::from(block.last_kept) / total;
        let mut score = best + 0.4 * (1.0 + sum - best).ln() + 1.5 * position.powi(3);
        if let Some((marker, step)) = &self.failing {
            if block.last_kept < *marker {
                let distance = f64::from(marker - block.last_kept);
                let same_step = step.is_some() && block.entries.first().is_some_and(|e| &e.line.step == step);
                score += if same_step { 1.5 } else { 1.5 * (1.0 - distance / 300.0).max(0.0) };
            } else if block.first() > *marker {
                score *= 0.6;
            }
        }
        score
    }

    pub fn finish(mut self) -> Explanation {
        self.close();
        let failing_step = self.failing.as_ref().and_then(|(_, s)| s.clone());
        let best = self
            .blocks
            .iter()
            .map(|b| (self.block_score(b), b))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.last_kept.cmp(&b.1.last_kept)));
        let Some((score, block)) = best else {
            return Explanation { lines: Vec::new(), score: 0.0, failing_step, total_lines: self.total };
        };
        let entries = trim_window(&block.entries, |e| e.base * self.rarity(e.shape));
        let lines = entries
            .iter()
            .map(|e| ScoredLine { line: e.line.clone(), score: e.base.max(0.0), reason: e.reason })
            .collect();
        Explanation { lines, score, failing_step, total_lines: self.total }
    }
}

/// The [`MAX_CHUNK_LINES`] consecutive entries with the highest total score.
fn trim_window(entries: &[Entry], score: impl Fn(&Entry) -> f64) -> &[Entry] {
    if entries.len() <= MAX_CHUNK_LINES {
        return entries;
    }
    let scores: Vec<f64> = entries.iter().map(|e| score(e).max(0.0)).collect();
    let mut sum: f64 = scores[..MAX_CHUNK_LINES].iter().sum();
    let (mut best, mut at) = (sum, 0);
    for start in 1..=entries.len() - MAX_CHUNK_LINES {
        sum += scores[start + MAX_CHUNK_LINES - 1] - scores[start - 1];
        if sum > best + 1e-9 {
            (best, at) = (sum, start);
        }
    }
    &entries[at..at + MAX_CHUNK_LINES]
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
