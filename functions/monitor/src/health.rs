//! Health score per repository and overall, 0–100 (`GET /api/v1/health`).
//!
//! # Formula
//!
//! A repository's score is the weighted mean of four component scores, each 0–100, over the components that are
//! known (the weights of unknown components are redistributed proportionally):
//!
//! ```text
//! score = Σ wᵢ·sᵢ / Σ wᵢ      (known components only)
//! ```
//!
//! | component      | weight | sub-score                                                                         |
//! |----------------|-------:|-----------------------------------------------------------------------------------|
//! | `success_rate` |   0.40 | `100 × WilsonLower(successes, runs, z = 1.645)`                                    |
//! | `recovery`     |   0.25 | `100 × 2^(−TTR / 6 h)`, `TTR` = median time to recovery (see below)               |
//! | `anomalies`    |   0.15 | `100 × 2^(−open_anomalies / 2)`                                                   |
//! | `flakiness`    |   0.20 | `100 × 2^(−(flaky_jobs / jobs) / 0.10)`                                           |
//!
//! * **Success rate.** The Wilson score lower bound (one-sided 95 %) shrinks small samples: 3/3 scores 52.6,
//!   30/30 scores 91.7, 300/300 scores 99.1, 90/100 scores 84.0. No runs: unknown.
//! * **Recovery.** `TTR = max(median(samples), ongoing)`, where the samples are the given recoveries (failing
//!   default-branch run to the next success) plus, if the default branch is failing now, the ongoing outage
//!   `window.end − failing_since`; an outage that has already lasted longer than the median dominates. The score
//!   halves every 6 hours (1 h → 89, 6 h → 50, 24 h → 6.3). No samples: 100 when every run in the window succeeded
//!   (nothing to recover from), otherwise unknown.
//! * **Anomalies.** Saturating: each 2 open anomalies halve the score (0 → 100, 1 → 70.7, 2 → 50, 6 → 12.5).
//! * **Flakiness.** Saturating in the flaky share of jobs: 10 % flaky halves the score. No jobs: unknown.
//!
//! Grades: `healthy` at 80 and above, `degraded` at 60 and above, `unhealthy` below. A repository with no runs in
//! the window is `unknown` with no score: we do not rate what we have not seen run. All constants live in
//! [`HealthConfig`] and are echoed in the explanation.
//!
//! The overall score ([`overall`], [`overall_by_runs`]) is the weighted mean of the known repositories' scores,
//! normally weighted by runs so busy repositories count for more; it is `unknown` when no repository is known.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HealthError {
    #[error("successes ({successes}) exceed runs ({runs})")]
    SuccessesExceedRuns { successes: u64, runs: u64 },
    #[error("flaky jobs ({flaky_jobs}) exceed jobs ({jobs})")]
    FlakyExceedJobs { flaky_jobs: u32, jobs: u32 },
    #[error("health window ends before it starts")]
    ReversedWindow,
    #[error("invalid health configuration: {0}")]
    InvalidConfig(&'static str),
}

/// The period a health score covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// What a repository's health is computed from, over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthInputs {
    /// Concluded workflow runs in the window (success or failure; cancelled and skipped runs left out).
    pub runs: u64,
    /// Of those, successful runs.
    pub successes: u64,
    /// Default-branch recoveries completed in the window: time from a failing run to the next success.
    pub recoveries: Vec<Duration>,
    /// Start of the current default-branch failure, if the default branch is failing at the end of the window.
    pub failing_since: Option<DateTime<Utc>>,
    /// Anomalies open at the end of the window.
    pub open_anomalies: u32,
    /// Jobs currently classified as flaky.
    pub flaky_jobs: u32,
    /// Distinct jobs observed in the window.
    pub jobs: u32,
    pub window: Window,
}

/// Component weights (need not sum to 1; they are normalised over the known components).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub success_rate: f64,
    pub recovery: f64,
    pub anomalies: f64,
    pub flakiness: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self { success_rate: 0.40, recovery: 0.25, anomalies: 0.15, flakiness: 0.20 }
    }
}

/// Constants of the formula; [`HealthConfig::default`] is the documented one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    pub weights: Weights,
    /// z of the Wilson lower bound (1.645: one-sided 95 %).
    pub wilson_z: f64,
    /// Time to recovery at which the recovery score is 50.
    pub recovery_half_life_secs: u64,
    /// Open anomalies at which the anomaly score is 50.
    pub anomaly_half_count: f64,
    /// Flaky share of jobs at which the flakiness score is 50.
    pub flaky_half_share: f64,
    /// Lowest score graded `healthy`.
    pub healthy_at: f64,
    /// Lowest score graded `degraded`.
    pub degraded_at: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            wilson_z: 1.645,
            recovery_half_life_secs: 6 * 3_600,
            anomaly_half_count: 2.0,
            flaky_half_share: 0.10,
            healthy_at: 80.0,
            degraded_at: 60.0,
        }
    }
}

impl HealthConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), HealthError> {
        let w = self.weights;
        let weights = [w.success_rate, w.recovery, w.anomalies, w.flakiness];
        if weights.iter().any(|&x| !(x.is_finite() && x >= 0.0)) || weights.iter().sum::<f64>() <= 0.0 {
            return Err(HealthError::InvalidConfig("weights must be finite, non-negative and not all zero"));
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.wilson_z) || !positive(self.anomaly_half_count) || !positive(self.flaky_half_share) {
            return Err(HealthError::InvalidConfig("wilson_z, anomaly_half_count and flaky_half_share must be > 0"));
        }
        if self.recovery_half_life_secs == 0 {
            return Err(HealthError::InvalidConfig("recovery_half_life_secs must be > 0"));
        }
        if !(0.0 <= self.degraded_at && self.degraded_at <= self.healthy_at && self.healthy_at <= 100.0) {
            return Err(HealthError::InvalidConfig("need 0 <= degraded_at <= healthy_at <= 100"));
        }
        Ok(())
    }

    /// The grade of a score (`unknown` without one).
    pub fn grade(&self, score: Option<f64>) -> Grade {
        match score {
            None => Grade::Unknown,
            Some(s) if s >= self.healthy_at => Grade::Healthy,
            Some(s) if s >= self.degraded_at => Grade::Degraded,
            Some(_) => Grade::Unhealthy,
        }
    }
}

/// Health grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Healthy,
    Degraded,
    Unhealthy,
    /// Not enough data to say.
    Unknown,
}

impl Grade {
    fn as_str(self) -> &'static str {
        match self {
            Grade::Healthy => "healthy",
            Grade::Degraded => "degraded",
            Grade::Unhealthy => "unhealthy",
            Grade::Unknown => "unknown",
        }
    }
}

/// One component of a health score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Sub-score 0–100, `None` when unknown.
    pub score: Option<f64>,
    /// Configured weight.
    pub weight: f64,
    /// Share of the total score after unknown components are left out (0 when unknown).
    pub effective_weight: f64,
    /// The measured quantity: the observed success ratio (`success_rate`), the time to recovery in seconds
    /// (`recovery`), the open anomaly count (`anomalies`), the flaky share of jobs (`flakiness`).
    pub measure: Option<f64>,
}

/// The four components.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Components {
    pub success_rate: Component,
    pub recovery: Component,
    pub anomalies: Component,
    pub flakiness: Component,
}

/// A repository's health over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// 0–100, `None` when unknown.
    pub score: Option<f64>,
    pub grade: Grade,
    pub components: Components,
    /// Human-readable reasons, one per component, then a summary.
    pub explanation: Vec<String>,
    /// Concluded runs in the window (the usual aggregation weight).
    pub runs: u64,
    pub window: Window,
}

/// Scores one repository (see the module documentation for the formula).
pub fn score(inputs: &HealthInputs, config: &HealthConfig) -> Result<Health, HealthError> {
    config.validate()?;
    if inputs.successes > inputs.runs {
        return Err(HealthError::SuccessesExceedRuns { successes: inputs.successes, runs: inputs.runs });
    }
    if inputs.flaky_jobs > inputs.jobs {
        return Err(HealthError::FlakyExceedJobs { flaky_jobs: inputs.flaky_jobs, jobs: inputs.jobs });
    }
    if inputs.window.end < inputs.window.start {
        return Err(HealthError::ReversedWindow);
    }
    let weights = config.weights;
    let mut explanation = Vec::with_capacity(5);

    // Success rate.
    let success = if inputs.runs == 0 {
        explanation.push("success rate unknown: no concluded runs in the window".to_owned());
        (None, None)
    } else {
        let ratio = inputs.successes as f64 / inputs.runs as f64;
        let lower = wilson_lower_bound(inputs.successes, inputs.runs, config.wilson_z);
        let s = 100.0 * lower;
        explanation.push(format!(
            "success rate {:.1}% ({}/{} runs), Wilson lower bound {:.1}% (z = {}) -> {:.1}",
            100.0 * ratio,
            inputs.successes,
            inputs.runs,
            100.0 * lower,
            config.wilson_z,
            s
        ));
        (Some(s), Some(ratio))
    };

    // Recovery.
    let half_life = config.recovery_half_life_secs as f64;
    let ongoing = inputs.failing_since.map(|since| (inputs.window.end - since).num_seconds().max(0) as f64);
    let mut samples: Vec<f64> = inputs.recoveries.iter().map(Duration::as_secs_f64).collect();
    samples.extend(ongoing);
    let recovery = match median(&mut samples) {
        Some(median) => {
            let ttr = median.max(ongoing.unwrap_or(0.0));
            let s = 100.0 * (-ttr / half_life).exp2();
            let mut line = format!(
                "median time to recovery {} over {} recover{}",
                human_duration(median),
                samples.len(),
                if samples.len() == 1 { "y" } else { "ies" }
            );
            if let Some(ongoing) = ongoing {
                line.push_str(&format!(" (default branch failing for {} now)", human_duration(ongoing)));
            }
            line.push_str(&format!(", half-life {} -> {s:.1}", human_duration(half_life)));
            explanation.push(line);
            (Some(s), Some(ttr))
        }
        None if inputs.runs > 0 && inputs.successes == inputs.runs => {
            explanation.push("recovery: no failures to recover from -> 100.0".to_owned());
            (Some(100.0), None)
        }
        None => {
            explanation.push("recovery unknown: no default-branch recovery data in the window".to_owned());
            (None, None)
        }
    };

    // Open anomalies.
    let anomalies = {
        let count = f64::from(inputs.open_anomalies);
        let s = 100.0 * (-count / config.anomaly_half_count).exp2();
        explanation.push(format!(
            "{} open anomal{} (score halves every {}) -> {s:.1}",
            inputs.open_anomalies,
            if inputs.open_anomalies == 1 { "y" } else { "ies" },
            config.anomaly_half_count
        ));
        (Some(s), Some(count))
    };

    // Flakiness.
    let flakiness = if inputs.jobs == 0 {
        explanation.push("flakiness unknown: no jobs observed".to_owned());
        (None, None)
    } else {
        let share = f64::from(inputs.flaky_jobs) / f64::from(inputs.jobs);
        let s = 100.0 * (-share / config.flaky_half_share).exp2();
        explanation.push(format!(
            "{} of {} jobs flaky ({:.1}%, score halves every {:.1}%) -> {s:.1}",
            inputs.flaky_jobs,
            inputs.jobs,
            100.0 * share,
            100.0 * config.flaky_half_share
        ));
        (Some(s), Some(share))
    };

    let parts = [
        ("success_rate", success, weights.success_rate),
        ("recovery", recovery, weights.recovery),
        ("anomalies", anomalies, weights.anomalies),
        ("flakiness", flakiness, weights.flakiness),
    ];
    let known_weight: f64 = parts.iter().filter(|(_, (s, _), _)| s.is_some()).map(|(_, _, w)| w).sum();
    let rated = inputs.runs > 0 && known_weight > 0.0;
    let component = |(s, measure): (Option<f64>, Option<f64>), weight: f64| Component {
        score: s,
        weight,
        effective_weight: if rated && s.is_some() { weight / known_weight } else { 0.0 },
        measure,
    };
    let components = Components {
        success_rate: component(success, weights.success_rate),
        recovery: component(recovery, weights.recovery),
        anomalies: component(anomalies, weights.anomalies),
        flakiness: component(flakiness, weights.flakiness),
    };

    let score = rated.then(|| {
        let total = parts.iter().filter_map(|(_, (s, _), w)| s.map(|s| s * w)).sum::<f64>() / known_weight;
        total.clamp(0.0, 100.0)
    });
    let grade = config.grade(score);
    match score {
        None => explanation.push("health unknown: no runs in the window to rate".to_owned()),
        Some(total) => {
            let weakest = parts
                .iter()
                .filter(|(_, _, w)| *w > 0.0)
                .filter_map(|(name, (s, _), _)| s.map(|s| (name, s)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let mut line = format!("score {total:.1} ({})", grade.as_str());
            if let Some((name, s)) = weakest {
                line.push_str(&format!(", weakest component {name} ({s:.1})"));
            }
            let unknown: Vec<&str> =
                parts.iter().filter(|(_, (s, _), _)| s.is_none()).map(|(name, _, _)| *name).collect();
            if !unknown.is_empty() {
                line.push_str(&format!(", weights renormalised without {}", unknown.join(", ")));
            }
            explanation.push(line);
        }
    }
    Ok(Health { score, grade, components, explanation, runs: inputs.runs, window: inputs.window })
}

/// Wilson score interval lower bound for `successes` out of `n` trials (0 for `n == 0`).
pub fn wilson_lower_bound(successes: u64, n: u64, z: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - margin) / (1.0 + z2 / n)).clamp(0.0, 1.0)
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

/// "45s", "12m", "1h 30m", "2d 3h".
fn human_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m", secs / 60),
        3_600..86_400 => match (secs / 3_600, secs % 3_600 / 60) {
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h {m}m"),
        },
        _ => match (secs / 86_400, secs % 86_400 / 3_600) {
            (d, 0) => format!("{d}d"),
            (d, h) => format!("{d}d {h}h"),
        },
    }
}

/// One repository's place in the overall score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoScore {
    pub name: String,
    pub score: Option<f64>,
    pub grade: Grade,
    /// Weight as given (0 if it was not a finite, non-negative number).
    pub weight: f64,
    /// Share of the overall score (0 for unknown repositories).
    pub share: f64,
}

/// Health across repositories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverallHealth {
    /// Weighted mean of the known repositories' scores, `None` when there is none with positive weight.
    pub score: Option<f64>,
    pub grade: Grade,
    /// Sum of the weights of known repositories.
    pub total_weight: f64,
    /// Every repository, lowest score first, unknown ones last.
    pub repos: Vec<RepoScore>,
    pub explanation: Vec<String>,
}

/// Aggregates repository health: the mean of known scores weighted by the given weights (normally runs, see
/// [`overall_by_runs`]). Unknown repositories and non-finite or negative weights contribute nothing.
pub fn overall(repos: &[(&str, &Health, f64)], config: &HealthConfig) -> OverallHealth {
    let mut explanation = Vec::new();
    let weight_of = |w: f64| if w.is_finite() && w >= 0.0 { w } else { 0.0 };
    let invalid = repos.iter().filter(|(_, _, w)| weight_of(*w) != *w).count();
    if invalid > 0 {
        explanation.push(format!("{invalid} repositor{} with an invalid weight counted as 0", plural_y(invalid)));
    }
    let total_weight: f64 = repos.iter().filter(|(_, h, _)| h.score.is_some()).map(|(_, _, w)| weight_of(*w)).sum();
    let weighted: f64 = repos.iter().filter_map(|(_, h, w)| h.score.map(|s| s * weight_of(*w))).sum();
    let score = (total_weight > 0.0).then(|| (weighted / total_weight).clamp(0.0, 100.0));
    let grade = config.grade(score);

    let mut scores: Vec<RepoScore> = repos
        .iter()
        .map(|(name, health, w)| {
            let weight = weight_of(*w);
            RepoScore {
                name: (*name).to_owned(),
                score: health.score,
                grade: health.grade,
                weight,
                share: if health.score.is_some() && total_weight > 0.0 { weight / total_weight } else { 0.0 },
            }
        })
        .collect();
    scores.sort_by(|a, b| match (a.score, b.score) {
        (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.name.cmp(&b.name)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.name.cmp(&b.name),
    });

    let known = scores.iter().filter(|r| r.score.is_some()).count();
    let unknown = scores.len() - known;
    match score {
        Some(s) => explanation.push(format!(
            "score {s:.1} ({}): weighted mean of {known} repositor{} (total weight {total_weight})",
            grade.as_str(),
            plural_y(known)
        )),
        None => explanation.push("health unknown: no repository with a score and a positive weight".to_owned()),
    }
    if unknown > 0 {
        explanation.push(format!("{unknown} repositor{} unknown and left out", plural_y(unknown)));
    }
    for grade in [Grade::Unhealthy, Grade::Degraded] {
        let names: Vec<&str> = scores.iter().filter(|r| r.grade == grade).map(|r| r.name.as_str()).collect();
        if !names.is_empty() {
            explanation.push(format!("{}: {}", grade.as_str(), names.join(", ")));
        }
    }
    OverallHealth { score, grade, total_weight, repos: scores, explanation }
}

/// [`overall`] weighted by each repository's concluded runs.
pub fn overall_by_runs(repos: &[(&str, &Health)], config: &HealthConfig) -> OverallHealth {
    let weighted: Vec<(&str, &Health, f64)> = repos.iter().map(|&(name, h)| (name, h, h.runs as f64)).collect();
    overall(&weighted, config)
}

fn plural_y(n: usize) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        let end = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        Window { start: end - chrono::TimeDelta::days(7), end }
    }

    fn inputs() -> HealthInputs {
        HealthInputs {
            runs: 200,
            successes: 190,
            recoveries: vec![Duration::from_secs(1_800), Duration::from_secs(3_600), Duration::from_secs(7_200)],
            failing_since: None,
            open_anomalies: 1,
            flaky_jobs: 2,
            jobs: 40,
            window: window(),
        }
    }

    fn total(inputs: &HealthInputs) -> f64 {
        score(inputs, &HealthConfig::default()).expect("valid").score.expect("known")
    }

    #[test]
    fn documented_example_values() {
        let z = HealthConfig::default().wilson_z;
        assert!((100.0 * wilson_lower_bound(3, 3, z) - 52.6).abs() < 0.05);
        assert!((100.0 * wilson_lower_bound(30, 30, z) - 91.7).abs() < 0.05);
        assert!((100.0 * wilson_lower_bound(300, 300, z) - 99.1).abs() < 0.05);
        assert!((100.0 * wilson_lower_bound(90, 100, z) - 84.0).abs() < 0.05);
        let health = score(&inputs(), &HealthConfig::default()).expect("valid");
        let c = health.components;
        // Median recovery 1 h with a 6 h half-life.
        assert!((c.recovery.score.expect("known") - 100.0 * (-1.0f64 / 6.0).exp2()).abs() < 1e-9);
        assert!((c.anomalies.score.expect("known") - 100.0 / 2f64.sqrt()).abs() < 1e-9);
        assert!((c.flakiness.score.expect("known") - 100.0 * 0.5f64.exp2().recip()).abs() < 1e-9);
        let expected = 0.40 * c.success_rate.score.expect("known")
            + 0.25 * c.recovery.score.expect("known")
            + 0.15 * c.anomalies.score.expect("known")
            + 0.20 * c.flakiness.score.expect("known");
        assert!((health.score.expect("known") - expected).abs() < 1e-9);
        assert_eq!(health.grade, Grade::Healthy);
        assert_eq!(health.explanation.len(), 5);
        assert!(health.explanation[4].contains("weakest component"), "{:?}", health.explanation);
    }

    #[test]
    fn more_failures_lower_the_score() {
        let mut previous = f64::INFINITY;
        for successes in (100..=200).rev().step_by(10) {
            let s = total(&HealthInputs { successes, ..inputs() });
            assert!(s < previous, "{successes} successes: {s} !< {previous}");
            previous = s;
        }
    }

    #[test]
    fn more_anomalies_lower_the_score() {
        let mut previous = f64::INFINITY;
        for open_anomalies in 0..20 {
            let s = total(&HealthInputs { open_anomalies, ..inputs() });
            assert!(s < previous);
            previous = s;
        }
    }

    #[test]
    fn more_flaky_jobs_lower_the_score() {
        let mut previous = f64::INFINITY;
        for flaky_jobs in 0..=40 {
            let s = total(&HealthInputs { flaky_jobs, ..inputs() });
            assert!(s < previous);
            previous = s;
        }
    }

    #[test]
    fn faster_recovery_raises_the_score() {
        let mut previous = f64::NEG_INFINITY;
        for minutes in [48 * 60, 24 * 60, 600, 120, 30, 5, 0] {
            let s = total(&HealthInputs { recoveries: vec![Duration::from_secs(minutes * 60); 3], ..inputs() });
            assert!(s > previous, "{minutes} min: {s} !> {previous}");
            previous = s;
        }
    }

    #[test]
    fn ongoing_outage_dominates_recovery() {
        let quick = total(&inputs());
        let failing = HealthInputs { failing_since: Some(window().end - chrono::TimeDelta::days(2)), ..inputs() };
        let health = score(&failing, &HealthConfig::default()).expect("valid");
        assert!(health.score.expect("known") < quick);
        assert!(health.components.recovery.score.expect("known") < 1.0);
        assert_eq!(health.components.recovery.measure, Some(2.0 * 86_400.0));
        assert!(health.explanation[1].contains("failing for 2d now"), "{}", health.explanation[1]);
    }

    #[test]
    fn scores_stay_within_bounds() {
        let worst = HealthInputs {
            runs: 1_000,
            successes: 0,
            recoveries: vec![Duration::from_secs(365 * 86_400)],
            failing_since: Some(window().start),
            open_anomalies: u32::MAX,
            flaky_jobs: 50,
            jobs: 50,
            window: window(),
        };
        let best = HealthInputs {
            runs: 1_000_000,
            successes: 1_000_000,
            recoveries: vec![],
            failing_since: None,
            open_anomalies: 0,
            flaky_jobs: 0,
            jobs: 50,
            window: window(),
        };
        for case in [worst, best, inputs()] {
            let health = score(&case, &HealthConfig::default()).expect("valid");
            let s = health.score.expect("known");
            assert!((0.0..=100.0).contains(&s));
            for c in [health.components.success_rate, health.components.recovery, health.components.anomalies] {
                assert!(c.score.is_some_and(|s| (0.0..=100.0).contains(&s)));
            }
        }
    }

    #[test]
    fn small_samples_are_shrunk() {
        let perfect = |n: u64| HealthInputs { runs: n, successes: n, ..inputs() };
        let (three, thirty, three_hundred) = (total(&perfect(3)), total(&perfect(30)), total(&perfect(300)));
        assert!(three < thirty && thirty < three_hundred, "{three} {thirty} {three_hundred}");
        let c = score(&perfect(3), &HealthConfig::default()).expect("valid").components.success_rate;
        assert_eq!(c.measure, Some(1.0));
        assert!(c.score.expect("known") < 60.0);
        // 95/100 observed beats 3/3 observed: evidence matters more than a perfect tiny sample.
        assert!(total(&HealthInputs { runs: 100, successes: 95, ..inputs() }) > three);
    }

    #[test]
    fn no_data_is_unknown_not_perfect() {
        let empty = HealthInputs {
            runs: 0,
            successes: 0,
            recoveries: vec![],
            failing_since: None,
            open_anomalies: 0,
            flaky_jobs: 0,
            jobs: 0,
            window: window(),
        };
        let health = score(&empty, &HealthConfig::default()).expect("valid");
        assert_eq!(health.score, None);
        assert_eq!(health.grade, Grade::Unknown);
        assert_eq!(health.components.success_rate.score, None);
        assert_eq!(health.components.anomalies.effective_weight, 0.0);
        assert!(health.explanation.iter().any(|l| l.contains("health unknown")));
        let json = serde_json::to_value(&health).expect("json");
        assert_eq!(json["grade"], "unknown");
        assert!(json["score"].is_null());
    }

    #[test]
    fn unknown_components_are_left_out_and_weights_renormalised() {
        let no_jobs = HealthInputs { jobs: 0, flaky_jobs: 0, recoveries: vec![], ..inputs() };
        let health = score(&no_jobs, &HealthConfig::default()).expect("valid");
        let c = health.components;
        assert_eq!((c.flakiness.score, c.recovery.score), (None, None));
        assert!((c.success_rate.effective_weight - 0.40 / 0.55).abs() < 1e-12);
        assert!((c.anomalies.effective_weight - 0.15 / 0.55).abs() < 1e-12);
        assert!(health.explanation[4].contains("without recovery, flakiness"), "{}", health.explanation[4]);
        // All runs succeeded and nothing to recover from: recovery is perfect, not unknown.
        let clean = HealthInputs { successes: 200, recoveries: vec![], ..inputs() };
        let c = score(&clean, &HealthConfig::default()).expect("valid").components;
        assert_eq!(c.recovery.score, Some(100.0));
    }

    #[test]
    fn invalid_inputs_are_rejected() {
        let config = HealthConfig::default();
        assert!(matches!(
            score(&HealthInputs { successes: 201, ..inputs() }, &config),
            Err(HealthError::SuccessesExceedRuns { .. })
        ));
        assert!(matches!(
            score(&HealthInputs { flaky_jobs: 41, ..inputs() }, &config),
            Err(HealthError::FlakyExceedJobs { .. })
        ));
        let reversed = Window { start: window().end, end: window().start };
        assert_eq!(score(&HealthInputs { window: reversed, ..inputs() }, &config), Err(HealthError::ReversedWindow));
        let bad = HealthConfig { healthy_at: 50.0, ..config };
        assert!(matches!(score(&inputs(), &bad), Err(HealthError::InvalidConfig(_))));
        assert!(serde_json::from_str::<HealthConfig>(r#"{"weight":{}}"#).is_err());
    }

    #[test]
    fn grades_follow_thresholds() {
        let config = HealthConfig::default();
        assert_eq!(config.grade(Some(80.0)), Grade::Healthy);
        assert_eq!(config.grade(Some(79.9)), Grade::Degraded);
        assert_eq!(config.grade(Some(60.0)), Grade::Degraded);
        assert_eq!(config.grade(Some(59.9)), Grade::Unhealthy);
        assert_eq!(config.grade(None), Grade::Unknown);
        let bad = HealthInputs { successes: 100, open_anomalies: 8, flaky_jobs: 20, ..inputs() };
        assert_eq!(score(&bad, &config).expect("valid").grade, Grade::Unhealthy);
    }

    #[test]
    fn overall_weights_by_runs() {
        let config = HealthConfig::default();
        let busy = score(&HealthInputs { runs: 900, successes: 890, ..inputs() }, &config).expect("valid");
        let quiet =
            score(&HealthInputs { runs: 100, successes: 50, open_anomalies: 6, ..inputs() }, &config).expect("v");
        let idle = score(&HealthInputs { runs: 0, successes: 0, ..inputs() }, &config).expect("valid");
        let (b, q) = (busy.score.expect("known"), quiet.score.expect("known"));

        let all = overall_by_runs(&[("org/quiet", &quiet), ("org/busy", &busy), ("org/idle", &idle)], &config);
        let expected = (900.0 * b + 100.0 * q) / 1_000.0;
        assert!((all.score.expect("known") - expected).abs() < 1e-9);
        assert_eq!(all.total_weight, 1_000.0);
        let names: Vec<&str> = all.repos.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["org/quiet", "org/busy", "org/idle"]);
        assert!((all.repos[1].share - 0.9).abs() < 1e-12);
        assert_eq!(all.repos[2].share, 0.0);
        assert!(all.explanation.iter().any(|l| l.contains("1 repository unknown")), "{:?}", all.explanation);

        // Equal weights give the plain mean; run weighting pulls towards the busy repository.
        let equal = overall(&[("a", &busy, 1.0), ("b", &quiet, 1.0)], &config);
        assert!((equal.score.expect("known") - (b + q) / 2.0).abs() < 1e-9);
        assert!(all.score > equal.score);

        let invalid = overall(&[("a", &busy, f64::NAN), ("b", &quiet, -1.0)], &config);
        assert_eq!((invalid.score, invalid.grade), (None, Grade::Unknown));
        assert!(invalid.explanation[0].contains("2 repositories with an invalid weight"));
        assert_eq!(overall(&[], &config).grade, Grade::Unknown);
    }
}
