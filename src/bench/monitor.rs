//! `aetherveil bench monitor`: pipeline events per second through the monitor's core, in
//! process on one thread, and the memory it holds per tracked series.
//!
//! The events are built up front (a run event, then its job's completion, per run), so the
//! figure is the monitor's own work: live state, baselines, detectors, episodes, flaky windows.

use aetherveil_models::events::{JobRecord, PipelineEvent, PipelineEventKind, RunRecord};
use aetherveil_models::{DeliveryId, JobId, RepoName, RunId};
use aetherveil_monitor::{MonitorConfig, MonitorCore};
use chrono::{DateTime, Duration, Utc};
use std::time::Instant;

use super::stats::thousands;

/// Throughput target of the issue, on one core.
const TARGET_PER_SEC: f64 = 200_000.0;

#[derive(Debug, clap::Args)]
pub struct MonitorBenchArgs {
    /// Tracked series (repository × workflow × job) in the throughput phase.
    #[arg(long, default_value_t = 2_000)]
    pub series: usize,
    /// Completed runs per series in the throughput phase.
    #[arg(long, default_value_t = 200)]
    pub runs: usize,
    /// Series in the memory phase, and runs fed to each before measuring.
    #[arg(long, default_value_t = 10_000)]
    pub memory_series: usize,
    #[arg(long, default_value_t = 60)]
    pub memory_runs: usize,
}

/// Deterministic noise in [0, 1).
fn noise(i: u64) -> f64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn event(n: u64, repo: &str, at: DateTime<Utc>, kind: PipelineEventKind) -> PipelineEvent {
    PipelineEvent {
        delivery_id: DeliveryId::parse(&format!("bench-{n}")).unwrap_or(DeliveryId(format!("bench-{n}"))),
        github_event: if matches!(kind, PipelineEventKind::Run(_)) { "workflow_run" } else { "workflow_job" }.into(),
        action: Some("completed".into()),
        repo: Some(RepoName(repo.to_owned())),
        installation_id: None,
        received_at: at,
        kind,
    }
}

/// For each run of each series: the run's completed event, then its one job's.
fn events(series: usize, runs: usize) -> Vec<PipelineEvent> {
    let start = DateTime::<Utc>::from_timestamp(1_790_000_000, 0).unwrap_or_default();
    let mut out = Vec::with_capacity(series * runs * 2);
    let mut n = 0u64;
    for r in 0..runs as u64 {
        for s in 0..series as u64 {
            let repo = format!("bench-org/repo-{}", s / 20);
            let run_id = 1_000_000 + r * series as u64 + s;
            let created = start + Duration::minutes((r * 30) as i64) + Duration::seconds(s as i64 % 1800);
            let queued = Duration::seconds(5 + (noise(run_id * 3) * 30.0) as i64);
            let took = Duration::seconds((300.0 * (0.25 * (noise(run_id * 7) - 0.5)).exp()) as i64);
            let failed = noise(run_id * 11) < 0.03;
            let conclusion = Some(if failed { "failure" } else { "success" }.to_owned());
            let completed = created + queued + took;
            let run = RunRecord {
                run_id: RunId(run_id),
                repo: RepoName(repo.clone()),
                workflow_id: 7,
                workflow_name: Some("CI".into()),
                workflow_path: Some(".github/workflows/ci.yml".into()),
                run_number: r + 1,
                run_attempt: 1,
                event: "push".into(),
                status: Some("completed".into()),
                conclusion: conclusion.clone(),
                head_sha: format!("{run_id:040x}"),
                head_branch: Some("main".into()),
                head_repo: Some(repo.clone()),
                from_fork: false,
                actor: None,
                pull_requests: Vec::new(),
                created_at: created,
                updated_at: completed,
                run_started_at: Some(created),
                html_url: None,
                installation_id: None,
            };
            let job = JobRecord {
                job_id: JobId(run_id * 10),
                run_id: RunId(run_id),
                run_attempt: 1,
                repo: RepoName(repo.clone()),
                workflow_name: Some("CI".into()),
                name: format!("job-{}", s % 20),
                status: "completed".into(),
                conclusion,
                head_sha: format!("{run_id:040x}"),
                head_branch: Some("main".into()),
                labels: vec!["ubuntu-latest".into()],
                runner_name: Some("GitHub Actions 2".into()),
                runner_group: None,
                created_at: Some(created),
                started_at: Some(created + queued),
                completed_at: Some(completed),
                steps: Vec::new(),
                html_url: None,
            };
            n += 1;
            out.push(event(n, &repo, completed, PipelineEventKind::Run(run)));
            n += 1;
            out.push(event(n, &repo, completed, PipelineEventKind::Job(job)));
        }
    }
    out
}

pub fn monitor(args: MonitorBenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("bench: WARNING: a debug build; run `cargo run --release -- bench monitor` for real figures");
    }
    eprintln!("bench: monitor: building {} events", 2 * args.series * args.runs);
    let evs = events(args.series, args.runs);
    let mut core = MonitorCore::new(MonitorConfig::default())?;
    let t = Instant::now();
    let mut changes = 0usize;
    for e in &evs {
        changes += core.observe(e).len();
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = evs.len() as f64 / secs;
    drop(evs);
    drop(core);

    eprintln!("bench: monitor: memory with {} series × {} runs", args.memory_series, args.memory_runs);
    let evs = events(args.memory_series, args.memory_runs);
    let before = super::process::own_status_kb("VmRSS:");
    let mut core = MonitorCore::new(MonitorConfig::default())?;
    for e in &evs {
        core.observe(e);
    }
    let after = super::process::own_status_kb("VmRSS:");
    let tracked = core.all_series().count();
    let verdict = if rate >= TARGET_PER_SEC { "PASS" } else { "FAIL" };
    println!();
    println!("aetherveil bench monitor: MonitorCore::observe on one thread, events built up front");
    println!(
        "  events/s                 {:>12}   target >= {} on one core  {verdict}",
        thousands(rate),
        thousands(TARGET_PER_SEC)
    );
    println!(
        "  events                   {:>12}   ({} series × {} runs, run + job event each)",
        thousands(2.0 * (args.series * args.runs) as f64),
        args.series,
        args.runs
    );
    println!("  anomaly changes          {:>12}", changes);
    let accounted: usize = core.all_series().map(|s| s.approx_bytes()).sum();
    println!(
        "  series state per 10,000  {:>12}   (the series' own accounting: baselines, windows, hourly history, flaky window)",
        format!("{:.1} MB", accounted as f64 / tracked.max(1) as f64 * 10_000.0 / 1e6)
    );
    if let (Some(b), Some(a)) = (before, after) {
        let per_10k = (a.saturating_sub(b)) as f64 * 1024.0 / tracked.max(1) as f64 * 10_000.0;
        println!(
            "  process RSS per 10,000   {:>12}   ({tracked} series after {} runs each; also the bounded live run/job tables, workflows and allocator slack)",
            format!("{:.1} MB", per_10k / 1e6),
            args.memory_runs
        );
    }
    drop(evs);
    Ok(())
}
