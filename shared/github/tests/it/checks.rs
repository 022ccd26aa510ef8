//! Check runs.

use crate::client_for;
use crate::server::{FakeGitHub, REPO};
use aetherveil_github::{CheckConclusion, CheckOutput, CheckRunPatch, CheckStatus, NewCheckRun};
use axum::http::Method;
use serde_json::json;

#[tokio::test]
async fn create_then_complete_a_check_run() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let new = NewCheckRun {
        name: "aetherveil/gate".into(),
        head_sha: "acb5820ced9479c074f688cc328bf03f341a511d".into(),
        status: Some(CheckStatus::InProgress),
        external_id: Some("gate-42".into()),
        ..Default::default()
    };
    let created = gh.create_check_run(REPO, &new).await?;
    assert_eq!(created.name, "aetherveil/gate");
    assert_eq!(created.status.as_deref(), Some("in_progress"));
    assert_eq!(created.conclusion, None);
    let sent = server.requests_to(Method::POST, &format!("/repos/{REPO}/check-runs")).remove(0);
    assert_eq!(
        sent.json(),
        json!({"name": "aetherveil/gate", "head_sha": new.head_sha, "status": "in_progress", "external_id": "gate-42"})
    );

    let patch = CheckRunPatch {
        conclusion: Some(CheckConclusion::Success),
        output: Some(CheckOutput {
            title: "No blocking findings".into(),
            summary: "0 critical, 0 high".into(),
            text: None,
        }),
        ..Default::default()
    };
    let done = gh.update_check_run(REPO, created.id, &patch).await?;
    assert_eq!(done.id, created.id);
    assert_eq!(done.status.as_deref(), Some("completed"));
    assert_eq!(done.conclusion.as_deref(), Some("success"));
    let output = done.output.expect("output");
    assert_eq!(output.title.as_deref(), Some("No blocking findings"));
    assert_eq!(output.summary.as_deref(), Some("0 critical, 0 high"));
    let sent = server.requests_to(Method::PATCH, &format!("/repos/{REPO}/check-runs/{}", created.id)).remove(0);
    assert_eq!(
        sent.json(),
        json!({"conclusion": "success", "output": {"title": "No blocking findings", "summary": "0 critical, 0 high"}})
    );
    Ok(())
}
