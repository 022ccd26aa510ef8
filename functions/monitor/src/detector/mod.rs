//! Streaming univariate anomaly detector: one value at a time, in order, no look-ahead.
//!
//! # Algorithm
//!
//! Each update turns the new value into five *deviations*, each measured against a robust
//! baseline of the series' own past ([`robust::RobustEw`]: exponentially weighted location and mean
//! absolute deviation with Huber-clipped updates, so one outlier cannot drag the baseline):
//!
//! | channel | deviation `z` | catches |
//! |---|---|---|
//! | level | `|x − baseline| / scale` (fast-smoothed) | spikes and dips |
//! | sustained level | the same, smoothed over more points | level shifts, drifts |
//! | step | robust z-score of the first difference `x − x₋₁` | sudden jumps |
//! | daily | robust z-score of `x − profile[time-of-day slot]`, the slot's EW profile | a day unlike the others |
//! | volatility | `|ln(EW_short |Δx| / EW_long |Δx|)|` | noise that grows or vanishes (flat lines) |
//!
//! Every deviation becomes `u = ln(1 + z)`, smoothed, and then a *surprise* in nats
//! ([`surprise::Surprise`]): `−ln((C≥(u) + κ) / (N + κ))`, where `C≥` counts the series' past values of `u`
//! in the same or a higher histogram bin (counts decay exponentially, so old behaviour is slowly
//! forgotten), plus `β` per unit above the channel's slowly decaying record. Surprise puts channels and
//! series that behave very differently on one scale: a value as rare as one in a thousand in *its*
//! series scores about 7 nats wherever it comes from, which is what lets one corpus-wide threshold
//! work. The anomaly score is the largest weighted surprise `t`, mapped into `[0, 1)` as
//! `t / (t + squash)`. After a score reaches `alarm`, the next `holdoff` updates score 0 (one alarm per
//! incident, not a burst of them). The first `warmup` updates score 0 while the baselines learn.
//!
//! The daily channel exists when the first sampling interval divides a day into 2–2048 slots; the
//! others always run. Timestamps only place values in time-of-day slots, so gaps and jitter are
//! tolerated.
//!
//! # Memory bound
//!
//! O(1) per series and independent of its length: five 128-bin histograms (5 KiB) plus, for the
//! daily profile, at most 2048 slots of 9 bytes (18 KiB) — under 24 KiB per series in all, and no
//! allocation after the first two updates. Each update is O(channels × bins) arithmetic, several
//! million updates per second on one core.
//!
//! # How the configuration was chosen
//!
//! [`DetectorConfig::default`] holds one global configuration, the same for every series. Its ~20
//! values were tuned by a random search that maximised the Numenta Anomaly Benchmark score over the
//! NAB data files present (`aetherveil eval nab`: 4 of NAB's 7 groups, 35 files, 55 windows) — the
//! corpus-wide tuning NAB allows for every detector. No parameter depends on a file and nothing
//! reads labels while the detector runs, but the NAB figures are *in-sample*: with 55 windows, a
//! 20-parameter search overfits. A two-fold check by data group (tune on two groups, score the other
//! two) gave 39 (standard profile) out of sample when all parameters were re-tuned from a generic
//! start, and 57–61 when only five (level rate, smoothing, κ, record bonus, hold-off) were re-tuned,
//! against 65–77 in sample. Treat the in-sample score as an upper bound.

mod robust;
mod surprise;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use robust::RobustEw;
use surprise::{Surprise, SurpriseParams};

/// Channels, in the order of [`DetectorConfig::weights`].
const CHANNELS: usize = 5;
const LEVEL: usize = 0;
const SUSTAINED: usize = 1;
const STEP: usize = 2;
const DAILY: usize = 3;
const VOLATILITY: usize = 4;

/// Most time-of-day slots the daily profile keeps (one-minute sampling has 1440).
const MAX_DAILY_SLOTS: usize = 2048;
const DAY_SECONDS: i64 = 86_400;

/// The detector's global configuration: one for every series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Rate of the level baseline (and of the daily residual's scale).
    pub level_alpha: f64,
    /// Rate of the first-difference baseline.
    pub step_alpha: f64,
    /// Huber clip of the baselines, in scales.
    pub clip: f64,
    /// Smoothing of the level, step and daily deviations before scoring.
    pub short_alpha: f64,
    /// Smoothing of the sustained-level deviation.
    pub sustained_alpha: f64,
    /// Rates of the short and long averages of `|Δx|` for the volatility channel.
    pub volatility_short_alpha: f64,
    pub volatility_long_alpha: f64,
    /// Rate at which a time-of-day slot's profile follows new values.
    pub daily_alpha: f64,
    /// Smallest scale, as a share of the series' overall mean absolute deviation (flat series).
    pub floor: f64,
    /// Width of a surprise histogram bin, in units of `ln(1 + z)`.
    pub bin_width: f64,
    /// Per-update decay of the surprise histograms' counts.
    pub history_decay: f64,
    /// Pseudo-count of the surprise tail.
    pub kappa: f64,
    /// Nats per unit of `ln(1 + z)` above the channel's record.
    pub record_bonus: f64,
    pub record_decay: f64,
    pub record_rise: f64,
    /// Channel weights: level, sustained level, step, daily, volatility.
    pub weights: [f64; CHANNELS],
    /// Score mapping: `t / (t + squash)`.
    pub squash: f64,
    /// Score at which an alarm starts a hold-off.
    pub alarm: f64,
    /// Updates after an alarm that score 0.
    pub holdoff: u64,
    /// Updates that score 0 while the baselines learn.
    pub warmup: u64,
}

impl Default for DetectorConfig {
    /// The configuration tuned on NAB (see the module documentation).
    fn default() -> Self {
        DetectorConfig {
            level_alpha: 0.011,
            step_alpha: 0.147,
            clip: 3.04,
            short_alpha: 0.263,
            sustained_alpha: 0.311,
            volatility_short_alpha: 0.0149,
            volatility_long_alpha: 0.002,
            daily_alpha: 0.148,
            floor: 0.0409,
            bin_width: 0.268,
            history_decay: 0.000915,
            kappa: 0.692,
            record_bonus: 0.249,
            record_decay: 0.0000425,
            record_rise: 1.03,
            weights: [0.940, 0.338, 0.989, 0.834, 1.206],
            squash: 6.0,
            alarm: 0.5,
            holdoff: 139,
            warmup: 150,
        }
    }
}

/// The learned time-of-day profile.
#[derive(Debug, Clone)]
struct Daily {
    interval: i64,
    profile: Vec<f64>,
    seen: Vec<bool>,
    residual: RobustEw,
}

/// A streaming anomaly detector for one series. See the module documentation.
#[derive(Debug, Clone)]
pub struct Detector {
    config: DetectorConfig,
    surprise: SurpriseParams,
    n: u64,
    previous: Option<(i64, f64)>,
    spread: RobustEw,
    level: RobustEw,
    step: RobustEw,
    daily: Option<Daily>,
    /// Whether the sampling interval (the first positive one) has been seen.
    interval_known: bool,
    volatility_short: f64,
    volatility_long: f64,
    channels: [Surprise; CHANNELS],
    holdoff_left: u64,
}

impl Detector {
    pub fn new(config: DetectorConfig) -> Detector {
        let surprise = SurpriseParams {
            bin_width: config.bin_width,
            decay: config.history_decay,
            kappa: config.kappa,
            beta: config.record_bonus,
            record_decay: config.record_decay,
            record_rise: config.record_rise,
            warmup: config.warmup,
        };
        Detector {
            surprise,
            n: 0,
            previous: None,
            spread: RobustEw::new(0.001, 1e9),
            level: RobustEw::new(config.level_alpha, config.clip),
            step: RobustEw::new(config.step_alpha, config.clip),
            daily: None,
            interval_known: false,
            volatility_short: 0.0,
            volatility_long: 0.0,
            channels: std::array::from_fn(|_| Surprise::new()),
            holdoff_left: 0,
            config,
        }
    }

    /// [`Detector::update`] with a `chrono` timestamp.
    pub fn update_at(&mut self, timestamp: DateTime<Utc>, value: f64) -> f64 {
        self.update(timestamp.timestamp(), value)
    }

    /// Learn `value`, observed at `timestamp` (seconds since the epoch), and return its anomaly score
    /// in `[0, 1)`. A value that is not finite is ignored and scores 0.
    pub fn update(&mut self, timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        self.n += 1;
        let cfg = &self.config;
        self.spread.update(value);
        let floor = cfg.floor * self.spread.scale() + 1e-9 * (1.0 + value.abs());
        let scaled = |residual: f64, baseline: &RobustEw| residual.abs() / baseline.scale().max(floor);

        let mut z = [0.0f64; CHANNELS];
        let residual = self.level.update(value);
        z[LEVEL] = scaled(residual, &self.level);
        z[SUSTAINED] = z[LEVEL];
        if let Some((previous_timestamp, previous_value)) = self.previous {
            let change = value - previous_value;
            let residual = self.step.update(change);
            z[STEP] = scaled(residual, &self.step);
            let interval = timestamp - previous_timestamp;
            if !self.interval_known && interval > 0 {
                self.interval_known = true;
                let slots = (DAY_SECONDS / interval) as usize;
                if (2..=MAX_DAILY_SLOTS).contains(&slots) {
                    self.daily = Some(Daily {
                        interval,
                        profile: vec![0.0; slots],
                        seen: vec![false; slots],
                        residual: RobustEw::new(cfg.level_alpha, cfg.clip),
                    });
                }
            }
            let a = cfg.volatility_long_alpha.max(1.0 / self.n as f64);
            self.volatility_short += cfg.volatility_short_alpha * (change.abs() - self.volatility_short);
            self.volatility_long += a * (change.abs() - self.volatility_long);
            z[VOLATILITY] = ((self.volatility_short + floor) / (self.volatility_long + floor)).ln().abs();
        }
        if let Some(daily) = self.daily.as_mut() {
            let slot = (timestamp.rem_euclid(DAY_SECONDS) / daily.interval) as usize % daily.profile.len();
            if daily.seen[slot] {
                let residual = daily.residual.update(value - daily.profile[slot]);
                z[DAILY] = scaled(residual, &daily.residual);
                daily.profile[slot] += cfg.daily_alpha * (value - daily.profile[slot]);
            } else {
                daily.seen[slot] = true;
                daily.profile[slot] = value;
            }
        }
        self.previous = Some((timestamp, value));

        let smoothing = [cfg.short_alpha, cfg.sustained_alpha, cfg.short_alpha, cfg.short_alpha, 1.0];
        let mut surprise = f64::NEG_INFINITY;
        for (k, channel) in self.channels.iter_mut().enumerate() {
            let weight = cfg.weights[k];
            if weight <= 0.0 || (k == DAILY && self.daily.is_none()) {
                continue;
            }
            // The volatility deviation is already a log-ratio.
            let u = if k == VOLATILITY { z[k] } else { z[k].ln_1p() };
            surprise = surprise.max(weight * channel.update(u, smoothing[k], &self.surprise));
        }
        if self.n <= cfg.warmup || !surprise.is_finite() {
            return 0.0;
        }
        let t = surprise.max(0.0);
        let score = t / (t + cfg.squash);
        if self.holdoff_left > 0 {
            self.holdoff_left -= 1;
            return 0.0;
        }
        if score >= cfg.alarm && cfg.holdoff > 0 {
            self.holdoff_left = cfg.holdoff;
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: impl Iterator<Item = f64>) -> Vec<f64> {
        let mut d = Detector::new(DetectorConfig::default());
        values.enumerate().map(|(i, v)| d.update(1_400_000_000 + 300 * i as i64, v)).collect()
    }

    #[test]
    fn scores_stay_in_the_unit_interval_and_ignore_non_finite_values() {
        let mut d = Detector::new(DetectorConfig::default());
        for (i, v) in [1.0, f64::NAN, f64::INFINITY, 1e300, -1e300, 0.0].iter().cycle().take(2000).enumerate() {
            let s = d.update(i as i64 * 60, *v);
            assert!((0.0..1.0).contains(&s), "{s}");
        }
    }

    #[test]
    fn a_flat_line_is_quiet_and_a_spike_after_it_alarms_once() {
        let scores = run((0..3000).map(|i| if (2000..2003).contains(&i) { 50.0 } else { 10.0 }));
        assert!(scores[..2000].iter().all(|s| *s < 0.5), "no alarm on a flat line");
        assert!(scores[2000..2010].iter().any(|s| *s >= 0.5), "the spike alarms");
        let alarms = scores[2000..].iter().filter(|s| **s >= 0.5).count();
        assert!(alarms <= 3, "hold-off keeps it to a few alarms, got {alarms}");
    }

    #[test]
    fn routine_daily_cycle_is_quiet_and_a_missing_peak_is_not() {
        // Five-minute samples of a daily cycle; on day 10 the afternoon peak does not come.
        let day = 288;
        let cycle = |i: usize| 10.0 + 5.0 * ((i % day) as f64 / day as f64 * std::f64::consts::TAU).sin();
        let scores = run((0..14 * day).map(|i| if i / day == 10 && (i % day) < day / 2 { 10.0 } else { cycle(i) }));
        let quiet = scores[3 * day..10 * day].iter().cloned().fold(0.0, f64::max);
        let anomaly = scores[10 * day..11 * day].iter().cloned().fold(0.0, f64::max);
        assert!(anomaly > quiet, "missing peak {anomaly} vs routine {quiet}");
    }
}
