//! Normalized records (stored in `runs` and `jobs`) and the event the webhook publishes on
//! `pipeline-events`. These are our shapes, independent of GitHub's payload layout.

use crate::github;
use crate::ids::{DeliveryId, JobId, RepoName, RunId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The latest known state of one workflow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: RunId,
    pub repo: RepoName,
    pub workflow_id: u64,
    pub workflow_name: Option<String>,
    pub workflow_path: Option<String>,
    pub run_number: u64,
    pub run_attempt: u32,
    /// What triggered the run: `push`, `pull_request`, `pull_request_target`, ...
    pub event: String,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub head_repo: Option<String>,
    /// True when the head repository differs from the base repository (a fork).
    pub from_fork: bool,
    pub actor: Option<String>,
    pub pull_requests: Vec<u64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub run_started_at: Option<DateTime<Utc>>,
    pub html_url: Option<String>,
    pub installation_id: Option<u64>,
}

/// The latest known state of one job (one attempt; GitHub gives rerun jobs new ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job_id: JobId,
    pub run_id: RunId,
    pub run_attempt: u32,
    pub repo: RepoName,
    pub workflow_name: Option<String>,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub labels: Vec<String>,
    pub runner_name: Option<String>,
    pub runner_group: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub steps: Vec<StepRecord>,
    pub html_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub number: u32,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One normalized event on `pipeline-events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineEvent {
    pub delivery_id: DeliveryId,
    /// The `X-GitHub-Event` header.
    pub github_event: String,
    pub action: Option<String>,
    pub repo: Option<RepoName>,
    pub installation_id: Option<u64>,
    pub received_at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: PipelineEventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "record", rename_all = "snake_case")]
pub enum PipelineEventKind {
    Run(RunRecord),
    Job(JobRecord),
    Push {
        git_ref: String,
        before: String,
        after: String,
        forced: bool,
        created: bool,
        deleted: bool,
        /// Every path added, modified or removed by the pushed commits (posture watches
        /// `.github/workflows/`).
        changed_paths: Vec<String>,
    },
    PullRequest {
        number: u64,
        state: String,
        head_ref: String,
        head_sha: String,
        base_ref: String,
        head_repo: Option<String>,
        from_fork: bool,
        merged: bool,
    },
    CheckRun {
        check_run_id: u64,
        name: String,
        head_sha: String,
        status: String,
        conclusion: Option<String>,
        check_suite_id: Option<u64>,
        app: Option<String>,
    },
    CheckSuite {
        check_suite_id: u64,
        head_sha: String,
        head_branch: Option<String>,
        status: Option<String>,
        conclusion: Option<String>,
        app: Option<String>,
    },
    Installation {
        installation_id: u64,
        account: Option<String>,
        repositories: Vec<String>,
    },
}

impl PipelineEventKind {
    /// A stable label (the `kind` attribute of the bus message).
    pub fn label(&self) -> &'static str {
        match self {
            PipelineEventKind::Run(_) => "run",
            PipelineEventKind::Job(_) => "job",
            PipelineEventKind::Push { .. } => "push",
            PipelineEventKind::PullRequest { .. } => "pull_request",
            PipelineEventKind::CheckRun { .. } => "check_run",
            PipelineEventKind::CheckSuite { .. } => "check_suite",
            PipelineEventKind::Installation { .. } => "installation",
        }
    }
}

fn status_rank(status: Option<&str>) -> u8 {
    match status {
        Some("completed") => 3,
        Some("in_progress") => 2,
        Some(_) => 1,
        None => 0,
    }
}

impl RunRecord {
    pub fn from_github(
        run: &github::WorkflowRun,
        repo: &github::Repository,
        installation: Option<&github::InstallationRef>,
    ) -> Self {
        let head_repo = run.head_repository.as_ref().map(|r| r.full_name.clone());
        Self {
            run_id: RunId(run.id),
            repo: RepoName(repo.full_name.clone()),
            workflow_id: run.workflow_id,
            workflow_name: run.name.clone(),
            workflow_path: run.path.clone(),
            run_number: run.run_number,
            run_attempt: run.run_attempt.unwrap_or(1),
            event: run.event.clone(),
            status: run.status.clone(),
            conclusion: run.conclusion.clone(),
            head_sha: run.head_sha.clone(),
            head_branch: run.head_branch.clone(),
            from_fork: head_repo.as_deref().is_some_and(|h| h != repo.full_name),
            head_repo,
            actor: run.actor.as_ref().map(|a| a.login.clone()),
            pull_requests: run.pull_requests.iter().map(|p| p.number).collect(),
            created_at: run.created_at,
            updated_at: run.updated_at,
            run_started_at: run.run_started_at,
            html_url: run.html_url.clone(),
            installation_id: installation.map(|i| i.id),
        }
    }

    /// Orders the states of one run so that a late, out-of-order delivery never overwrites a
    /// newer state: attempt first, then lifecycle stage, then GitHub's `updated_at`.
    /// Compared as a string, so it is zero-padded.
    pub fn order_key(&self) -> String {
        format!(
            "{:06}:{}:{}",
            self.run_attempt,
            status_rank(self.status.as_deref()),
            self.updated_at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        )
    }
}

impl JobRecord {
    pub fn from_github(job: &github::WorkflowJob, repo: &github::Repository) -> Self {
        Self {
            job_id: JobId(job.id),
            run_id: RunId(job.run_id),
            run_attempt: job.run_attempt.unwrap_or(1),
            repo: RepoName(repo.full_name.clone()),
            workflow_name: job.workflow_name.clone(),
            name: job.name.clone(),
            status: job.status.clone(),
            conclusion: job.conclusion.clone(),
            head_sha: job.head_sha.clone(),
            head_branch: job.head_branch.clone(),
            labels: job.labels.clone(),
            runner_name: job.runner_name.clone(),
            runner_group: job.runner_group_name.clone(),
            created_at: job.created_at,
            started_at: job.started_at,
            completed_at: job.completed_at,
            steps: job
                .steps
                .iter()
                .map(|s| StepRecord {
                    number: s.number,
                    name: s.name.clone(),
                    status: s.status.clone(),
                    conclusion: s.conclusion.clone(),
                    started_at: s.started_at,
                    completed_at: s.completed_at,
                })
                .collect(),
            html_url: job.html_url.clone(),
        }
    }

    /// See [`RunRecord::order_key`]; a job id belongs to one attempt, so the stage leads.
    pub fn order_key(&self) -> String {
        let latest = self.completed_at.or(self.started_at).or(self.created_at);
        format!(
            "{}:{}",
            status_rank(Some(&self.status)),
            latest.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()).unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(attempt: u32, status: &str, updated: &str) -> RunRecord {
        RunRecord {
            run_id: RunId(1),
            repo: RepoName("o/r".into()),
            workflow_id: 1,
            workflow_name: None,
            workflow_path: None,
            run_number: 1,
            run_attempt: attempt,
            event: "push".into(),
            status: Some(status.into()),
            conclusion: None,
            head_sha: "abc".into(),
            head_branch: None,
            head_repo: None,
            from_fork: false,
            actor: None,
            pull_requests: vec![],
            created_at: "2026-01-01T00:00:00Z".parse().expect("time"),
            updated_at: updated.parse().expect("time"),
            run_started_at: None,
            html_url: None,
            installation_id: None,
        }
    }

    #[test]
    fn order_key_prefers_later_attempt_then_later_stage_then_later_update() {
        let queued = run(1, "queued", "2026-01-01T00:00:05Z");
        let done_same_second = run(1, "completed", "2026-01-01T00:00:05Z");
        let second_attempt_queued = run(2, "queued", "2026-01-01T00:00:01Z");
        assert!(queued.order_key() < done_same_second.order_key());
        assert!(done_same_second.order_key() < second_attempt_queued.order_key());
        assert!(
            run(1, "in_progress", "2026-01-01T00:00:09Z").order_key()
                > run(1, "in_progress", "2026-01-01T00:00:08Z").order_key()
        );
        assert!(
            run(10, "queued", "2026-01-01T00:00:00Z").order_key()
                > run(9, "completed", "2026-01-01T00:00:00Z").order_key()
        );
    }
}
