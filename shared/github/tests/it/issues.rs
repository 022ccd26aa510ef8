//! Issues and comments.

use crate::client_for;
use crate::server::{FakeGitHub, REPO};
use aetherveil_github::{Error, IssuePatch, IssueQuery, IssueState, IssueStateFilter, NewIssue};
use axum::http::Method;
use serde_json::json;

#[tokio::test]
async fn create_update_and_comment() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let new = NewIssue {
        title: "Flaky: test (7) fails with a network timeout".into(),
        body: Some("Seen 3 times in 20 runs.".into()),
        labels: vec!["flaky".into(), "aetherveil".into()],
    };
    let issue = gh.create_issue(REPO, &new).await?;
    assert_eq!(issue.number, 1);
    assert_eq!(issue.state, "open");
    assert_eq!(issue.title, new.title);
    assert_eq!(issue.labels, ["flaky", "aetherveil"]);
    assert_eq!(issue.html_url.as_deref(), Some(format!("https://github.com/{REPO}/issues/1").as_str()));
    let sent = server.requests_to(Method::POST, &format!("/repos/{REPO}/issues")).remove(0);
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.json(),
        json!({"title": new.title, "body": "Seen 3 times in 20 runs.", "labels": ["flaky", "aetherveil"]})
    );

    let patch =
        IssuePatch { state: Some(IssueState::Closed), labels: Some(vec!["resolved".into()]), ..Default::default() };
    let closed = gh.update_issue(REPO, issue.number, &patch).await?;
    assert_eq!(closed.state, "closed");
    assert_eq!(closed.title, new.title, "title untouched");
    assert_eq!(closed.labels, ["resolved"]);
    let sent = server.requests_to(Method::PATCH, &format!("/repos/{REPO}/issues/1")).remove(0);
    assert_eq!(sent.json(), json!({"state": "closed", "labels": ["resolved"]}), "only the set fields are sent");

    let comment = gh.comment_issue(REPO, issue.number, "Rerun succeeded; closing.").await?;
    assert_eq!(comment.body.as_deref(), Some("Rerun succeeded; closing."));
    assert!(comment.html_url.is_some_and(|u| u.contains("#issuecomment-")));

    let err = gh.update_issue(REPO, 99, &patch).await.expect_err("unknown issue");
    assert!(matches!(err, Error::NotFound), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn list_issues_sends_state_and_labels_and_leaves_out_pull_requests() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let new = NewIssue { title: "Flaky: test".into(), labels: vec!["flaky".into()], ..NewIssue::default() };
    let issue = gh.create_issue(REPO, &new).await?;
    let query = IssueQuery { state: Some(IssueStateFilter::Closed), labels: vec!["flaky".into(), "ci".into()] };
    let listed = gh.list_issues(REPO, &query).await?;
    assert_eq!(listed.iter().map(|i| i.number).collect::<Vec<_>>(), [issue.number], "the pull request is left out");
    let sent = server.requests_to(Method::GET, &format!("/repos/{REPO}/issues")).remove(0);
    assert_eq!(sent.query, "state=closed&labels=flaky%2Cci&per_page=100&page=1");

    gh.list_issues(REPO, &IssueQuery::default()).await?;
    let sent = server.requests_to(Method::GET, &format!("/repos/{REPO}/issues")).remove(1);
    assert_eq!(sent.query, "per_page=100&page=1", "no state and no labels: GitHub's defaults");
    Ok(())
}
