//! GitHub webhook payloads, typed once. Only the fields Aetherveil reads are declared; every
//! other field is ignored, so GitHub adding fields never breaks parsing. Fields GitHub documents
//! as nullable or absent on some actions are `Option`.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The event types the webhook function normalizes. Anything else is recorded as `ignored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    WorkflowRun,
    WorkflowJob,
    Push,
    PullRequest,
    CheckRun,
    CheckSuite,
    Installation,
    Ping,
}

impl EventType {
    /// Maps the `X-GitHub-Event` header; `None` means "not handled".
    pub fn from_header(name: &str) -> Option<Self> {
        Some(match name {
            "workflow_run" => Self::WorkflowRun,
            "workflow_job" => Self::WorkflowJob,
            "push" => Self::Push,
            "pull_request" => Self::PullRequest,
            "check_run" => Self::CheckRun,
            "check_suite" => Self::CheckSuite,
            "installation" => Self::Installation,
            "ping" => Self::Ping,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub login: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Repository {
    pub id: u64,
    pub full_name: String,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub private: bool,
    pub default_branch: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationRef {
    pub id: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowRunEvent {
    pub action: String,
    pub workflow_run: WorkflowRun,
    pub repository: Repository,
    pub installation: Option<InstallationRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequestRef {
    pub number: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    pub name: Option<String>,
    pub path: Option<String>,
    pub workflow_id: u64,
    pub run_number: u64,
    pub run_attempt: Option<u32>,
    pub event: String,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub head_repository: Option<Repository>,
    #[serde(default)]
    pub pull_requests: Vec<PullRequestRef>,
    pub actor: Option<User>,
    pub triggering_actor: Option<User>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub run_started_at: Option<DateTime<Utc>>,
    pub html_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowJobEvent {
    pub action: String,
    pub workflow_job: WorkflowJob,
    pub repository: Repository,
    pub installation: Option<InstallationRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowJob {
    pub id: u64,
    pub run_id: u64,
    pub run_attempt: Option<u32>,
    pub workflow_name: Option<String>,
    pub name: String,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub runner_name: Option<String>,
    pub runner_group_name: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
    pub html_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub number: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PushEvent {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub before: String,
    pub after: String,
    #[serde(default)]
    pub created: bool,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub forced: bool,
    #[serde(default)]
    pub commits: Vec<Commit>,
    pub repository: Repository,
    pub installation: Option<InstallationRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Commit {
    pub id: String,
    #[serde(default)]
    pub added: Vec<String>,
    #[serde(default)]
    pub removed: Vec<String>,
    #[serde(default)]
    pub modified: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequestEvent {
    pub action: String,
    pub number: u64,
    pub pull_request: PullRequest,
    pub repository: Repository,
    pub installation: Option<InstallationRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub id: u64,
    pub state: String,
    pub title: String,
    pub head: GitRef,
    pub base: GitRef,
    pub user: Option<User>,
    pub merged: Option<bool>,
    pub draft: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GitRef {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    pub repo: Option<Repository>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct App {
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckRunEvent {
    pub action: String,
    pub check_run: CheckRun,
    pub repository: Repository,
    pub installation: Option<InstallationRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckSuiteRef {
    pub id: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub check_suite: Option<CheckSuiteRef>,
    pub app: Option<App>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckSuiteEvent {
    pub action: String,
    pub check_suite: CheckSuite,
    pub repository: Repository,
    pub installation: Option<InstallationRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckSuite {
    pub id: u64,
    pub head_branch: Option<String>,
    pub head_sha: String,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub app: Option<App>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationEvent {
    pub action: String,
    pub installation: Installation,
    pub repositories: Option<Vec<InstallationRepository>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Installation {
    pub id: u64,
    pub account: Option<User>,
    pub app_id: Option<u64>,
    pub repository_selection: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationRepository {
    pub full_name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PingEvent {
    pub zen: Option<String>,
    pub hook_id: Option<u64>,
}
