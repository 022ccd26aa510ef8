//! `aetherveil serve --demo`: posts a small, self-made CI history to the running server through
//! the real webhook endpoint (signed, like GitHub would), so a new user sees data at once.

use crate::fixtures;
use anyhow::Context;
use chrono::{Duration, Utc};
use std::net::SocketAddr;

pub const DEMO_REPO: &str = "aetherveil-demo/shop";

/// One delivery: event type and body.
pub fn deliveries() -> Vec<(&'static str, serde_json::Value)> {
    let start = Utc::now() - Duration::hours(2);
    let mut out = Vec::new();
    // (run id, head sha, first attempt's conclusion, whether it was rerun and passed)
    let runs = [
        (9_100_001u64, "a1b2c3d", "success", false),
        (9_100_002, "b2c3d4e", "failure", true),
        (9_100_003, "c3d4e5f", "success", false),
    ];
    let jobs: [(&str, &[&str]); 3] =
        [("build", &["ubuntu-latest"]), ("test", &["ubuntu-latest"]), ("lint", &["self-hosted", "linux"])];
    for (i, (run_id, sha, conclusion, rerun)) in runs.into_iter().enumerate() {
        let t0 = start + Duration::minutes(30 * i as i64);
        let attempts: &[(u32, &str)] = if rerun { &[(1, conclusion), (2, "success")] } else { &[(1, conclusion)] };
        for &(attempt, result) in attempts {
            let t = t0 + Duration::minutes(10 * i64::from(attempt - 1));
            let run = |action: &str, conclusion: Option<&str>, at| {
                (
                    "workflow_run",
                    fixtures::workflow_run(DEMO_REPO, run_id, attempt, action, conclusion, sha, "push", at),
                )
            };
            out.push(run("requested", None, t));
            out.push(run("in_progress", None, t + Duration::seconds(5)));
            for (j, (name, labels)) in jobs.iter().enumerate() {
                let job_id = run_id * 10 + u64::from(attempt) * 3 + j as u64;
                let job = |action: &str, conclusion: Option<&str>, at| {
                    let body = fixtures::workflow_job(
                        DEMO_REPO, run_id, job_id, attempt, name, action, conclusion, labels, at,
                    );
                    ("workflow_job", body)
                };
                let queued = t + Duration::seconds(10);
                let failed = result == "failure" && *name == "test";
                out.push(job("queued", None, queued));
                out.push(job("in_progress", None, queued + Duration::seconds(20)));
                let end = queued + Duration::seconds(140 + 40 * j as i64);
                out.push(job("completed", Some(if failed { "failure" } else { "success" }), end));
            }
            out.push(run("completed", Some(result), t + Duration::minutes(4)));
        }
    }
    out
}

/// Posts the demo deliveries to the server at `addr`.
pub async fn run(addr: SocketAddr, secret: &[u8]) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{}", aetherveil_webhook::PATH);
    let all = deliveries();
    let mut ok = 0;
    for (event, body) in &all {
        let body = serde_json::to_vec(body)?;
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", *event)
            .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
            .header("x-hub-signature-256", fixtures::sign(secret, &body))
            .body(body)
            .send()
            .await
            .context("demo delivery failed")?;
        if response.status().is_success() {
            ok += 1;
        } else {
            tracing::warn!(status = %response.status(), event, "demo delivery refused");
        }
    }
    println!("demo: posted {ok}/{} signed deliveries for {DEMO_REPO}. Try:", all.len());
    println!("  curl -s 'http://{addr}/api/v1/runs?repo={DEMO_REPO}'");
    println!("  curl -s http://{addr}/api/v1/runs/9100002");
    println!("  curl -s http://{addr}/api/v1/events?repo={DEMO_REPO}");
    println!("  curl -s http://{addr}/metrics");
    Ok(())
}
