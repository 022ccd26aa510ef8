//! The simulated world: repositories, runs, jobs, caches, issues and check runs, the timeline of
//! what happens next, and the ground truth of every failure.
//!
//! Everything is driven by [`World::step`], which takes the earliest due event off the timeline,
//! changes the state and returns the webhook deliveries GitHub would send for it. Reruns asked
//! through the REST API add events to the same timeline.

use crate::failure::FailureKind;
use crate::logs::{self, LogSpec, RenderedLog};
use crate::model::{JobInfo, PullRequestRef, RunInfo, RunnerInfo, Status, StepInfo, Tool};
use crate::payloads::{self, pseudo_sha as sha};
use crate::rng::{Rng, fnv1a};
use crate::scenario::{JobSpec, Scenario, Trigger};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// A webhook GitHub would send now.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: &'static str,
    pub body: Value,
    /// Simulated time of the event.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Push(usize),
    PullRequest(usize),
    RunRequested(u64),
    RunInProgress(u64),
    JobQueued(u64),
    JobStarted(u64),
    JobCompleted(u64),
    RunCompleted(u64),
}

/// A failure the simulator injected into one job attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Injected {
    pub kind: FailureKind,
    pub transient: bool,
}

pub struct RepoState {
    pub name: String,
    pub default_branch: String,
    pub pushes: u64,
    pub head_sha: String,
    pub pull_requests: u64,
    pub caches: Vec<Cache>,
    pub issues: Vec<Issue>,
    pub check_runs: Vec<CheckRun>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cache {
    pub id: u64,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub key: String,
    pub version: String,
    pub last_accessed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub size_in_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub labels: Vec<String>,
    pub comments: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub output: Value,
    pub details_url: Option<String>,
    pub external_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

pub struct RunState {
    pub info: RunInfo,
    pub repo: usize,
    pub workflow: usize,
    /// Pushes to the default branch the run's code includes (decides breakages).
    pub push_index: u64,
    /// Job ids per attempt (index 0 = attempt 1). Jobs carried over by a failed-jobs rerun keep
    /// their id and appear in the later attempt too.
    pub attempts: Vec<Vec<u64>>,
    /// How each attempt ended, in order: one entry per completed attempt.
    pub completions: Vec<AttemptOutcome>,
    /// The newest attempt's jobs still to complete.
    pending_jobs: usize,
}

/// The end of one attempt of a run: when it completed and with what conclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptOutcome {
    pub attempt: u32,
    pub completed_at: DateTime<Utc>,
    /// `success`, `failure` or `cancelled` (a timed-out job cancels).
    pub conclusion: String,
}

pub struct JobState {
    pub info: JobInfo,
    pub repo: usize,
    pub workflow: usize,
    pub spec: usize,
    pub tool: Tool,
    pub failure: Option<Injected>,
    pub duration: Duration,
    pub seed: u64,
}

/// What the platform asked of the simulated GitHub (write calls only).
#[derive(Debug, Clone, Serialize)]
pub struct PlatformAction {
    pub at: DateTime<Utc>,
    pub repo: String,
    pub action: String,
    pub target: String,
}

/// One failed job attempt, with what the simulator knows about it.
#[derive(Debug, Clone, Serialize)]
pub struct FailureRecord {
    pub repo: String,
    pub workflow: String,
    pub job: String,
    pub run_id: u64,
    pub attempt: u32,
    pub job_id: u64,
    pub kind: FailureKind,
    pub transient: bool,
    pub at: DateTime<Utc>,
    pub summary: String,
}

/// A rerun the platform asked for.
#[derive(Debug, Clone, Serialize)]
pub struct RerunRecord {
    pub repo: String,
    pub run_id: u64,
    /// The attempt that was rerun.
    pub attempt: u32,
    pub failed_jobs_only: bool,
    pub at: DateTime<Utc>,
    /// Failed jobs of that attempt that were rerun, with their injected failure.
    pub rerun_failures: Vec<(u64, Injected)>,
}

/// A rerun the platform asked for and the simulated GitHub refused.
#[derive(Debug, Clone, Serialize)]
pub struct RerunRefusal {
    pub repo: String,
    pub run_id: u64,
    /// The run's newest attempt when the request arrived.
    pub attempt: u32,
    pub failed_jobs_only: bool,
    pub at: DateTime<Utc>,
    pub reason: RefusalReason,
}

/// Why the simulated GitHub refused a rerun (403, as GitHub does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The run's newest attempt is still queued or in progress.
    NotCompleted,
    /// `rerun-failed-jobs` on an attempt without failed jobs.
    NoFailedJobs,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum RerunError {
    #[error("Not Found")]
    NotFound,
    #[error("{0}")]
    Refused(String),
}

pub struct World {
    pub scenario: Scenario,
    pub sim_start: DateTime<Utc>,
    pub sim_end: DateTime<Utc>,
    pub repos: Vec<RepoState>,
    pub runs: HashMap<u64, RunState>,
    pub jobs: HashMap<u64, JobState>,
    timeline: BinaryHeap<Reverse<(i64, u64, Event)>>,
    seq: u64,
    rng: Rng,
    next_run_id: u64,
    next_job_id: u64,
    pub next_id: u64,
    pub failures: Vec<FailureRecord>,
    pub reruns: Vec<RerunRecord>,
    /// Rerun requests refused with a 403 (unknown runs, answered 404, are not recorded).
    pub rerun_refusals: Vec<RerunRefusal>,
    pub actions: Vec<PlatformAction>,
    /// Deliveries produced so far, by event type.
    pub produced: BTreeMap<&'static str, u64>,
}

impl World {
    pub fn new(scenario: Scenario, now: DateTime<Utc>) -> Self {
        let sim_start = scenario.start.unwrap_or(now - scenario.span());
        let sim_end = sim_start + scenario.span();
        let rng = Rng::derive(scenario.seed, "world");
        let repos = scenario
            .repos
            .iter()
            .map(|r| RepoState {
                name: r.name.clone(),
                default_branch: r.default_branch.clone(),
                pushes: 0,
                head_sha: sha(&format!("{}:initial", r.name)),
                pull_requests: 0,
                caches: Vec::new(),
                issues: Vec::new(),
                check_runs: Vec::new(),
            })
            .collect();
        let mut world = Self {
            sim_start,
            sim_end,
            repos,
            runs: HashMap::new(),
            jobs: HashMap::new(),
            timeline: BinaryHeap::new(),
            seq: 0,
            rng,
            next_run_id: 9_000_000_000 + (scenario.seed % 1000) * 1_000_000,
            next_job_id: 30_000_000_000 + (scenario.seed % 1000) * 10_000_000,
            next_id: 1,
            failures: Vec::new(),
            reruns: Vec::new(),
            rerun_refusals: Vec::new(),
            actions: Vec::new(),
            produced: BTreeMap::new(),
            scenario,
        };
        for i in 0..world.repos.len() {
            world.schedule_trigger(Event::Push(i), sim_start);
            world.schedule_trigger(Event::PullRequest(i), sim_start);
        }
        world
    }

    /// Simulated time of the next event, if any.
    pub fn next_at(&self) -> Option<DateTime<Utc>> {
        self.timeline.peek().map(|Reverse((ms, _, _))| from_ms(*ms))
    }

    /// Takes the next event off the timeline if it is due at `now` (simulated) and applies it.
    pub fn step(&mut self, now: DateTime<Utc>) -> Option<Vec<Delivery>> {
        let Reverse((ms, _, _)) = *self.timeline.peek()?;
        if ms > to_ms(now) {
            return None;
        }
        let Reverse((ms, _, event)) = self.timeline.pop()?;
        let out = self.apply(event, from_ms(ms));
        for d in &out {
            *self.produced.entry(d.event).or_default() += 1;
        }
        Some(out)
    }

    fn push_event(&mut self, at: DateTime<Utc>, event: Event) {
        self.seq += 1;
        self.timeline.push(Reverse((to_ms(at), self.seq, event)));
    }

    /// Pushes and pull requests arrive as Poisson processes at the repository's daily rates.
    fn schedule_trigger(&mut self, event: Event, after: DateTime<Utc>) {
        let per_day = match event {
            Event::Push(r) => self.scenario.repos[r].pushes_per_day,
            Event::PullRequest(r) => self.scenario.repos[r].pull_requests_per_day,
            _ => return,
        };
        if per_day <= 0.0 {
            return;
        }
        let gap = self.rng.exponential(86_400_000.0 / per_day);
        let at = after + Duration::milliseconds(gap.max(1.0) as i64);
        if at < self.sim_end {
            self.push_event(at, event);
        }
    }

    fn apply(&mut self, event: Event, at: DateTime<Utc>) -> Vec<Delivery> {
        match event {
            Event::Push(r) => {
                let repo = &mut self.repos[r];
                repo.pushes += 1;
                repo.head_sha = sha(&format!("{}:push:{}", repo.name, repo.pushes));
                let (branch, head, push_index) = (repo.default_branch.clone(), repo.head_sha.clone(), repo.pushes);
                for w in self.workflows_for(r, Trigger::Push) {
                    self.create_run(r, w, "push", &branch, &head, None, push_index, at);
                }
                self.schedule_trigger(event, at);
                Vec::new()
            }
            Event::PullRequest(r) => {
                let from_fork = self.rng.chance(self.scenario.repos[r].fork_share);
                let repo = &mut self.repos[r];
                repo.pull_requests += 1;
                let number = repo.pull_requests;
                let name = repo.name.split_once('/').map_or(repo.name.as_str(), |(_, n)| n);
                let head_repo =
                    if from_fork { format!("contributor-{}/{name}", number % 17) } else { repo.name.clone() };
                let pr = PullRequestRef {
                    number,
                    head_ref: format!("feature/change-{number}"),
                    head_sha: sha(&format!("{}:pr:{number}", repo.name)),
                    head_repo,
                    base_ref: repo.default_branch.clone(),
                    base_sha: repo.head_sha.clone(),
                };
                let push_index = repo.pushes;
                for w in self.workflows_for(r, Trigger::PullRequest) {
                    self.create_run(r, w, "pull_request", &pr.head_ref, &pr.head_sha, Some(pr.clone()), push_index, at);
                }
                if from_fork {
                    // Runs in the base repository's context, on the base branch's code.
                    for w in self.workflows_for(r, Trigger::PullRequestTarget) {
                        let (base, base_sha) = (pr.base_ref.clone(), pr.base_sha.clone());
                        self.create_run(
                            r,
                            w,
                            "pull_request_target",
                            &base,
                            &base_sha,
                            Some(pr.clone()),
                            push_index,
                            at,
                        );
                    }
                }
                self.schedule_trigger(event, at);
                Vec::new()
            }
            Event::RunRequested(id) => self.run_delivery(id, "requested", Status::Queued, at),
            Event::RunInProgress(id) => self.run_delivery(id, "in_progress", Status::InProgress, at),
            Event::RunCompleted(id) => {
                let Some(run) = self.runs.get(&id) else { return Vec::new() };
                let jobs = run.attempts.last().cloned().unwrap_or_default();
                let conclusions: Vec<&str> =
                    jobs.iter().filter_map(|j| self.jobs.get(j)?.info.conclusion.as_deref()).collect();
                let conclusion = if conclusions.contains(&"failure") {
                    "failure"
                } else if conclusions.contains(&"cancelled") {
                    "cancelled"
                } else {
                    "success"
                };
                if let Some(run) = self.runs.get_mut(&id) {
                    run.info.conclusion = Some(conclusion.to_owned());
                    run.completions.push(AttemptOutcome {
                        attempt: run.info.attempt,
                        completed_at: at,
                        conclusion: conclusion.to_owned(),
                    });
                }
                self.run_delivery(id, "completed", Status::Completed, at)
            }
            Event::JobQueued(id) => self.job_delivery(id, "queued", at),
            Event::JobStarted(id) => {
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.info.status = Status::InProgress;
                    job.info.started_at = at;
                    job.info.runner = Some(runner_for(&job.info.labels, &job.info.repo, id));
                    let rendered = render_job(job);
                    job.info.steps = rendered
                        .steps
                        .into_iter()
                        .enumerate()
                        .map(|(i, s)| StepInfo {
                            status: if i == 0 { Status::InProgress } else { Status::Queued },
                            conclusion: None,
                            started_at: (i == 0).then_some(at),
                            completed_at: None,
                            ..s
                        })
                        .collect();
                }
                self.job_delivery(id, "in_progress", at)
            }
            Event::JobCompleted(id) => self.complete_job(id, at),
        }
    }

    fn complete_job(&mut self, id: u64, at: DateTime<Utc>) -> Vec<Delivery> {
        let Some(job) = self.jobs.get_mut(&id) else { return Vec::new() };
        let rendered = render_job(job);
        job.info.status = Status::Completed;
        job.info.completed_at = Some(at);
        job.info.conclusion = Some(job.failure.map_or("success", |f| f.kind.job_conclusion()).to_owned());
        job.info.steps = rendered.steps;
        let (r, w, run_id) = (job.repo, job.workflow, job.info.run_id);
        match job.failure {
            Some(f) => {
                let record = FailureRecord {
                    repo: job.info.repo.clone(),
                    workflow: self.scenario.repos[r].workflows[w].name.clone(),
                    job: job.info.name.clone(),
                    run_id,
                    attempt: job.info.run_attempt,
                    job_id: id,
                    kind: f.kind,
                    transient: f.transient,
                    at,
                    summary: rendered.summary,
                };
                self.failures.push(record);
            }
            None => add_cache(&mut self.repos[r], job.tool, &job.info, &mut self.next_id, at),
        }
        let out = self.job_delivery(id, "completed", at);
        let gap = Duration::milliseconds(self.rng.range(800, 4_000) as i64);
        if let Some(run) = self.runs.get_mut(&run_id) {
            run.pending_jobs = run.pending_jobs.saturating_sub(1);
            if run.pending_jobs == 0 {
                self.push_event(at + gap, Event::RunCompleted(run_id));
            }
        }
        out
    }

    fn workflows_for(&self, repo: usize, trigger: Trigger) -> Vec<usize> {
        let spec = &self.scenario.repos[repo];
        (0..spec.workflows.len()).filter(|&w| spec.workflows[w].on.contains(&trigger)).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn create_run(
        &mut self,
        r: usize,
        w: usize,
        event: &str,
        branch: &str,
        head_sha: &str,
        pull_request: Option<PullRequestRef>,
        push_index: u64,
        at: DateTime<Utc>,
    ) {
        self.next_run_id += 1;
        let run_id = self.next_run_id;
        let repo = &self.repos[r];
        let wf = &self.scenario.repos[r].workflows[w];
        let actor = match &pull_request {
            Some(pr) if pr.head_repo != repo.name => pr.head_repo.split('/').next().unwrap_or("octocat").to_owned(),
            _ => ["mona", "hubot", "octocat", "ada-l"][(fnv1a(head_sha.as_bytes()) % 4) as usize].to_owned(),
        };
        let info = RunInfo {
            repo: repo.name.clone(),
            run_id,
            run_number: self.runs.values().filter(|x| x.repo == r && x.workflow == w).count() as u64 + 1,
            attempt: 1,
            workflow_id: 100_000 + fnv1a(format!("{}:{}", repo.name, wf.file).as_bytes()) % 90_000_000,
            workflow_name: wf.name.clone(),
            workflow_path: format!(".github/workflows/{}", wf.file),
            event: event.to_owned(),
            head_branch: branch.to_owned(),
            head_sha: head_sha.to_owned(),
            display_title: commit_title(head_sha, pull_request.as_ref()),
            actor,
            pull_request,
            status: Status::Queued,
            conclusion: None,
            check_suite_id: 20_000_000_000 + run_id % 1_000_000_000,
            created_at: at,
            run_started_at: at,
            updated_at: at,
        };
        let state = RunState {
            info,
            repo: r,
            workflow: w,
            push_index,
            attempts: Vec::new(),
            completions: Vec::new(),
            pending_jobs: 0,
        };
        self.runs.insert(run_id, state);
        self.start_attempt(run_id, at, None);
    }

    /// Schedules the webhooks of a new attempt of `run_id`. `failed_only` is `None` for the
    /// first attempt, and for a rerun says whether only the failed jobs run again (the others
    /// are carried over with their result).
    fn start_attempt(&mut self, run_id: u64, at: DateTime<Utc>, failed_only: Option<bool>) {
        let Some(run) = self.runs.get(&run_id) else { return };
        let (r, w, push_index, created) = (run.repo, run.workflow, run.push_index, run.info.created_at);
        let previous: Vec<u64> = run.attempts.last().cloned().unwrap_or_default();
        let attempt = run.attempts.len() as u32 + 1;
        let specs = self.scenario.repos[r].workflows[w].jobs.clone();
        let mut ids = Vec::new();
        let mut pending = 0;
        let queued_at = at + Duration::milliseconds(self.rng.range(500, 2_500) as i64);
        for (j, spec) in specs.iter().enumerate() {
            let before = previous.iter().filter_map(|id| self.jobs.get(id)).find(|job| job.spec == j);
            let carried =
                failed_only == Some(true) && before.is_some_and(|b| b.info.conclusion.as_deref() == Some("success"));
            if carried {
                ids.extend(before.map(|b| b.info.job_id));
                continue;
            }
            let previous_failure = before.and_then(|b| b.failure);
            let failure = self.decide_failure(r, w, spec, push_index, previous_failure);
            let duration = self.job_duration(r, w, spec, failure, created);
            self.next_job_id += 1;
            let job_id = self.next_job_id;
            let run = &self.runs[&run_id].info;
            let info = JobInfo {
                repo: run.repo.clone(),
                run_id,
                run_attempt: attempt,
                job_id,
                name: spec.name.clone(),
                workflow_name: run.workflow_name.clone(),
                head_branch: run.head_branch.clone(),
                head_sha: run.head_sha.clone(),
                labels: spec.runs_on.clone(),
                status: Status::Queued,
                conclusion: None,
                created_at: queued_at,
                started_at: queued_at,
                completed_at: None,
                steps: Vec::new(),
                runner: None,
            };
            let seed = self.rng.next_u64();
            let job = JobState { info, repo: r, workflow: w, spec: j, tool: spec.tool, failure, duration, seed };
            self.jobs.insert(job_id, job);
            let queue = spec.queue.or(self.scenario.repos[r].queue).unwrap_or(self.scenario.queue);
            let wait = queue.sample(&mut self.rng).max(Duration::seconds(1));
            self.push_event(queued_at, Event::JobQueued(job_id));
            self.push_event(queued_at + wait, Event::JobStarted(job_id));
            self.push_event(queued_at + wait + duration, Event::JobCompleted(job_id));
            ids.push(job_id);
            pending += 1;
        }
        let in_progress_at = at + Duration::milliseconds(self.rng.range(1_000, 3_000) as i64);
        let Some(run) = self.runs.get_mut(&run_id) else { return };
        run.attempts.push(ids);
        run.pending_jobs = pending;
        run.info.attempt = attempt;
        run.info.status = Status::Queued;
        run.info.conclusion = None;
        run.info.run_started_at = at;
        run.info.updated_at = at;
        self.push_event(at, Event::RunRequested(run_id));
        self.push_event(in_progress_at, Event::RunInProgress(run_id));
        if pending == 0 {
            self.push_event(at + Duration::seconds(4), Event::RunCompleted(run_id));
        }
    }

    /// The ground truth of one job attempt: a breakage in the code fails it every time; a
    /// transient failure recurs on a rerun with probability `1 - rerun_pass`; otherwise it fails
    /// transiently at the job's rate.
    fn decide_failure(
        &mut self,
        r: usize,
        w: usize,
        spec: &JobSpec,
        push_index: u64,
        previous: Option<Injected>,
    ) -> Option<Injected> {
        let repo = &self.scenario.repos[r].name;
        let workflow = &self.scenario.repos[r].workflows[w].name;
        let broken = self.scenario.breakages.iter().find(|b| {
            &b.repo == repo
                && b.job == spec.name
                && b.workflow.as_ref().is_none_or(|n| n == workflow)
                && push_index >= b.at_push
                && b.fixed_after.is_none_or(|n| push_index < b.at_push + n)
        });
        if let Some(b) = broken {
            return Some(Injected { kind: b.kind, transient: false });
        }
        let transient = spec.transient.as_ref()?;
        if let Some(prev) = previous.filter(|p| p.transient) {
            return (!self.rng.chance(transient.rerun_pass)).then_some(prev);
        }
        if self.rng.chance(transient.rate) {
            let kind = *self.rng.pick(&transient.kinds);
            return Some(Injected { kind, transient: true });
        }
        None
    }

    fn job_duration(
        &mut self,
        r: usize,
        w: usize,
        spec: &JobSpec,
        failure: Option<Injected>,
        created: DateTime<Utc>,
    ) -> Duration {
        let mut d = spec.duration.sample(&mut self.rng);
        let repo = &self.scenario.repos[r].name;
        let workflow = &self.scenario.repos[r].workflows[w].name;
        for g in &self.scenario.regressions {
            let starts = self.sim_start + Duration::milliseconds((g.at_day * 86_400_000.0) as i64);
            let matches = &g.repo == repo && g.job == spec.name && g.workflow.as_ref().is_none_or(|n| n == workflow);
            if matches && created >= starts {
                d = Duration::milliseconds((d.num_milliseconds() as f64 * g.factor) as i64);
            }
        }
        match failure.map(|f| f.kind) {
            Some(FailureKind::Timeout) => Duration::minutes(i64::from(spec.timeout_minutes)),
            // These stop the job part of the way through.
            Some(
                FailureKind::Compile
                | FailureKind::DependencyResolution
                | FailureKind::Permission
                | FailureKind::Network
                | FailureKind::Registry
                | FailureKind::RunnerLost
                | FailureKind::DiskFull
                | FailureKind::Oom,
            ) => Duration::milliseconds((d.num_milliseconds() as f64 * (0.2 + 0.6 * self.rng.unit())) as i64),
            _ => d,
        }
    }

    fn run_delivery(&mut self, id: u64, action: &str, status: Status, at: DateTime<Utc>) -> Vec<Delivery> {
        let Some(run) = self.runs.get_mut(&id) else { return Vec::new() };
        run.info.status = status;
        run.info.updated_at = at;
        vec![Delivery { event: "workflow_run", body: payloads::workflow_run_event(action, &run.info), at }]
    }

    fn job_delivery(&self, id: u64, action: &str, at: DateTime<Utc>) -> Vec<Delivery> {
        let Some(job) = self.jobs.get(&id) else { return Vec::new() };
        vec![Delivery { event: "workflow_job", body: payloads::workflow_job_event(action, &job.info), at }]
    }

    /// `POST .../actions/runs/{id}/rerun` (all jobs) or `.../rerun-failed-jobs`. A refusal is
    /// recorded in [`World::rerun_refusals`].
    pub fn rerun(&mut self, repo: &str, run_id: u64, failed_only: bool, at: DateTime<Utc>) -> Result<(), RerunError> {
        let run = self.runs.get(&run_id).filter(|r| r.info.repo == repo).ok_or(RerunError::NotFound)?;
        let attempt = run.info.attempt;
        let refuse = |reason: RefusalReason| RerunRefusal {
            repo: repo.to_owned(),
            run_id,
            attempt,
            failed_jobs_only: failed_only,
            at,
            reason,
        };
        if run.info.status != Status::Completed {
            let message = format!("This workflow run is not completed (it is {}).", run.info.status.label());
            self.rerun_refusals.push(refuse(RefusalReason::NotCompleted));
            return Err(RerunError::Refused(message));
        }
        let last = run.attempts.last().cloned().unwrap_or_default();
        let rerun_failures: Vec<(u64, Injected)> = last
            .iter()
            .filter_map(|id| self.jobs.get(id))
            .filter(|j| j.info.conclusion.as_deref() != Some("success"))
            .filter_map(|j| j.failure.map(|f| (j.info.job_id, f)))
            .collect();
        if failed_only && rerun_failures.is_empty() {
            self.rerun_refusals.push(refuse(RefusalReason::NoFailedJobs));
            return Err(RerunError::Refused("This workflow run has no failed jobs to re-run.".into()));
        }
        self.reruns.push(RerunRecord {
            repo: repo.to_owned(),
            run_id,
            attempt,
            failed_jobs_only: failed_only,
            at,
            rerun_failures,
        });
        self.start_attempt(run_id, at, Some(failed_only));
        Ok(())
    }

    /// Schedules a push to repository `repo` at `at`, outside its Poisson process (tests place
    /// runs at exact times this way, with `pushes_per_day = 0`).
    #[cfg(test)]
    pub(crate) fn push_at(&mut self, repo: usize, at: DateTime<Utc>) {
        self.push_event(at, Event::Push(repo));
    }

    /// Schedules a pull request to repository `repo` at `at` (see [`World::push_at`]).
    #[cfg(test)]
    pub(crate) fn pull_request_at(&mut self, repo: usize, at: DateTime<Utc>) {
        self.push_event(at, Event::PullRequest(repo));
    }

    pub fn record_action(&mut self, at: DateTime<Utc>, repo: &str, action: &str, target: String) {
        self.actions.push(PlatformAction { at, repo: repo.to_owned(), action: action.to_owned(), target });
    }

    pub fn repo_index(&self, full_name: &str) -> Option<usize> {
        self.repos.iter().position(|r| r.name == full_name)
    }

    /// The job's log, as `GET .../jobs/{id}/logs` serves it; `None` before the job started.
    pub fn job_log(&self, job_id: u64) -> Option<RenderedLog> {
        let job = self.jobs.get(&job_id)?;
        (job.info.status != Status::Queued).then(|| render_job(job))
    }
}

fn render_job(job: &JobState) -> RenderedLog {
    let runner = job.info.runner.as_ref().map(|r| r.name.clone()).unwrap_or_default();
    logs::render(&LogSpec {
        job_name: &job.info.name,
        tool: job.tool,
        labels: &job.info.labels,
        runner_name: &runner,
        repo: &job.info.repo,
        head_sha: &job.info.head_sha,
        started_at: job.info.started_at,
        duration: job.duration,
        failure: job.failure.map(|f| f.kind),
        seed: job.seed,
    })
}

fn runner_for(labels: &[String], repo: &str, job_id: u64) -> RunnerInfo {
    let n = 1 + job_id % 48;
    if crate::model::is_hosted(labels) {
        RunnerInfo { id: n, name: format!("GitHub Actions {n}"), group_id: 2, group_name: "GitHub Actions".into() }
    } else {
        let name = repo.split('/').nth(1).unwrap_or("self");
        RunnerInfo {
            id: 1000 + n % 8,
            name: format!("{name}-runner-{}", n % 8),
            group_id: 1,
            group_name: "Default".into(),
        }
    }
}

/// A passing job saves a dependency cache, keyed like `actions/cache` keys usually are.
fn add_cache(repo: &mut RepoState, tool: Tool, job: &JobInfo, next_id: &mut u64, at: DateTime<Utc>) {
    let os = if job.labels.iter().any(|l| l.contains("windows")) { "Windows" } else { "Linux" };
    let key = format!("{os}-{}-{}", tool.label(), &sha(&format!("{}:{}", job.repo, repo.pushes / 5))[..16]);
    let git_ref = format!("refs/heads/{}", job.head_branch);
    if let Some(c) = repo.caches.iter_mut().find(|c| c.key == key && c.git_ref == git_ref) {
        c.last_accessed_at = at;
        return;
    }
    *next_id += 1;
    let size = 40_000_000 + fnv1a(key.as_bytes()) % 400_000_000;
    repo.caches.push(Cache {
        id: *next_id,
        git_ref,
        key,
        version: sha(&format!("version:{}", tool.label())),
        last_accessed_at: at,
        created_at: at,
        size_in_bytes: size,
    });
    // GitHub evicts the least recently used entries past the repository's limit.
    if repo.caches.len() > 30 {
        repo.caches.sort_by_key(|c| Reverse(c.last_accessed_at));
        repo.caches.truncate(30);
    }
}

fn commit_title(sha: &str, pr: Option<&PullRequestRef>) -> String {
    const VERBS: [&str; 8] = ["Fix", "Add", "Refactor", "Update", "Remove", "Speed up", "Document", "Harden"];
    const THINGS: [&str; 8] = [
        "checkout flow",
        "retry logic",
        "cache keys",
        "login page",
        "price rounding",
        "CI matrix",
        "parser",
        "logging",
    ];
    let h = fnv1a(sha.as_bytes());
    let title = format!("{} {}", VERBS[(h % 8) as usize], THINGS[((h >> 8) % 8) as usize]);
    match pr {
        Some(pr) => format!("{title} (#{})", pr.number),
        None => title,
    }
}

fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_JOBS: &str = r#"
name = "t"
seed = 5
days = 1
compression = 1000
[[repos]]
name = "octo-org/app"
pushes_per_day = 24
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push"]
[[repos.workflows.jobs]]
name = "build"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = { median = "3m" }
[[repos.workflows.jobs]]
name = "unit"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = { median = "5m", p95 = "7m" }
transient = { rate = 1.0, kinds = ["network"], rerun_pass = 1.0 }
[[breakages]]
repo = "octo-org/app"
job = "build"
at_push = 1
kind = "compile"
"#;

    fn world(text: &str) -> World {
        let scenario = Scenario::from_toml(text, "test").expect("valid");
        World::new(scenario, DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default())
    }

    /// Plays every event due up to `until`, returning the deliveries.
    fn play(w: &mut World, until: DateTime<Utc>) -> Vec<Delivery> {
        let mut out = Vec::new();
        while let Some(d) = w.step(until) {
            out.extend(d);
        }
        out
    }

    #[test]
    fn every_run_sends_the_full_sequence_of_webhooks() {
        let mut w = world(TWO_JOBS);
        let end = w.sim_end + Duration::days(1);
        let deliveries = play(&mut w, end);
        assert!(!w.runs.is_empty());
        for run_id in w.runs.keys() {
            let actions: Vec<&str> = deliveries
                .iter()
                .filter(|d| d.event == "workflow_run" && d.body["workflow_run"]["id"] == *run_id)
                .filter_map(|d| d.body["action"].as_str())
                .collect();
            assert_eq!(actions, ["requested", "in_progress", "completed"], "run {run_id}");
        }
        for job_id in w.jobs.keys() {
            let actions: Vec<&str> = deliveries
                .iter()
                .filter(|d| d.event == "workflow_job" && d.body["workflow_job"]["id"] == *job_id)
                .filter_map(|d| d.body["action"].as_str())
                .collect();
            assert_eq!(actions, ["queued", "in_progress", "completed"], "job {job_id}");
        }
        // Deliveries come out in simulated-time order.
        assert!(deliveries.windows(2).all(|p| p[0].at <= p[1].at));
    }

    #[test]
    fn the_same_seed_plays_the_same_history() {
        let mut a = world(TWO_JOBS);
        let mut b = world(TWO_JOBS);
        let end = a.sim_end + Duration::days(1);
        let da: Vec<String> = play(&mut a, end).iter().map(|d| d.body.to_string()).collect();
        let db: Vec<String> = play(&mut b, end).iter().map(|d| d.body.to_string()).collect();
        assert_eq!(da, db);
        let other = TWO_JOBS.replace("seed = 5", "seed = 6");
        let mut c = world(&other);
        let dc: Vec<String> = play(&mut c, end).iter().map(|d| d.body.to_string()).collect();
        assert_ne!(da, dc);
    }

    #[test]
    fn reruns_follow_the_ground_truth() {
        let mut w = world(TWO_JOBS);
        let end = w.sim_end + Duration::days(1);
        play(&mut w, end);
        let run_id = *w.runs.keys().min().expect("a run");
        let failed: Vec<(String, Injected)> = w.runs[&run_id].attempts[0]
            .iter()
            .map(|id| &w.jobs[id])
            .filter_map(|j| Some((j.info.name.clone(), j.failure?)))
            .collect();
        assert!(failed.iter().any(|(n, f)| n == "build" && !f.transient && f.kind == FailureKind::Compile));
        assert!(failed.iter().any(|(n, f)| n == "unit" && f.transient));
        assert_eq!(w.runs[&run_id].info.conclusion.as_deref(), Some("failure"));

        w.rerun("octo-org/app", run_id, true, end).expect("rerun accepted");
        // A rerun of a run that has not completed yet is refused, as GitHub does.
        let refused = w.rerun("octo-org/app", run_id, true, end);
        assert!(matches!(refused, Err(RerunError::Refused(_))), "{refused:?}");
        assert_eq!(w.rerun("octo-org/app", 1, true, end), Err(RerunError::NotFound));
        let refusals: Vec<(u64, u32, RefusalReason)> =
            w.rerun_refusals.iter().map(|r| (r.run_id, r.attempt, r.reason)).collect();
        assert_eq!(refusals, [(run_id, 2, RefusalReason::NotCompleted)], "a 404 is not a refusal");
        play(&mut w, end + Duration::days(1));
        let run = &w.runs[&run_id];
        assert_eq!(run.info.attempt, 2);
        let outcomes: Vec<(u32, &str)> = run.completions.iter().map(|c| (c.attempt, c.conclusion.as_str())).collect();
        assert_eq!(outcomes, [(1, "failure"), (2, "failure")]);
        let second: HashMap<&str, Option<&str>> = run.attempts[1]
            .iter()
            .map(|id| (w.jobs[id].info.name.as_str(), w.jobs[id].info.conclusion.as_deref()))
            .collect();
        // The deterministic failure fails again; the transient one passes (rerun_pass = 1).
        assert_eq!(second["build"], Some("failure"));
        assert_eq!(second["unit"], Some("success"));
        let record = &w.reruns[0];
        assert_eq!(record.attempt, 1);
        assert!(record.rerun_failures.iter().any(|(_, f)| !f.transient), "the compile failure was rerun by mistake");
    }

    #[test]
    fn a_failed_jobs_rerun_carries_passing_jobs_over() {
        let text = TWO_JOBS.replace("[[breakages]]", "[[breakages_off]]").replace("kind = \"compile\"", "");
        let text = text.split("[[breakages_off]]").next().unwrap_or_default().to_owned();
        let mut w = world(&text);
        let end = w.sim_end + Duration::days(1);
        play(&mut w, end);
        let run_id = *w.runs.keys().min().expect("a run");
        let build_first = w.runs[&run_id].attempts[0].iter().find(|id| w.jobs[id].info.name == "build").copied();
        w.rerun("octo-org/app", run_id, true, end).expect("rerun");
        play(&mut w, end + Duration::days(1));
        let second = &w.runs[&run_id].attempts[1];
        assert!(build_first.is_some_and(|b| second.contains(&b)), "the passing build job keeps its id");
        assert_eq!(second.len(), 2);
    }

    #[test]
    fn regressions_slow_the_job_from_their_start() {
        let text = format!(
            "{}\n[[regressions]]\nrepo = \"octo-org/app\"\njob = \"build\"\nat_day = 0.5\nfactor = 3.0\n",
            TWO_JOBS.replace("at_push = 1", "at_push = 100000")
        );
        let mut w = world(&text);
        let end = w.sim_end + Duration::days(1);
        play(&mut w, end);
        let half = w.sim_start + Duration::hours(12);
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for j in w.jobs.values().filter(|j| j.info.name == "build") {
            let created = w.runs[&j.info.run_id].info.created_at;
            if created < half { before.push(j.duration) } else { after.push(j.duration) }
        }
        assert!(!before.is_empty() && !after.is_empty());
        assert!(before.iter().all(|d| *d == Duration::minutes(3)), "{before:?}");
        assert!(after.iter().all(|d| *d == Duration::minutes(9)), "{after:?}");
    }
}
