//! Health and forecast inputs read from the store, so any instance (or the host's own API
//! handlers) can compute a health score or a forecast without the monitor's memory.

use crate::core::RepoHealthInputs;
use crate::error::MonitorError;
use crate::names::WORKFLOWS;
use crate::series::{JobSeries, SeriesHistory};
use crate::workflow::WorkflowState;
use aetherveil_models::names;
use aetherveil_store::{Doc, Query, Store};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

fn states<T: DeserializeOwned>(docs: Vec<Doc>) -> Vec<T> {
    docs.into_iter()
        .filter_map(|d| match serde_json::from_value(d.data.get("state").cloned().unwrap_or_default()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(id = %d.id, error = %e, "unreadable monitor state document skipped");
                None
            }
        })
        .collect()
}

/// Per-repository success counts, time-to-recovery samples, open anomaly counts and the
/// flakiness of each job.
pub async fn health_inputs(store: &dyn Store, repo: &str) -> Result<RepoHealthInputs, MonitorError> {
    let workflows: Vec<WorkflowState> = states(store.query(WORKFLOWS, Query::new().eq("repo", repo)).await?);
    let jobs: Vec<JobSeries> = states(store.query(names::BASELINES, Query::new().eq("repo", repo)).await?);
    let open_docs = store.query(names::ANOMALIES, Query::new().eq("repo", repo).eq("status", "open")).await?;
    let mut open = BTreeMap::new();
    for d in open_docs {
        if let Some(kind) = d.data.get("kind").and_then(|k| k.as_str()) {
            *open.entry(kind.to_owned()).or_insert(0) += 1;
        }
    }
    let w: Vec<&WorkflowState> = workflows.iter().collect();
    let j: Vec<&JobSeries> = jobs.iter().collect();
    Ok(RepoHealthInputs::build(repo, &w, &j, open))
}

/// Every series of `repo`: hourly run counts, failures and duration sums, and the recent
/// durations and queue times, sorted by workflow, job and branch class.
pub async fn forecast_inputs(store: &dyn Store, repo: &str) -> Result<Vec<SeriesHistory>, MonitorError> {
    let jobs: Vec<JobSeries> = states(store.query(names::BASELINES, Query::new().eq("repo", repo)).await?);
    let mut out: Vec<SeriesHistory> = jobs.iter().flat_map(JobSeries::histories).collect();
    out.sort_by(|a, b| (&a.workflow, &a.job, a.branch_class).cmp(&(&b.workflow, &b.job, b.branch_class)));
    Ok(out)
}
