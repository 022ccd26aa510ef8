//! Issues and issue comments.

use crate::{Error, GitHub};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// `POST /repos/{repo}/issues`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewIssue {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// `PATCH /repos/{repo}/issues/{number}`: only the fields that are `Some` are sent. `labels:
/// Some(vec![])` removes every label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IssuePatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<IssueState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueState {
    Open,
    Closed,
}

/// `GET /repos/{repo}/issues`: which issues to list. The default lists open issues with any labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueQuery {
    /// `state=`; `None` leaves GitHub's default, open issues only.
    pub state: Option<IssueStateFilter>,
    /// `labels=a,b`: issues that carry every one of these labels (none: any labels).
    pub labels: Vec<String>,
}

/// The `state` filter of an issue listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueStateFilter {
    Open,
    Closed,
    All,
}

impl IssueStateFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::All => "all",
        }
    }
}

/// An issue as GitHub returns it: the fields we use; the rest in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    #[serde(default)]
    pub html_url: Option<String>,
    /// Label names (GitHub sends objects; plain strings are accepted too).
    #[serde(default, deserialize_with = "label_names")]
    pub labels: Vec<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A comment on an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueComment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Serialize)]
struct CommentBody<'a> {
    body: &'a str,
}

fn label_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Label {
        Name(String),
        Object { name: String },
    }
    let labels = Option::<Vec<Label>>::deserialize(deserializer)?.unwrap_or_default();
    Ok(labels
        .into_iter()
        .map(|label| match label {
            Label::Name(name) | Label::Object { name } => name,
        })
        .collect())
}

impl GitHub {
    /// The repository's issues matching `query`, all pages (`GET /repos/{repo}/issues`). GitHub
    /// lists pull requests on this endpoint too; they are left out.
    pub async fn list_issues(&self, repo: &str, query: &IssueQuery) -> Result<Vec<Issue>, Error> {
        let mut url = self.repo_url(repo, "issues")?;
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(state) = query.state {
                pairs.append_pair("state", state.as_str());
            }
            if !query.labels.is_empty() {
                pairs.append_pair("labels", &query.labels.join(","));
            }
        }
        let issues = self.paginate(url, |page: Vec<Issue>| page).await?;
        Ok(issues.into_iter().filter(|i| !i.extra.contains_key("pull_request")).collect())
    }

    /// `POST /repos/{repo}/issues` (201). A POST: not repeated after a 500 or a timeout, so a failure
    /// here may still have created the issue; search before creating again.
    pub async fn create_issue(&self, repo: &str, issue: &NewIssue) -> Result<Issue, Error> {
        self.send_json(Method::POST, self.repo_url(repo, "issues")?, issue).await
    }

    /// `PATCH /repos/{repo}/issues/{number}`.
    pub async fn update_issue(&self, repo: &str, number: u64, patch: &IssuePatch) -> Result<Issue, Error> {
        self.send_json(Method::PATCH, self.repo_url(repo, &format!("issues/{number}"))?, patch).await
    }

    /// `POST /repos/{repo}/issues/{number}/comments` (201).
    pub async fn comment_issue(&self, repo: &str, number: u64, body: &str) -> Result<IssueComment, Error> {
        let url = self.repo_url(repo, &format!("issues/{number}/comments"))?;
        self.send_json(Method::POST, url, &CommentBody { body }).await
    }
}
