//! Ground truth next to what the platform did: the scoring of a simulated history.

use crate::engine::Shared;
use crate::world::{RefusalReason, RunState, World};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub sim_start: DateTime<Utc>,
    pub sim_end: DateTime<Utc>,
    pub wall_seconds: f64,
    pub runs: usize,
    pub jobs: usize,
    pub webhooks: Webhooks,
    pub api: ApiFigures,
    /// Failed job attempts, and by kind.
    pub failures: usize,
    pub failures_by_kind: BTreeMap<String, KindCount>,
    pub reruns_requested: usize,
    pub reruns_failed_jobs_only: usize,
    pub transient_failures: usize,
    /// Transient failures whose job passed in the rerun the platform asked for.
    pub transient_healed: usize,
    pub deterministic_failures: usize,
    /// Deterministic failures included in a rerun the platform asked for (should be 0).
    pub deterministic_rerun_by_mistake: usize,
    pub issues_opened: usize,
    pub issue_comments: usize,
    pub check_runs: usize,
    pub caches_deleted: usize,
    pub regressions: Vec<RegressionOutcome>,
    pub duration_flags: DurationFlags,
    pub diagnoses: DiagnosisScore,
    /// Reruns and recovery, counted per episode, repository and day.
    pub healing: Healing,
}

/// The platform's diagnoses of the failed jobs (`GET /api/v1/diagnoses`) against the injected kinds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiagnosisScore {
    /// Whether the platform answered `GET /api/v1/diagnoses` at all.
    pub reported: bool,
    pub failed_jobs: usize,
    pub diagnosed: usize,
    /// Diagnosed with one of the kind's expected causes ([`crate::FailureKind::expected_causes`]).
    pub cause_correct: usize,
    /// Diagnosed with the transient flag the simulator used.
    pub transient_correct: usize,
    /// Injected kind → diagnosed cause → failed jobs.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    /// Injected kind → diagnoses whose transient flag was wrong.
    pub transient_wrong: BTreeMap<String, usize>,
}

/// What the platform diagnosed for one failed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosed {
    pub job_id: u64,
    pub cause: String,
    pub transient: bool,
}

/// Reads the platform's diagnoses of `repos` (`None` when it has no such API).
pub async fn fetch_diagnoses(platform: &str, repos: &[String]) -> Option<Vec<Diagnosed>> {
    let mut all = Vec::new();
    for repo in repos {
        let url = format!("{}/api/v1/diagnoses?repo={repo}&limit=1000", platform.trim_end_matches('/'));
        let response = reqwest::get(&url).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body: Value = response.json().await.ok()?;
        let items = body.get("diagnoses").and_then(Value::as_array)?;
        all.extend(items.iter().filter_map(|d| {
            Some(Diagnosed {
                job_id: d.get("job_id")?.as_u64()?,
                cause: d.get("cause")?.as_str()?.to_owned(),
                transient: d.get("transient")?.as_bool()?,
            })
        }));
    }
    Some(all)
}

impl DiagnosisScore {
    pub fn build(failures: &[crate::world::FailureRecord], diagnoses: Option<&[Diagnosed]>) -> Self {
        let Some(diagnoses) = diagnoses else {
            return Self { failed_jobs: failures.len(), ..Self::default() };
        };
        let by_job: BTreeMap<u64, &Diagnosed> = diagnoses.iter().map(|d| (d.job_id, d)).collect();
        let mut score = Self { reported: true, failed_jobs: failures.len(), ..Self::default() };
        for f in failures {
            let Some(d) = by_job.get(&f.job_id) else { continue };
            score.diagnosed += 1;
            score.cause_correct += usize::from(f.kind.expected_causes().contains(&d.cause.as_str()));
            if d.transient == f.transient {
                score.transient_correct += 1;
            } else {
                *score.transient_wrong.entry(f.kind.label().to_owned()).or_default() += 1;
            }
            *score.confusion.entry(f.kind.label().to_owned()).or_default().entry(d.cause.clone()).or_default() += 1;
        }
        score
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct KindCount {
    pub total: usize,
    pub transient: usize,
    pub deterministic: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Webhooks {
    pub produced: BTreeMap<String, u64>,
    pub sent: u64,
    pub accepted: u64,
    pub failed: u64,
    pub retries: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiFigures {
    pub requests: u64,
    pub rate_limited: u64,
    pub faults_injected: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegressionOutcome {
    pub repo: String,
    pub workflow: Option<String>,
    pub job: String,
    pub starts_at: DateTime<Utc>,
    pub factor: f64,
    /// When the platform first reported a duration anomaly for the job at or after the start.
    pub detected_at: Option<DateTime<Utc>>,
    pub delay_hours: Option<f64>,
    /// First-attempt runs of the job from the start up to and including the detection.
    pub runs_to_detect: Option<usize>,
}

/// One anomaly episode the platform reported (`GET /api/v1/anomalies`), as far as scoring needs it.
#[derive(Debug, Clone)]
pub struct Detection {
    pub repo: String,
    pub workflow: Option<String>,
    pub job: Option<String>,
    pub kind: String,
    /// Simulated time the episode began (its first flagged run).
    pub first_at: DateTime<Utc>,
    /// Flagged runs in the episode.
    pub count: u64,
}

impl Detection {
    fn about_duration(&self) -> bool {
        self.kind.contains("duration") || self.kind.contains("regression")
    }

    fn matches(&self, repo: &str, workflow: Option<&str>, job: &str) -> bool {
        self.repo == repo
            && self.job.as_deref() == Some(job)
            && workflow.is_none_or(|w| self.workflow.as_deref().is_none_or(|mine| mine == w))
    }
}

/// Reads the platform's anomalies, if it has that API (`None` when it does not answer).
pub async fn fetch_detections(platform: &str) -> Option<Vec<Detection>> {
    let url = format!("{}/api/v1/anomalies?limit=1000", platform.trim_end_matches('/'));
    let response = reqwest::get(&url).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    let items = body.get("anomalies").and_then(Value::as_array).or(body.as_array())?;
    let text = |a: &Value, k: &str| a.get(k).and_then(Value::as_str).map(str::to_owned);
    let detection = |a: &Value| {
        let first = a.get("first_at").or(a.get("at")).or(a.get("detected_at"))?.as_str()?;
        Some(Detection {
            repo: text(a, "repo")?,
            workflow: text(a, "workflow"),
            job: text(a, "job"),
            kind: text(a, "kind").unwrap_or_default(),
            first_at: first.parse().ok()?,
            count: a.get("count").and_then(Value::as_u64).unwrap_or(1),
        })
    };
    Some(items.iter().filter_map(detection).collect())
}

/// Duration flags on job runs that no regression touched: the false alarms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DurationFlags {
    /// Whether the platform answered `GET /api/v1/anomalies` at all.
    pub reported: bool,
    pub flagged_normal_runs: u64,
    pub normal_runs: u64,
    pub rate: f64,
}

/// What the platform's reruns did, scored against the ground truth.
///
/// An *episode* is one job of one run, (run id, job name), from its first failed attempt on. Only
/// the platform reruns in the simulator, so every attempt after the first is a platform rerun.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Healing {
    /// (run, job name) pairs whose first failed attempt in that run was a transient injected failure.
    pub transient_episodes: usize,
    /// Transient episodes whose job passed in a later attempt of the same run.
    pub transient_episodes_healed: usize,
    /// Transient episodes a rerun can heal and the platform may rerun on its own: not in a fork's or
    /// a `pull_request_target` run (those are only recommended), and not in a run attempt that also
    /// failed deterministically (rerunning the failed jobs would run the broken one again, and the
    /// run would stay red).
    pub transient_episodes_eligible: usize,
    pub transient_episodes_eligible_healed: usize,
    /// `transient_episodes_eligible_healed / transient_episodes_eligible` (0 when there are none).
    pub heal_rate: f64,
    /// (run, job name) pairs that failed deterministically. A breakage fails every attempt of a
    /// run, so these are also the pairs whose first failure was deterministic.
    pub deterministic_episodes: usize,
    /// Deterministic episodes included in at least one rerun (should be 0). The top-level field of
    /// the same name counts failed job attempts rerun; this one counts (run, job name) pairs.
    pub deterministic_rerun_by_mistake: usize,
    /// Accepted rerun requests (all jobs and failed jobs only) per repository and simulated UTC
    /// day (`YYYY-MM-DD`) of the failure they answer: the completion of the attempt that was rerun
    /// (the request when that is unknown). A budget is kept per day of GitHub's event times, and
    /// in compressed time the request can land minutes of simulated time after the failure, past
    /// midnight. Refused requests are in `rerun_requests_refused`.
    pub reruns_per_repo_day: BTreeMap<String, BTreeMap<String, u32>>,
    /// The largest figure of `reruns_per_repo_day` (0 without reruns).
    pub max_reruns_per_repo_day: u32,
    /// Runner minutes of the jobs that ran again in reruns, per repository and simulated UTC day
    /// of the failure they answer (as above): the completed jobs of the attempts the reruns started (jobs a
    /// failed-jobs rerun carries over do not run). Execution time, not rounded up per job.
    pub rerun_minutes_per_repo_day: BTreeMap<String, BTreeMap<String, f64>>,
    /// The largest figure of `rerun_minutes_per_repo_day` (0 without reruns).
    pub max_rerun_minutes_per_repo_day: f64,
    /// The highest attempt any run reached (1 without reruns, 0 without runs).
    pub max_run_attempt: u32,
    /// Rerun requests, accepted or refused, on runs triggered by `pull_request_target` or by a
    /// pull request from a fork (must be 0).
    pub reruns_of_forks_or_pull_request_target: usize,
    /// Rerun requests for an attempt that had already been rerun: accepted ones for an attempt
    /// rerun before, and ones refused because the rerun of the attempt before was still running.
    pub duplicate_reruns: usize,
    /// Rerun requests the simulated GitHub refused with a 403 (the run was not completed, or a
    /// failed-jobs rerun found no failed jobs).
    pub rerun_requests_refused: usize,
    /// Time to recover of the runs whose first attempt failed only transiently.
    pub mttr_transient: Mttr,
    /// Time to recover of the runs whose first attempt had a deterministic failure.
    pub mttr_deterministic: Mttr,
}

/// Time to recover, in simulated seconds, of runs whose first attempt failed: from the completion
/// of that attempt to the earliest of (a) the completion of a later attempt of the run that
/// succeeded, (b) the completion of a run of the same repository, workflow and head branch created
/// after it whose final attempt succeeded. A recovery that completed before the failure counts 0 s.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Mttr {
    /// Runs whose first attempt completed with a failure (or a timeout's cancellation).
    pub runs: usize,
    /// Of those, the ones that recovered within the scenario.
    pub recovered: usize,
    /// Mean over the recovered runs (`None` when none recovered).
    pub mean_seconds: Option<f64>,
    /// Median over the recovered runs (`None` when none recovered).
    pub median_seconds: Option<f64>,
}

impl Mttr {
    fn from_seconds(runs: usize, mut seconds: Vec<f64>) -> Self {
        seconds.sort_by(f64::total_cmp);
        let n = seconds.len();
        let mean = (n > 0).then(|| seconds.iter().sum::<f64>() / n as f64);
        let median = match n {
            0 => None,
            n if n % 2 == 1 => Some(seconds[n / 2]),
            n => Some((seconds[n / 2 - 1] + seconds[n / 2]) / 2.0),
        };
        Self { runs, recovered: n, mean_seconds: mean, median_seconds: median }
    }

    fn render(&self) -> String {
        let minutes = |s: Option<f64>| s.map_or("-".to_owned(), |s| format!("{:.1} min", s / 60.0));
        format!(
            "{} runs, {} recovered, mean {}, median {}",
            self.runs,
            self.recovered,
            minutes(self.mean_seconds),
            minutes(self.median_seconds)
        )
    }
}

/// The simulated UTC day of a moment, `YYYY-MM-DD`.
fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// A run the platform must never rerun: `pull_request_target`, or a pull request from a fork.
fn fork_or_pull_request_target(run: &RunState) -> bool {
    run.info.event == "pull_request_target"
        || run.info.pull_request.as_ref().is_some_and(|pr| pr.head_repo != run.info.repo)
}

impl Healing {
    pub fn build(world: &World) -> Self {
        // The first failure of each (run, job name).
        let mut first: HashMap<(u64, &str), &crate::world::FailureRecord> = HashMap::new();
        for f in &world.failures {
            let entry = first.entry((f.run_id, f.job.as_str())).or_insert(f);
            if f.attempt < entry.attempt {
                *entry = f;
            }
        }
        // The latest attempt in which each (run, job name) passed.
        let mut passed: HashMap<(u64, &str), u32> = HashMap::new();
        for j in world.jobs.values().filter(|j| j.info.conclusion.as_deref() == Some("success")) {
            let latest = passed.entry((j.info.run_id, j.info.name.as_str())).or_default();
            *latest = (*latest).max(j.info.run_attempt);
        }
        let transient: Vec<_> = first.iter().filter(|(_, f)| f.transient).collect();
        let is_healed =
            |key: &(u64, &str), f: &crate::world::FailureRecord| passed.get(key).is_some_and(|&at| at > f.attempt);
        let healed = transient.iter().filter(|(key, f)| is_healed(key, f)).count();
        let broken_attempts: HashSet<(u64, u32)> =
            world.failures.iter().filter(|f| !f.transient).map(|f| (f.run_id, f.attempt)).collect();
        let eligible: Vec<_> = transient
            .iter()
            .filter(|((run, _), f)| {
                !world.runs.get(run).is_some_and(fork_or_pull_request_target)
                    && !broken_attempts.contains(&(*run, f.attempt))
            })
            .collect();
        let eligible_healed = eligible.iter().filter(|(key, f)| is_healed(key, f)).count();
        let deterministic: HashSet<(u64, &str)> =
            world.failures.iter().filter(|f| !f.transient).map(|f| (f.run_id, f.job.as_str())).collect();
        let mistakes: HashSet<(u64, &str)> = world
            .reruns
            .iter()
            .flat_map(|r| r.rerun_failures.iter().map(move |(job, f)| (r.run_id, *job, f)))
            .filter(|(_, _, f)| !f.transient)
            .filter_map(|(run, job, _)| Some((run, world.jobs.get(&job)?.info.name.as_str())))
            .collect();

        let mut reruns_per_repo_day: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
        let mut minutes_per_repo_day: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for r in &world.reruns {
            let failed_at = world
                .runs
                .get(&r.run_id)
                .and_then(|run| run.completions.iter().find(|c| c.attempt == r.attempt))
                .map_or(r.at, |c| c.completed_at);
            *reruns_per_repo_day.entry(r.repo.clone()).or_default().entry(day(failed_at)).or_default() += 1;
            // The attempt this rerun started is `attempt + 1`, at index `attempt`; carried-over
            // jobs keep their earlier attempt number.
            let fresh = world
                .runs
                .get(&r.run_id)
                .and_then(|run| run.attempts.get(r.attempt as usize))
                .into_iter()
                .flatten()
                .filter_map(|id| world.jobs.get(id))
                .filter(|j| j.info.run_attempt == r.attempt + 1 && j.info.conclusion.is_some());
            let minutes: f64 = fresh.map(|j| j.duration.num_milliseconds() as f64 / 60_000.0).sum();
            *minutes_per_repo_day.entry(r.repo.clone()).or_default().entry(day(failed_at)).or_default() += minutes;
        }
        let max_reruns = reruns_per_repo_day.values().flat_map(BTreeMap::values).copied().max().unwrap_or(0);
        let max_minutes = minutes_per_repo_day.values().flat_map(BTreeMap::values).copied().fold(0.0, f64::max);

        let never_rerun = |run_id: u64| world.runs.get(&run_id).is_some_and(fork_or_pull_request_target);
        let forbidden = world.reruns.iter().filter(|r| never_rerun(r.run_id)).count()
            + world.rerun_refusals.iter().filter(|r| never_rerun(r.run_id)).count();
        let mut rerun_from = HashSet::new();
        let accepted_twice = world.reruns.iter().filter(|r| !rerun_from.insert((r.run_id, r.attempt))).count();
        let refused_while_rerunning = world
            .rerun_refusals
            .iter()
            .filter(|r| r.reason == RefusalReason::NotCompleted && r.attempt > 1)
            .filter(|r| rerun_from.contains(&(r.run_id, r.attempt - 1)))
            .count();

        let (mttr_transient, mttr_deterministic) = mttr(world);
        Self {
            transient_episodes: transient.len(),
            transient_episodes_healed: healed,
            transient_episodes_eligible: eligible.len(),
            transient_episodes_eligible_healed: eligible_healed,
            heal_rate: if eligible.is_empty() { 0.0 } else { eligible_healed as f64 / eligible.len() as f64 },
            deterministic_episodes: deterministic.len(),
            deterministic_rerun_by_mistake: mistakes.len(),
            reruns_per_repo_day,
            max_reruns_per_repo_day: max_reruns,
            rerun_minutes_per_repo_day: minutes_per_repo_day,
            max_rerun_minutes_per_repo_day: max_minutes,
            max_run_attempt: world.runs.values().map(|r| r.info.attempt).max().unwrap_or(0),
            reruns_of_forks_or_pull_request_target: forbidden,
            duplicate_reruns: accepted_twice + refused_while_rerunning,
            rerun_requests_refused: world.rerun_refusals.len(),
            mttr_transient,
            mttr_deterministic,
        }
    }

    fn render_into(&self, out: &mut String) {
        out.push_str(&format!(
            "  healing: transient episodes healed {}/{} of those the platform may rerun ({:.1}%; {}/{} of all); \
             deterministic episodes {}, rerun by mistake {}\n",
            self.transient_episodes_eligible_healed,
            self.transient_episodes_eligible,
            self.heal_rate * 100.0,
            self.transient_episodes_healed,
            self.transient_episodes,
            self.deterministic_episodes,
            self.deterministic_rerun_by_mistake
        ));
        out.push_str(&format!(
            "    most reruns by one repository in one day {}, most rerun minutes {:.1}; highest run attempt {}\n",
            self.max_reruns_per_repo_day, self.max_rerun_minutes_per_repo_day, self.max_run_attempt
        ));
        out.push_str(&format!(
            "    reruns of fork or pull_request_target runs {}; duplicate reruns {}; rerun requests refused {}\n",
            self.reruns_of_forks_or_pull_request_target, self.duplicate_reruns, self.rerun_requests_refused
        ));
        out.push_str(&format!("    time to recover, transient: {}\n", self.mttr_transient.render()));
        out.push_str(&format!("    time to recover, deterministic: {}\n", self.mttr_deterministic.render()));
    }
}

/// Time to recover of the runs whose first attempt failed, as (runs that failed only
/// transiently, runs with a deterministic failure). See [`Mttr`].
fn mttr(world: &World) -> (Mttr, Mttr) {
    // Whether each run's first attempt had a deterministic failure.
    let mut deterministic_first: HashMap<u64, bool> = HashMap::new();
    for f in world.failures.iter().filter(|f| f.attempt == 1) {
        *deterministic_first.entry(f.run_id).or_default() |= !f.transient;
    }
    // Runs whose final attempt succeeded: (repo, workflow, head branch) → ((created, id), completed).
    fn key(run: &RunState) -> (&str, &str, &str) {
        (&run.info.repo, &run.info.workflow_name, &run.info.head_branch)
    }
    /// When a run was created (its id breaks ties) and when its successful final attempt completed.
    type Green = ((DateTime<Utc>, u64), DateTime<Utc>);
    let mut green: HashMap<(&str, &str, &str), Vec<Green>> = HashMap::new();
    for run in world.runs.values() {
        let done = run.info.status == crate::model::Status::Completed;
        if let Some(last) = run.completions.last().filter(|c| done && c.conclusion == "success") {
            green.entry(key(run)).or_default().push(((run.info.created_at, run.info.run_id), last.completed_at));
        }
    }
    let (mut transient, mut deterministic) = ((0, Vec::new()), (0, Vec::new()));
    for run in world.runs.values() {
        let Some(first) = run.completions.first().filter(|c| c.conclusion != "success") else { continue };
        let Some(&has_deterministic) = deterministic_first.get(&run.info.run_id) else { continue };
        let failed_at = first.completed_at;
        let by_rerun = run.completions.iter().skip(1).find(|c| c.conclusion == "success").map(|c| c.completed_at);
        let created = (run.info.created_at, run.info.run_id);
        let by_later_run =
            green.get(&key(run)).into_iter().flatten().filter(|(c, _)| *c > created).map(|(_, done)| *done).min();
        let recovered_at = [by_rerun, by_later_run].into_iter().flatten().min();
        let (runs, seconds) = if has_deterministic { &mut deterministic } else { &mut transient };
        *runs += 1;
        if let Some(at) = recovered_at {
            seconds.push((at - failed_at).num_milliseconds().max(0) as f64 / 1000.0);
        }
    }
    (Mttr::from_seconds(transient.0, transient.1), Mttr::from_seconds(deterministic.0, deterministic.1))
}

impl Report {
    pub fn build(
        world: &World,
        shared: &Shared,
        wall: std::time::Duration,
        detections: Option<Vec<Detection>>,
        diagnoses: Option<Vec<Diagnosed>>,
    ) -> Self {
        let detections_reported = detections.is_some();
        let mut by_kind: BTreeMap<String, KindCount> = BTreeMap::new();
        for f in &world.failures {
            let k = by_kind.entry(f.kind.label().to_owned()).or_default();
            k.total += 1;
            if f.transient {
                k.transient += 1;
            } else {
                k.deterministic += 1;
            }
        }
        // A transient failure is healed when its run was rerun from that attempt and the same
        // job passed in the next attempt.
        let rerun_from: HashSet<(u64, u32)> = world.reruns.iter().map(|r| (r.run_id, r.attempt)).collect();
        let passed: HashSet<(u64, u32, &str)> = world
            .jobs
            .values()
            .filter(|j| j.info.conclusion.as_deref() == Some("success"))
            .map(|j| (j.info.run_id, j.info.run_attempt, j.info.name.as_str()))
            .collect();
        let transient = world.failures.iter().filter(|f| f.transient).count();
        let healed = world
            .failures
            .iter()
            .filter(|f| f.transient)
            .filter(|f| rerun_from.contains(&(f.run_id, f.attempt)))
            .filter(|f| passed.contains(&(f.run_id, f.attempt + 1, f.job.as_str())))
            .count();
        let mistakes = world.reruns.iter().flat_map(|r| &r.rerun_failures).filter(|(_, f)| !f.transient).count();
        let count = |action: &str| world.actions.iter().filter(|a| a.action == action).count();
        let detections = detections.unwrap_or_default();
        let starts = |g: &crate::scenario::Regression| {
            world.sim_start + chrono::Duration::milliseconds((g.at_day * 86_400_000.0) as i64)
        };
        // First attempts of each job: (repo, workflow, job, run created at).
        let job_runs: Vec<(&str, &str, &str, DateTime<Utc>)> = world
            .jobs
            .values()
            .filter(|j| j.info.run_attempt == 1 && j.info.conclusion.is_some())
            .filter_map(|j| {
                let run = world.runs.get(&j.info.run_id)?;
                Some((
                    run.info.repo.as_str(),
                    run.info.workflow_name.as_str(),
                    j.info.name.as_str(),
                    run.info.created_at,
                ))
            })
            .collect();
        let regressions: Vec<RegressionOutcome> = world
            .scenario
            .regressions
            .iter()
            .map(|g| {
                let starts_at = starts(g);
                let detected_at = detections
                    .iter()
                    .filter(|d| d.about_duration() && d.matches(&g.repo, g.workflow.as_deref(), &g.job))
                    .map(|d| d.first_at)
                    .filter(|t| *t >= starts_at)
                    .min();
                let runs_to_detect = detected_at.map(|t| {
                    job_runs
                        .iter()
                        .filter(|(r, w, j, at)| {
                            *r == g.repo
                                && *j == g.job
                                && g.workflow.as_deref().is_none_or(|gw| gw == *w)
                                && *at >= starts_at
                                && *at <= t
                        })
                        .count()
                });
                RegressionOutcome {
                    repo: g.repo.clone(),
                    workflow: g.workflow.clone(),
                    job: g.job.clone(),
                    starts_at,
                    factor: g.factor,
                    detected_at,
                    delay_hours: detected_at.map(|t| (t - starts_at).num_seconds() as f64 / 3600.0),
                    runs_to_detect,
                }
            })
            .collect();
        // A run is regressed when a regression of its job had started when it was created.
        let regressed = |repo: &str, workflow: &str, job: &str, at: DateTime<Utc>| {
            world.scenario.regressions.iter().any(|g| {
                g.repo == repo && g.job == job && g.workflow.as_deref().is_none_or(|w| w == workflow) && at >= starts(g)
            })
        };
        let normal_runs = job_runs.iter().filter(|(r, w, j, at)| !regressed(r, w, j, *at)).count() as u64;
        let flagged_normal_runs: u64 = detections
            .iter()
            .filter(|d| d.about_duration())
            .filter(|d| match &d.job {
                Some(job) => !regressed(&d.repo, d.workflow.as_deref().unwrap_or(""), job, d.first_at),
                None => true,
            })
            .map(|d| d.count)
            .sum();
        let duration_flags = DurationFlags {
            reported: detections_reported,
            flagged_normal_runs,
            normal_runs,
            rate: if normal_runs == 0 { 0.0 } else { flagged_normal_runs as f64 / normal_runs as f64 },
        };
        Self {
            scenario: world.scenario.name.clone(),
            seed: world.scenario.seed,
            sim_start: world.sim_start,
            sim_end: world.sim_end,
            wall_seconds: wall.as_secs_f64(),
            runs: world.runs.len(),
            jobs: world.jobs.len(),
            webhooks: Webhooks {
                produced: world.produced.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
                sent: shared.sends.sent.load(Relaxed),
                accepted: shared.sends.accepted.load(Relaxed),
                failed: shared.sends.failed.load(Relaxed),
                retries: shared.sends.retries.load(Relaxed),
            },
            api: ApiFigures {
                requests: shared.api.requests.load(Relaxed),
                rate_limited: shared.api.rate_limited.load(Relaxed),
                faults_injected: shared.api.faults_injected.load(Relaxed),
            },
            failures: world.failures.len(),
            failures_by_kind: by_kind,
            reruns_requested: world.reruns.len(),
            reruns_failed_jobs_only: world.reruns.iter().filter(|r| r.failed_jobs_only).count(),
            transient_failures: transient,
            transient_healed: healed,
            deterministic_failures: world.failures.len() - transient,
            deterministic_rerun_by_mistake: mistakes,
            issues_opened: count("create_issue"),
            issue_comments: count("comment_issue"),
            check_runs: count("create_check_run"),
            caches_deleted: count("delete_cache") + count("delete_caches_by_key"),
            regressions,
            duration_flags,
            diagnoses: DiagnosisScore::build(&world.failures, diagnoses.as_deref()),
            healing: Healing::build(world),
        }
    }

    /// A plain-text summary for the terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let w = &self.webhooks;
        out.push_str(&format!(
            "scenario {} (seed {}): {} to {}, played in {:.1} s\n",
            self.scenario,
            self.seed,
            self.sim_start.format("%Y-%m-%d"),
            self.sim_end.format("%Y-%m-%d"),
            self.wall_seconds
        ));
        out.push_str(&format!(
            "  runs {}, jobs {}; webhooks sent {} (accepted {}, failed {}, redelivered {})\n",
            self.runs, self.jobs, w.sent, w.accepted, w.failed, w.retries
        ));
        out.push_str(&format!(
            "  REST requests {} (rate limited {}, faults injected {})\n",
            self.api.requests, self.api.rate_limited, self.api.faults_injected
        ));
        out.push_str(&format!("  failed job attempts {}:\n", self.failures));
        for (kind, c) in &self.failures_by_kind {
            out.push_str(&format!(
                "    {kind:<22} {:>5}  (transient {}, deterministic {})\n",
                c.total, c.transient, c.deterministic
            ));
        }
        out.push_str(&format!(
            "  reruns requested {} ({} failed jobs only); transient failures healed {}/{}; \
             deterministic failures rerun by mistake {}\n",
            self.reruns_requested,
            self.reruns_failed_jobs_only,
            self.transient_healed,
            self.transient_failures,
            self.deterministic_rerun_by_mistake
        ));
        out.push_str(&format!(
            "  issues opened {}, comments {}, check runs {}, caches deleted {}\n",
            self.issues_opened, self.issue_comments, self.check_runs, self.caches_deleted
        ));
        for g in &self.regressions {
            let detected = match (g.detected_at, g.delay_hours, g.runs_to_detect) {
                (Some(t), Some(h), Some(n)) => {
                    format!("detected {} ({h:.1} h later, after {n} runs)", t.format("%Y-%m-%d %H:%M"))
                }
                _ if !self.duration_flags.reported => "not detected (the platform reports no anomalies)".to_owned(),
                _ => "not detected".to_owned(),
            };
            out.push_str(&format!(
                "  regression {} / {} x{} from {}: {detected}\n",
                g.repo,
                g.job,
                g.factor,
                g.starts_at.format("%Y-%m-%d %H:%M")
            ));
        }
        let f = &self.duration_flags;
        if f.reported {
            out.push_str(&format!(
                "  duration flags on normal runs: {} of {} ({:.2}%)\n",
                f.flagged_normal_runs,
                f.normal_runs,
                f.rate * 100.0
            ));
        }
        let d = &self.diagnoses;
        if d.reported {
            let pct = |n: usize| if d.diagnosed == 0 { 0.0 } else { n as f64 * 100.0 / d.diagnosed as f64 };
            out.push_str(&format!(
                "  diagnoses: {} of {} failed jobs; cause right {} ({:.1}%), transient flag right {} ({:.1}%)\n",
                d.diagnosed,
                d.failed_jobs,
                d.cause_correct,
                pct(d.cause_correct),
                d.transient_correct,
                pct(d.transient_correct)
            ));
            for (kind, causes) in &d.confusion {
                let row: Vec<String> = causes.iter().map(|(c, n)| format!("{c} {n}")).collect();
                let wrong = match d.transient_wrong.get(kind) {
                    Some(n) => format!("  (transient flag wrong {n})"),
                    None => String::new(),
                };
                out.push_str(&format!("    {kind:<22} → {}{wrong}\n", row.join(", ")));
            }
        }
        self.healing.render_into(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use chrono::Duration;

    /// One repository without Poisson traffic (tests place every push and pull request): `unit`
    /// and `label` fail transiently on every first try and pass on every rerun; `build` is broken
    /// by push 3 and fixed by push 4. Jobs queue exactly 10 s; failures run the full duration.
    const HEALING: &str = r#"
name = "healing-test"
seed = 9
start = "2030-01-01T00:00:00Z"
days = 3
compression = 1000
queue = { median = "10s" }
[[repos]]
name = "octo-org/app"
fork_share = 1.0
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push", "pull_request"]
[[repos.workflows.jobs]]
name = "build"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = { median = "4m" }
[[repos.workflows.jobs]]
name = "unit"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = { median = "6m" }
transient = { rate = 1.0, kinds = ["flaky_test"], rerun_pass = 1.0 }
[[repos.workflows]]
name = "Triage"
file = "triage.yml"
on = ["pull_request_target"]
[[repos.workflows.jobs]]
name = "label"
runs_on = ["ubuntu-latest"]
tool = "npm"
duration = { median = "30s" }
transient = { rate = 1.0, kinds = ["flaky_test"], rerun_pass = 1.0 }
[[breakages]]
repo = "octo-org/app"
job = "build"
at_push = 3
kind = "lint"
fixed_after = 1
"#;

    const REPO: &str = "octo-org/app";

    struct Played {
        world: World,
        start: DateTime<Utc>,
    }

    impl Played {
        fn at(&self, day: i64, hour: i64, minute: i64) -> DateTime<Utc> {
            self.start + Duration::days(day) + Duration::hours(hour) + Duration::minutes(minute)
        }

        fn play(&mut self, until: DateTime<Utc>) {
            while self.world.step(until).is_some() {}
        }

        /// The run of `workflow` created at `at`.
        fn run(&self, workflow: &str, at: DateTime<Utc>) -> u64 {
            let found = self.world.runs.values().find(|r| r.info.workflow_name == workflow && r.info.created_at == at);
            found.map(|r| r.info.run_id).unwrap_or_else(|| panic!("no {workflow} run created at {at}"))
        }

        fn rerun(&mut self, run: u64, failed_only: bool, at: DateTime<Utc>) -> Result<(), crate::world::RerunError> {
            self.play(at);
            self.world.rerun(REPO, run, failed_only, at)
        }
    }

    /// Pushes A, B, C (broken) on day 0, D on day 1, G on day 2; fork pull requests on day 1 (runs
    /// E in CI and F in Triage) and day 2 (E2, F2). Reruns: A failed jobs (then a duplicate while
    /// it runs), B all jobs, C failed jobs twice, F and E (forbidden), G; a failed-jobs rerun of A
    /// once it passed is refused.
    fn played() -> Played {
        let scenario = Scenario::from_toml(HEALING, "test").expect("valid");
        let start = scenario.start.expect("a start");
        let mut p = Played { world: World::new(scenario, start), start };
        let pushes = [p.at(0, 1, 0), p.at(0, 2, 0), p.at(0, 3, 0), p.at(1, 5, 0), p.at(2, 1, 0)];
        for at in pushes {
            p.world.push_at(0, at);
        }
        p.world.pull_request_at(0, p.at(1, 6, 0));
        p.world.pull_request_at(0, p.at(2, 2, 0));
        let a = p.run_after("CI", pushes[0]);
        p.rerun(a, true, p.at(0, 1, 30)).expect("A");
        let duplicate = p.world.rerun(REPO, a, true, p.at(0, 1, 30));
        assert!(duplicate.is_err(), "A is running again");
        let b = p.run_after("CI", pushes[1]);
        p.rerun(b, false, p.at(0, 2, 30)).expect("B");
        let c = p.run_after("CI", pushes[2]);
        p.rerun(c, true, p.at(0, 3, 30)).expect("C");
        p.rerun(c, true, p.at(0, 4, 0)).expect("C again");
        let (e, f) = (p.run_after("CI", p.at(1, 6, 0)), p.run_after("Triage", p.at(1, 6, 0)));
        p.rerun(f, true, p.at(1, 6, 30)).expect("F");
        p.rerun(e, true, p.at(1, 6, 31)).expect("E");
        assert!(p.rerun(a, true, p.at(1, 7, 0)).is_err(), "A has no failed jobs");
        let g = p.run_after("CI", pushes[4]);
        p.rerun(g, true, p.at(2, 1, 30)).expect("G");
        p.play(p.at(3, 12, 0));
        p
    }

    impl Played {
        /// Like [`Played::run`], playing up to `at` first so the run exists.
        fn run_after(&mut self, workflow: &str, at: DateTime<Utc>) -> u64 {
            self.play(at);
            self.run(workflow, at)
        }
    }

    fn close(actual: Option<f64>, expected: f64) -> bool {
        // Queue and completion jitter: a few seconds either side.
        actual.is_some_and(|a| (a - expected).abs() < 10.0)
    }

    #[test]
    fn healing_counts_episodes_reruns_and_refusals() {
        let p = played();
        let h = Healing::build(&p.world);
        assert_eq!(p.world.runs.len(), 9);
        // Every run's first try fails `unit` or `label` transiently; all but D, E2 and F2 are rerun.
        assert_eq!((h.transient_episodes, h.transient_episodes_healed), (9, 6));
        // The platform may heal A, B, D and G only: E and F are fork / pull_request_target runs,
        // and C's first attempt also broke its build. D was not rerun.
        assert_eq!((h.transient_episodes_eligible, h.transient_episodes_eligible_healed), (4, 3));
        assert!((h.heal_rate - 3.0 / 4.0).abs() < 1e-12);
        // C's build, rerun twice: one episode, two job attempts.
        assert_eq!((h.deterministic_episodes, h.deterministic_rerun_by_mistake), (1, 1));
        let days: Vec<(&str, u32)> = h.reruns_per_repo_day[REPO].iter().map(|(d, n)| (d.as_str(), *n)).collect();
        assert_eq!(days, [("2030-01-01", 4), ("2030-01-02", 2), ("2030-01-03", 1)]);
        assert_eq!(h.max_reruns_per_repo_day, 4);
        // Day 0: A's unit 6 + B's build and unit 10 + C's build and unit 10 + C's build 4.
        let minutes: Vec<f64> = h.rerun_minutes_per_repo_day[REPO].values().copied().collect();
        assert_eq!(minutes, [30.0, 6.5, 6.0]);
        assert_eq!(h.max_rerun_minutes_per_repo_day, 30.0);
        assert_eq!(h.max_run_attempt, 3);
        assert_eq!(h.reruns_of_forks_or_pull_request_target, 2);
        assert_eq!((h.duplicate_reruns, h.rerun_requests_refused), (1, 2));
    }

    #[test]
    fn time_to_recover_counts_reruns_and_later_green_runs() {
        let h = Healing::build(&played().world);
        // Transient: A, B, F and G recover by their rerun 30 minutes after the first try, E 31
        // (rerun a minute later);
        // D when G turns green (day 2 01:30 + the same jobs, D failed day 1 05:00 + jobs);
        // E2 and F2 never do.
        let t = &h.mttr_transient;
        assert_eq!((t.runs, t.recovered), (8, 6));
        assert!(close(t.mean_seconds, (4.0 * 1800.0 + 1860.0 + 73_800.0) / 6.0), "{t:?}");
        assert!(close(t.median_seconds, 1800.0), "{t:?}");
        // C fails its build on every attempt; G, created later on main, turns green.
        let d = &h.mttr_deterministic;
        assert_eq!((d.runs, d.recovered), (1, 1));
        assert!(close(d.median_seconds, 46.5 * 3600.0) && close(d.mean_seconds, 46.5 * 3600.0), "{d:?}");
    }

    #[test]
    fn an_untouched_history_heals_nothing() {
        let scenario = Scenario::from_toml(HEALING, "test").expect("valid");
        let start = scenario.start.expect("a start");
        let mut p = Played { world: World::new(scenario, start), start };
        p.world.push_at(0, p.at(0, 1, 0));
        p.play(p.at(1, 0, 0));
        let h = Healing::build(&p.world);
        assert_eq!((h.transient_episodes, h.transient_episodes_healed, h.heal_rate), (1, 0, 0.0));
        assert_eq!((h.max_reruns_per_repo_day, h.max_run_attempt), (0, 1));
        assert!(h.reruns_per_repo_day.is_empty());
        assert_eq!(h.mttr_transient, Mttr { runs: 1, recovered: 0, mean_seconds: None, median_seconds: None });
        let mut text = String::new();
        h.render_into(&mut text);
        assert!(text.contains("transient episodes healed 0/1"), "{text}");
        assert!(text.contains("time to recover, transient: 1 runs, 0 recovered, mean -"), "{text}");
    }

    #[test]
    fn the_median_of_an_even_count_is_the_middle_pair_mean() {
        let m = Mttr::from_seconds(5, vec![300.0, 60.0, 120.0, 600.0]);
        assert_eq!((m.runs, m.recovered), (5, 4));
        assert_eq!((m.mean_seconds, m.median_seconds), (Some(270.0), Some(210.0)));
        assert_eq!(Mttr::from_seconds(1, vec![42.0]).median_seconds, Some(42.0));
    }
}
