//! Actions: workflow runs, jobs, logs and reruns.

use crate::{Error, GitHub};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A workflow run (`GET /repos/{owner}/{repo}/actions/runs/{run_id}`): the fields we use; the rest in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub workflow_id: Option<u64>,
    #[serde(default)]
    pub run_number: Option<u64>,
    #[serde(default)]
    pub run_attempt: Option<u32>,
    #[serde(default)]
    pub event: Option<String>,
    /// `queued`, `in_progress`, `completed`, `waiting`, `requested`, `pending`.
    #[serde(default)]
    pub status: Option<String>,
    /// `success`, `failure`, `cancelled`, `timed_out`, `skipped`, `neutral`, `action_required`,
    /// `stale`, `startup_failure`; `None` until the run completes.
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub head_sha: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub run_started_at: Option<DateTime<Utc>>,
    /// Every other field GitHub sent (repository, actor, pull_requests, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A job of a workflow run (`GET /repos/{owner}/{repo}/actions/jobs/{job_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub run_id: u64,
    #[serde(default)]
    pub run_attempt: Option<u32>,
    pub name: String,
    #[serde(default)]
    pub workflow_name: Option<String>,
    #[serde(default)]
    pub head_sha: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub runner_name: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One step of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub number: u32,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct JobsPage {
    #[serde(default)]
    jobs: Vec<Job>,
}

/// The part of `GET /repos/{repo}` the platform reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Repository {
    pub full_name: String,
    pub default_branch: String,
    #[serde(default)]
    pub fork: bool,
}

impl GitHub {
    /// `GET /repos/{repo}`.
    pub async fn get_repo(&self, repo: &str) -> Result<Repository, Error> {
        self.get_json(self.repo_url(repo, "")?).await
    }

    /// `GET /repos/{repo}/actions/runs/{run_id}`.
    pub async fn get_run(&self, repo: &str, run_id: u64) -> Result<WorkflowRun, Error> {
        self.get_json(self.repo_url(repo, &format!("actions/runs/{run_id}"))?).await
    }

    /// `GET /repos/{repo}/actions/jobs/{job_id}`.
    pub async fn get_job(&self, repo: &str, job_id: u64) -> Result<Job, Error> {
        self.get_json(self.repo_url(repo, &format!("actions/jobs/{job_id}"))?).await
    }

    /// Every job of a run, all pages: `GET /repos/{repo}/actions/runs/{run_id}/jobs`, or
    /// `.../attempts/{attempt}/jobs` for one attempt. Without `attempt`, GitHub lists the latest attempt's jobs.
    pub async fn list_jobs(&self, repo: &str, run_id: u64, attempt: Option<u32>) -> Result<Vec<Job>, Error> {
        let tail = match attempt {
            Some(n) => format!("actions/runs/{run_id}/attempts/{n}/jobs"),
            None => format!("actions/runs/{run_id}/jobs"),
        };
        self.paginate(self.repo_url(repo, &tail)?, |page: JobsPage| page.jobs).await
    }

    /// The plain-text log of one job. GitHub answers `GET /repos/{repo}/actions/jobs/{job_id}/logs`
    /// with a 302 to a short-lived signed URL, which is followed without the token. Invalid UTF-8 is
    /// replaced rather than refused: logs are for reading.
    pub async fn job_log(&self, repo: &str, job_id: u64) -> Result<String, Error> {
        let url = self.repo_url(repo, &format!("actions/jobs/{job_id}/logs"))?;
        let body = self.send(Method::GET, url, None).await?.body;
        Ok(match String::from_utf8(body.to_vec()) {
            Ok(text) => text,
            Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
        })
    }

    /// The log of one job, streamed into `file` (rewound and truncated first): memory stays bounded
    /// whatever the size of the log. Refuses logs over `max_bytes` with [`Error::TooLarge`].
    /// Returns the number of bytes written.
    pub async fn job_log_to_file(
        &self,
        repo: &str,
        job_id: u64,
        file: &mut tokio::fs::File,
        max_bytes: u64,
    ) -> Result<u64, Error> {
        let url = self.repo_url(repo, &format!("actions/jobs/{job_id}/logs"))?;
        self.send_to(Method::GET, url, None, &mut crate::client::Sink::File { file, max_bytes }).await?;
        Ok(file.metadata().await.map_err(Error::Io)?.len())
    }

    /// The zip archive of a run's logs (`GET /repos/{repo}/actions/runs/{run_id}/logs` → 302 → bytes).
    pub async fn run_logs_zip(&self, repo: &str, run_id: u64) -> Result<Bytes, Error> {
        let url = self.repo_url(repo, &format!("actions/runs/{run_id}/logs"))?;
        Ok(self.send(Method::GET, url, None).await?.body)
    }

    /// Re-runs the whole workflow run (`POST .../actions/runs/{run_id}/rerun`, 201).
    ///
    /// A POST: retried only when it certainly did not reach GitHub (see the crate docs).
    pub async fn rerun(&self, repo: &str, run_id: u64) -> Result<(), Error> {
        self.send_empty(Method::POST, self.repo_url(repo, &format!("actions/runs/{run_id}/rerun"))?).await
    }

    /// Re-runs the failed jobs of a run and their dependents (`POST .../rerun-failed-jobs`, 201).
    pub async fn rerun_failed_jobs(&self, repo: &str, run_id: u64) -> Result<(), Error> {
        self.send_empty(Method::POST, self.repo_url(repo, &format!("actions/runs/{run_id}/rerun-failed-jobs"))?).await
    }
}
