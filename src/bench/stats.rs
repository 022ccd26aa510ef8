//! Pure statistics for the benchmark: percentiles and the per-phase tallies.

use std::collections::BTreeMap;
use std::time::Duration;

/// Nearest-rank percentile of an ascending slice (`q` in `0.0..=1.0`): the smallest value such
/// that at least `q` of the samples are less than or equal to it. `None` for an empty slice.
pub fn percentile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let q = q.clamp(0.0, 1.0);
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Median of an unsorted slice of milliseconds (mean of the two middle values when even).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises latencies given in microseconds (sorts them in place).
    pub fn from_micros(latencies: &mut [u32]) -> Option<Self> {
        latencies.sort_unstable();
        let ms = |q: f64| percentile(latencies, q).map(|us| f64::from(us) / 1000.0);
        Some(Self {
            count: latencies.len(),
            p50_ms: ms(0.50)?,
            p99_ms: ms(0.99)?,
            p999_ms: ms(0.999)?,
            max_ms: ms(1.0)?,
        })
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "p50": round3(self.p50_ms),
            "p99": round3(self.p99_ms),
            "p99_9": round3(self.p999_ms),
            "max": round3(self.max_ms),
        })
    }
}

/// What one load phase observed.
#[derive(Debug, Default)]
pub struct PhaseStats {
    /// Responses with a 2xx status (and not a `duplicate` outcome).
    pub ok: u64,
    /// 2xx responses whose body said `duplicate`: wrong, since every delivery id is fresh.
    pub duplicates: u64,
    /// Other statuses, by code.
    pub non_2xx: BTreeMap<u16, u64>,
    /// Transport failures (connect, reset, timeout).
    pub errors: u64,
    /// Requests never sent because the phase's hard deadline passed first (open loop only).
    pub abandoned: u64,
    /// The first transport error seen, for the report.
    pub first_error: Option<String>,
    /// Latency of every answered request, microseconds.
    pub latencies_us: Vec<u32>,
    /// Wall time of the measured window, start to the last answer.
    pub elapsed: Duration,
    /// A sample of acknowledged (2xx) delivery ids.
    pub acked_sample: Vec<String>,
}

impl PhaseStats {
    pub fn merge(&mut self, other: PhaseStats) {
        self.ok += other.ok;
        self.duplicates += other.duplicates;
        for (code, n) in other.non_2xx {
            *self.non_2xx.entry(code).or_default() += n;
        }
        self.errors += other.errors;
        self.abandoned += other.abandoned;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_us.extend(other.latencies_us);
        self.acked_sample.extend(other.acked_sample);
    }

    pub fn non_2xx_total(&self) -> u64 {
        self.non_2xx.values().sum()
    }

    /// 2xx answers per second over the measured window.
    pub fn ok_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.ok as f64 / secs } else { 0.0 }
    }

    /// Keeps `want` acknowledged ids spread evenly over everything sampled.
    pub fn thin_sample(&mut self, want: usize) {
        let have = self.acked_sample.len();
        if have <= want || want == 0 {
            if want == 0 {
                self.acked_sample.clear();
            }
            return;
        }
        let picked = (0..want).map(|i| self.acked_sample[i * have / want].clone());
        self.acked_sample = picked.collect();
    }
}

/// Bounded uniform sample of a stream (Algorithm R) with a small xorshift generator, so the
/// workers keep a fair sample of acknowledged ids without remembering all of them.
#[derive(Debug)]
pub struct Reservoir {
    cap: usize,
    seen: u64,
    state: u64,
    pub items: Vec<String>,
}

impl Reservoir {
    pub fn new(cap: usize, seed: u64) -> Self {
        Self { cap, seen: 0, state: seed | 1, items: Vec::with_capacity(cap) }
    }

    /// Offers an item; `make` is only called when the item is kept.
    pub fn offer(&mut self, make: impl FnOnce() -> String) {
        self.seen += 1;
        if self.items.len() < self.cap {
            self.items.push(make());
            return;
        }
        let j = self.next() % self.seen;
        if (j as usize) < self.cap {
            self.items[j as usize] = make();
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `12345.6` → `"12,346"`.
pub fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&v, 0.999), Some(100));
        assert_eq!(percentile(&v, 1.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7u32], 0.99), Some(7));
        assert_eq!(percentile::<u32>(&[], 0.5), None);
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.999), Some(999));
    }

    #[test]
    fn latency_summary_in_ms() {
        let mut us: Vec<u32> = (1..=1000).rev().map(|i| i * 10).collect();
        let s = LatencySummary::from_micros(&mut us).expect("non-empty");
        assert_eq!(s.count, 1000);
        assert_eq!(s.p50_ms, 5.0);
        assert_eq!(s.p99_ms, 9.9);
        assert_eq!(s.p999_ms, 9.99);
        assert_eq!(s.max_ms, 10.0);
        assert!(LatencySummary::from_micros(&mut []).is_none());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn reservoir_keeps_at_most_cap_and_everything_below_it() {
        let mut r = Reservoir::new(10, 42);
        for i in 0..5 {
            r.offer(|| i.to_string());
        }
        assert_eq!(r.items.len(), 5);
        for i in 5..10_000 {
            r.offer(|| i.to_string());
        }
        assert_eq!(r.items.len(), 10);
        // A fair sample of 10 out of 10,000 is very unlikely to be the first 10.
        assert!(r.items.iter().any(|s| s.parse::<u32>().unwrap_or(0) >= 10));
    }

    #[test]
    fn thinning_spreads_the_sample() {
        let mut s = PhaseStats { acked_sample: (0..1000).map(|i| i.to_string()).collect(), ..Default::default() };
        s.thin_sample(4);
        assert_eq!(s.acked_sample, ["0", "250", "500", "750"]);
    }

    #[test]
    fn merging_and_rates() {
        let mut a = PhaseStats { ok: 10, elapsed: Duration::from_secs(2), ..Default::default() };
        a.non_2xx.insert(500, 1);
        let mut b = PhaseStats { ok: 5, errors: 2, first_error: Some("reset".into()), ..Default::default() };
        b.non_2xx.insert(500, 2);
        b.non_2xx.insert(401, 1);
        a.merge(b);
        assert_eq!(a.ok, 15);
        assert_eq!(a.non_2xx_total(), 4);
        assert_eq!(a.errors, 2);
        assert_eq!(a.ok_per_sec(), 7.5);
        assert_eq!(a.first_error.as_deref(), Some("reset"));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(-20_000.0), "-20,000");
    }
}
