//! Scoring one detector's output over a corpus: threshold optimised per profile over every file
//! present (as NAB does for every detector), then raw and normalised scores per file and per group.

use super::corpus::Corpus;
use super::scorer::{FileScore, Optimum, Sweep, normalise, optimise_threshold};

/// A detector's result under one profile.
#[derive(Debug, Clone)]
pub struct ProfileResult {
    pub profile: String,
    pub optimum: Optimum,
    pub null: f64,
    pub perfect: f64,
    pub normalised: f64,
    /// One per series of the corpus, in corpus order, at the corpus-wide threshold.
    pub files: Vec<FileScore>,
    /// `(group, normalised score of the group's files at the corpus-wide threshold)`.
    pub groups: Vec<(String, f64)>,
}

/// Score `scores` (one anomaly score per row of each series, in corpus order) under every profile.
pub fn evaluate(corpus: &Corpus, scores: &[Vec<f64>]) -> Vec<ProfileResult> {
    assert_eq!(scores.len(), corpus.series.len(), "one score vector per series");
    let mut results = Vec::with_capacity(corpus.profiles.len());
    for profile in &corpus.profiles {
        let sweeps: Vec<Sweep> =
            corpus.series.iter().map(|s| Sweep::new(s.values.len(), &s.windows, &profile.costs)).collect();
        let pairs: Vec<(&Sweep, &[f64])> = sweeps.iter().zip(scores).map(|(s, v)| (s, v.as_slice())).collect();
        let optimum = optimise_threshold(&pairs);
        let files: Vec<FileScore> = sweeps.iter().zip(scores).map(|(s, v)| s.score_at(v, optimum.threshold)).collect();
        let null_of = |i: usize| -sweeps[i].fn_weight * sweeps[i].scored_window_count() as f64;
        let perfect_of = |i: usize| profile.costs.tp_weight * corpus.series[i].windows.len() as f64;
        let all = 0..corpus.series.len();
        let (null, perfect) = (all.clone().map(null_of).sum(), all.map(perfect_of).sum());
        let mut groups = Vec::new();
        for group in corpus.groups() {
            let members: Vec<usize> = (0..corpus.series.len()).filter(|i| corpus.series[*i].group == group).collect();
            let raw: f64 = members.iter().map(|i| files[*i].score).sum();
            let g_null: f64 = members.iter().map(|i| null_of(*i)).sum();
            let g_perfect: f64 = members.iter().map(|i| perfect_of(*i)).sum();
            // A group without windows (artificialNoAnomaly) has no scale: report its raw score (its false positives' cost).
            let value = if g_perfect == g_null { raw } else { normalise(raw, g_null, g_perfect) };
            groups.push((group, value));
        }
        results.push(ProfileResult {
            profile: profile.name.clone(),
            normalised: normalise(optimum.score, null, perfect),
            optimum,
            null,
            perfect,
            files,
            groups,
        });
    }
    results
}
