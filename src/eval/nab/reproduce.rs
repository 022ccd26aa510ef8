//! Checking our scorer against NAB's published results: a published detector's per-row anomaly
//! scores (`results/<det>/<group>/<det>_<file>.csv`), scored at its published thresholds
//! (`config/thresholds.json`), must give its published per-file raw scores
//! (`results/<det>/<det>_<profile>_scores.csv`).

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::corpus::{self, Corpus};
use super::scorer::{FileScore, Sweep, normalise};

/// One file, one profile: our score against the published one.
#[derive(Debug, Clone)]
pub struct FileCheck {
    pub file: String,
    pub ours: FileScore,
    pub published: corpus::PublishedFileScore,
    /// Largest difference between our per-row contributions and the published `S(t)_<profile>`
    /// column (0 when the column is absent).
    pub row_deviation: f64,
}

impl FileCheck {
    /// Absolute difference of the raw scores.
    pub fn deviation(&self) -> f64 {
        (self.ours.score - self.published.score).abs()
    }

    /// Deviation relative to the published score (absolute below a score of 1, where a ratio says nothing).
    pub fn relative_deviation(&self) -> f64 {
        self.deviation() / self.published.score.abs().max(1.0)
    }

    /// Whether the detection counts agree exactly.
    pub fn counts_match(&self) -> bool {
        let (o, p) = (&self.ours, &self.published);
        (o.tp, o.tn, o.fp, o.fn_) == (p.tp, p.tn, p.fp, p.fn_)
    }
}

/// One profile over every file present.
#[derive(Debug, Clone)]
pub struct ProfileCheck {
    pub profile: String,
    pub threshold: f64,
    pub files: Vec<FileCheck>,
    pub ours_total: f64,
    pub published_total: f64,
    /// Normalised score over the files present, from our totals and from the published ones.
    pub ours_normalised: f64,
    pub published_normalised: f64,
}

impl ProfileCheck {
    pub fn worst(&self) -> Option<&FileCheck> {
        self.files.iter().max_by(|a, b| a.relative_deviation().total_cmp(&b.relative_deviation()))
    }
}

/// Score `detector`'s published rows with our scorer, for every profile and every file present that
/// has published rows. Files without published rows are skipped (listed in the second value).
pub fn check_published(corpus: &Corpus, detector: &str) -> Result<(Vec<ProfileCheck>, Vec<String>)> {
    let thresholds = corpus::read_thresholds(&corpus.root)?;
    let thresholds =
        thresholds.get(detector).with_context(|| format!("config/thresholds.json has no detector {detector}"))?;
    let mut rows = BTreeMap::new();
    let mut skipped = Vec::new();
    for s in &corpus.series {
        match corpus::published_rows_path(&corpus.root, detector, &s.name).filter(|p| p.is_file()) {
            Some(path) => {
                let published = corpus::read_published_rows(&path, &corpus.profiles)?;
                anyhow::ensure!(
                    published.timestamps == s.timestamps,
                    "{}: timestamps differ from data/{}",
                    path.display(),
                    s.name
                );
                rows.insert(s.name.clone(), published);
            }
            None => skipped.push(s.name.clone()),
        }
    }
    let mut checks = Vec::new();
    for profile in &corpus.profiles {
        let threshold = *thresholds
            .get(&profile.name)
            .with_context(|| format!("config/thresholds.json has no {detector}.{}", profile.name))?;
        let published = corpus::read_published_scores(&corpus.root, detector, &profile.name)?;
        let mut files = Vec::new();
        let (mut null, mut perfect) = (0.0, 0.0);
        for s in corpus.series.iter().filter(|s| rows.contains_key(&s.name)) {
            let published_rows = &rows[&s.name];
            let sweep = Sweep::new(s.values.len(), &s.windows, &profile.costs);
            null -= sweep.fn_weight * sweep.scored_window_count() as f64;
            perfect += profile.costs.tp_weight * s.windows.len() as f64;
            let contributions = sweep.contributions(&published_rows.anomaly_scores, threshold, &s.windows);
            let row_deviation = published_rows
                .sweep_scores
                .get(&profile.name)
                .map(|col| col.iter().zip(&contributions).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max))
                .unwrap_or(0.0);
            let published_file = *published.get(&s.name).with_context(|| {
                format!("results/{detector}/{detector}_{}_scores.csv has no {}", profile.name, s.name)
            })?;
            files.push(FileCheck {
                file: s.name.clone(),
                ours: sweep.score_at(&published_rows.anomaly_scores, threshold),
                published: published_file,
                row_deviation,
            });
        }
        let ours_total = files.iter().map(|f| f.ours.score).sum();
        let published_total = files.iter().map(|f| f.published.score).sum();
        checks.push(ProfileCheck {
            profile: profile.name.clone(),
            threshold,
            ours_normalised: normalise(ours_total, null, perfect),
            published_normalised: normalise(published_total, null, perfect),
            files,
            ours_total,
            published_total,
        });
    }
    Ok((checks, skipped))
}

/// A published detector rescored on the files present: the sum of its published per-file raw scores
/// (at its full-corpus thresholds), normalised over the windows present. Profiles whose scores file
/// is absent are left out.
pub fn published_on_subset(corpus: &Corpus, detector: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for profile in &corpus.profiles {
        let Ok(published) = corpus::read_published_scores(&corpus.root, detector, &profile.name) else { continue };
        let (mut raw, mut null, mut perfect) = (0.0, 0.0, 0.0);
        let mut complete = true;
        for s in &corpus.series {
            let sweep = Sweep::new(s.values.len(), &s.windows, &profile.costs);
            null -= sweep.fn_weight * sweep.scored_window_count() as f64;
            perfect += profile.costs.tp_weight * s.windows.len() as f64;
            match published.get(&s.name) {
                Some(p) => raw += p.score,
                None => complete = false,
            }
        }
        if complete {
            out.insert(profile.name.clone(), normalise(raw, null, perfect));
        }
    }
    out
}
