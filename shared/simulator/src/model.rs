//! The simulated world's records: what a run, a job and a step are at one moment. Payloads and
//! REST responses are rendered from these (see `payloads`), so a webhook and a later API read of
//! the same object agree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The build tool a job drives; it decides the steps and the log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    Cargo,
    Npm,
    Pytest,
    GoTest,
    Maven,
    Docker,
}

impl Tool {
    pub const ALL: [Tool; 6] = [Self::Cargo, Self::Npm, Self::Pytest, Self::GoTest, Self::Maven, Self::Docker];

    pub fn label(self) -> &'static str {
        match self {
            Self::Cargo => "cargo",
            Self::Npm => "npm",
            Self::Pytest => "pytest",
            Self::GoTest => "go_test",
            Self::Maven => "maven",
            Self::Docker => "docker",
        }
    }
}

/// `status` of a run or job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    InProgress,
    Completed,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
        }
    }
}

/// The pull request a run was triggered by (`pull_request` / `pull_request_target`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequestRef {
    pub number: u64,
    pub head_ref: String,
    pub head_sha: String,
    /// `owner/name` of the head repository: a fork for outside contributions.
    pub head_repo: String,
    pub base_ref: String,
    pub base_sha: String,
}

/// One attempt of a workflow run, as GitHub reports it at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `owner/name`.
    pub repo: String,
    pub run_id: u64,
    pub run_number: u64,
    pub attempt: u32,
    pub workflow_id: u64,
    pub workflow_name: String,
    /// `.github/workflows/<file>.yml`.
    pub workflow_path: String,
    /// `push`, `pull_request`, `pull_request_target`, `schedule`, `workflow_dispatch`.
    pub event: String,
    pub head_branch: String,
    pub head_sha: String,
    /// The commit message's first line.
    pub display_title: String,
    pub actor: String,
    pub pull_request: Option<PullRequestRef>,
    pub status: Status,
    /// `success`, `failure`, `cancelled`, ... once completed.
    pub conclusion: Option<String>,
    pub check_suite_id: u64,
    pub created_at: DateTime<Utc>,
    pub run_started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One step of a job (GitHub numbers them from 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepInfo {
    pub number: u32,
    pub name: String,
    pub status: Status,
    /// `success`, `failure`, `skipped`, `cancelled` once completed.
    pub conclusion: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// Whether `runs-on` labels ask for a GitHub-hosted runner: self-hosted runners always carry the
/// `self-hosted` label.
pub fn is_hosted<S: AsRef<str>>(labels: &[S]) -> bool {
    !labels.iter().any(|l| l.as_ref().eq_ignore_ascii_case("self-hosted"))
}

/// The runner a job was assigned to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerInfo {
    pub id: u64,
    pub name: String,
    pub group_id: u64,
    pub group_name: String,
}

/// One job of one run attempt, as GitHub reports it at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    pub repo: String,
    pub run_id: u64,
    pub run_attempt: u32,
    pub job_id: u64,
    pub name: String,
    pub workflow_name: String,
    pub head_branch: String,
    pub head_sha: String,
    /// `runs-on` labels.
    pub labels: Vec<String>,
    pub status: Status,
    pub conclusion: Option<String>,
    pub created_at: DateTime<Utc>,
    /// GitHub sets this to the creation time while the job waits for a runner.
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Empty while queued.
    pub steps: Vec<StepInfo>,
    pub runner: Option<RunnerInfo>,
}
