//! Runs, jobs, logs and reruns.

use crate::client_for;
use crate::server::{EMPTY_ZIP, FIRST_JOB_ID, FakeGitHub, Fault, JOB_COUNT, LOG_TEXT, REPO, RUN_ID, TOKEN};
use aetherveil_github::Error;
use axum::http::Method;

#[tokio::test]
async fn get_run_decodes_and_keeps_unknown_fields() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let run = gh.get_run(REPO, RUN_ID).await?;
    assert_eq!(run.id, RUN_ID);
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(run.head_branch.as_deref(), Some("main"));
    assert_eq!(run.run_attempt, Some(1));
    assert!(run.created_at.is_some());
    assert!(run.extra.contains_key("repository"), "unknown fields kept in extra");
    Ok(())
}

#[tokio::test]
async fn get_job_decodes_steps() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let job = gh.get_job(REPO, FIRST_JOB_ID + 7).await?;
    assert_eq!(job.run_id, RUN_ID);
    assert_eq!(job.conclusion.as_deref(), Some("failure"));
    assert_eq!(job.steps.len(), 2);
    assert_eq!(job.steps[1].conclusion.as_deref(), Some("failure"));
    assert_eq!(job.labels, vec!["ubuntu-latest".to_owned()]);
    Ok(())
}

#[tokio::test]
async fn list_jobs_follows_link_headers_across_three_pages() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let jobs = gh.list_jobs(REPO, RUN_ID, None).await?;
    assert_eq!(jobs.len() as u64, JOB_COUNT);
    let ids: Vec<u64> = jobs.iter().map(|j| j.id).collect();
    let expected: Vec<u64> = (FIRST_JOB_ID..FIRST_JOB_ID + JOB_COUNT).collect();
    assert_eq!(ids, expected, "every job once, in order");
    let pages = server.requests_to(Method::GET, &format!("/repos/{REPO}/actions/runs/{RUN_ID}/jobs"));
    let queries: Vec<&str> = pages.iter().map(|r| r.query.as_str()).collect();
    assert_eq!(queries, ["per_page=100&page=1", "per_page=100&page=2", "per_page=100&page=3"]);
    assert!(pages.iter().all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}"))));
    Ok(())
}

#[tokio::test]
async fn list_jobs_of_one_attempt() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let jobs = gh.list_jobs(REPO, RUN_ID, Some(2)).await?;
    assert_eq!(jobs.len() as u64, JOB_COUNT);
    assert!(jobs.iter().all(|j| j.run_attempt == Some(2)));
    assert_eq!(
        server.requests_to(Method::GET, &format!("/repos/{REPO}/actions/runs/{RUN_ID}/attempts/2/jobs")).len(),
        3
    );
    Ok(())
}

#[tokio::test]
async fn next_link_to_another_origin_is_not_followed() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let path = format!("/repos/{REPO}/actions/runs/{RUN_ID}/jobs");
    server.fault(
        Fault::headers_only(Method::GET, &path)
            .header("link", "<http://127.0.0.2:9/steal?per_page=100&page=2>; rel=\"next\""),
    );
    let gh = client_for(&server)?;
    let err = gh.list_jobs(REPO, RUN_ID, None).await.expect_err("foreign next link");
    assert!(matches!(&err, Error::Pagination { reason, .. } if reason.contains("outside")), "{err:?}");
    assert_eq!(gh.stats().requests_total, 1);
    Ok(())
}

#[tokio::test]
async fn job_log_follows_the_redirect_without_the_token() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let log = gh.job_log(REPO, FIRST_JOB_ID + 7).await?;
    assert_eq!(log, LOG_TEXT);
    let api = server.requests_to(Method::GET, &format!("/repos/{REPO}/actions/jobs/{}/logs", FIRST_JOB_ID + 7));
    assert_eq!(api.len(), 1);
    assert!(api[0].header("authorization").is_some());
    let blob = server.blob_requests();
    assert_eq!(blob.len(), 1);
    assert_eq!(blob[0].header("authorization"), None, "token leaked to the blob store");
    assert_eq!(blob[0].header("x-github-api-version"), None);
    assert!(blob[0].query.contains("sig=s3cr3t"), "signed query kept");
    assert_eq!(gh.stats().requests_total, 2);
    Ok(())
}

#[tokio::test]
async fn job_log_streams_into_a_file_and_refuses_one_over_the_limit() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("job.log");
    let mut file = tokio::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path).await?;
    // Whatever was in the file before is replaced, not appended to.
    tokio::io::AsyncWriteExt::write_all(&mut file, &[b'x'; 4096]).await?;
    let written = gh.job_log_to_file(REPO, FIRST_JOB_ID + 7, &mut file, 1 << 20).await?;
    assert_eq!(written, LOG_TEXT.len() as u64);
    assert_eq!(std::fs::read_to_string(&path)?, LOG_TEXT);
    assert_eq!(server.blob_requests()[0].header("authorization"), None, "token leaked to the blob store");

    let limit = LOG_TEXT.len() as u64 - 1;
    let err = gh.job_log_to_file(REPO, FIRST_JOB_ID + 7, &mut file, limit).await.expect_err("over the limit");
    assert!(matches!(err, Error::TooLarge { limit: l } if l == limit), "{err:?}");
    let err = gh.job_log_to_file(REPO, 1, &mut file, 1 << 20).await.expect_err("unknown job");
    assert!(matches!(err, Error::NotFound), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn job_log_of_unknown_job_is_not_found() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let err = gh.job_log(REPO, 1).await.expect_err("unknown job");
    assert!(matches!(err, Error::NotFound), "{err:?}");
    assert!(server.blob_requests().is_empty());
    Ok(())
}

#[tokio::test]
async fn run_logs_zip_returns_the_archive_bytes() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let zip = gh.run_logs_zip(REPO, RUN_ID).await?;
    assert_eq!(&zip[..], EMPTY_ZIP);
    assert_eq!(server.blob_requests()[0].header("authorization"), None);
    Ok(())
}

#[tokio::test]
async fn reruns_post_to_their_endpoints() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    gh.rerun(REPO, RUN_ID).await?;
    gh.rerun_failed_jobs(REPO, RUN_ID).await?;
    let paths: Vec<(Method, String)> = server.requests().into_iter().map(|r| (r.method, r.path)).collect();
    assert_eq!(
        paths,
        [
            (Method::POST, format!("/repos/{REPO}/actions/runs/{RUN_ID}/rerun")),
            (Method::POST, format!("/repos/{REPO}/actions/runs/{RUN_ID}/rerun-failed-jobs")),
        ]
    );
    let err = gh.rerun_failed_jobs(REPO, 1).await.expect_err("unknown run");
    assert!(matches!(err, Error::NotFound), "{err:?}");
    Ok(())
}
