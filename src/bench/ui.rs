//! `aetherveil bench ui`: page render times of the web UI with 100,000 runs in the store.
//!
//! Fills a fresh store (in a temporary directory) with `--runs` workflow runs of 20 repositories,
//! two jobs each (so twice as many job documents), spread over 60 days, 6% of them failed. The
//! newest `--monitored` runs are also published on `pipeline-events`, so the monitor, logscan,
//! the healer and the journal build their state from them exactly as in production (the monitor's
//! documents are bounded per job, whatever the history's length). Then it serves the platform on
//! loopback, waits until every subscription has caught up, and times each page with sequential
//! GETs: p50 and p99 over `--repeat` requests, each rendered from the store (no page cache).

use crate::serve::Host;
use aetherveil_config::Config;
use aetherveil_models::names;
use aetherveil_store::{Message, WriteBatch};
use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};
use std::time::Instant;

use super::stats::percentile;

#[derive(Debug, clap::Args)]
pub struct UiBenchArgs {
    /// Workflow runs to put in the store.
    #[arg(long, default_value_t = 100_000)]
    pub runs: u64,
    /// The newest runs also published as events, for the functions' state.
    #[arg(long, default_value_t = 4_000)]
    pub monitored: u64,
    /// Requests per page.
    #[arg(long, default_value_t = 50)]
    pub repeat: usize,
}

const REPOS: u64 = 20;
const JOBS: [(&str, f64); 2] = [("build", 240.0), ("test", 420.0)];

fn time(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub async fn ui(args: UiBenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("bench ui: WARNING: a debug build; the figures are meaningless (use --release)");
    }
    let dir = tempfile::tempdir()?;
    let mut config = Config::defaults();
    config.server.data_dir = dir.path().to_path_buf();
    config.server.addr = "127.0.0.1:0".parse()?;
    config.webhook.secret = "bench".into();
    let host = Host::open(config)?;
    let store = host.platform.store.clone();
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().context("start time")?;
    let span = 60.0 * 86_400.0;
    let filling = Instant::now();
    let mut batch = WriteBatch::new();
    let mut in_batch = 0;
    for i in 0..args.runs {
        let repo = format!("bench-org/repo-{:02}", i % REPOS);
        let run_id = 1_000_000 + i;
        let created = start + Duration::milliseconds((i as f64 / args.runs as f64 * span * 1000.0) as i64);
        // A deterministic pseudo-random stream: failures, duration noise.
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
        let failed = h % 100 < 6;
        let mut end = created;
        let monitored = i + args.monitored >= args.runs;
        for (j, (job, median)) in JOBS.iter().enumerate() {
            let noise = 0.8 + ((h >> (8 * j)) % 1000) as f64 / 2500.0;
            let started = created + Duration::seconds(5 + (h % 30) as i64);
            let completed = started + Duration::seconds((median * noise) as i64);
            end = end.max(completed);
            let conclusion = if failed && j == 1 { "failure" } else { "success" };
            let job_id = run_id * 10 + j as u64;
            let record = json!({
                "job_id": job_id, "run_id": run_id, "run_attempt": 1, "repo": repo,
                "workflow_name": "CI", "name": job, "status": "completed", "conclusion": conclusion,
                "head_sha": format!("{h:040x}"), "head_branch": "main", "labels": ["ubuntu-latest"],
                "runner_name": null, "runner_group": null, "created_at": time(created),
                "started_at": time(started), "completed_at": time(completed), "steps": [], "html_url": null,
            });
            batch = batch.put(names::JOBS, &job_id.to_string(), record.clone());
            if monitored {
                batch = batch.publish(event(&repo, "workflow_job", json!({"kind": "job", "record": record}), created)?);
            }
        }
        let run = json!({
            "run_id": run_id, "repo": repo, "workflow_id": 1, "workflow_name": "CI",
            "workflow_path": ".github/workflows/ci.yml", "run_number": i + 1, "run_attempt": 1,
            "event": "push", "status": "completed", "conclusion": if failed { "failure" } else { "success" },
            "head_sha": format!("{h:040x}"), "head_branch": "main", "head_repo": repo, "from_fork": false,
            "actor": "bench", "pull_requests": [], "created_at": time(created), "updated_at": time(end),
            "run_started_at": time(created), "html_url": null, "installation_id": null,
        });
        batch = batch.put(names::RUNS, &run_id.to_string(), run.clone());
        if monitored {
            batch = batch.publish(event(&repo, "workflow_run", json!({"kind": "run", "record": run}), end)?);
        }
        in_batch += 1;
        if in_batch == 500 {
            store.commit(std::mem::take(&mut batch)).await?;
            in_batch = 0;
        }
    }
    store.commit(batch).await?;
    println!(
        "bench ui: {} runs and {} jobs in the store ({:.1} s); the newest {} runs published as events",
        args.runs,
        args.runs * JOBS.len() as u64,
        filling.elapsed().as_secs_f64(),
        args.monitored
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(host.serve_on(listener, async move {
        let _closed = stopped.await;
    }));
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let caught_up = Instant::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let agents: Value = match http.get(format!("{base}/api/v1/agents")).send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => continue,
        };
        let backlog: u64 =
            agents["subscriptions"].as_array().into_iter().flatten().filter_map(|s| s["backlog"].as_u64()).sum();
        if agents["subscriptions"].is_array() && backlog == 0 {
            break;
        }
        if caught_up.elapsed().as_secs() > 1800 {
            anyhow::bail!("the functions did not catch up in 30 minutes (backlog {backlog})");
        }
    }
    println!("bench ui: the functions caught up in {:.1} s", caught_up.elapsed().as_secs_f64());
    let anomaly: Value = http.get(format!("{base}/api/v1/anomalies?limit=1")).send().await?.json().await?;
    let anomaly_page =
        anomaly["anomalies"][0]["id"].as_str().map(|id| format!("/anomalies/{}", aetherveil_dashboard::enc(id)));
    let mut pages: Vec<(&str, String)> = vec![
        ("overview", "/".into()),
        ("analytics", "/analytics?repo=bench-org/repo-00".into()),
        ("anomalies", "/anomalies".into()),
        ("failures", "/failures".into()),
        ("healing", "/healing".into()),
        ("security", "/security".into()),
        ("alerts", "/alerts".into()),
        ("api overview", "/api/v1/overview".into()),
        ("api durations", "/api/v1/analytics/durations?repo=bench-org/repo-00&workflow=CI&job=test".into()),
    ];
    if let Some(p) = anomaly_page {
        pages.push(("anomaly detail", p));
    }
    println!("\n{:<16} {:>10} {:>10} {:>10} {:>10}", "page", "p50 ms", "p99 ms", "max ms", "KB");
    for (name, path) in &pages {
        let mut ms = Vec::with_capacity(args.repeat);
        let mut size = 0;
        for _ in 0..args.repeat {
            let t = Instant::now();
            let r = http.get(format!("{base}{path}")).send().await?;
            let status = r.status();
            let body = r.bytes().await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(status.is_success(), "{path} answered {status}");
            size = body.len();
        }
        ms.sort_by(f64::total_cmp);
        let p = |q| percentile(&ms, q).unwrap_or(f64::NAN);
        println!("{name:<16} {:>10.1} {:>10.1} {:>10.1} {:>10.0}", p(0.5), p(0.99), p(1.0), size as f64 / 1024.0);
    }
    let _stopping = stop.send(());
    server.await??;
    Ok(())
}

fn event(repo: &str, github_event: &str, kind: Value, at: chrono::DateTime<Utc>) -> anyhow::Result<Message> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut body = json!({
        "delivery_id": id, "github_event": github_event, "action": "completed", "repo": repo,
        "installation_id": null, "received_at": time(at),
    });
    if let (Some(b), Some(k)) = (body.as_object_mut(), kind.as_object()) {
        b.extend(k.clone());
    }
    Ok(Message {
        id,
        topic: names::TOPIC_PIPELINE_EVENTS.to_owned(),
        key: Some(repo.to_owned()),
        attributes: Default::default(),
        data: serde_json::to_vec(&body)?,
    })
}
