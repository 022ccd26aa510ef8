//! Actions caches: list and delete.

use crate::{Error, GitHub};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

/// One Actions cache entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionsCache {
    pub id: u64,
    /// The git ref the cache belongs to, e.g. `refs/heads/main`.
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub last_accessed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub size_in_bytes: Option<u64>,
}

/// `{"total_count": N, "actions_caches": [...]}`.
#[derive(Deserialize)]
struct CacheList {
    #[serde(default)]
    actions_caches: Vec<ActionsCache>,
}

impl GitHub {
    /// Every cache of the repository, all pages (`GET /repos/{repo}/actions/caches`). `key` is GitHub's
    /// filter: an explicit key or a key prefix.
    pub async fn list_caches(&self, repo: &str, key: Option<&str>) -> Result<Vec<ActionsCache>, Error> {
        let mut url = self.repo_url(repo, "actions/caches")?;
        if let Some(key) = key {
            url.query_pairs_mut().append_pair("key", key);
        }
        self.paginate(url, |page: CacheList| page.actions_caches).await
    }

    /// `DELETE /repos/{repo}/actions/caches/{cache_id}` (204). [`Error::NotFound`] if it is already gone.
    pub async fn delete_cache(&self, repo: &str, cache_id: u64) -> Result<(), Error> {
        self.send_empty(Method::DELETE, self.repo_url(repo, &format!("actions/caches/{cache_id}"))?).await
    }

    /// Deletes the caches with exactly this key, on one ref or all refs
    /// (`DELETE /repos/{repo}/actions/caches?key=..&ref=..`, 200), returning what was deleted.
    /// GitHub answers 404 ([`Error::NotFound`]) when no cache matches.
    pub async fn delete_caches_by_key(
        &self,
        repo: &str,
        key: &str,
        git_ref: Option<&str>,
    ) -> Result<Vec<ActionsCache>, Error> {
        let mut url = self.repo_url(repo, "actions/caches")?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("key", key);
            if let Some(git_ref) = git_ref {
                query.append_pair("ref", git_ref);
            }
        }
        let deleted: CacheList = self.call_json(Method::DELETE, url).await?;
        Ok(deleted.actions_caches)
    }
}
