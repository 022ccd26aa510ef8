//! The passing-run profile of a job series: the templates of its recent green logs, kept in the
//! store so each passing log is fetched and mined once.
//!
//! Layout: the document `log_profiles/<repo~workflow~job>` holds the bookkeeping (which passing
//! job ids are in, when); the profile itself is the blob `log-profiles/<same key>` (it can exceed a
//! Firestore document's 1 MiB). Both are written in one commit, guarded by the document's version:
//! two instances refreshing at once cannot lose each other's runs; the loser just skips its write.

use crate::config::LogscanConfig;
use crate::names::LOG_PROFILES;
use aetherveil_github::GitHub;
use aetherveil_logparse::diff::PassingProfile;
use aetherveil_logparse::reader::JobLogReader;
use aetherveil_models::{JobRecord, names as collections};
use aetherveil_store::{Order, Precondition, Query, Store, StoreError, WriteBatch};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::io::{BufReader, Seek};
use thiserror::Error;

/// Blob namespace of the profiles.
pub const PROFILE_BLOBS: &str = "log-profiles";
/// Passing job ids remembered per series (to know which runs are already in the profile).
const REMEMBERED_IDS: usize = 50;

#[derive(Debug, Error)]
pub enum ProfileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored profile {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("cannot use a temporary file: {0}")]
    Io(#[from] std::io::Error),
}

/// A job series' profile and the passing jobs it was learned from.
#[derive(Debug, Clone)]
pub struct StoredProfile {
    pub profile: PassingProfile,
    /// The most recent passing job ids in the profile (at most 50).
    pub job_ids: Vec<u64>,
    /// Passing runs learned in all.
    pub runs: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Bookkeeping {
    job_ids: Vec<u64>,
    runs: u64,
    updated_at: chrono::DateTime<Utc>,
}

/// Loads the profile of `job`'s series and learns the passing runs recorded since, up to
/// `config.passing_runs` new ones per call. `None`: the series has no passing run yet.
pub async fn refresh(
    store: &dyn Store,
    github: &GitHub,
    job: &JobRecord,
    config: &LogscanConfig,
) -> Result<Option<StoredProfile>, ProfileError> {
    let key = series_key(job);
    let doc = store.get(LOG_PROFILES, &key).await?;
    let (mut stored, precondition) = match &doc {
        Some(doc) => {
            let meta: Bookkeeping =
                doc.parse().map_err(|e| ProfileError::Corrupt { key: key.clone(), reason: e.to_string() })?;
            let blob = store.get_blob(PROFILE_BLOBS, &key).await?.unwrap_or_default();
            let profile = serde_json::from_slice(&blob)
                .map_err(|e| ProfileError::Corrupt { key: key.clone(), reason: e.to_string() })?;
            (StoredProfile { profile, job_ids: meta.job_ids, runs: meta.runs }, Precondition::Version(doc.version))
        }
        None => {
            (StoredProfile { profile: PassingProfile::default(), job_ids: Vec::new(), runs: 0 }, Precondition::Absent)
        }
    };
    let candidates: Vec<JobRecord> = store
        .query(collections::JOBS, passing_jobs_query(job, config.passing_runs * 2))
        .await?
        .into_iter()
        .filter_map(|d| d.parse::<JobRecord>().ok())
        .filter(|j| j.workflow_name == job.workflow_name && !stored.job_ids.contains(&j.job_id.0))
        .take(config.passing_runs)
        .collect();
    let mut learned = 0;
    for passing in &candidates {
        let file = tempfile::tempfile()?;
        let mut file = tokio::fs::File::from_std(file);
        if let Err(e) = github.job_log_to_file(&passing.repo.0, passing.job_id.0, &mut file, config.max_log_bytes).await
        {
            tracing::debug!(job_id = passing.job_id.0, error = %e, "passing log unavailable; skipped");
            continue;
        }
        let mut file = file.into_std().await;
        file.rewind()?;
        let mut profile = std::mem::take(&mut stored.profile);
        profile = tokio::task::spawn_blocking(move || {
            profile.learn(JobLogReader::new(BufReader::new(file)).map_while(Result::ok));
            profile
        })
        .await
        .map_err(|e| ProfileError::Io(std::io::Error::other(e.to_string())))?;
        stored.profile = profile;
        stored.job_ids.push(passing.job_id.0);
        stored.runs += 1;
        learned += 1;
    }
    if learned > 0 {
        let excess = stored.job_ids.len().saturating_sub(REMEMBERED_IDS);
        stored.job_ids.drain(..excess);
        let meta = Bookkeeping { job_ids: stored.job_ids.clone(), runs: stored.runs, updated_at: Utc::now() };
        let blob = serde_json::to_vec(&stored.profile)
            .map_err(|e| ProfileError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        let meta = aetherveil_store::to_value(&meta)?;
        let batch = WriteBatch::new().blob(PROFILE_BLOBS, &key, blob).put_with(LOG_PROFILES, &key, meta, precondition);
        match store.commit(batch).await {
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((stored.runs > 0).then_some(stored))
}

/// The key of `job`'s series (`repo~workflow~job`): the same document id as the monitor's
/// baselines of that job, so both can be found from one job record.
pub(crate) fn series_key(job: &JobRecord) -> String {
    let workflow = job.workflow_name.clone().unwrap_or_default();
    aetherveil_monitor::model::JobKey::new(&job.repo.0, workflow, &job.name).doc_id()
}

/// Passing jobs of the same job series, newest first.
fn passing_jobs_query(job: &JobRecord, limit: usize) -> Query {
    Query::new()
        .eq("repo", job.repo.0.clone())
        .eq("name", job.name.clone())
        .eq("conclusion", "success")
        .order_by("completed_at", Order::Desc)
        .limit(limit)
}
