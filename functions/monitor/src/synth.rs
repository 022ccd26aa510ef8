//! A synthetic workload: the `workflow_run` / `workflow_job` events of jobs with log-normal
//! durations, transient failures, reruns and injected regressions, with the ground truth.
//! Deterministic for a seed. Tests use it to check the detectors' targets; benchmarks use it to
//! drive [`crate::MonitorCore`].

use aetherveil_models::{DeliveryId, JobId, JobRecord, PipelineEvent, PipelineEventKind, RepoName, RunId, RunRecord};
use chrono::{DateTime, Duration, Utc};

/// One job (in a workflow of its own) to simulate.
#[derive(Debug, Clone)]
pub struct SynthJob {
    pub repo: String,
    pub workflow: String,
    pub job: String,
    pub median_secs: f64,
    pub p95_secs: f64,
    /// Runs per day from pushes to `main`, and from pull requests.
    pub push_per_day: f64,
    pub pr_per_day: f64,
    /// Chance an attempt fails (a failed attempt stops at 20–80 % of its duration).
    pub failure_rate: f64,
    /// Chance a failed run gets a rerun, and that the rerun passes.
    pub rerun_rate: f64,
    pub rerun_pass: f64,
    /// From this day on, durations are multiplied by the factor.
    pub regression: Option<(f64, f64)>,
    /// Queue time: median seconds (log-normal, sigma 1).
    pub queue_median_secs: f64,
}

impl SynthJob {
    pub fn new(repo: &str, workflow: &str, job: &str, median_secs: f64, p95_secs: f64) -> Self {
        Self {
            repo: repo.into(),
            workflow: workflow.into(),
            job: job.into(),
            median_secs,
            p95_secs,
            push_per_day: 8.0,
            pr_per_day: 3.0,
            failure_rate: 0.0,
            rerun_rate: 0.0,
            rerun_pass: 0.9,
            regression: None,
            queue_median_secs: 8.0,
        }
    }
}

/// The truth about one job attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthAttempt {
    pub job_index: usize,
    pub run_id: u64,
    pub job_id: u64,
    pub attempt: u32,
    pub run_created_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    pub failed: bool,
    pub regressed: bool,
    pub pull_request: bool,
}

#[derive(Debug, Clone)]
pub struct Synth {
    /// In event-time order.
    pub events: Vec<PipelineEvent>,
    pub attempts: Vec<SynthAttempt>,
    pub start: DateTime<Utc>,
}

/// Deterministic xorshift64* with Box–Muller normals.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-300);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

fn secs(s: f64) -> Duration {
    Duration::milliseconds((s * 1000.0).round() as i64)
}

fn event(
    n: &mut u64,
    github_event: &str,
    action: &str,
    repo: &str,
    at: DateTime<Utc>,
    kind: PipelineEventKind,
) -> PipelineEvent {
    *n += 1;
    PipelineEvent {
        delivery_id: DeliveryId(format!("synth-{n}")),
        github_event: github_event.into(),
        action: Some(action.into()),
        repo: Some(RepoName(repo.into())),
        installation_id: None,
        received_at: at,
        kind,
    }
}

/// Generates `days` of history starting at `start`.
pub fn generate(jobs: &[SynthJob], days: f64, start: DateTime<Utc>, seed: u64) -> Synth {
    let mut rng = Rng::new(seed);
    let mut timed: Vec<(DateTime<Utc>, u64, PipelineEvent)> = Vec::new();
    let mut attempts = Vec::new();
    let mut next_run = 1_000_000u64;
    let mut next_job = 50_000_000u64;
    let mut seq = 0u64;
    let mut n = 0u64;
    for (ji, spec) in jobs.iter().enumerate() {
        let sigma = (spec.p95_secs / spec.median_secs).ln() / 1.645;
        let mut triggers: Vec<(f64, bool)> = Vec::new();
        for (rate, pr) in [(spec.push_per_day, false), (spec.pr_per_day, true)] {
            if rate <= 0.0 {
                continue;
            }
            let mut t = rng.exponential(1.0 / rate);
            while t < days {
                triggers.push((t, pr));
                t += rng.exponential(1.0 / rate);
            }
        }
        triggers.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (day, pr) in triggers {
            next_run += 1;
            let run_id = next_run;
            let created = start + secs(day * 86_400.0);
            let sha = format!("{:040x}", rng.next_u64());
            let (event_name, branch) =
                if pr { ("pull_request", format!("feature/{run_id}")) } else { ("push", "main".to_owned()) };
            let regressed = spec.regression.is_some_and(|(d, _)| day >= d);
            let factor = spec.regression.filter(|_| regressed).map_or(1.0, |(_, f)| f);
            let mut attempt = 1u32;
            let mut attempt_at = created;
            loop {
                let run = RunRecord {
                    run_id: RunId(run_id),
                    repo: RepoName(spec.repo.clone()),
                    workflow_id: 1000 + ji as u64,
                    workflow_name: Some(spec.workflow.clone()),
                    workflow_path: None,
                    run_number: run_id,
                    run_attempt: attempt,
                    event: event_name.into(),
                    status: Some("queued".into()),
                    conclusion: None,
                    head_sha: sha.clone(),
                    head_branch: Some(branch.clone()),
                    head_repo: Some(spec.repo.clone()),
                    from_fork: false,
                    actor: None,
                    pull_requests: Vec::new(),
                    created_at: created,
                    updated_at: attempt_at,
                    run_started_at: Some(attempt_at),
                    html_url: None,
                    installation_id: None,
                };
                let queued = attempt_at + secs(1.0);
                let queue = spec.queue_median_secs * rng.normal().exp();
                let started = queued + secs(queue);
                // A rerun of a (transient) failure passes with `rerun_pass`.
                let failed = if attempt == 1 { rng.chance(spec.failure_rate) } else { !rng.chance(spec.rerun_pass) };
                let mut duration = spec.median_secs * (sigma * rng.normal()).exp() * factor;
                if failed {
                    duration *= 0.2 + 0.6 * rng.unit();
                }
                let completed = started + secs(duration);
                next_job += 1;
                let job = JobRecord {
                    job_id: JobId(next_job),
                    run_id: RunId(run_id),
                    run_attempt: attempt,
                    repo: RepoName(spec.repo.clone()),
                    workflow_name: Some(spec.workflow.clone()),
                    name: spec.job.clone(),
                    status: "queued".into(),
                    conclusion: None,
                    head_sha: sha.clone(),
                    head_branch: Some(branch.clone()),
                    labels: vec!["ubuntu-latest".into()],
                    runner_name: None,
                    runner_group: None,
                    created_at: Some(queued),
                    started_at: None,
                    completed_at: None,
                    steps: Vec::new(),
                    html_url: None,
                };
                let run_done = completed + secs(2.0);
                let conclusion = if failed { "failure" } else { "success" };
                let mut push = |at: DateTime<Utc>, e: PipelineEvent| {
                    seq += 1;
                    timed.push((at, seq, e));
                };
                push(
                    attempt_at,
                    event(
                        &mut n,
                        "workflow_run",
                        "requested",
                        &spec.repo,
                        attempt_at,
                        PipelineEventKind::Run(run.clone()),
                    ),
                );
                push(
                    queued,
                    event(&mut n, "workflow_job", "queued", &spec.repo, queued, PipelineEventKind::Job(job.clone())),
                );
                let running = JobRecord { status: "in_progress".into(), started_at: Some(started), ..job.clone() };
                push(
                    started,
                    event(&mut n, "workflow_job", "in_progress", &spec.repo, started, PipelineEventKind::Job(running)),
                );
                let done = JobRecord {
                    status: "completed".into(),
                    conclusion: Some(conclusion.into()),
                    started_at: Some(started),
                    completed_at: Some(completed),
                    ..job.clone()
                };
                push(
                    completed,
                    event(&mut n, "workflow_job", "completed", &spec.repo, completed, PipelineEventKind::Job(done)),
                );
                let run_completed = RunRecord {
                    status: Some("completed".into()),
                    conclusion: Some(conclusion.into()),
                    updated_at: run_done,
                    ..run
                };
                push(
                    run_done,
                    event(
                        &mut n,
                        "workflow_run",
                        "completed",
                        &spec.repo,
                        run_done,
                        PipelineEventKind::Run(run_completed),
                    ),
                );
                attempts.push(SynthAttempt {
                    job_index: ji,
                    run_id,
                    job_id: next_job,
                    attempt,
                    run_created_at: created,
                    completed_at: completed,
                    failed,
                    regressed,
                    pull_request: pr,
                });
                if !(failed && attempt < 3 && rng.chance(spec.rerun_rate)) {
                    break;
                }
                attempt += 1;
                attempt_at = run_done + secs(30.0);
            }
        }
    }
    timed.sort_by_key(|(at, seq, _)| (*at, *seq));
    Synth { events: timed.into_iter().map(|(_, _, e)| e).collect(), attempts, start }
}

/// Delivers `events` the way an at-least-once bus with concurrent webhooks does: each event is
/// duplicated with probability `duplicate`, and events are shuffled within windows of `window`.
pub fn disorder(events: &[PipelineEvent], duplicate: f64, window: usize, seed: u64) -> Vec<PipelineEvent> {
    let mut rng = Rng::new(seed ^ 0xD1CE);
    let mut out: Vec<PipelineEvent> = Vec::with_capacity(events.len() * 2);
    for e in events {
        out.push(e.clone());
        if rng.chance(duplicate) {
            out.push(e.clone());
        }
    }
    let w = window.max(1);
    for chunk in out.chunks_mut(w) {
        for i in (1..chunk.len()).rev() {
            let j = rng.below(i + 1);
            chunk.swap(i, j);
        }
    }
    out
}
