//! A failed log against the passing runs of the same job: the lines whose templates never or
//! rarely occur when the job is green, ranked, with context and their step.
//!
//! A [`PassingProfile`] holds a template miner trained on the passing runs and, per template, in
//! how many of those runs it occurs. It serialises and merges, so the logscan function keeps one
//! per job and updates it after each green run. [`diff`] matches every line of the failed log
//! against the profile (without learning from it): a line whose template occurs in at most
//! [`DiffConfig::rare_share`] of the passing runs is new. New lines that follow each other (blank
//! lines and up to [`DiffConfig::bridge`] known lines between them allowed) form one hit; hits are
//! ranked by the novelty of their lines weighted by what those lines say
//! ([`explain::vocab`](crate::explain::vocab)), and only the best [`DiffConfig::max_hits`] are kept.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::explain::vocab::line_score;
use crate::line::LogLine;
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
    pub fn learn<'a>(&mut self, lines: impl IntoIterator<Item = &'a LogLine>) {
        let mut seen: Vec<TemplateId> = Vec::new();
        for line in lines {
            if line.text.trim().is_empty() {
                continue;
            }
            seen.push(self.miner.insert(&line.text));
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
    /// Hits returned at most.
    pub max_hits: usize,
    /// Lines of a hit kept at most (its first ones, and the strongest line).
    pub max_hit_lines: usize,
    /// Context lines before and after each hit.
    pub context: usize,
}

impl Default for DiffConfig {
    fn default() -> Self {
        Self { rare_share: 0.2, bridge: 1, max_hits: 8, max_hit_lines: 2500, context: 1 }
    }
}

/// A run of new lines in the failed log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffHit {
    /// The strongest line of the hit.
    pub line: LogLine,
    /// The hit's lines in order (new lines, and the blank or known lines it bridges).
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

/// The lines of `failed` whose templates never or rarely occur in the passing runs, grouped into
/// hits, best first.
pub fn diff(profile: &PassingProfile, failed: &[LogLine], config: &DiffConfig) -> Vec<DiffHit> {
    // Per line: Some(weight) when new, None when known or blank.
    let weights: Vec<Option<f64>> = failed
        .iter()
        .map(|line| {
            if line.text.trim().is_empty() {
                return None;
            }
            let share = profile.seen_share(&line.text);
            (share <= config.rare_share).then(|| (1.0 - share) * (1.0 + line_score(line).0))
        })
        .collect();
    let mut hits: Vec<(usize, usize, f64, usize)> = Vec::new(); // (first, last, score, best index)
    let mut i = 0;
    while i < failed.len() {
        let Some(w) = weights[i] else {
            i += 1;
            continue;
        };
        let (first, mut last, mut score, mut best, mut best_w) = (i, i, w, i, w);
        let mut j = i + 1;
        let mut known = 0;
        while j < failed.len() {
            match weights[j] {
                Some(w) => {
                    last = j;
                    score += w;
                    known = 0;
                    if w > best_w {
                        (best, best_w) = (j, w);
                    }
                }
                None if failed[j].text.trim().is_empty() => {}
                None => {
                    known += 1;
                    if known > config.bridge {
                        break;
                    }
                }
            }
            j += 1;
        }
        // A hit is as strong as its best line plus a little for its length.
        hits.push((first, last, best_w + (score - best_w).max(0.0).sqrt(), best));
        i = last + 1;
    }
    hits.sort_by(|a, b| b.2.total_cmp(&a.2).then(b.0.cmp(&a.0)));
    hits.truncate(config.max_hits);
    hits.into_iter()
        .map(|(first, last, score, best)| {
            let end = (last + 1).min(first + config.max_hit_lines);
            let mut lines: Vec<LogLine> = failed[first..end].to_vec();
            if best >= end {
                lines.push(failed[best].clone());
            }
            DiffHit {
                line: failed[best].clone(),
                lines,
                score,
                context_before: failed[first.saturating_sub(config.context)..first].to_vec(),
                context_after: failed[end..(end + config.context).min(failed.len())].to_vec(),
                step: failed[first].step.clone(),
            }
        })
        .collect()
}
