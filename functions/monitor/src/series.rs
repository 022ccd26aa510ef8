//! One job's state: a baseline series per branch class, the detectors, the open episodes and
//! the flaky tracker. This is the unit of persistence (one document in `baselines`).
//!
//! # Detectors (defaults in [`crate::config`])
//!
//! Durations are modelled in log space (CI durations are close to log-normal; a slowdown is a
//! ratio), standardized by the class's robust window center and spread
//! ([`crate::stats::RobustStats`]), with floors on the spread and a small-sample inflation
//! `sqrt(1 + c / n)`, and shifted by the seasonal correction when the history supports one.
//! Only successful attempts give duration samples: failed jobs stop early and timeouts stop at
//! the limit.
//!
//! - `duration_outlier`: robust z >= 4 (and >= 1.25x and >= 5 s slower), per class.
//! - `duration_regression`: one-sided CUSUM `S = min(cap, max(0, S + clip(z) - k))`, pooled
//!   over the job's classes (each run standardized against its own class); a run counts when
//!   `S > h` and the run itself is slow (`z >= flag_min_z`). Clipping `z` at `h + k` means a
//!   single extreme run cannot open a regression. Slowdowns only: a faster job is no anomaly.
//! - `failure_rate_spike`: beta-binomial upper tail of the failures in the last 10 attempts under
//!   the decayed baseline rate of the older attempts, condition `p < 0.001` with >= 3 failures.
//! - `queue_time`: robust z >= 4 on `ln(1 + queue seconds)` and >= 60 s over the expected wait.
//!
//! Every detector stays silent until its series has `warmup` samples. An episode opens on the
//! first run meeting the condition, counts the runs that meet it, keeps the latest evidence,
//! and closes on the first run past the hysteresis band (`close_z`, `h_close`, `p_close`).

use crate::config::MonitorConfig;
use crate::flaky::{FlakyState, FlakyTracker};
use crate::model::{Anomaly, AnomalyChange, AnomalyKind, AnomalyStatus, BranchClass, Evidence, JobKey, Outcome};
use crate::stats::{
    Ewma, FailureWindow, HourBucket, HourlyHistory, MAD_TO_SIGMA, RobustWindow, Seasonal, SeasonalOffset,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A finished job attempt, with everything the detectors need.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub job_id: u64,
    pub run_id: u64,
    pub attempt: u32,
    pub head_sha: String,
    pub class: BranchClass,
    pub outcome: Outcome,
    /// Event time of the completion (`completed_at`, else the latest time the record carries).
    pub at: DateTime<Utc>,
    /// When the job started running (seasonal buckets), if known.
    pub started_at: Option<DateTime<Utc>>,
    /// The run's creation (orders runs in the flaky window), if known.
    pub run_created_at: Option<DateTime<Utc>>,
    /// `started_at -> completed_at`, seconds.
    pub duration_secs: Option<f64>,
    /// `created_at -> started_at`, seconds.
    pub queue_secs: Option<f64>,
}

/// Baseline of one quantity (log duration or log queue time) of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub window: RobustWindow,
    pub ewma: Ewma,
    pub seasonal: Seasonal,
    /// Samples ever learned.
    pub n: u64,
}

/// How one value compares with its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    pub n: u32,
    /// Window median (log space).
    pub center: f64,
    /// Median plus the seasonal offset (log space).
    pub expected: f64,
    /// `1.4826 * MAD` (log space).
    pub sigma: f64,
    /// Sigma after floors and small-sample inflation: what `z` divides by.
    pub sigma_eff: f64,
    pub z: f64,
    pub seasonal: SeasonalOffset,
}

impl Metric {
    pub fn new(window: usize) -> Self {
        Self { window: RobustWindow::new(window), ewma: Ewma::default(), seasonal: Seasonal::default(), n: 0 }
    }

    /// `to_secs` maps the log-space center back to seconds (for the seconds floor of sigma).
    pub fn assess(
        &self,
        x: f64,
        at: DateTime<Utc>,
        span_days: f64,
        cfg: &MonitorConfig,
        to_secs: fn(f64) -> f64,
    ) -> Option<Assessment> {
        let n = self.window.len() as u32;
        if n < cfg.baseline.warmup {
            return None;
        }
        let stats = self.window.robust_stats()?;
        let (center, sigma) = if cfg.baseline.efficient {
            (stats.center, stats.spread)
        } else {
            (stats.median, MAD_TO_SIGMA * stats.mad)
        };
        let seasonal = self.seasonal.offset(at, span_days, &cfg.seasonal);
        let expected = center + seasonal.offset;
        let b = &cfg.baseline;
        let floor = b.sigma_floor_log.max((1.0 + b.sigma_floor_secs / to_secs(expected).max(1e-3)).ln());
        let sigma_eff = sigma.max(floor) * (1.0 + b.small_sample / f64::from(n)).sqrt();
        let z = (x - expected) / sigma_eff;
        Some(Assessment { n, center, expected, sigma, sigma_eff, z, seasonal })
    }

    /// Adds a sample; `median` is the window median before it (for the seasonal residual).
    pub fn learn(&mut self, x: f64, at: DateTime<Utc>, median: Option<f64>, cfg: &MonitorConfig) {
        if let Some(m) = median.or_else(|| self.window.median_mad().map(|(m, _)| m)) {
            self.seasonal.update(at, x - m);
        }
        self.window.push(x);
        self.ewma.update(x, cfg.baseline.ewma_alpha);
        self.n += 1;
    }

    pub fn heap_bytes(&self) -> usize {
        self.window.heap_bytes()
    }
}

/// `ln(seconds)`, for durations (at least 1 s).
pub fn duration_log(secs: f64) -> f64 {
    secs.max(1.0).ln()
}

/// `ln(1 + seconds)`, for queue times (zero is common).
pub fn queue_log(secs: f64) -> f64 {
    secs.max(0.0).ln_1p()
}

fn duration_secs(x: f64) -> f64 {
    x.exp()
}

fn queue_secs(x: f64) -> f64 {
    x.exp_m1()
}

/// One `(repository, workflow, job, branch class)` series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassSeries {
    pub class: BranchClass,
    pub duration: Metric,
    pub queue: Metric,
    pub failures: FailureWindow,
    pub hourly: HourlyHistory,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    /// Job attempts completed (every outcome).
    pub attempts: u64,
}

impl ClassSeries {
    fn new(class: BranchClass, cfg: &MonitorConfig) -> Self {
        Self {
            class,
            duration: Metric::new(cfg.baseline.window),
            queue: Metric::new(cfg.baseline.window),
            failures: FailureWindow::default(),
            hourly: HourlyHistory::default(),
            first_at: None,
            last_at: None,
            attempts: 0,
        }
    }

    /// Event-time span of the history, in days.
    pub fn span_days(&self) -> f64 {
        match (self.first_at, self.last_at) {
            (Some(a), Some(b)) => (b - a).num_seconds() as f64 / 86_400.0,
            _ => 0.0,
        }
    }

    fn touch(&mut self, at: DateTime<Utc>) {
        self.first_at = Some(self.first_at.map_or(at, |f| f.min(at)));
        self.last_at = Some(self.last_at.map_or(at, |l| l.max(at)));
        self.attempts += 1;
    }

    pub fn heap_bytes(&self) -> usize {
        self.duration.heap_bytes() + self.queue.heap_bytes() + self.hourly.heap_bytes()
    }
}

/// The pooled CUSUM of a job.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Cusum {
    pub s: f64,
    /// Runs since the statistic last left zero.
    pub run_length: u32,
    pub n: u64,
}

/// The episodes of one `(kind, branch class)`: how many there were, and the open one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeSlot {
    pub kind: AnomalyKind,
    pub class: String,
    pub episodes: u32,
    pub open: Option<Box<Anomaly>>,
}

/// What a detector says about one run.
#[derive(Debug, Clone, PartialEq)]
enum Signal {
    /// The condition holds.
    Fire { score: f64, threshold: f64, evidence: Evidence },
    /// The condition holds but the run is not evidence, or the statistic is inside the
    /// hysteresis band: an open episode stays open, nothing counts.
    Hold,
    /// The condition cleared: an open episode closes.
    Clear,
}

/// Label of the pooled regression detector's class.
pub const POOLED: &str = "all";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSeries {
    pub key: JobKey,
    pub classes: Vec<ClassSeries>,
    pub regression: Cusum,
    pub episodes: Vec<EpisodeSlot>,
    pub flaky: FlakyTracker,
    pub last_at: Option<DateTime<Utc>>,
    /// Completions applied, and redelivered ones skipped.
    pub completions: u64,
    pub duplicates: u64,
}

impl JobSeries {
    pub fn new(key: JobKey) -> Self {
        Self {
            key,
            classes: Vec::new(),
            regression: Cusum::default(),
            episodes: Vec::new(),
            flaky: FlakyTracker::default(),
            last_at: None,
            completions: 0,
            duplicates: 0,
        }
    }

    pub fn class(&self, class: BranchClass) -> Option<&ClassSeries> {
        self.classes.iter().find(|c| c.class == class)
    }

    fn class_index(&mut self, class: BranchClass, cfg: &MonitorConfig) -> usize {
        match self.classes.iter().position(|c| c.class == class) {
            Some(i) => i,
            None => {
                self.classes.push(ClassSeries::new(class, cfg));
                self.classes.sort_by_key(|c| c.class);
                self.classes.iter().position(|c| c.class == class).unwrap_or(0)
            }
        }
    }

    pub fn open_episodes(&self) -> impl Iterator<Item = &Anomaly> {
        self.episodes.iter().filter_map(|s| s.open.as_deref())
    }

    /// Applies one completion. `None` when it was already applied (a redelivery).
    pub fn observe(&mut self, c: &Completion, cfg: &MonitorConfig) -> Option<Vec<AnomalyChange>> {
        if self.flaky.contains(c.run_id, c.job_id) {
            self.duplicates += 1;
            return None;
        }
        self.completions += 1;
        self.last_at = Some(self.last_at.map_or(c.at, |l| l.max(c.at)));
        let order = c.run_created_at.unwrap_or(c.at);
        self.flaky.record(c.run_id, c.attempt, c.job_id, &c.head_sha, c.class, c.outcome, order, &cfg.flaky);
        self.flaky.evaluate(c.at, &cfg.flaky);

        let mut signals: Vec<(AnomalyKind, &'static str, Signal)> = Vec::new();
        let ci = self.class_index(c.class, cfg);
        let series = &mut self.classes[ci];
        series.touch(c.at);
        let span = series.span_days();
        let class = c.class.label();
        let seasonal_at = c.started_at.unwrap_or(c.at);

        if c.outcome != Outcome::Neutral {
            series.failures.push(c.outcome == Outcome::Failure, &cfg.failure_rate);
            if let Some(signal) = failure_signal(series, cfg, c.class) {
                signals.push((AnomalyKind::FailureRateSpike, class, signal));
            }
        }

        if let Some(q) = c.queue_secs {
            let x = queue_log(q);
            let a = series.queue.assess(x, seasonal_at, span, cfg, queue_secs);
            if let Some(a) = &a {
                let expected = queue_secs(a.expected);
                let q_cfg = &cfg.queue;
                let signal = if a.z >= q_cfg.z && q - expected >= q_cfg.min_excess_secs {
                    Signal::Fire {
                        score: a.z,
                        threshold: q_cfg.z,
                        evidence: seconds_evidence(q, a, queue_secs, c.class),
                    }
                } else if a.z >= q_cfg.close_z {
                    Signal::Hold
                } else {
                    Signal::Clear
                };
                signals.push((AnomalyKind::QueueTime, class, signal));
            }
            series.queue.learn(x, seasonal_at, a.map(|a| a.center), cfg);
        }

        let duration = c.duration_secs.filter(|_| c.outcome == Outcome::Success);
        if let Some(d) = duration {
            let x = duration_log(d);
            let a = series.duration.assess(x, seasonal_at, span, cfg, duration_secs);
            if let Some(a) = &a {
                let expected = duration_secs(a.expected);
                let o = &cfg.outlier;
                let slow_enough = d >= expected * o.min_ratio && d - expected >= o.min_excess_secs;
                let signal = if a.z >= o.z && slow_enough {
                    Signal::Fire {
                        score: a.z,
                        threshold: o.z,
                        evidence: seconds_evidence(d, a, duration_secs, c.class),
                    }
                } else if a.z >= o.close_z && slow_enough {
                    Signal::Hold
                } else {
                    Signal::Clear
                };
                signals.push((AnomalyKind::DurationOutlier, class, signal));

                let r = &cfg.regression;
                let cusum = &mut self.regression;
                let before = cusum.s;
                cusum.s = (cusum.s + a.z.clamp(-r.z_clip, r.z_clip) - r.k).clamp(0.0, r.cap);
                cusum.n += 1;
                cusum.run_length = if cusum.s == 0.0 {
                    0
                } else if before == 0.0 {
                    1
                } else {
                    cusum.run_length + 1
                };
                let cusum = &self.regression;
                let signal = if cusum.s > r.h && a.z >= r.flag_min_z {
                    let mut evidence = seconds_evidence(d, a, duration_secs, c.class);
                    evidence.cusum = Some(cusum.s);
                    evidence.run_length = Some(cusum.run_length);
                    Signal::Fire { score: cusum.s, threshold: r.h, evidence }
                } else if cusum.s > r.h_close {
                    Signal::Hold
                } else {
                    Signal::Clear
                };
                signals.push((AnomalyKind::DurationRegression, POOLED, signal));
            }
            self.classes[ci].duration.learn(x, seasonal_at, a.map(|a| a.center), cfg);
        }

        let failed = c.outcome == Outcome::Failure;
        self.classes[ci].hourly.record(c.at, failed, duration, c.queue_secs, cfg.limits.history_hours);

        let changes =
            signals.into_iter().filter_map(|(kind, class, signal)| self.apply(kind, class, signal, c)).collect();
        Some(changes)
    }

    fn apply(&mut self, kind: AnomalyKind, class: &str, signal: Signal, c: &Completion) -> Option<AnomalyChange> {
        let pos = match self.episodes.iter().position(|s| s.kind == kind && s.class == class) {
            Some(p) => p,
            None => {
                if !matches!(signal, Signal::Fire { .. }) {
                    return None;
                }
                self.episodes.push(EpisodeSlot { kind, class: class.to_owned(), episodes: 0, open: None });
                self.episodes.len() - 1
            }
        };
        let doc_id = self.key.doc_id();
        let slot = &mut self.episodes[pos];
        match signal {
            Signal::Fire { score, threshold, evidence } => match &mut slot.open {
                Some(a) => {
                    a.count += 1;
                    a.score = score;
                    a.threshold = threshold;
                    a.max_score = a.max_score.max(score);
                    a.evidence = evidence;
                    if c.at >= a.last_at {
                        a.last_at = c.at;
                        a.last_at_ms = c.at.timestamp_millis();
                        a.last_run_id = c.run_id;
                        a.last_job_id = c.job_id;
                    }
                    Some(AnomalyChange::Updated((**a).clone()))
                }
                None => {
                    slot.episodes += 1;
                    let a = Anomaly {
                        id: format!("{doc_id}~{}~{class}~{}", kind.label(), slot.episodes),
                        repo: self.key.repo.clone(),
                        workflow: self.key.workflow.clone(),
                        job: self.key.job.clone(),
                        branch_class: class.to_owned(),
                        kind,
                        score,
                        threshold,
                        max_score: score,
                        evidence,
                        run_id: c.run_id,
                        job_id: c.job_id,
                        at: c.at,
                        first_at: c.at,
                        last_at: c.at,
                        last_run_id: c.run_id,
                        last_job_id: c.job_id,
                        count: 1,
                        status: AnomalyStatus::Open,
                        closed_at: None,
                        last_at_ms: c.at.timestamp_millis(),
                    };
                    slot.open = Some(Box::new(a.clone()));
                    Some(AnomalyChange::Opened(a))
                }
            },
            Signal::Hold => None,
            Signal::Clear => slot.open.take().map(|mut a| {
                a.status = AnomalyStatus::Closed;
                a.closed_at = Some(c.at);
                AnomalyChange::Closed(*a)
            }),
        }
    }

    /// Bytes held by this job's state (struct plus heap), for the memory budget.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.key.repo.capacity()
            + self.key.workflow.capacity()
            + self.key.job.capacity()
            + self.classes.capacity() * std::mem::size_of::<ClassSeries>()
            + self.classes.iter().map(ClassSeries::heap_bytes).sum::<usize>()
            + self.episodes.capacity() * std::mem::size_of::<EpisodeSlot>()
            + self.open_episodes().count() * std::mem::size_of::<Anomaly>()
            + self.flaky.heap_bytes()
    }

    /// The API's view of the job: per-class baselines, the regression statistic, the flaky
    /// state and the open episodes.
    pub fn summary(&self, cfg: &MonitorConfig) -> JobSummary {
        JobSummary {
            id: self.key.doc_id(),
            repo: self.key.repo.clone(),
            workflow: self.key.workflow.clone(),
            job: self.key.job.clone(),
            last_at: self.last_at,
            completions: self.completions,
            series: self.classes.iter().map(|c| series_summary(c, cfg)).collect(),
            regression: RegressionSummary { cusum: self.regression.s, run_length: self.regression.run_length },
            flaky: FlakySummary {
                state: self.flaky.state,
                since: self.flaky.since,
                score: self.flaky.figures.score,
                runs: self.flaky.figures.runs,
                pass_on_retry: self.flaky.figures.pass_on_retry,
                retry_pass_rate: self.flaky.figures.retry_pass_rate,
                transitions: self.flaky.figures.transitions,
                failed_runs: self.flaky.figures.failed_runs,
                evidence_runs: self.flaky.evidence_runs(&cfg.flaky),
            },
            open_anomalies: self.open_episodes().map(|a| a.id.clone()).collect(),
        }
    }
}

fn seconds_evidence(value: f64, a: &Assessment, to_secs: fn(f64) -> f64, class: BranchClass) -> Evidence {
    let seasonal = a.seasonal.hour_used || a.seasonal.dow_used;
    let expected = to_secs(a.expected);
    Evidence {
        value,
        unit: "seconds".into(),
        center: to_secs(a.center),
        spread: a.sigma,
        window: a.n,
        expected: seasonal.then_some(expected),
        z: Some(a.z),
        ratio: (expected > 0.0).then(|| value / expected),
        run_branch_class: Some(class),
        ..Evidence::default()
    }
}

fn failure_signal(series: &ClassSeries, cfg: &MonitorConfig, class: BranchClass) -> Option<Signal> {
    let f = &cfg.failure_rate;
    let t = series.failures.test(f)?;
    let signal = if t.p_value < f.p_open && t.failures >= f.min_failures {
        Signal::Fire {
            score: -t.p_value.max(1e-300).log10(),
            threshold: -f.p_open.log10(),
            evidence: Evidence {
                value: f64::from(t.failures),
                unit: "failures".into(),
                center: t.baseline_rate,
                spread: t.baseline_sd,
                window: t.baseline_n.round() as u32,
                recent: Some(t.window),
                p_value: Some(t.p_value),
                ratio: (t.baseline_rate > 0.0).then(|| f64::from(t.failures) / f64::from(t.window) / t.baseline_rate),
                run_branch_class: Some(class),
                ..Evidence::default()
            },
        }
    } else if t.p_value < f.p_close {
        Signal::Hold
    } else {
        Signal::Clear
    };
    Some(signal)
}

/// Baseline of one series as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    pub branch_class: BranchClass,
    /// Duration samples learned (successful attempts).
    pub n: u64,
    /// Samples in the window now.
    pub window: u32,
    /// Median duration, seconds.
    pub center: Option<f64>,
    /// Robust sigma of log duration.
    pub spread: Option<f64>,
    /// EWMA of log duration, back in seconds.
    pub ewma: Option<f64>,
    pub queue: QueueSummary,
    pub failure_rate: FailureRateSummary,
    pub seasonal: SeasonalSummary,
    pub attempts: u64,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueSummary {
    pub n: u64,
    pub center: Option<f64>,
    pub spread: Option<f64>,
    pub ewma: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRateSummary {
    pub recent_failures: u32,
    pub recent_window: u32,
    /// Baseline rate (Jeffreys prior plus decayed counts).
    pub baseline_rate: f64,
    pub total_failures: u64,
    pub total_passes: u64,
}

/// Which seasonal buckets correct the expected duration now (empty: plain median).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalSummary {
    pub span_days: f64,
    /// Hours of day (UTC) with a correction.
    pub hours: Vec<u32>,
    /// Days of week (0 = Monday) with a correction.
    pub days: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionSummary {
    pub cusum: f64,
    pub run_length: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlakySummary {
    pub state: FlakyState,
    pub since: Option<DateTime<Utc>>,
    pub score: f64,
    pub runs: u32,
    pub pass_on_retry: u32,
    pub retry_pass_rate: f64,
    pub transitions: u32,
    pub failed_runs: u32,
    /// Pass-on-retry runs (flaky), or the latest runs (broken/fixed), newest first.
    pub evidence_runs: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: String,
    pub repo: String,
    pub workflow: String,
    pub job: String,
    pub last_at: Option<DateTime<Utc>>,
    pub completions: u64,
    pub series: Vec<SeriesSummary>,
    pub regression: RegressionSummary,
    pub flaky: FlakySummary,
    pub open_anomalies: Vec<String>,
}

fn series_summary(c: &ClassSeries, cfg: &MonitorConfig) -> SeriesSummary {
    let d = c.duration.window.median_mad();
    let q = c.queue.window.median_mad();
    let span = c.span_days();
    let (hours, days) = c.duration.seasonal.buckets_in_use(span, &cfg.seasonal);
    let rate = {
        let a = c.failures.base_fail + 0.5;
        let b = c.failures.base_pass + 0.5;
        a / (a + b)
    };
    SeriesSummary {
        branch_class: c.class,
        n: c.duration.n,
        window: c.duration.window.len() as u32,
        center: d.map(|(m, _)| duration_secs(m)),
        spread: d.map(|(_, mad)| MAD_TO_SIGMA * mad),
        ewma: (c.duration.ewma.n > 0).then(|| duration_secs(c.duration.ewma.mean)),
        queue: QueueSummary {
            n: c.queue.n,
            center: q.map(|(m, _)| queue_secs(m)),
            spread: q.map(|(_, mad)| MAD_TO_SIGMA * mad),
            ewma: (c.queue.ewma.n > 0).then(|| queue_secs(c.queue.ewma.mean)),
        },
        failure_rate: FailureRateSummary {
            recent_failures: c.failures.recent_failures(),
            recent_window: c.failures.len,
            baseline_rate: rate,
            total_failures: c.failures.total_fail,
            total_passes: c.failures.total_pass,
        },
        seasonal: SeasonalSummary { span_days: span, hours, days },
        attempts: c.attempts,
        first_at: c.first_at,
        last_at: c.last_at,
    }
}

/// Forecast input: one series' hourly history and recent durations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesHistory {
    pub repo: String,
    pub workflow: String,
    pub job: String,
    pub branch_class: BranchClass,
    /// Hours with activity, oldest first (hours since the Unix epoch, event time). Hours absent
    /// in between had no run.
    pub hourly: Vec<HourBucket>,
    /// The baseline window of successful durations, oldest first, seconds.
    pub recent_durations: Vec<f64>,
    /// The baseline window of queue times, oldest first, seconds.
    pub recent_queue_times: Vec<f64>,
}

impl JobSeries {
    pub fn histories(&self) -> Vec<SeriesHistory> {
        self.classes
            .iter()
            .map(|c| SeriesHistory {
                repo: self.key.repo.clone(),
                workflow: self.key.workflow.clone(),
                job: self.key.job.clone(),
                branch_class: c.class,
                hourly: c.hourly.buckets.iter().copied().collect(),
                recent_durations: c.duration.window.chronological().map(|x| duration_secs(f64::from(x))).collect(),
                recent_queue_times: c.queue.window.chronological().map(|x| queue_secs(f64::from(x))).collect(),
            })
            .collect()
    }

    /// Flaky and broken state for health.
    pub fn flaky_state(&self) -> FlakyState {
        self.flaky.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Rng;

    struct Feed {
        s: JobSeries,
        cfg: MonitorConfig,
        rng: Rng,
        n: u64,
        t: DateTime<Utc>,
    }

    impl Feed {
        fn new(seed: u64) -> Self {
            Self {
                s: JobSeries::new(JobKey::new("o/r", "CI", "test")),
                cfg: MonitorConfig::default(),
                rng: Rng::new(seed),
                n: 0,
                t: "2026-02-02T00:00:00Z".parse().expect("t"),
            }
        }

        fn run(&mut self, outcome: Outcome, duration: f64, queue: f64) -> Vec<AnomalyChange> {
            self.n += 1;
            self.t += chrono::Duration::minutes(90);
            let started = self.t + chrono::Duration::milliseconds((queue * 1000.0) as i64);
            let c = Completion {
                job_id: 10_000 + self.n,
                run_id: self.n,
                attempt: 1,
                head_sha: format!("sha{}", self.n),
                class: BranchClass::Default,
                outcome,
                at: started + chrono::Duration::milliseconds((duration * 1000.0) as i64),
                started_at: Some(started),
                run_created_at: Some(self.t),
                duration_secs: Some(duration),
                queue_secs: Some(queue),
            };
            self.s.observe(&c, &self.cfg).expect("not a duplicate")
        }

        /// A normal run: log-normal duration around 300 s (sigma 0.25), queue around 10 s.
        fn normal(&mut self, factor: f64) -> Vec<AnomalyChange> {
            let d = 300.0 * factor * (0.25 * self.rng.normal()).exp();
            let q = 10.0 * (0.5 * self.rng.normal()).exp();
            self.run(Outcome::Success, d, q)
        }
    }

    fn of_kind(changes: &[AnomalyChange], kind: AnomalyKind) -> Vec<&AnomalyChange> {
        changes.iter().filter(|c| c.anomaly().kind == kind).collect()
    }

    #[test]
    fn nothing_is_flagged_during_warmup() {
        let mut f = Feed::new(1);
        for i in 0..f.cfg.baseline.warmup {
            let d = if i % 2 == 0 { 10.0 } else { 5_000.0 };
            assert!(f.run(Outcome::Success, d, 1_000.0 * f64::from(i)).is_empty(), "flagged sample {i}");
        }
    }

    #[test]
    fn an_ongoing_regression_is_one_episode_whose_count_grows_and_a_recurrence_is_a_new_one() {
        let mut f = Feed::new(2);
        for _ in 0..80 {
            f.normal(1.0);
        }
        let mut opened = Vec::new();
        let mut last_count = 0;
        let mut first_flag = None;
        for i in 0..20 {
            for c in of_kind(&f.normal(1.8), AnomalyKind::DurationRegression) {
                match c {
                    AnomalyChange::Opened(a) => {
                        opened.push(a.id.clone());
                        first_flag.get_or_insert(i + 1);
                    }
                    AnomalyChange::Updated(a) => {
                        assert!(a.count > last_count);
                        last_count = a.count;
                    }
                    AnomalyChange::Closed(a) => panic!("closed during the regression: {a:?}"),
                }
            }
        }
        assert_eq!(opened.len(), 1, "one episode: {opened:?}");
        assert!(first_flag.is_some_and(|n| n <= 5), "detected after {first_flag:?} runs");
        assert!(last_count >= 10, "count {last_count}");
        let open = f.s.open_episodes().find(|a| a.kind == AnomalyKind::DurationRegression).expect("open");
        assert_eq!(open.branch_class, POOLED);
        assert!(open.evidence.cusum.is_some_and(|s| s > f.cfg.regression.h));
        assert_eq!(open.first_at, open.at);
        assert!(open.last_at > open.first_at);

        // It clears once runs are back to normal...
        let mut closed = false;
        for _ in 0..40 {
            closed |= of_kind(&f.normal(1.0), AnomalyKind::DurationRegression)
                .iter()
                .any(|c| matches!(c, AnomalyChange::Closed(a) if a.id == opened[0]));
        }
        assert!(closed, "the episode never closed");
        for _ in 0..60 {
            f.normal(1.0);
        }
        // ...and a recurrence is a new episode.
        let mut second = None;
        for _ in 0..10 {
            for c in of_kind(&f.normal(1.8), AnomalyKind::DurationRegression) {
                if let AnomalyChange::Opened(a) = c {
                    second = Some(a.id.clone());
                }
            }
        }
        let second = second.expect("the recurrence was not detected");
        assert_ne!(second, opened[0]);
        assert!(second.ends_with("~duration_regression~all~2"), "{second}");
    }

    #[test]
    fn a_single_slow_run_is_an_outlier_not_a_regression() {
        let mut f = Feed::new(3);
        for _ in 0..60 {
            f.normal(1.0);
        }
        let changes = f.run(Outcome::Success, 300.0 * 5.0, 10.0);
        let outliers = of_kind(&changes, AnomalyKind::DurationOutlier);
        assert!(matches!(outliers.as_slice(), [AnomalyChange::Opened(_)]), "{changes:?}");
        assert!(of_kind(&changes, AnomalyKind::DurationRegression).is_empty(), "one run opened a regression");
        let a = outliers[0].anomaly();
        assert_eq!(a.evidence.value, 1500.0);
        assert!(a.evidence.center > 250.0 && a.evidence.center < 350.0, "{:?}", a.evidence);
        assert!(a.score >= a.threshold && a.threshold == f.cfg.outlier.z);
        assert_eq!(a.evidence.unit, "seconds");
        let next = f.run(Outcome::Success, 300.0, 10.0);
        assert!(
            of_kind(&next, AnomalyKind::DurationOutlier).iter().any(|c| matches!(c, AnomalyChange::Closed(_))),
            "{next:?}"
        );
    }

    #[test]
    fn failed_runs_give_no_duration_samples() {
        let mut f = Feed::new(4);
        for _ in 0..40 {
            f.normal(1.0);
        }
        let n = f.s.classes[0].duration.n;
        // A failure that ran for ages (a timeout) is not a slow run.
        let changes = f.run(Outcome::Failure, 21_600.0, 10.0);
        assert!(of_kind(&changes, AnomalyKind::DurationOutlier).is_empty());
        assert_eq!(f.s.classes[0].duration.n, n);
        assert_eq!(f.s.classes[0].queue.n, 41, "queue time counts whatever the outcome");
    }

    #[test]
    fn a_failure_streak_is_a_failure_rate_spike_that_closes_after_recovery() {
        let mut f = Feed::new(5);
        for i in 0..100 {
            let outcome = if i % 25 == 7 { Outcome::Failure } else { Outcome::Success };
            let d = 300.0 * (0.25 * f.rng.normal()).exp();
            assert!(of_kind(&f.run(outcome, d, 10.0), AnomalyKind::FailureRateSpike).is_empty());
        }
        let mut opened_after = None;
        for i in 1..=6 {
            let changes = f.run(Outcome::Failure, 100.0, 10.0);
            if of_kind(&changes, AnomalyKind::FailureRateSpike).iter().any(|c| matches!(c, AnomalyChange::Opened(_))) {
                opened_after.get_or_insert(i);
            }
        }
        let opened_after = opened_after.expect("no spike");
        assert!(opened_after <= 5, "after {opened_after} failures");
        let a = f.s.open_episodes().find(|a| a.kind == AnomalyKind::FailureRateSpike).expect("open").clone();
        assert_eq!(a.evidence.unit, "failures");
        assert!(a.evidence.p_value.is_some_and(|p| p < f.cfg.failure_rate.p_open));
        assert!(a.count >= 2, "count {}", a.count);
        assert_eq!(a.branch_class, "default");
        let mut closed = false;
        for _ in 0..12 {
            closed |= of_kind(&f.normal(1.0), AnomalyKind::FailureRateSpike)
                .iter()
                .any(|c| matches!(c, AnomalyChange::Closed(_)));
        }
        assert!(closed);
    }

    #[test]
    fn a_long_wait_for_a_runner_is_a_queue_time_anomaly() {
        let mut f = Feed::new(6);
        for _ in 0..60 {
            f.normal(1.0);
        }
        let changes = f.run(Outcome::Success, 300.0, 1_800.0);
        let q = of_kind(&changes, AnomalyKind::QueueTime);
        assert!(matches!(q.as_slice(), [AnomalyChange::Opened(_)]), "{changes:?}");
        assert_eq!(q[0].anomaly().evidence.value, 1_800.0);
        // 40 s instead of 10 s is unusual but not worth an alert (min excess 60 s).
        let mut g = Feed::new(7);
        for _ in 0..60 {
            g.normal(1.0);
        }
        assert!(of_kind(&g.run(Outcome::Success, 300.0, 45.0), AnomalyKind::QueueTime).is_empty());
    }

    #[test]
    fn a_redelivered_completion_is_not_applied_twice() {
        let mut f = Feed::new(8);
        f.normal(1.0);
        let mut c = Completion {
            job_id: 1,
            run_id: 1,
            attempt: 1,
            head_sha: "a".into(),
            class: BranchClass::Pr,
            outcome: Outcome::Success,
            at: f.t,
            started_at: None,
            run_created_at: None,
            duration_secs: Some(10.0),
            queue_secs: None,
        };
        assert!(f.s.observe(&c, &f.cfg).is_some());
        assert!(f.s.observe(&c, &f.cfg).is_none());
        assert_eq!(f.s.duplicates, 1);
        c.job_id = 2;
        c.attempt = 2;
        assert!(f.s.observe(&c, &f.cfg).is_some(), "a rerun is a new job");
        assert_eq!(f.s.class(BranchClass::Pr).expect("pr").duration.n, 2);
    }

    #[test]
    fn the_state_survives_a_json_round_trip_and_behaves_the_same() {
        let mut a = Feed::new(9);
        for _ in 0..70 {
            a.normal(1.0);
        }
        let json = serde_json::to_value(&a.s).expect("json");
        let restored: JobSeries = serde_json::from_value(json).expect("back");
        let mut b = Feed { s: restored, cfg: a.cfg.clone(), rng: a.rng.clone(), n: a.n, t: a.t };
        for _ in 0..30 {
            let ca: Vec<String> = a.normal(1.7).iter().map(|c| format!("{}:{}", c.label(), c.anomaly().id)).collect();
            let cb: Vec<String> = b.normal(1.7).iter().map(|c| format!("{}:{}", c.label(), c.anomaly().id)).collect();
            assert_eq!(ca, cb);
        }
        assert_eq!(a.s.regression.s.to_bits() > 0, b.s.regression.s.to_bits() > 0);
        assert_eq!(a.s.summary(&a.cfg).series[0].n, b.s.summary(&b.cfg).series[0].n);
    }

    #[test]
    fn memory_per_series_stays_within_the_documented_bound() {
        let mut f = Feed::new(10);
        // Every hour for three weeks, three branch classes, failures and reruns.
        for i in 0..(24 * 21) {
            let class = BranchClass::ALL[i % 3];
            let started = f.t + chrono::Duration::hours(i as i64);
            let c = Completion {
                job_id: 1 + i as u64,
                run_id: 1 + i as u64 / 2,
                attempt: 1 + (i as u32 % 2),
                head_sha: format!("{i}"),
                class,
                outcome: if i % 7 == 0 { Outcome::Failure } else { Outcome::Success },
                at: started + chrono::Duration::minutes(5),
                started_at: Some(started),
                run_created_at: Some(started),
                duration_secs: Some(300.0),
                queue_secs: Some(5.0),
            };
            f.s.observe(&c, &f.cfg);
        }
        let bytes = f.s.approx_bytes();
        // Documented in the crate docs: at most ~9 KB per branch-class series (a full two-week
        // hourly history), plus ~10 KB per job (flaky window with reruns, episode slots).
        assert!(bytes <= 3 * 9_216 + 10_240, "{bytes} bytes");
        assert!(f.s.classes.iter().all(|c| c.heap_bytes() + std::mem::size_of::<ClassSeries>() <= 9_216));
    }
}
