//! The pure, synchronous core: events in, anomaly changes out. No I/O, no clock.
//!
//! [`MonitorCore::observe`] merges each `workflow_run` / `workflow_job` event into the live
//! tables and, on a job's completion, applies it once to its job's [`JobSeries`] (baselines,
//! detectors, episodes, flaky state); on a run's completion, to its workflow's
//! [`WorkflowState`] (success counts, time to recovery). The documents it changed are marked
//! dirty, for the shell to persist ([`MonitorCore::take_dirty`], [`MonitorCore::export`]).
//!
//! A job completion needs its run's triggering event (for the branch class). If the run has
//! not been seen yet, the completion is parked (bounded) until the run's first event, or
//! classified from its branch name once it is `park_max_age_secs` older than the newest event.

use crate::config::MonitorConfig;
use crate::error::MonitorError;
use crate::flaky::FlakyState;
use crate::live::{JobView, LiveState, RunView, seconds_between};
use crate::model::{Anomaly, AnomalyChange, BranchClass, JobKey, Outcome, WorkflowKey};
use crate::series::{Completion, JobSeries, SeriesHistory};
use crate::workflow::{OutcomeCounts, RunCompletion, WorkflowState};
use aetherveil_models::{JobRecord, PipelineEvent, PipelineEventKind, RunRecord};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// A persisted document of the monitor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocRef {
    /// In `baselines`.
    Job(JobKey),
    /// In [`crate::names::WORKFLOWS`].
    Workflow(WorkflowKey),
}

impl DocRef {
    pub fn collection(&self) -> &'static str {
        match self {
            DocRef::Job(_) => aetherveil_models::names::BASELINES,
            DocRef::Workflow(_) => crate::names::WORKFLOWS,
        }
    }

    pub fn id(&self) -> String {
        match self {
            DocRef::Job(k) => k.doc_id(),
            DocRef::Workflow(k) => k.doc_id(),
        }
    }
}

/// Counters of what the core did (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CoreStats {
    pub events: u64,
    /// Events of other kinds (push, pull_request, ...).
    pub ignored: u64,
    pub job_completions: u64,
    /// Job completions already applied (redeliveries).
    pub duplicate_completions: u64,
    pub run_completions: u64,
    pub duplicate_run_completions: u64,
    /// Completions classified from the branch name because their run never showed up.
    pub classified_without_run: u64,
    pub parked: u64,
    pub anomalies_opened: u64,
    pub anomalies_closed: u64,
}

pub struct MonitorCore {
    cfg: MonitorConfig,
    live: LiveState,
    series: HashMap<JobKey, JobSeries>,
    workflows: HashMap<WorkflowKey, WorkflowState>,
    parked: VecDeque<JobRecord>,
    dirty: BTreeSet<DocRef>,
    newest_ms: i64,
    stats: CoreStats,
}

impl MonitorCore {
    pub fn new(cfg: MonitorConfig) -> Result<Self, MonitorError> {
        cfg.validate()?;
        let live = LiveState::new(cfg.limits.live_runs, cfg.limits.live_jobs);
        Ok(Self {
            cfg,
            live,
            series: HashMap::new(),
            workflows: HashMap::new(),
            parked: VecDeque::new(),
            dirty: BTreeSet::new(),
            newest_ms: i64::MIN,
            stats: CoreStats::default(),
        })
    }

    pub fn config(&self) -> &MonitorConfig {
        &self.cfg
    }

    pub fn stats(&self) -> CoreStats {
        self.stats
    }

    /// Applies one pipeline event. Idempotent: a redelivered event changes nothing.
    pub fn observe(&mut self, event: &PipelineEvent) -> Vec<AnomalyChange> {
        self.stats.events += 1;
        let mut changes = match &event.kind {
            PipelineEventKind::Run(r) => self.observe_run(r),
            PipelineEventKind::Job(j) => self.observe_job(j),
            _ => {
                self.stats.ignored += 1;
                Vec::new()
            }
        };
        self.release_old_parked(&mut changes);
        for c in &changes {
            match c {
                AnomalyChange::Opened(_) => self.stats.anomalies_opened += 1,
                AnomalyChange::Closed(_) => self.stats.anomalies_closed += 1,
                AnomalyChange::Updated(_) => {}
            }
        }
        changes
    }

    /// Registers what a run is (event, branch, workflow) without counting its outcome: the
    /// shell calls this with the stored run record when a job completes before its run's event.
    pub fn note_run(&mut self, run: &RunRecord) -> Vec<AnomalyChange> {
        self.live.merge_run(run, &self.cfg.default_branches);
        self.release_parked_for(run.run_id.0)
    }

    pub fn knows_run(&self, run_id: u64) -> bool {
        self.live.run(run_id).is_some()
    }

    /// Classifies every parked completion from its branch (end of a replay).
    pub fn flush_parked(&mut self) -> Vec<AnomalyChange> {
        let parked: Vec<JobRecord> = self.parked.drain(..).collect();
        let mut out = Vec::new();
        for j in parked {
            out.extend(self.complete_job(&j));
        }
        out
    }

    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    fn bump_time(&mut self, t: Option<DateTime<Utc>>) {
        if let Some(t) = t {
            self.newest_ms = self.newest_ms.max(t.timestamp_millis());
        }
    }

    fn observe_run(&mut self, r: &RunRecord) -> Vec<AnomalyChange> {
        self.bump_time(Some(r.updated_at));
        self.live.merge_run(r, &self.cfg.default_branches);
        let changes = self.release_parked_for(r.run_id.0);
        if r.status.as_deref() == Some("completed") {
            let key = WorkflowKey {
                repo: r.repo.0.clone(),
                workflow: r.workflow_name.clone().unwrap_or_else(|| format!("workflow-{}", r.workflow_id)),
            };
            let completion = RunCompletion {
                run_id: r.run_id.0,
                attempt: r.run_attempt,
                class: BranchClass::classify(Some(&r.event), r.head_branch.as_deref(), &self.cfg.default_branches),
                outcome: Outcome::from_conclusion(r.conclusion.as_deref()),
                created_at: r.created_at,
                completed_at: r.updated_at,
            };
            let l = &self.cfg.limits;
            if !self.workflows.contains_key(&key) {
                self.workflows.insert(key.clone(), WorkflowState::new(key.clone()));
            }
            let Some(state) = self.workflows.get_mut(&key) else { return changes };
            if state.observe(&completion, l.history_days, l.recoveries, l.workflow_dedup) {
                self.stats.run_completions += 1;
                self.dirty.insert(DocRef::Workflow(key));
            } else {
                self.stats.duplicate_run_completions += 1;
            }
        }
        changes
    }

    fn observe_job(&mut self, j: &JobRecord) -> Vec<AnomalyChange> {
        self.bump_time(j.completed_at.or(j.started_at).or(j.created_at));
        self.live.merge_job(j);
        if j.status != "completed" {
            return Vec::new();
        }
        if !self.knows_run(j.run_id.0) && self.cfg.limits.park_capacity > 0 {
            self.stats.parked += 1;
            self.parked.push_back(j.clone());
            let mut out = Vec::new();
            while self.parked.len() > self.cfg.limits.park_capacity {
                if let Some(old) = self.parked.pop_front() {
                    out.extend(self.complete_job(&old));
                }
            }
            return out;
        }
        self.complete_job(j)
    }

    fn release_parked_for(&mut self, run_id: u64) -> Vec<AnomalyChange> {
        if self.parked.is_empty() || !self.parked.iter().any(|j| j.run_id.0 == run_id) {
            return Vec::new();
        }
        let (ready, keep): (Vec<JobRecord>, Vec<JobRecord>) = self.parked.drain(..).partition(|j| j.run_id.0 == run_id);
        self.parked = keep.into();
        ready.iter().flat_map(|j| self.complete_job(j)).collect()
    }

    fn release_old_parked(&mut self, out: &mut Vec<AnomalyChange>) {
        let max_age = self.cfg.limits.park_max_age_secs * 1000;
        while let Some(front) = self.parked.front() {
            let at = front.completed_at.map_or(i64::MIN, |t| t.timestamp_millis());
            if at.saturating_add(max_age) > self.newest_ms {
                break;
            }
            if let Some(j) = self.parked.pop_front() {
                out.extend(self.complete_job(&j));
            }
        }
    }

    /// The job key a completion belongs to (the workflow name comes from the job, else its run).
    pub fn job_key(&self, j: &JobRecord) -> JobKey {
        let workflow = j
            .workflow_name
            .clone()
            .or_else(|| self.live.run(j.run_id.0).and_then(|r| r.workflow.clone()))
            .unwrap_or_default();
        JobKey::new(j.repo.0.clone(), workflow, j.name.clone())
    }

    /// The document an event will change, if any (the shell loads it first).
    pub fn doc_for(&self, event: &PipelineEvent) -> Option<DocRef> {
        match &event.kind {
            PipelineEventKind::Job(j) if j.status == "completed" => Some(DocRef::Job(self.job_key(j))),
            PipelineEventKind::Run(r) if r.status.as_deref() == Some("completed") => {
                Some(DocRef::Workflow(WorkflowKey {
                    repo: r.repo.0.clone(),
                    workflow: r.workflow_name.clone().unwrap_or_else(|| format!("workflow-{}", r.workflow_id)),
                }))
            }
            _ => None,
        }
    }

    fn complete_job(&mut self, j: &JobRecord) -> Vec<AnomalyChange> {
        let run = self.live.run(j.run_id.0);
        if run.is_none() {
            self.stats.classified_without_run += 1;
        }
        let class = BranchClass::classify(
            run.map(|r| r.event.as_str()),
            j.head_branch.as_deref().or(run.and_then(|r| r.head_branch.as_deref())),
            &self.cfg.default_branches,
        );
        let run_created_at = run.map(|r| r.created_at);
        let workflow = match (&j.workflow_name, run.and_then(|r| r.workflow.as_ref())) {
            (Some(w), _) | (None, Some(w)) => w.clone(),
            (None, None) => String::new(),
        };
        let key = JobKey::new(j.repo.0.clone(), workflow, j.name.clone());
        // Times from the live view: it has merged every stage seen, the record may lack some.
        let view = self.live.job(j.job_id.0);
        let pick = |f: fn(&JobView) -> Option<DateTime<Utc>>, own: Option<DateTime<Utc>>| own.or(view.and_then(f));
        let created = pick(|v| v.created_at, j.created_at);
        let started = pick(|v| v.started_at, j.started_at);
        let completed = pick(|v| v.completed_at, j.completed_at);
        let at = completed.or(started).or(created).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let completion = Completion {
            job_id: j.job_id.0,
            run_id: j.run_id.0,
            attempt: j.run_attempt,
            head_sha: j.head_sha.clone(),
            class,
            outcome: Outcome::from_conclusion(j.conclusion.as_deref()),
            at,
            started_at: started,
            run_created_at,
            duration_secs: started.zip(completed).and_then(|(s, c)| seconds_between(s, c)),
            queue_secs: created.zip(started).and_then(|(c, s)| seconds_between(c, s)),
        };
        if !self.series.contains_key(&key) {
            self.series.insert(key.clone(), JobSeries::new(key.clone()));
        }
        let Some(series) = self.series.get_mut(&key) else { return Vec::new() };
        match series.observe(&completion, &self.cfg) {
            Some(changes) => {
                self.stats.job_completions += 1;
                self.dirty.insert(DocRef::Job(key));
                changes
            }
            None => {
                self.stats.duplicate_completions += 1;
                Vec::new()
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Persistence: the shell exports dirty documents and imports stored ones.

    /// Documents changed since the last call.
    pub fn take_dirty(&mut self) -> Vec<DocRef> {
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    pub fn is_loaded(&self, doc: &DocRef) -> bool {
        match doc {
            DocRef::Job(k) => self.series.contains_key(k),
            DocRef::Workflow(k) => self.workflows.contains_key(k),
        }
    }

    /// The stored form of a document: queryable fields, the API summary, and the full state.
    pub fn export(&self, doc: &DocRef) -> Option<Value> {
        match doc {
            DocRef::Job(k) => {
                let s = self.series.get(k)?;
                Some(json!({
                    "id": k.doc_id(),
                    "repo": k.repo,
                    "workflow": k.workflow,
                    "job": k.job,
                    "last_at": s.last_at,
                    "last_at_ms": s.last_at.map(|t| t.timestamp_millis()),
                    "flaky_state": s.flaky.state.label(),
                    "summary": s.summary(&self.cfg),
                    "state": s,
                }))
            }
            DocRef::Workflow(k) => {
                let w = self.workflows.get(k)?;
                Some(json!({
                    "id": k.doc_id(),
                    "repo": k.repo,
                    "workflow": k.workflow,
                    "last_at": w.last_at,
                    "state": w,
                }))
            }
        }
    }

    /// Loads a stored document (as written by [`MonitorCore::export`]), replacing memory.
    pub fn import(&mut self, doc: &DocRef, data: &Value) -> Result<(), MonitorError> {
        let state = data.get("state").cloned().unwrap_or(Value::Null);
        let decode = |e: serde_json::Error| MonitorError::Decode { id: doc.id(), reason: e.to_string() };
        match doc {
            DocRef::Job(k) => {
                let s: JobSeries = serde_json::from_value(state).map_err(decode)?;
                self.series.insert(k.clone(), s);
            }
            DocRef::Workflow(k) => {
                let w: WorkflowState = serde_json::from_value(state).map_err(decode)?;
                self.workflows.insert(k.clone(), w);
            }
        }
        Ok(())
    }

    /// Forgets a document (the stored copy is newer): it is loaded again on next use.
    pub fn evict(&mut self, doc: &DocRef) {
        match doc {
            DocRef::Job(k) => {
                self.series.remove(k);
            }
            DocRef::Workflow(k) => {
                self.workflows.remove(k);
            }
        }
        self.dirty.remove(doc);
    }

    // ---------------------------------------------------------------------------------------
    // Reads.

    pub fn job(&self, job_id: u64) -> Option<&JobView> {
        self.live.job(job_id)
    }

    pub fn run(&self, run_id: u64) -> Option<&RunView> {
        self.live.run(run_id)
    }

    pub fn series(&self, key: &JobKey) -> Option<&JobSeries> {
        self.series.get(key)
    }

    pub fn all_series(&self) -> impl Iterator<Item = &JobSeries> {
        self.series.values()
    }

    pub fn workflow(&self, key: &WorkflowKey) -> Option<&WorkflowState> {
        self.workflows.get(key)
    }

    pub fn open_anomalies(&self) -> impl Iterator<Item = &Anomaly> {
        self.series.values().flat_map(JobSeries::open_episodes)
    }

    /// Health inputs of one repository, from memory.
    pub fn health_inputs(&self, repo: &str) -> RepoHealthInputs {
        let workflows: Vec<&WorkflowState> = self.workflows.values().filter(|w| w.key.repo == repo).collect();
        let jobs: Vec<&JobSeries> = self.series.values().filter(|s| s.key.repo == repo).collect();
        let mut open = BTreeMap::new();
        for a in jobs.iter().flat_map(|s| s.open_episodes()) {
            *open.entry(a.kind.label().to_owned()).or_insert(0) += 1;
        }
        RepoHealthInputs::build(repo, &workflows, &jobs, open)
    }

    /// Forecast inputs of one repository's series, from memory.
    pub fn histories(&self, repo: &str) -> Vec<SeriesHistory> {
        let mut out: Vec<SeriesHistory> =
            self.series.values().filter(|s| s.key.repo == repo).flat_map(JobSeries::histories).collect();
        out.sort_by(|a, b| (&a.workflow, &a.job, a.branch_class).cmp(&(&b.workflow, &b.job, b.branch_class)));
        out
    }

    /// Approximate bytes of the persisted-state part of memory (job series and workflows), and
    /// the number of each. The live tables are bounded separately by `limits`.
    pub fn approx_bytes(&self) -> (usize, usize, usize) {
        let jobs: usize = self.series.values().map(JobSeries::approx_bytes).sum();
        let workflows: usize = self.workflows.values().map(WorkflowState::approx_bytes).sum();
        (jobs + workflows, self.series.len(), self.workflows.len())
    }

    pub fn live_sizes(&self) -> (usize, usize) {
        (self.live.runs.len(), self.live.jobs.len())
    }
}

/// What the health score needs about one repository.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RepoHealthInputs {
    pub repo: String,
    /// Completed run attempts, every branch class, since tracking began.
    pub runs: OutcomeCounts,
    /// The same on the default branch.
    pub default_branch_runs: OutcomeCounts,
    /// Per day (UTC, event time), oldest first, summed over workflows.
    pub daily: Vec<DailyOutcomes>,
    /// Time-to-recovery samples of the default branch, oldest first.
    pub recoveries: Vec<RecoverySample>,
    /// Workflows whose default branch is failing now, with the failure's time.
    pub failing_since: Vec<(String, DateTime<Utc>)>,
    /// Open anomaly episodes by kind.
    pub open_anomalies: BTreeMap<String, u64>,
    pub jobs: Vec<JobHealth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyOutcomes {
    pub date: chrono::NaiveDate,
    pub all: OutcomeCounts,
    pub default_branch: OutcomeCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoverySample {
    pub workflow: String,
    pub failed_at: DateTime<Utc>,
    pub recovered_at: DateTime<Utc>,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobHealth {
    pub workflow: String,
    pub job: String,
    pub flaky_state: FlakyState,
    pub flaky_score: f64,
    /// Failures / decisive attempts in the recent failure window, all classes.
    pub recent_failure_rate: Option<f64>,
}

impl RepoHealthInputs {
    pub fn build(
        repo: &str,
        workflows: &[&WorkflowState],
        jobs: &[&JobSeries],
        open_anomalies: BTreeMap<String, u64>,
    ) -> Self {
        let mut out = RepoHealthInputs { repo: repo.to_owned(), open_anomalies, ..Default::default() };
        let mut daily: BTreeMap<chrono::NaiveDate, DailyOutcomes> = BTreeMap::new();
        for w in workflows {
            for (i, c) in w.totals.iter().enumerate() {
                out.runs.merge(c);
                if i == BranchClass::Default.index() {
                    out.default_branch_runs.merge(c);
                }
            }
            for d in &w.days {
                let e = daily.entry(d.date).or_insert_with(|| DailyOutcomes {
                    date: d.date,
                    all: OutcomeCounts::default(),
                    default_branch: OutcomeCounts::default(),
                });
                for (i, c) in d.classes.iter().enumerate() {
                    e.all.merge(c);
                    if i == BranchClass::Default.index() {
                        e.default_branch.merge(c);
                    }
                }
            }
            out.recoveries.extend(w.recoveries.iter().map(|r| RecoverySample {
                workflow: w.key.workflow.clone(),
                failed_at: r.failed_at,
                recovered_at: r.recovered_at,
                seconds: r.seconds,
            }));
            if let Some(f) = &w.failing {
                out.failing_since.push((w.key.workflow.clone(), f.since));
            }
        }
        out.daily = daily.into_values().collect();
        out.recoveries.sort_by_key(|r| r.recovered_at);
        out.failing_since.sort();
        out.jobs = jobs
            .iter()
            .map(|s| {
                let (fails, total) = s
                    .classes
                    .iter()
                    .fold((0u32, 0u32), |(f, t), c| (f + c.failures.recent_failures(), t + c.failures.len));
                JobHealth {
                    workflow: s.key.workflow.clone(),
                    job: s.key.job.clone(),
                    flaky_state: s.flaky.state,
                    flaky_score: s.flaky.figures.score,
                    recent_failure_rate: (total > 0).then(|| f64::from(fails) / f64::from(total)),
                }
            })
            .collect();
        out.jobs.sort_by(|a, b| (&a.workflow, &a.job).cmp(&(&b.workflow, &b.job)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flaky::FlakyState;
    use crate::synth::{self, SynthJob};
    use aetherveil_models::{DeliveryId, JobId, RepoName, RunId};

    fn t(secs: i64) -> DateTime<Utc> {
        "2026-04-01T12:00:00Z".parse::<DateTime<Utc>>().expect("t") + chrono::Duration::seconds(secs)
    }

    fn run(
        id: u64,
        attempt: u32,
        event: &str,
        branch: &str,
        status: &str,
        conclusion: Option<&str>,
        at: i64,
    ) -> RunRecord {
        RunRecord {
            run_id: RunId(id),
            repo: RepoName("acme/app".into()),
            workflow_id: 7,
            workflow_name: Some("CI".into()),
            workflow_path: None,
            run_number: id,
            run_attempt: attempt,
            event: event.into(),
            status: Some(status.into()),
            conclusion: conclusion.map(Into::into),
            head_sha: format!("sha-{id}"),
            head_branch: Some(branch.into()),
            head_repo: None,
            from_fork: false,
            actor: None,
            pull_requests: vec![],
            created_at: t(0),
            updated_at: t(at),
            run_started_at: Some(t(0)),
            html_url: None,
            installation_id: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn job(
        id: u64,
        run_id: u64,
        attempt: u32,
        status: &str,
        conclusion: Option<&str>,
        created: i64,
        started: Option<i64>,
        completed: Option<i64>,
    ) -> JobRecord {
        JobRecord {
            job_id: JobId(id),
            run_id: RunId(run_id),
            run_attempt: attempt,
            repo: RepoName("acme/app".into()),
            workflow_name: Some("CI".into()),
            name: "test".into(),
            status: status.into(),
            conclusion: conclusion.map(Into::into),
            head_sha: format!("sha-{run_id}"),
            head_branch: Some("main".into()),
            labels: vec!["ubuntu-latest".into()],
            runner_name: None,
            runner_group: None,
            created_at: Some(t(created)),
            started_at: started.map(t),
            completed_at: completed.map(t),
            steps: vec![],
            html_url: None,
        }
    }

    fn ev(kind: PipelineEventKind) -> PipelineEvent {
        PipelineEvent {
            delivery_id: DeliveryId("d".into()),
            github_event: "workflow_job".into(),
            action: None,
            repo: Some(RepoName("acme/app".into())),
            installation_id: None,
            received_at: t(0),
            kind,
        }
    }

    fn key() -> JobKey {
        JobKey::new("acme/app", "CI", "test")
    }

    #[test]
    fn job_events_out_of_order_and_twice_merge_to_the_furthest_state_and_count_once() {
        let mut core = MonitorCore::new(MonitorConfig::default()).expect("core");
        core.observe(&ev(PipelineEventKind::Run(run(1, 1, "push", "main", "queued", None, 0))));
        let completed = job(10, 1, 1, "completed", Some("success"), 1, Some(30), Some(330));
        core.observe(&ev(PipelineEventKind::Job(completed.clone())));
        // Stale stages after completion, then the completion again.
        core.observe(&ev(PipelineEventKind::Job(job(10, 1, 1, "in_progress", None, 1, Some(30), None))));
        core.observe(&ev(PipelineEventKind::Job(job(10, 1, 1, "queued", None, 1, None, None))));
        core.observe(&ev(PipelineEventKind::Job(completed)));
        let view = core.job(10).expect("job");
        assert_eq!(view.status, "completed", "a stale in_progress reopened the job");
        assert_eq!(view.conclusion.as_deref(), Some("success"));
        assert_eq!(view.duration_secs(), Some(300.0));
        assert_eq!(view.queue_secs(), Some(29.0));
        assert_eq!(view.labels, vec!["ubuntu-latest".to_owned()]);
        let s = core.stats();
        assert_eq!((s.job_completions, s.duplicate_completions), (1, 1));
        let series = core.series(&key()).expect("series");
        assert_eq!(series.class(BranchClass::Default).expect("default").duration.n, 1);
    }

    #[test]
    fn an_in_progress_first_seen_after_completion_only_fills_missing_times() {
        let mut core = MonitorCore::new(MonitorConfig::default()).expect("core");
        core.observe(&ev(PipelineEventKind::Run(run(1, 1, "push", "main", "queued", None, 0))));
        // A completion that lacks started_at (a truncated payload), then the in_progress.
        core.observe(&ev(PipelineEventKind::Job(job(11, 1, 1, "completed", Some("failure"), 1, None, Some(100)))));
        core.observe(&ev(PipelineEventKind::Job(job(11, 1, 1, "in_progress", None, 1, Some(40), None))));
        let view = core.job(11).expect("job");
        assert_eq!(view.status, "completed");
        assert_eq!(view.started_at, Some(t(40)));
        assert_eq!(view.conclusion.as_deref(), Some("failure"));
    }

    #[test]
    fn run_attempts_keep_their_own_furthest_state() {
        let mut core = MonitorCore::new(MonitorConfig::default()).expect("core");
        core.observe(&ev(PipelineEventKind::Run(run(
            5,
            1,
            "pull_request",
            "feature/x",
            "completed",
            Some("failure"),
            60,
        ))));
        core.observe(&ev(PipelineEventKind::Run(run(5, 1, "pull_request", "feature/x", "in_progress", None, 30))));
        core.observe(&ev(PipelineEventKind::Run(run(5, 2, "pull_request", "feature/x", "queued", None, 90))));
        core.observe(&ev(PipelineEventKind::Run(run(
            5,
            1,
            "pull_request",
            "feature/x",
            "completed",
            Some("failure"),
            60,
        ))));
        let r = core.run(5).expect("run");
        assert_eq!(r.class, BranchClass::Pr);
        assert_eq!(r.attempt(1).and_then(|a| a.status.as_deref()), Some("completed"));
        assert_eq!(r.attempt(2).and_then(|a| a.status.as_deref()), Some("queued"));
        let s = core.stats();
        assert_eq!((s.run_completions, s.duplicate_run_completions), (1, 1));
    }

    #[test]
    fn a_job_completing_before_its_run_waits_for_the_run_to_know_its_branch_class() {
        let mut core = MonitorCore::new(MonitorConfig::default()).expect("core");
        let mut j = job(20, 2, 1, "completed", Some("success"), 1, Some(2), Some(100));
        j.head_branch = Some("main".into()); // pull_request_target runs on the base branch
        core.observe(&ev(PipelineEventKind::Job(j)));
        assert_eq!(core.parked(), 1);
        assert!(core.series(&key()).is_none());
        core.observe(&ev(PipelineEventKind::Run(run(2, 1, "pull_request_target", "main", "queued", None, 0))));
        assert_eq!(core.parked(), 0);
        let series = core.series(&key()).expect("series");
        assert!(series.class(BranchClass::Pr).is_some(), "classified from the run's event, not the branch");
        assert!(series.class(BranchClass::Default).is_none());
    }

    #[test]
    fn a_parked_job_whose_run_never_comes_is_classified_by_branch_after_a_while() {
        let mut core = MonitorCore::new(MonitorConfig::default()).expect("core");
        core.observe(&ev(PipelineEventKind::Job(job(21, 3, 1, "completed", Some("success"), 1, Some(2), Some(100)))));
        assert_eq!(core.parked(), 1);
        // Two hours of event time later (another run's events).
        core.observe(&ev(PipelineEventKind::Run(run(4, 1, "push", "main", "queued", None, 7_300))));
        assert_eq!(core.parked(), 0);
        assert!(core.series(&key()).expect("series").class(BranchClass::Default).is_some());
        assert_eq!(core.stats().classified_without_run, 1);
    }

    #[test]
    fn a_failure_that_passes_on_a_rerun_of_the_same_run_is_flaky_evidence() {
        let mut core = MonitorCore::new(MonitorConfig::default()).expect("core");
        let mut job_id = 100;
        for run_id in 1..=12u64 {
            let base = run_id as i64 * 3_600;
            core.observe(&ev(PipelineEventKind::Run(run(run_id, 1, "push", "main", "queued", None, base))));
            let flaky = run_id == 6 || run_id == 9;
            job_id += 1;
            let outcome = if flaky { "failure" } else { "success" };
            let first = job(job_id, run_id, 1, "completed", Some(outcome), base, Some(base + 5), Some(base + 300));
            core.observe(&ev(PipelineEventKind::Job(first)));
            if flaky {
                // Rerun: attempt 2 of the same run (same head SHA), a new job id, passes.
                job_id += 1;
                let rerun = job(
                    job_id,
                    run_id,
                    2,
                    "completed",
                    Some("success"),
                    base + 400,
                    Some(base + 405),
                    Some(base + 700),
                );
                core.observe(&ev(PipelineEventKind::Job(rerun)));
            }
        }
        let s = core.series(&key()).expect("series");
        assert_eq!(s.flaky.state, FlakyState::Flaky);
        assert_eq!(s.flaky.figures.pass_on_retry, 2);
        assert_eq!(s.flaky.evidence_runs(&core.config().flaky), vec![9, 6]);
        let health = core.health_inputs("acme/app");
        assert_eq!(health.jobs.len(), 1);
        assert_eq!(health.jobs[0].flaky_state, FlakyState::Flaky);
    }

    #[test]
    fn duplicated_and_shuffled_delivery_ends_in_the_same_state() {
        let mut jobs = vec![
            SynthJob::new("acme/app", "CI", "build", 240.0, 360.0),
            SynthJob::new("acme/app", "CI", "test", 420.0, 600.0),
            SynthJob::new("acme/web", "Checks", "lint", 60.0, 90.0),
        ];
        jobs[1].failure_rate = 0.05;
        jobs[1].regression = Some((6.0, 1.8));
        let syn = synth::generate(&jobs, 10.0, t(0), 3);
        let mut in_order = MonitorCore::new(MonitorConfig::default()).expect("core");
        let mut anomalies_a = BTreeSet::new();
        for e in &syn.events {
            anomalies_a.extend(in_order.observe(e).into_iter().map(|c| c.anomaly().id.clone()));
        }
        let mut disordered = MonitorCore::new(MonitorConfig::default()).expect("core");
        let mut anomalies_b = BTreeSet::new();
        for e in synth::disorder(&syn.events, 0.3, 4, 9) {
            anomalies_b.extend(disordered.observe(&e).into_iter().map(|c| c.anomaly().id.clone()));
        }
        anomalies_b.extend(disordered.flush_parked().into_iter().map(|c| c.anomaly().id.clone()));
        assert!(disordered.stats().duplicate_completions > 0, "the test delivered no duplicates");
        assert_eq!(in_order.stats().job_completions, disordered.stats().job_completions);
        assert_eq!(anomalies_a, anomalies_b);
        assert!(anomalies_a.iter().any(|id| id.contains("duration_regression")), "{anomalies_a:?}");
        // Completions of one job that arrive in another order may shift the EWMA and seasonal
        // moments slightly; what was learned is the same.
        for j in &jobs {
            let k = JobKey::new(j.repo.clone(), j.workflow.clone(), j.job.clone());
            let (a, b) = (in_order.series(&k).expect("a"), disordered.series(&k).expect("b"));
            assert_eq!(a.completions, b.completions, "{}", j.job);
            assert_eq!(a.flaky, b.flaky, "{}", j.job);
            for (ca, cb) in a.classes.iter().zip(&b.classes) {
                let sorted = |c: &crate::series::ClassSeries| {
                    let mut v: Vec<f32> = c.duration.window.chronological().collect();
                    v.sort_by(f32::total_cmp);
                    v
                };
                assert_eq!(sorted(ca), sorted(cb), "{} {}", j.job, ca.class);
                assert_eq!(ca.hourly, cb.hourly);
                assert_eq!(
                    (ca.failures.total_fail, ca.failures.total_pass),
                    (cb.failures.total_fail, cb.failures.total_pass)
                );
            }
        }
    }

    #[test]
    fn exported_documents_import_into_an_identical_core() {
        let jobs = vec![SynthJob::new("acme/app", "CI", "build", 240.0, 360.0)];
        let syn = synth::generate(&jobs, 5.0, t(0), 4);
        let mut a = MonitorCore::new(MonitorConfig::default()).expect("core");
        let (first, rest) = syn.events.split_at(syn.events.len() / 2);
        for e in first {
            a.observe(e);
        }
        let docs: Vec<(DocRef, Value)> =
            a.take_dirty().into_iter().map(|d| (d.clone(), a.export(&d).expect("doc"))).collect();
        assert_eq!(docs.len(), 2, "one job and one workflow document");
        let mut b = MonitorCore::new(MonitorConfig::default()).expect("core");
        for (d, v) in &docs {
            b.import(d, v).expect("import");
        }
        for e in rest {
            let ca: Vec<String> = a.observe(e).iter().map(|c| c.anomaly().id.clone()).collect();
            let cb: Vec<String> = b.observe(e).iter().map(|c| c.anomaly().id.clone()).collect();
            assert_eq!(ca, cb);
        }
        for (d, _) in &docs {
            assert_eq!(a.export(d), b.export(d));
        }
    }

    #[test]
    fn time_to_recovery_and_success_counts_reach_the_health_inputs() {
        let mut core = MonitorCore::new(MonitorConfig::default()).expect("core");
        let mut r1 = run(1, 1, "push", "main", "completed", Some("failure"), 600);
        r1.created_at = t(0);
        let mut r2 = run(2, 1, "push", "main", "completed", Some("success"), 4_200);
        r2.created_at = t(3_000);
        let mut r3 = run(3, 1, "pull_request", "feature/y", "completed", Some("success"), 5_000);
        r3.created_at = t(4_000);
        for r in [r1, r2, r3] {
            core.observe(&ev(PipelineEventKind::Run(r)));
        }
        let h = core.health_inputs("acme/app");
        assert_eq!(h.runs.success, 2);
        assert_eq!(h.default_branch_runs.failure, 1);
        assert_eq!(h.recoveries.len(), 1);
        assert_eq!(h.recoveries[0].seconds, 3_600.0);
        assert!(h.failing_since.is_empty());
        assert_eq!(h.daily.len(), 1);
        assert!(core.health_inputs("other/repo").runs.total() == 0);
    }
}
