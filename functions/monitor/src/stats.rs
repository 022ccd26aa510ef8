//! Streaming statistics with bounded memory: a sliding window for robust center and spread,
//! an EWMA, seasonal residual buckets, a failure-rate window with a beta-binomial tail test,
//! and an hourly history.
//!
//! # Why a sliding window, not P² markers or a reservoir
//!
//! CI durations are not stationary: a dependency upgrade or a bigger test suite moves the level
//! for good. P² quantile markers and a uniform reservoir both estimate the quantiles of the
//! *whole* history, so after a lasting change they keep the old level for hundreds of runs.
//! A window of the last `W` samples (default 64, 4 bytes each) gives the exact median and MAD of
//! recent behaviour, absorbs an accepted new level after about `W / 2` runs (which is also what
//! ends a regression episode), and costs O(W) per update with a selection on a stack copy, well
//! under a microsecond for W = 64. From the median and MAD, a one-step Huber center and a
//! winsorized spread recover most of the efficiency the median and MAD throw away
//! ([`RobustStats`]).

use crate::config::{FailureRateConfig, MAX_WINDOW, SeasonalConfig};
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// MAD → sigma of a normal distribution.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// The last `cap` samples, oldest overwritten first. Serialized in chronological order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "WindowRepr", into = "WindowRepr")]
pub struct RobustWindow {
    values: Vec<f32>,
    /// Index of the oldest value once the window is full.
    next: usize,
    cap: usize,
}

#[derive(Serialize, Deserialize)]
struct WindowRepr {
    cap: usize,
    values: Vec<f64>,
}

/// Rounds for storage: JSON numbers are f64, and an f32 widened to f64 prints 17 digits.
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

impl From<WindowRepr> for RobustWindow {
    fn from(r: WindowRepr) -> Self {
        let mut w = RobustWindow::new(r.cap.clamp(1, MAX_WINDOW));
        for v in r.values {
            w.push(v);
        }
        w
    }
}

impl From<RobustWindow> for WindowRepr {
    fn from(w: RobustWindow) -> Self {
        // Log values to 1e-4 (0.01 %), far below any spread that matters.
        WindowRepr { cap: w.cap, values: w.chronological().map(|v| round_to(f64::from(v), 4)).collect() }
    }
}

impl RobustWindow {
    pub fn new(cap: usize) -> Self {
        let cap = cap.clamp(1, MAX_WINDOW);
        Self { values: Vec::with_capacity(cap), next: 0, cap }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Samples are kept to 1e-4 (in log space: 0.01 %), so what is stored is exactly what is
    /// in memory and a restart changes nothing.
    pub fn push(&mut self, x: f64) {
        let x = round_to(x, 4) as f32;
        if self.values.len() < self.cap {
            self.values.push(x);
        } else {
            self.values[self.next] = x;
            self.next = (self.next + 1) % self.cap;
        }
    }

    /// Oldest first.
    pub fn chronological(&self) -> impl Iterator<Item = f32> + '_ {
        let (a, b) = if self.values.len() < self.cap {
            (&self.values[..], &self.values[..0])
        } else {
            (&self.values[self.next..], &self.values[..self.next])
        };
        a.iter().chain(b.iter()).copied()
    }

    /// Median and MAD (not yet scaled to sigma). `None` when empty.
    pub fn median_mad(&self) -> Option<(f64, f64)> {
        let n = self.values.len();
        if n == 0 {
            return None;
        }
        let mut scratch = [0f32; MAX_WINDOW];
        let buf = &mut scratch[..n];
        buf.copy_from_slice(&self.values);
        let median = median_in_place(buf);
        for v in buf.iter_mut() {
            *v = (*v - median as f32).abs();
        }
        let mad = median_in_place(buf);
        Some((median, mad))
    }

    /// Median, MAD, and the efficient robust center and spread seeded by them (see
    /// [`RobustStats`]). `None` when empty.
    pub fn robust_stats(&self) -> Option<RobustStats> {
        let n = self.values.len();
        if n == 0 {
            return None;
        }
        let values = &self.values[..];
        let mut scratch = [0f32; MAX_WINDOW];
        let buf = &mut scratch[..n];
        buf.copy_from_slice(values);
        let median = median_in_place(buf);
        for v in buf.iter_mut() {
            *v = (*v - median as f32).abs();
        }
        let mad = median_in_place(buf);
        let s = MAD_TO_SIGMA * mad;
        if s <= 0.0 {
            return Some(RobustStats { median, mad, center: median, spread: 0.0 });
        }
        // One-step Huber location (c = 1.5): ~95 % efficient under normality, bounded influence.
        let psi_sum: f64 = values.iter().map(|v| ((f64::from(*v) - median) / s).clamp(-HUBER_C, HUBER_C)).sum();
        let center = median + s * psi_sum / n as f64;
        // Winsorized standard deviation around it (clamped at +-2.5 s), made consistent for
        // the normal: SE about 9 % at n = 64 where the MAD's is about 15 %.
        let var: f64 = values
            .iter()
            .map(|v| {
                let d = (f64::from(*v) - center).clamp(-WINSOR_C * s, WINSOR_C * s);
                d * d
            })
            .sum::<f64>()
            / (n as f64 - 1.0).max(1.0);
        Some(RobustStats { median, mad, center, spread: (var / WINSOR_CONSISTENCY).sqrt() })
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<f32>()
    }
}

const HUBER_C: f64 = 1.5;
const WINSOR_C: f64 = 2.5;
/// `E[min(|Z|, 2.5)^2]` for a standard normal `Z`.
const WINSOR_CONSISTENCY: f64 = 0.9775;

/// Robust summary of a window. `median` and `mad` are exact; `center` (one-step Huber
/// M-estimate from the median, with the MAD as scale) and `spread` (winsorized standard
/// deviation) keep the median's robustness to a minority of wild values while wasting far less
/// of the sample: with 64 samples the MAD's standard error is about 15 % of sigma and the
/// winsorized deviation's about 9 %, which is the difference between catching a 1.5x slowdown
/// in 5 runs or not at an equal false-alarm rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustStats {
    pub median: f64,
    pub mad: f64,
    pub center: f64,
    pub spread: f64,
}

fn median_in_place(buf: &mut [f32]) -> f64 {
    let n = buf.len();
    let mid = n / 2;
    let (lower, m, _) = buf.select_nth_unstable_by(mid, f32::total_cmp);
    let upper = f64::from(*m);
    if n % 2 == 1 {
        return upper;
    }
    let below = lower.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (f64::from(below) + upper) / 2.0
}

/// Exponentially weighted mean and variance. The weight starts at `1/n` (a plain running
/// mean) and settles at `alpha`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Ewma {
    pub n: u64,
    pub mean: f64,
    pub var: f64,
}

impl Ewma {
    pub fn update(&mut self, x: f64, alpha: f64) {
        self.n += 1;
        let a = alpha.max(1.0 / self.n as f64);
        let d = x - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }
}

/// Exponentially weighted moments of residuals falling in one seasonal bucket. Stored as
/// `[n, mean, sq]`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "BucketRepr", into = "BucketRepr")]
pub struct Bucket {
    pub n: u32,
    pub mean: f32,
    /// Mean of squares.
    pub sq: f32,
}

type BucketRepr = (u32, f64, f64);

impl From<BucketRepr> for Bucket {
    fn from((n, mean, sq): BucketRepr) -> Self {
        Self { n, mean: mean as f32, sq: sq as f32 }
    }
}

impl From<Bucket> for BucketRepr {
    fn from(b: Bucket) -> Self {
        (b.n, round_to(f64::from(b.mean), 5), round_to(f64::from(b.sq), 5))
    }
}

/// Weight floor of seasonal buckets: they remember about the last 200 samples.
const SEASONAL_ALPHA: f64 = 1.0 / 200.0;
/// Samples counted toward the standard error of a bucket mean (its memory).
const SEASONAL_N_EFF: f64 = 200.0;

impl Bucket {
    fn update(&mut self, r: f64) {
        self.n = self.n.saturating_add(1);
        let a = SEASONAL_ALPHA.max(1.0 / f64::from(self.n));
        // Kept to 1e-5, as stored (see `RobustWindow::push`).
        self.mean = round_to(f64::from(self.mean) + a * (r - f64::from(self.mean)), 5) as f32;
        self.sq = round_to(f64::from(self.sq) + a * (r * r - f64::from(self.sq)), 5) as f32;
    }

    fn std_error(&self) -> f64 {
        let mean = f64::from(self.mean);
        let var = (f64::from(self.sq) - mean * mean).max(1e-9);
        (var / f64::from(self.n).min(SEASONAL_N_EFF)).sqrt()
    }
}

/// Residuals (log value minus the window median) by hour of day and day of week (UTC, event
/// time). A bucket corrects the expected value only when the history spans enough days, the
/// bucket has enough samples and its mean differs significantly from the overall mean, shrunk
/// toward zero; otherwise the series falls back to its plain median.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Seasonal {
    pub hour: [Bucket; 24],
    pub dow: [Bucket; 7],
    pub all: Bucket,
}

/// The correction for one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SeasonalOffset {
    /// Added to the log-space center.
    pub offset: f64,
    pub hour_used: bool,
    pub dow_used: bool,
}

impl Seasonal {
    pub fn update(&mut self, at: DateTime<Utc>, residual: f64) {
        self.hour[at.hour() as usize].update(residual);
        self.dow[at.weekday().num_days_from_monday() as usize].update(residual);
        self.all.update(residual);
    }

    pub fn offset(&self, at: DateTime<Utc>, span_days: f64, cfg: &SeasonalConfig) -> SeasonalOffset {
        let mut out = SeasonalOffset::default();
        if span_days < cfg.min_span_days {
            return out;
        }
        let all = f64::from(self.all.mean);
        let mut apply = |b: &Bucket| -> bool {
            if b.n < cfg.min_bucket {
                return false;
            }
            let diff = f64::from(b.mean) - all;
            if diff.abs() < cfg.min_t * b.std_error() {
                return false;
            }
            let n = f64::from(b.n).min(SEASONAL_N_EFF);
            out.offset += diff * n / (n + cfg.shrink);
            true
        };
        out.hour_used = apply(&self.hour[at.hour() as usize]);
        out.dow_used = apply(&self.dow[at.weekday().num_days_from_monday() as usize]);
        out
    }

    /// Buckets currently able to correct (for the baselines API).
    pub fn buckets_in_use(&self, span_days: f64, cfg: &SeasonalConfig) -> (Vec<u32>, Vec<u32>) {
        if span_days < cfg.min_span_days {
            return (Vec::new(), Vec::new());
        }
        let all = f64::from(self.all.mean);
        let used = |b: &Bucket| b.n >= cfg.min_bucket && (f64::from(b.mean) - all).abs() >= cfg.min_t * b.std_error();
        let hours = (0..24u32).filter(|h| used(&self.hour[*h as usize])).collect();
        let days = (0..7u32).filter(|d| used(&self.dow[*d as usize])).collect();
        (hours, days)
    }
}

/// The recent window of attempt outcomes (a bit set, newest in bit 0) and the decayed counts of
/// the older ones, which form the baseline rate.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FailureWindow {
    pub bits: u64,
    pub len: u32,
    /// Decayed failures and passes that left the recent window.
    pub base_fail: f64,
    pub base_pass: f64,
    pub total_fail: u64,
    pub total_pass: u64,
}

/// Result of the beta-binomial test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateTest {
    pub failures: u32,
    pub window: u32,
    /// `P(X >= failures)` under the baseline.
    pub p_value: f64,
    pub baseline_rate: f64,
    pub baseline_sd: f64,
    pub baseline_n: f64,
}

impl FailureWindow {
    pub fn push(&mut self, failed: bool, cfg: &FailureRateConfig) {
        let window = cfg.window.clamp(2, 64);
        if self.len >= window {
            let oldest = (self.bits >> (window - 1)) & 1 == 1;
            let decay = 0.5f64.powf(1.0 / cfg.half_life);
            self.base_fail = self.base_fail * decay + f64::from(u8::from(oldest));
            self.base_pass = self.base_pass * decay + f64::from(u8::from(!oldest));
        } else {
            self.len += 1;
        }
        let mask = if window == 64 { u64::MAX } else { (1u64 << window) - 1 };
        self.bits = ((self.bits << 1) | u64::from(failed)) & mask;
        if failed {
            self.total_fail += 1;
        } else {
            self.total_pass += 1;
        }
    }

    pub fn recent_failures(&self) -> u32 {
        self.bits.count_ones()
    }

    /// The test, once the window is full and the baseline has enough attempts.
    pub fn test(&self, cfg: &FailureRateConfig) -> Option<RateTest> {
        let window = cfg.window.clamp(2, 64);
        let baseline_n = self.base_fail + self.base_pass;
        if self.len < window || baseline_n < cfg.min_baseline {
            return None;
        }
        // Jeffreys prior plus the decayed baseline counts.
        let a = self.base_fail + 0.5;
        let b = self.base_pass + 0.5;
        let k = self.recent_failures();
        let p_value = beta_binomial_upper_tail(k, window, a, b);
        let rate = a / (a + b);
        let sd = (a * b / ((a + b) * (a + b) * (a + b + 1.0))).sqrt();
        Some(RateTest { failures: k, window, p_value, baseline_rate: rate, baseline_sd: sd, baseline_n })
    }
}

/// `P(X >= k)` for `X ~ BetaBinomial(m, a, b)`, by the pmf recurrence (no gamma functions).
pub fn beta_binomial_upper_tail(k: u32, m: u32, a: f64, b: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > m {
        return 0.0;
    }
    let mut pmf = (0..m).map(|i| (b + f64::from(i)) / (a + b + f64::from(i))).product::<f64>();
    let mut tail = 0.0;
    for j in 0..m {
        if j >= k {
            tail += pmf;
        }
        let jf = f64::from(j);
        pmf *= (f64::from(m) - jf) / (jf + 1.0) * (a + jf) / (b + f64::from(m) - jf - 1.0);
    }
    tail += pmf; // j = m
    tail.clamp(0.0, 1.0)
}

/// One hour of a series (hours since the Unix epoch, event time). Stored as the compact array
/// `[hour, runs, failures, durations, duration_sum, queue_sum]` (sums in whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "HourRepr", into = "HourRepr")]
pub struct HourBucket {
    pub hour: u32,
    /// Job attempts completed in the hour (all outcomes).
    pub runs: u16,
    pub failures: u16,
    /// Successful attempts with a duration, and the sum of their durations (whole seconds).
    pub durations: u16,
    pub duration_sum: u32,
    /// Sum of queue times (whole seconds) of the attempts that had one.
    pub queue_sum: u32,
}

type HourRepr = (u32, u16, u16, u16, u32, u32);

/// Buckets added per allocation of the hourly history.
const HOURLY_GROWTH: usize = 32;

impl From<HourRepr> for HourBucket {
    fn from((hour, runs, failures, durations, duration_sum, queue_sum): HourRepr) -> Self {
        Self { hour, runs, failures, durations, duration_sum, queue_sum }
    }
}

impl From<HourBucket> for HourRepr {
    fn from(b: HourBucket) -> Self {
        (b.hour, b.runs, b.failures, b.durations, b.duration_sum, b.queue_sum)
    }
}

/// Sparse hourly history: only hours with activity are stored, the last `hours` kept.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HourlyHistory {
    pub buckets: VecDeque<HourBucket>,
}

impl HourlyHistory {
    pub fn record(
        &mut self,
        at: DateTime<Utc>,
        failed: bool,
        duration: Option<f64>,
        queue: Option<f64>,
        keep_hours: u32,
    ) {
        let Ok(hour) = u32::try_from(at.timestamp().div_euclid(3600)) else { return };
        let newest = self.buckets.back().map_or(hour, |b| b.hour.max(hour));
        if hour + keep_hours <= newest {
            return; // older than the history kept
        }
        let pos = match self.buckets.binary_search_by_key(&hour, |b| b.hour) {
            Ok(i) => i,
            Err(i) => {
                if self.buckets.len() == self.buckets.capacity() {
                    // Grow in small exact steps: doubling would leave up to half the bound unused.
                    let room = (keep_hours as usize).saturating_sub(self.buckets.len()).clamp(1, HOURLY_GROWTH);
                    self.buckets.reserve_exact(room);
                }
                let empty = HourBucket { hour, runs: 0, failures: 0, durations: 0, duration_sum: 0, queue_sum: 0 };
                self.buckets.insert(i, empty);
                i
            }
        };
        let b = &mut self.buckets[pos];
        b.runs = b.runs.saturating_add(1);
        b.failures = b.failures.saturating_add(u16::from(failed));
        if let Some(d) = duration {
            b.durations = b.durations.saturating_add(1);
            b.duration_sum = b.duration_sum.saturating_add(d.round() as u32);
        }
        if let Some(q) = queue {
            b.queue_sum = b.queue_sum.saturating_add(q.round() as u32);
        }
        while self.buckets.front().is_some_and(|f| f.hour + keep_hours <= newest) {
            self.buckets.pop_front();
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<HourBucket>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_median_and_mad_are_exact_and_slide() {
        let mut w = RobustWindow::new(5);
        for x in [5.0, 1.0, 3.0, 2.0, 4.0] {
            w.push(x);
        }
        assert_eq!(w.median_mad(), Some((3.0, 1.0)));
        w.push(100.0); // evicts 5
        assert_eq!(w.chronological().collect::<Vec<_>>(), vec![1.0, 3.0, 2.0, 4.0, 100.0]);
        assert_eq!(w.median_mad().expect("stats").0, 3.0);
        let mut even = RobustWindow::new(8);
        for x in [1.0, 2.0, 3.0, 4.0] {
            even.push(x);
        }
        assert_eq!(even.median_mad(), Some((2.5, 1.0)));
    }

    #[test]
    fn window_round_trips_through_json_in_order() {
        let mut w = RobustWindow::new(4);
        for x in 0..7 {
            w.push(f64::from(x));
        }
        let json = serde_json::to_value(&w).expect("json");
        assert_eq!(json, serde_json::json!({"cap": 4, "values": [3.0, 4.0, 5.0, 6.0]}));
        let back: RobustWindow = serde_json::from_value(json).expect("back");
        assert_eq!(back.median_mad(), w.median_mad());
        let mut fine = RobustWindow::new(2);
        fine.push(1.234_567_89);
        assert_eq!(serde_json::to_value(&fine).expect("json")["values"][0], serde_json::json!(1.2346));
        assert_eq!(back.chronological().collect::<Vec<_>>(), w.chronological().collect::<Vec<_>>());
    }

    #[test]
    fn ewma_starts_as_a_mean_then_forgets() {
        let mut e = Ewma::default();
        e.update(1.0, 0.1);
        e.update(3.0, 0.1);
        assert!((e.mean - 2.0).abs() < 1e-12);
        for _ in 0..200 {
            e.update(10.0, 0.1);
        }
        assert!((e.mean - 10.0).abs() < 1e-6);
    }

    #[test]
    fn beta_binomial_tail_matches_the_binomial_limit_and_sums_to_one() {
        // Huge a + b: the beta-binomial is the binomial with p = a / (a + b).
        let p = beta_binomial_upper_tail(3, 10, 1e7, 9e7);
        let binom: f64 = (3..=10u32)
            .map(|k| {
                let c = (0..k).fold(1.0, |acc, i| acc * f64::from(10 - i) / f64::from(i + 1));
                c * 0.1f64.powi(k as i32) * 0.9f64.powi(10 - k as i32)
            })
            .sum();
        assert!((p - binom).abs() < 1e-6, "{p} vs {binom}");
        assert_eq!(beta_binomial_upper_tail(0, 10, 1.0, 1.0), 1.0);
        // Uniform prior: every count is equally likely.
        assert!((beta_binomial_upper_tail(10, 10, 1.0, 1.0) - 1.0 / 11.0).abs() < 1e-12);
    }

    #[test]
    fn failure_window_moves_old_outcomes_into_the_baseline() {
        let cfg = FailureRateConfig { window: 4, min_baseline: 3.0, half_life: 1e9, ..Default::default() };
        let mut f = FailureWindow::default();
        for failed in [true, false, false, false] {
            f.push(failed, &cfg);
        }
        assert!(f.test(&cfg).is_none(), "no baseline yet");
        for _ in 0..4 {
            f.push(false, &cfg);
        }
        assert_eq!(f.recent_failures(), 0);
        assert!((f.base_fail - 1.0).abs() < 1e-6 && (f.base_pass - 3.0).abs() < 1e-6);
        let t = f.test(&cfg).expect("test");
        assert_eq!((t.failures, t.window), (0, 4));
        assert_eq!(t.p_value, 1.0);
    }

    #[test]
    fn hourly_history_is_sparse_sorted_and_bounded() {
        let mut h = HourlyHistory::default();
        let t0: DateTime<Utc> = "2026-01-01T00:30:00Z".parse().expect("t");
        h.record(t0 + chrono::Duration::hours(2), false, Some(60.0), Some(5.0), 24);
        h.record(t0, true, None, None, 24);
        h.record(t0 + chrono::Duration::minutes(10), false, Some(30.0), None, 24);
        assert_eq!(h.buckets.len(), 2);
        assert_eq!(h.buckets[0].runs, 2);
        assert_eq!(h.buckets[0].failures, 1);
        assert_eq!(h.buckets[0].duration_sum, 30);
        h.record(t0 + chrono::Duration::hours(30), false, None, None, 24);
        assert_eq!(h.buckets.len(), 1, "older than 24 hours are dropped");
        h.record(t0, false, None, None, 24);
        assert_eq!(h.buckets.len(), 1, "a late sample older than the history is ignored");
    }
}
