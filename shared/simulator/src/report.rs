//! Ground truth next to what the platform did: the scoring of a simulated history.

use crate::engine::Shared;
use crate::world::World;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
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
        out
    }
}
