//! Live run and job state, merged from events that arrive out of order and more than once.
//!
//! Per job the furthest status wins (`queued` < `in_progress` < `completed`); a stale
//! `in_progress` after `completed` only fills times the job did not have, and never reopens it.
//! Per run, each attempt keeps its own furthest state. Both tables are bounded (oldest entry
//! evicted first); they are a cache of the recent past. The durable effects of a completion
//! (baselines, anomalies, outcomes) are keyed by job id or run attempt in the persisted state,
//! so an evicted or restarted table never causes a double count.

use crate::model::{BranchClass, Outcome};
use aetherveil_models::{JobRecord, RunRecord};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

/// `queued`, `waiting`, `requested`, `pending` < `in_progress` < `completed`.
pub fn status_rank(status: Option<&str>) -> u8 {
    match status {
        Some("completed") => 3,
        Some("in_progress") => 2,
        Some(_) => 1,
        None => 0,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    pub job_id: u64,
    pub run_id: u64,
    pub run_attempt: u32,
    pub repo: String,
    pub workflow: Option<String>,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub labels: Vec<String>,
    pub runner_name: Option<String>,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl JobView {
    fn from_record(j: &JobRecord) -> Self {
        Self {
            job_id: j.job_id.0,
            run_id: j.run_id.0,
            run_attempt: j.run_attempt,
            repo: j.repo.0.clone(),
            workflow: j.workflow_name.clone(),
            name: j.name.clone(),
            status: j.status.clone(),
            conclusion: j.conclusion.clone(),
            labels: j.labels.clone(),
            runner_name: j.runner_name.clone(),
            head_sha: j.head_sha.clone(),
            head_branch: j.head_branch.clone(),
            created_at: j.created_at,
            started_at: j.started_at,
            completed_at: j.completed_at,
        }
    }

    /// `started_at -> completed_at`, seconds (once completed).
    pub fn duration_secs(&self) -> Option<f64> {
        seconds_between(self.started_at?, self.completed_at?)
    }

    /// `created_at -> started_at`, seconds.
    pub fn queue_secs(&self) -> Option<f64> {
        seconds_between(self.created_at?, self.started_at?)
    }

    pub fn outcome(&self) -> Outcome {
        Outcome::from_conclusion(self.conclusion.as_deref())
    }

    pub fn is_completed(&self) -> bool {
        self.status == "completed"
    }

    /// Merges a newer or older view of the same job. Returns true if the status advanced.
    fn merge(&mut self, j: &JobRecord) -> bool {
        let advanced = status_rank(Some(&j.status)) > status_rank(Some(&self.status));
        if advanced {
            self.status = j.status.clone();
            self.conclusion = j.conclusion.clone();
            if !j.labels.is_empty() {
                self.labels = j.labels.clone();
            }
            if j.runner_name.is_some() {
                self.runner_name = j.runner_name.clone();
            }
            self.started_at = j.started_at.or(self.started_at);
            self.completed_at = j.completed_at.or(self.completed_at);
            self.created_at = self.created_at.or(j.created_at);
        } else {
            // Same or older stage: only fill what is missing.
            self.created_at = self.created_at.or(j.created_at);
            self.started_at = self.started_at.or(j.started_at);
            self.completed_at = self.completed_at.or(j.completed_at);
            if self.conclusion.is_none() && self.is_completed() {
                self.conclusion = j.conclusion.clone();
            }
            if self.runner_name.is_none() {
                self.runner_name = j.runner_name.clone();
            }
        }
        if self.workflow.is_none() {
            self.workflow = j.workflow_name.clone();
        }
        advanced
    }
}

pub(crate) fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> Option<f64> {
    let ms = (b - a).num_milliseconds();
    (ms >= 0).then(|| ms as f64 / 1000.0)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptView {
    pub attempt: u32,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Jobs of this attempt seen so far.
    pub jobs: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub run_id: u64,
    pub repo: String,
    pub workflow: Option<String>,
    pub event: String,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub class: BranchClass,
    pub created_at: DateTime<Utc>,
    pub attempts: Vec<AttemptView>,
}

impl RunView {
    pub fn attempt(&self, n: u32) -> Option<&AttemptView> {
        self.attempts.iter().find(|a| a.attempt == n)
    }
}

/// A bounded map: insertion order decides eviction.
#[derive(Debug)]
pub(crate) struct Bounded<V> {
    map: HashMap<u64, V>,
    order: VecDeque<u64>,
    cap: usize,
}

impl<V> Bounded<V> {
    pub(crate) fn new(cap: usize) -> Self {
        Self { map: HashMap::new(), order: VecDeque::new(), cap: cap.max(1) }
    }

    pub(crate) fn get(&self, id: u64) -> Option<&V> {
        self.map.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        self.map.get_mut(&id)
    }

    pub(crate) fn insert(&mut self, id: u64, v: V) {
        if self.map.insert(id, v).is_none() {
            self.order.push_back(id);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// The live tables.
#[derive(Debug)]
pub struct LiveState {
    pub(crate) runs: Bounded<RunView>,
    pub(crate) jobs: Bounded<JobView>,
}

/// What merging a job event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobMerge {
    /// First sight of the job.
    New,
    /// The status moved forward.
    Advanced,
    /// Same or older stage (a duplicate or a stale event).
    Stale,
}

impl LiveState {
    pub fn new(max_runs: usize, max_jobs: usize) -> Self {
        Self { runs: Bounded::new(max_runs), jobs: Bounded::new(max_jobs) }
    }

    pub fn job(&self, id: u64) -> Option<&JobView> {
        self.jobs.get(id)
    }

    pub fn run(&self, id: u64) -> Option<&RunView> {
        self.runs.get(id)
    }

    pub fn merge_job(&mut self, j: &JobRecord) -> JobMerge {
        let merge = match self.jobs.get_mut(j.job_id.0) {
            Some(view) => {
                if view.merge(j) {
                    JobMerge::Advanced
                } else {
                    JobMerge::Stale
                }
            }
            None => {
                self.jobs.insert(j.job_id.0, JobView::from_record(j));
                JobMerge::New
            }
        };
        if let Some(run) = self.runs.get_mut(j.run_id.0) {
            if let Some(a) = run.attempts.iter_mut().find(|a| a.attempt == j.run_attempt) {
                if !a.jobs.contains(&j.job_id.0) {
                    a.jobs.push(j.job_id.0);
                }
            }
        }
        merge
    }

    /// Merges a run event; returns true when this attempt became completed now.
    pub fn merge_run(&mut self, r: &RunRecord, default_branches: &[String]) -> bool {
        let class = BranchClass::classify(Some(&r.event), r.head_branch.as_deref(), default_branches);
        if self.runs.get(r.run_id.0).is_none() {
            self.runs.insert(
                r.run_id.0,
                RunView {
                    run_id: r.run_id.0,
                    repo: r.repo.0.clone(),
                    workflow: r.workflow_name.clone(),
                    event: r.event.clone(),
                    head_sha: r.head_sha.clone(),
                    head_branch: r.head_branch.clone(),
                    class,
                    created_at: r.created_at,
                    attempts: Vec::new(),
                },
            );
        }
        let Some(run) = self.runs.get_mut(r.run_id.0) else { return false };
        run.created_at = run.created_at.min(r.created_at);
        if run.workflow.is_none() {
            run.workflow = r.workflow_name.clone();
        }
        let rank = status_rank(r.status.as_deref());
        match run.attempts.iter_mut().find(|a| a.attempt == r.run_attempt) {
            Some(a) => {
                let old = status_rank(a.status.as_deref());
                if (rank, r.updated_at) > (old, a.updated_at) && old < 3 {
                    a.status = r.status.clone();
                    a.conclusion = r.conclusion.clone();
                    a.updated_at = r.updated_at;
                    a.started_at = a.started_at.or(r.run_started_at);
                    return rank == 3;
                }
                false
            }
            None => {
                run.attempts.push(AttemptView {
                    attempt: r.run_attempt,
                    status: r.status.clone(),
                    conclusion: r.conclusion.clone(),
                    started_at: r.run_started_at,
                    updated_at: r.updated_at,
                    jobs: Vec::new(),
                });
                run.attempts.sort_by_key(|a| a.attempt);
                rank == 3
            }
        }
    }
}
