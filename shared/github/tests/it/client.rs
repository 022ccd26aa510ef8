//! Retries, rate limits, error mapping, headers and configuration.

use crate::server::{FakeGitHub, Fault, REPO, RUN_ID, TOKEN};
use crate::{client_for, fast_config};
use aetherveil_github::{Config, Error, GitHub};
use axum::http::Method;
use std::time::Duration;

fn run_path() -> String {
    format!("/repos/{REPO}/actions/runs/{RUN_ID}")
}

fn rerun_path() -> String {
    format!("/repos/{REPO}/actions/runs/{RUN_ID}/rerun")
}

fn in_secs(secs: i64) -> i64 {
    chrono::Utc::now().timestamp() + secs
}

#[tokio::test]
async fn requests_carry_token_api_version_accept_and_user_agent() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    gh.get_run(REPO, RUN_ID).await?;
    gh.rerun(REPO, RUN_ID).await?;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(request.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
        assert!(request.header("user-agent").is_some_and(|ua| ua.starts_with("aetherveil/")));
    }
    Ok(())
}

#[tokio::test]
async fn rotated_token_is_used_and_empty_token_sends_none() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    gh.set_token("ghs_rotated")?;
    gh.get_run(REPO, RUN_ID).await?;
    let anonymous = GitHub::new(Config::new(&server.base_url, ""))?;
    anonymous.get_run(REPO, RUN_ID).await?;
    let requests = server.requests();
    assert_eq!(requests[0].header("authorization"), Some("Bearer ghs_rotated"));
    assert_eq!(requests[1].header("authorization"), None);
    Ok(())
}

#[tokio::test]
async fn server_errors_are_retried_until_success() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    server.fault(Fault::new(Method::GET, run_path(), 500).message("Server Error").times(2));
    let gh = client_for(&server)?;
    let run = gh.get_run(REPO, RUN_ID).await?;
    assert_eq!(run.id, RUN_ID);
    let stats = gh.stats();
    assert_eq!(stats.retries_total, 2);
    assert_eq!(stats.requests_total, 3);
    assert_eq!(server.requests_to(Method::GET, &run_path()).len(), 3);
    Ok(())
}

#[tokio::test]
async fn server_errors_give_up_after_max_retries() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    server.fault(Fault::new(Method::GET, run_path(), 503).times(10));
    let mut config = fast_config(&server.base_url);
    config.max_retries = 2;
    let gh = GitHub::new(config)?;
    let err = gh.get_run(REPO, RUN_ID).await.expect_err("503 forever");
    assert!(matches!(err, Error::Server { status: 503 }), "{err:?}");
    assert_eq!(gh.stats().retries_total, 2);
    assert_eq!(server.requests().len(), 3);
    Ok(())
}

#[tokio::test]
async fn post_is_not_retried_after_a_500() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    server.fault(Fault::new(Method::POST, rerun_path(), 500).message("Server Error"));
    let gh = client_for(&server)?;
    let err = gh.rerun(REPO, RUN_ID).await.expect_err("500");
    assert!(matches!(err, Error::Server { status: 500 }), "{err:?}");
    assert_eq!(server.requests_to(Method::POST, &rerun_path()).len(), 1);
    assert_eq!(gh.stats().retries_total, 0);
    Ok(())
}

#[tokio::test]
async fn post_is_retried_after_a_gateway_error() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    server.fault(Fault::new(Method::POST, rerun_path(), 503));
    let gh = client_for(&server)?;
    gh.rerun(REPO, RUN_ID).await?;
    assert_eq!(server.requests_to(Method::POST, &rerun_path()).len(), 2);
    assert_eq!(gh.stats().retries_total, 1);
    Ok(())
}

#[tokio::test]
async fn get_timeout_is_retried_but_post_timeout_is_not() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let mut config = fast_config(&server.base_url);
    config.timeout = Duration::from_millis(400);
    let gh = GitHub::new(config)?;

    server.fault(Fault::headers_only(Method::GET, run_path()).delay(Duration::from_secs(1)));
    gh.get_run(REPO, RUN_ID).await?;
    assert_eq!(gh.stats().retries_total, 1);

    server.fault(Fault::headers_only(Method::POST, rerun_path()).delay(Duration::from_secs(1)));
    let err = gh.rerun(REPO, RUN_ID).await.expect_err("timeout");
    assert!(matches!(&err, Error::Transport(e) if e.is_timeout()), "{err:?}");
    assert_eq!(gh.stats().retries_total, 1, "the POST was not repeated");
    assert_eq!(server.requests_to(Method::POST, &rerun_path()).len(), 1);
    Ok(())
}

#[tokio::test]
async fn connection_refused_is_retried_even_for_post() -> anyhow::Result<()> {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", closed.local_addr()?);
    drop(closed);
    let mut config = fast_config(&base);
    config.max_retries = 2;
    let gh = GitHub::new(config)?;
    let err = gh.rerun(REPO, RUN_ID).await.expect_err("nothing listens");
    assert!(matches!(&err, Error::Transport(e) if e.is_connect()), "{err:?}");
    let stats = gh.stats();
    assert_eq!(stats.retries_total, 2);
    assert_eq!(stats.requests_total, 3);
    Ok(())
}

#[tokio::test]
async fn secondary_limit_with_retry_after_waits_and_succeeds() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    server.fault(
        Fault::new(Method::GET, run_path(), 429)
            .header("retry-after", 1)
            .message("You have exceeded a secondary rate limit. Please wait a few minutes before you try again."),
    );
    let gh = client_for(&server)?;
    gh.get_run(REPO, RUN_ID).await?;
    let stats = gh.stats();
    assert_eq!(stats.rate_limit_waits_total, 1);
    assert_eq!(stats.retries_total, 0);
    assert_eq!(stats.requests_total, 2);
    Ok(())
}

#[tokio::test]
async fn secondary_limit_without_retry_after_beyond_max_wait_fails_at_once() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    server.fault(
        Fault::new(Method::POST, rerun_path(), 403)
            .message("You have exceeded a secondary rate limit. Please wait a few minutes before you try again."),
    );
    let gh = client_for(&server)?;
    let err = gh.rerun(REPO, RUN_ID).await.expect_err("limited");
    assert!(matches!(err, Error::RateLimited { retry_after: Some(after), .. } if after >= Duration::from_secs(60)));
    let stats = gh.stats();
    assert_eq!(stats.rate_limit_waits_total, 0);
    assert_eq!(stats.rate_limited_total, 1);
    assert_eq!(stats.requests_total, 1);
    Ok(())
}

#[tokio::test]
async fn primary_limit_waits_until_reset_then_succeeds() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    server.fault(
        Fault::new(Method::GET, run_path(), 403)
            .header("x-ratelimit-remaining", 0)
            .header("x-ratelimit-reset", in_secs(1))
            .message("API rate limit exceeded for installation ID 1."),
    );
    let gh = client_for(&server)?;
    gh.get_run(REPO, RUN_ID).await?;
    let stats = gh.stats();
    assert_eq!(stats.rate_limit_waits_total, 1);
    assert_eq!(stats.requests_total, 2);
    assert!(gh.rate_limit().is_some_and(|rl| rl.remaining > 0), "snapshot refreshed by the retry");
    Ok(())
}

#[tokio::test]
async fn primary_limit_beyond_max_wait_fails_without_sleeping() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let reset = in_secs(3600);
    server.fault(
        Fault::new(Method::GET, run_path(), 403)
            .header("x-ratelimit-remaining", 0)
            .header("x-ratelimit-reset", reset)
            .message("API rate limit exceeded for installation ID 1."),
    );
    let gh = client_for(&server)?;
    let err = gh.get_run(REPO, RUN_ID).await.expect_err("limited");
    match err {
        Error::RateLimited { reset_at: Some(at), retry_after: None } => assert_eq!(at.timestamp(), reset),
        other => panic!("{other:?}"),
    }
    let stats = gh.stats();
    assert_eq!(stats.rate_limit_waits_total, 0);
    assert_eq!(stats.requests_total, 1);
    // The snapshot now says the quota is spent: the next call is refused without a request.
    let err = gh.get_job(REPO, 1).await.expect_err("still limited");
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert_eq!(server.requests().len(), 1);
    assert_eq!(gh.stats().rate_limited_total, 2);
    Ok(())
}

#[tokio::test]
async fn spent_quota_in_a_success_delays_the_next_request() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    server.fault(
        // Two seconds: the reset has epoch-second granularity, and must still lie ahead at the next call.
        Fault::headers_only(Method::GET, run_path())
            .header("x-ratelimit-remaining", 0)
            .header("x-ratelimit-reset", in_secs(2)),
    );
    let gh = client_for(&server)?;
    gh.get_run(REPO, RUN_ID).await?;
    assert_eq!(gh.rate_limit().map(|rl| rl.remaining), Some(0));
    assert_eq!(gh.stats().rate_limit_waits_total, 0);
    gh.get_run(REPO, RUN_ID).await?;
    let stats = gh.stats();
    assert_eq!(stats.rate_limit_waits_total, 1);
    assert_eq!(stats.requests_total, 2);
    Ok(())
}

#[tokio::test]
async fn rate_limit_snapshot_is_exposed() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    assert!(gh.rate_limit().is_none());
    gh.get_run(REPO, RUN_ID).await?;
    let rl = gh.rate_limit().expect("snapshot");
    assert_eq!(rl.limit, Some(5000));
    assert_eq!(rl.remaining, 4999);
    assert_eq!(rl.used, Some(1));
    assert_eq!(rl.resource.as_deref(), Some("core"));
    assert!(rl.reset_at > chrono::Utc::now());
    Ok(())
}

#[tokio::test]
async fn client_errors_map_to_variants_without_retry() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;

    let err = gh.get_run(REPO, 1).await.expect_err("unknown run");
    assert!(matches!(err, Error::NotFound), "{err:?}");

    server.fault(Fault::new(Method::GET, run_path(), 401).message("Bad credentials"));
    let err = gh.get_run(REPO, RUN_ID).await.expect_err("401");
    assert!(matches!(err, Error::Unauthorized), "{err:?}");

    server.fault(Fault::new(Method::GET, run_path(), 403).message("Resource not accessible by integration"));
    let err = gh.get_run(REPO, RUN_ID).await.expect_err("403");
    assert!(
        matches!(&err, Error::Forbidden { message } if message == "Resource not accessible by integration"),
        "{err:?}"
    );

    server.fault(Fault::new(Method::GET, run_path(), 409).message("Conflict: the run is still in progress"));
    let err = gh.get_run(REPO, RUN_ID).await.expect_err("409");
    assert!(
        matches!(&err, Error::Status { status: 409, message } if message == "Conflict: the run is still in progress"),
        "{err:?}"
    );

    let stats = gh.stats();
    assert_eq!(stats.retries_total, 0);
    assert_eq!(stats.rate_limit_waits_total, 0);
    assert_eq!(stats.requests_total, 4);
    Ok(())
}

#[tokio::test]
async fn validation_error_carries_github_message() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    let issue = aetherveil_github::NewIssue { title: String::new(), ..Default::default() };
    let err = gh.create_issue(REPO, &issue).await.expect_err("422");
    match &err {
        Error::Status { status: 422, message } => {
            assert!(message.starts_with("Validation Failed"), "{message}");
            assert!(message.contains("title"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.status(), Some(422));
    Ok(())
}

#[tokio::test]
async fn invalid_repo_is_rejected_before_sending() -> anyhow::Result<()> {
    let server = FakeGitHub::start().await?;
    let gh = client_for(&server)?;
    for repo in ["../../user", "octo-org", "octo-org/hello-world/issues", "octo-org/hello world"] {
        let err = gh.get_run(repo, RUN_ID).await.expect_err("invalid repo");
        assert!(matches!(err, Error::InvalidRepo(_)), "{repo}: {err:?}");
    }
    assert!(server.requests().is_empty());
    assert_eq!(gh.stats().requests_total, 0);
    Ok(())
}

#[tokio::test]
async fn base_url_is_validated_and_enterprise_prefix_works() -> anyhow::Result<()> {
    for bad in ["ftp://github.example.com", "not a url", "https://github.example.com/api/v3?x=1"] {
        assert!(matches!(GitHub::new(Config::new(bad, TOKEN)), Err(Error::InvalidConfig(_))), "{bad}");
    }
    let server = FakeGitHub::start_with_prefix("/api/v3").await?;
    let gh = GitHub::new(fast_config(&format!("{}/", server.base_url)))?;
    assert!(gh.base_url().ends_with("/api/v3"));
    let run = gh.get_run(REPO, RUN_ID).await?;
    assert_eq!(run.id, RUN_ID);
    let jobs = gh.list_jobs(REPO, RUN_ID, None).await?;
    assert_eq!(jobs.len() as u64, crate::server::JOB_COUNT);
    assert!(server.requests().iter().all(|r| r.path.starts_with("/api/v3/repos/")));
    Ok(())
}
