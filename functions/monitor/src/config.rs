//! Tunables of the monitor, with the defaults the simulator targets were measured with.
//!
//! Every threshold lives here, so a deployment can change one in the config file without a
//! rebuild; unknown keys are refused (`deny_unknown_fields`) and [`MonitorConfig::validate`]
//! rejects values that would make a detector meaningless.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest supported baseline window (a stack buffer of this size computes medians).
pub const MAX_WINDOW: usize = 256;

#[derive(Debug, Error, PartialEq)]
#[error("invalid monitor setting {field}: {reason}")]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Branch names whose `push` runs form the `default` branch class.
    pub default_branches: Vec<String>,
    pub baseline: BaselineConfig,
    pub outlier: OutlierConfig,
    pub regression: RegressionConfig,
    pub failure_rate: FailureRateConfig,
    pub queue: QueueConfig,
    pub seasonal: SeasonalConfig,
    pub flaky: FlakyConfig,
    pub limits: LimitsConfig,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            default_branches: vec!["main".into(), "master".into()],
            baseline: BaselineConfig::default(),
            outlier: OutlierConfig::default(),
            regression: RegressionConfig::default(),
            failure_rate: FailureRateConfig::default(),
            queue: QueueConfig::default(),
            seasonal: SeasonalConfig::default(),
            flaky: FlakyConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

/// The robust baseline of one series (durations and queue times alike).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    /// Samples in the sliding window behind median and MAD (4 bytes each).
    pub window: usize,
    /// Samples a series needs before any detector may flag it.
    pub warmup: u32,
    /// Smoothing factor of the EWMA (reported, not used for detection).
    pub ewma_alpha: f64,
    /// Floor of the robust sigma in log space (a job that always takes 60 s still varies by
    /// a few percent in real life).
    pub sigma_floor_log: f64,
    /// Floor of the robust sigma in seconds, as `ln(1 + secs / center)`: a 3 s job going to 5 s
    /// is not an anomaly worth a page.
    pub sigma_floor_secs: f64,
    /// Small-sample inflation: sigma is multiplied by `sqrt(1 + small_sample / n)`, the
    /// prediction-interval correction for a median estimated from `n` samples.
    pub small_sample: f64,
    /// Standardize by the one-step Huber center and winsorized deviation (true) instead of the
    /// plain median and MAD (false). See [`crate::stats::RobustStats`].
    pub efficient: bool,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            window: 64,
            warmup: 10,
            ewma_alpha: 0.1,
            sigma_floor_log: 0.05,
            sigma_floor_secs: 3.0,
            small_sample: 6.0,
            efficient: true,
        }
    }
}

/// Single slow runs: a robust z on log duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutlierConfig {
    pub z: f64,
    /// The episode closes at the first run under this z.
    pub close_z: f64,
    /// The run must also take at least this multiple of the expected duration...
    pub min_ratio: f64,
    /// ...and at least this many seconds more.
    pub min_excess_secs: f64,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        Self { z: 4.0, close_z: 3.0, min_ratio: 1.25, min_excess_secs: 5.0 }
    }
}

/// Persistent slowdowns: a one-sided (upper) CUSUM on robust-standardized log durations,
/// pooled over the branch classes of a job (each run standardized against its own class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegressionConfig {
    /// Reference value: the drift subtracted per run (half the shift to detect fastest).
    pub k: f64,
    /// Decision interval: the condition holds while the statistic exceeds it.
    pub h: f64,
    /// The episode closes once the statistic falls to this value.
    pub h_close: f64,
    /// The statistic is capped here. A lasting new level is absorbed by the baseline window
    /// after about `W / 2` runs; the statistic then decays by `k` per run, so the cap bounds how
    /// long the episode outlives the absorption, while keeping it above `h_close` through the
    /// absorption (one lasting regression, one episode).
    pub cap: f64,
    /// Standardized values are clipped to +-this before entering the sum: one extreme run
    /// cannot open a regression on its own (that is an outlier).
    pub z_clip: f64,
    /// A run counts toward the episode only if it is itself slower than expected by this many
    /// sigmas: while a regression holds, a fast run is not evidence of it.
    pub flag_min_z: f64,
}

impl Default for RegressionConfig {
    fn default() -> Self {
        Self { k: 0.75, h: 2.0, h_close: 1.5, cap: 40.0, z_clip: 2.75, flag_min_z: 0.75 }
    }
}

/// Failure-rate spikes: a beta-binomial tail test of the recent window against the decayed
/// baseline rate of the older runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailureRateConfig {
    /// Recent job attempts tested (at most 64).
    pub window: u32,
    /// Effective baseline attempts needed before testing.
    pub min_baseline: f64,
    /// Half-life, in attempts, of the baseline counts.
    pub half_life: f64,
    /// Tail probability under which the condition holds.
    pub p_open: f64,
    /// Tail probability over which the episode closes.
    pub p_close: f64,
    /// Failures in the recent window needed to flag at all.
    pub min_failures: u32,
}

impl Default for FailureRateConfig {
    fn default() -> Self {
        Self { window: 10, min_baseline: 20.0, half_life: 200.0, p_open: 1e-3, p_close: 0.05, min_failures: 3 }
    }
}

/// Queue-time anomalies: a robust z on `ln(1 + queue seconds)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    pub z: f64,
    pub close_z: f64,
    /// The wait must exceed the expected one by at least this many seconds.
    pub min_excess_secs: f64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self { z: 4.0, close_z: 3.0, min_excess_secs: 60.0 }
    }
}

/// Hour-of-day and day-of-week corrections, used only once the history supports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeasonalConfig {
    /// History span (event time) a series needs before any seasonal correction.
    pub min_span_days: f64,
    /// Samples a bucket needs.
    pub min_bucket: u32,
    /// The bucket's mean residual must differ from the series' by this many standard errors.
    pub min_t: f64,
    /// Shrinkage: the offset applied is `mean * n / (n + shrink)`.
    pub shrink: f64,
}

impl Default for SeasonalConfig {
    fn default() -> Self {
        Self { min_span_days: 28.0, min_bucket: 12, min_t: 3.0, shrink: 20.0 }
    }
}

/// Flaky / broken / fixed states of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlakyConfig {
    /// Runs kept per job (also the horizon of duplicate detection for job completions).
    pub window: usize,
    /// Enter `flaky` at this score...
    pub enter_score: f64,
    /// ...with at least this many pass-on-retry runs in the window...
    pub min_evidence: u32,
    /// ...and leave it under this score (hysteresis).
    pub exit_score: f64,
    /// `broken`: the last this-many runs failed (final attempt), over at least two SHAs.
    pub broken_runs: usize,
    /// `fixed`: a broken job passed this many runs in a row.
    pub fixed_runs: usize,
    /// `fixed` becomes `healthy` after this many runs without a failure.
    pub healthy_after: usize,
}

impl Default for FlakyConfig {
    fn default() -> Self {
        Self {
            window: 64,
            enter_score: 0.08,
            min_evidence: 2,
            exit_score: 0.04,
            broken_runs: 3,
            fixed_runs: 3,
            healthy_after: 10,
        }
    }
}

/// Bounds of the transient tables and histories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Hours of per-series run-count/duration history kept for forecasts.
    pub history_hours: u32,
    /// Days of per-workflow success counts kept for health.
    pub history_days: u32,
    /// Runs in the live run table (oldest evicted first).
    pub live_runs: usize,
    /// Jobs in the live job table.
    pub live_jobs: usize,
    /// Job completions held while their run is unknown (0: classify at once from the branch).
    pub park_capacity: usize,
    /// A parked completion is classified from its branch once events this much later (event
    /// time) have been seen.
    pub park_max_age_secs: i64,
    /// Recovery samples kept per workflow.
    pub recoveries: usize,
    /// Run attempts remembered per workflow for duplicate detection.
    pub workflow_dedup: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            history_hours: 336,
            history_days: 35,
            live_runs: 20_000,
            live_jobs: 100_000,
            park_capacity: 10_000,
            park_max_age_secs: 3_600,
            recoveries: 64,
            workflow_dedup: 256,
        }
    }
}

fn check(ok: bool, field: &'static str, reason: impl Into<String>) -> Result<(), ConfigError> {
    if ok { Ok(()) } else { Err(ConfigError { field, reason: reason.into() }) }
}

impl MonitorConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let b = &self.baseline;
        check((8..=MAX_WINDOW).contains(&b.window), "baseline.window", format!("must be 8..={MAX_WINDOW}"))?;
        check(b.warmup >= 3, "baseline.warmup", "must be at least 3")?;
        check(b.ewma_alpha > 0.0 && b.ewma_alpha <= 1.0, "baseline.ewma_alpha", "must be in (0, 1]")?;
        check(b.sigma_floor_log > 0.0, "baseline.sigma_floor_log", "must be positive")?;
        check(b.small_sample >= 0.0, "baseline.small_sample", "must not be negative")?;
        let r = &self.regression;
        check(r.k >= 0.0, "regression.k", "must not be negative")?;
        check(r.h > 0.0 && r.h_close < r.h && r.cap >= r.h, "regression.h", "need h_close < h <= cap")?;
        check(r.z_clip > r.k, "regression.z_clip", "must exceed k")?;
        let o = &self.outlier;
        check(o.close_z <= o.z, "outlier.close_z", "must not exceed outlier.z")?;
        let q = &self.queue;
        check(q.close_z <= q.z, "queue.close_z", "must not exceed queue.z")?;
        let f = &self.failure_rate;
        check((2..=64).contains(&f.window), "failure_rate.window", "must be 2..=64")?;
        check(
            f.p_open > 0.0 && f.p_open < f.p_close && f.p_close < 1.0,
            "failure_rate.p_open",
            "need 0 < p_open < p_close < 1",
        )?;
        check(f.half_life > 0.0, "failure_rate.half_life", "must be positive")?;
        let fl = &self.flaky;
        check(fl.window >= 8, "flaky.window", "must be at least 8")?;
        check(fl.exit_score < fl.enter_score, "flaky.exit_score", "must be below flaky.enter_score")?;
        check(
            fl.broken_runs >= 2 && fl.fixed_runs >= 1,
            "flaky.broken_runs",
            "need broken_runs >= 2, fixed_runs >= 1",
        )?;
        check(self.limits.history_hours >= 24, "limits.history_hours", "must be at least 24")?;
        check(!self.default_branches.is_empty(), "default_branches", "must name at least one branch")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_unknown_keys_are_refused() {
        MonitorConfig::default().validate().expect("defaults");
        let err = serde_json::from_str::<MonitorConfig>(r#"{"regresion": {}}"#).expect_err("typo");
        assert!(err.to_string().contains("unknown field"), "{err}");
        let partial: MonitorConfig = serde_json::from_str(r#"{"outlier": {"z": 5.0}}"#).expect("partial");
        assert_eq!(partial.outlier.z, 5.0);
        assert_eq!(partial.outlier.close_z, OutlierConfig::default().close_z);
    }

    #[test]
    fn nonsense_is_rejected_with_the_field_name() {
        let mut c = MonitorConfig::default();
        c.regression.h_close = 9.0;
        assert_eq!(c.validate().expect_err("bad").field, "regression.h");
        let mut c = MonitorConfig::default();
        c.baseline.window = 4;
        assert_eq!(c.validate().expect_err("bad").field, "baseline.window");
    }
}
