//! The pipeline state monitor: run and job state, baselines, anomalies, flaky detection.
//!
//! # Path of an event through the monitor
//!
//! ```text
//! pipeline-events ──▶ Monitor (shell.rs: an aetherveil_bus::Handler, subscription "monitor")
//!     1. parse the PipelineEvent; only Run and Job events matter, the rest are acknowledged
//!     2. a job completing before any event of its run: read the run from `runs` (the webhook
//!        stored it); not there either: ask the bus to redeliver, and after 3 deliveries
//!        classify the job by its branch name
//!     3. load the ONE document the event can change (a job's baselines in `baselines`, or a
//!        workflow's outcomes in `monitor_workflows`) if this instance does not hold it
//!     4. MonitorCore::observe (core.rs: pure, synchronous, no clock):
//!          live run/job state (live.rs): the furthest status wins; duplicates and stale
//!          events are no-ops
//!          job completed ─▶ JobSeries (series.rs), once per job id:
//!              flaky window (flaky.rs) ─▶ healthy / flaky / broken / fixed
//!              per branch class: failure window, queue and duration baselines (stats.rs)
//!              detectors ─▶ episodes ─▶ Vec<AnomalyChange>
//!          run completed ─▶ WorkflowState (workflow.rs), once per (run, attempt):
//!              success counts per class and day, time to recovery of the default branch
//!     5. ONE atomic commit: the changed document (guarded by its version) + one document per
//!        anomaly episode in `anomalies` + `opened`/`closed` messages on topic `anomalies`.
//!        A version conflict (another instance wrote) reloads the document and reapplies.
//!
//! GET /api/v1/anomalies, /api/v1/baselines, /api/v1/flaky (api.rs) read the stored documents.
//! ```
//!
//! # Baselines
//!
//! A series is `(repository, workflow, job, branch class)`; the class is `default` (a push to
//! `main`/`master`), `pr` (any `pull_request*` event) or `other`. Per series and quantity (log
//! duration of successful attempts; `ln(1 + queue seconds)` of every attempt): a sliding window
//! of the last 64 samples giving the exact median and MAD, and from them a one-step Huber center
//! and a winsorized spread (robust like the median, far less noisy: see
//! [`stats::RobustStats`]); an EWMA; hour-of-day and day-of-week residual buckets applied only
//! after 28 days of history, 12 samples in the bucket and a 3-standard-error difference
//! ([`stats::Seasonal`]). Everything time-based uses the records' own timestamps.
//!
//! # Detectors (defaults; all in [`config::MonitorConfig`])
//!
//! | kind | statistic | condition | episode closes |
//! |---|---|---|---|
//! | `duration_outlier` | robust z of log duration, per class | z >= 4, >= 1.25x and >= 5 s over expected | first run under z 3 |
//! | `duration_regression` | one-sided CUSUM of clipped z (k 0.75, clip 2.75, cap 40), pooled over the classes | S > 2 and the run itself z >= 0.75 | S <= 1.5 |
//! | `failure_rate_spike` | beta-binomial tail of failures in the last 10 attempts vs the decayed (half-life 200) baseline rate | p < 0.001 and >= 3 failures | p >= 0.05 |
//! | `queue_time` | robust z of `ln(1 + queue s)`, per class | z >= 4 and >= 60 s over expected | first run under z 3 |
//!
//! Nothing is flagged before a series has 10 samples; sigma has floors (5 % and 3 s) and a
//! small-sample inflation `sqrt(1 + 6/n)`. A single extreme run cannot open a regression
//! (z is clipped at 2.75 and h = 2 = 2.75 - 0.75). On synthetic log-normal workloads shaped
//! like the simulator's demo, 1.2 % of normal runs are flagged (duration kinds, counted per run
//! as the simulator scores them); a 1.9x slowdown of a job with p95/median 1.67 is detected
//! within 5 runs in ~97 % of histories, a 1.5x slowdown of a job with p95/median 1.5 (a shift of
//! 1.65 sigma, the hard end) in ~87 %.
//!
//! # Memory per tracked series
//!
//! Per branch-class series ([`series::ClassSeries`]): 1,032 bytes inline (two metrics with their
//! seasonal buckets, the failure window) + 2 x 256 bytes of windows + the sparse hourly history,
//! 20 bytes per hour with activity over the last 14 days (at most 336 hours, grown 32 at a time):
//! about 2–3 KB for a job running a few times a day, at most ~9 KB.
//! Per job ([`series::JobSeries`]): 256 bytes + the flaky window of 64 runs (64 bytes each,
//! 112 with reruns: 4–7 KB) + 40 bytes per episode slot and ~600 bytes per open episode.
//! Per workflow ([`workflow::WorkflowState`]): up to ~10 KB (256 remembered run attempts, 35
//! days of counts, 64 recovery samples). The live run and job tables are bounded separately
//! (20,000 runs, 100,000 jobs). A stored job document is ~8 KB of JSON per branch class.
//!
//! # Health and forecast inputs
//!
//! [`inputs::health_inputs`] / [`MonitorCore::health_inputs`]: per repository, completed runs
//! by outcome (all and default branch, totals and per day), time-to-recovery samples, the
//! workflows failing now, open anomaly episodes by kind, each job's flaky state and recent
//! failure rate. [`inputs::forecast_inputs`] / [`MonitorCore::histories`]: per series, the
//! hourly history (attempts, failures, duration and queue sums) and the recent durations and
//! queue times.

pub mod api;
pub mod config;
pub mod core;
pub mod detector;
pub mod error;
pub mod flaky;
pub mod forecast;
pub mod health;
pub mod inputs;
pub mod live;
pub mod model;
pub mod names;
pub mod series;
pub mod shell;
pub mod stats;
pub mod synth;
pub mod workflow;

pub use crate::core::{CoreStats, DocRef, MonitorCore, RepoHealthInputs};
pub use api::{ApiState, api_router};
pub use config::MonitorConfig;
pub use error::MonitorError;
pub use flaky::FlakyState;
pub use model::{Anomaly, AnomalyChange, AnomalyKind, AnomalyStatus, BranchClass, Evidence, JobKey, WorkflowKey};
pub use names::{SUBSCRIPTION, TOPIC_ANOMALIES};
pub use series::{JobSeries, JobSummary, SeriesHistory};
pub use shell::Monitor;
