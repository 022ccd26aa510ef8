//! `aetherveil sim` (play a scenario against a running platform) and `aetherveil demo` (start a
//! platform in a temporary directory and play the bundled scenario against it).

use crate::serve::Host;
use aetherveil_config::{Config, Overrides};
use aetherveil_simulator::{Progress, Report, Scenario, SimOptions, Simulator};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Scenario file (TOML; see docs/scenario.md). `demo` and `healing` play the bundled scenarios.
    #[arg(long)]
    pub scenario: String,
    /// The platform: its base URL (`http://127.0.0.1:8080`) or its webhook URL.
    #[arg(long)]
    pub target: String,
    /// Webhook secret shared with the platform.
    #[arg(long, env = "AETHERVEIL_WEBHOOK_SECRET", hide_env_values = true, conflicts_with = "secret_file")]
    pub secret: Option<String>,
    /// Read the webhook secret from this file (e.g. `<data_dir>/webhook-secret`).
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Address of the simulated GitHub REST API (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub api_addr: SocketAddr,
    /// Concurrent webhook connections.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Seconds to keep serving after the last event, for the platform's late reruns.
    #[arg(long, default_value_t = 3.0)]
    pub drain: f64,
    /// Override the scenario's wall-clock length, in seconds.
    #[arg(long)]
    pub wall_seconds: Option<f64>,
    /// Override the scenario's simulated span, in days.
    #[arg(long)]
    pub days: Option<f64>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address for the platform (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Override the scenario's wall-clock length, in seconds.
    #[arg(long)]
    pub wall_seconds: Option<f64>,
    /// Override the scenario's simulated span, in days (keeps its pace per day).
    #[arg(long)]
    pub days: Option<f64>,
    /// Stop once the scenario is played, instead of serving until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

fn load_scenario(
    name: &str,
    wall_seconds: Option<f64>,
    days: Option<f64>,
    seed: Option<u64>,
) -> anyhow::Result<Scenario> {
    let mut scenario = if name == "demo" {
        Scenario::from_toml(aetherveil_simulator::scenario::DEMO, "bundled demo scenario")?
    } else if name == "healing" {
        Scenario::from_toml(aetherveil_simulator::scenario::HEALING, "bundled healing scenario")?
    } else {
        Scenario::from_file(std::path::Path::new(name))?
    };
    if let Some(d) = days {
        anyhow::ensure!(d > 0.0, "--days must be positive");
        // Keep the pace: the same wall time per simulated day.
        if let Some(w) = scenario.wall_seconds {
            scenario.wall_seconds = Some(w * d / scenario.days);
        }
        scenario.days = d;
    }
    if let Some(w) = wall_seconds {
        anyhow::ensure!(w > 0.0, "--wall-seconds must be positive");
        scenario.wall_seconds = Some(w);
    }
    if let Some(s) = seed {
        scenario.seed = s;
    }
    Ok(scenario)
}

fn print_progress(p: &Progress) {
    eprintln!(
        "sim: day {:>4.1} of {} ({:>3.0}%), {} webhooks sent ({} failed), {} reruns asked",
        p.day,
        p.days,
        p.fraction * 100.0,
        p.deliveries,
        p.failed_deliveries,
        p.reruns
    );
}

fn write_report(report: &Report, path: Option<&PathBuf>) -> anyhow::Result<()> {
    print!("{}", report.render());
    if let Some(path) = path {
        let json = serde_json::to_vec_pretty(report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write the report to {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

/// The webhook URL and the platform base URL from `--target`.
fn target_urls(target: &str) -> anyhow::Result<(String, String)> {
    let t = target.trim_end_matches('/');
    anyhow::ensure!(
        t.starts_with("http://") || t.starts_with("https://"),
        "--target must be an http(s) URL, not {t:?}"
    );
    Ok(match t.strip_suffix(aetherveil_webhook::PATH) {
        Some(base) => (t.to_owned(), base.to_owned()),
        None => (format!("{t}{}", aetherveil_webhook::PATH), t.to_owned()),
    })
}

pub async fn sim(args: SimArgs) -> anyhow::Result<()> {
    let scenario = load_scenario(&args.scenario, args.wall_seconds, args.days, args.seed)?;
    let secret = match (&args.secret, &args.secret_file) {
        (Some(s), _) => s.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("cannot read the secret file {}", f.display()))?
            .trim()
            .to_owned(),
        (None, None) => {
            anyhow::bail!("give the platform's webhook secret: --secret, --secret-file or AETHERVEIL_WEBHOOK_SECRET")
        }
    };
    let (webhook, base) = target_urls(&args.target)?;
    let options = SimOptions {
        target: Some(webhook.clone()),
        secret: secret.into_bytes(),
        bind: args.api_addr,
        connections: args.connections.max(1),
        drain: Duration::from_secs_f64(args.drain.max(0.0)),
        platform: Some(base),
    };
    let sim = Simulator::start(scenario.clone(), options).await.context("cannot start the simulated GitHub API")?;
    eprintln!(
        "sim: playing {:?}: {} days in about {:.0} s; webhooks to {webhook}; simulated GitHub API at {}",
        scenario.name,
        scenario.days,
        scenario.days * 86_400.0 / scenario.compression(),
        sim.api_url()
    );
    let report = sim.run(print_progress).await;
    sim.shutdown();
    write_report(&report, args.report.as_ref())
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let scenario = load_scenario("demo", args.wall_seconds, args.days, None)?;
    let dir =
        tempfile::Builder::new().prefix("aetherveil-demo-").tempdir().context("cannot create a temporary directory")?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {} (try --addr 127.0.0.1:0)", args.addr))?;
    let base = format!("http://{}", listener.local_addr()?);
    // The simulator plays GitHub for the platform: it signs with the platform's webhook secret,
    // and the platform calls the simulator's REST API as its GitHub.
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let sim = Simulator::start(
        scenario.clone(),
        SimOptions {
            target: Some(format!("{base}{}", aetherveil_webhook::PATH)),
            secret: secret.clone().into_bytes(),
            platform: Some(base.clone()),
            ..SimOptions::default()
        },
    )
    .await
    .context("cannot start the simulated GitHub API")?;
    let mut config = Config::load(None, &Overrides { addr: None, data_dir: Some(dir.path().to_path_buf()) })
        .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
    config.webhook.secret = secret;
    config.github.api_url = sim.api_url();
    config.github.token = "demo-token".into();
    // GitHub here is the simulator: let the healer act, so the demo shows reruns and issues.
    config.healer.mode = aetherveil_config::HealerMode::Act;
    let host = Host::open(config)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(host.serve_on(listener, async move {
        tokio::select! {
            _ = stop_rx => {}
            _ = aetherveil_runtime::server::shutdown_signal() => {}
        }
    }));
    println!("aetherveil demo: the platform is at {base} (data in {}, removed on exit)", dir.path().display());
    println!("  simulated GitHub API: {} (the platform's github.api_url)", sim.api_url());
    println!(
        "  playing {:?}: {} repositories, {} days in about {:.0} s. Meanwhile, try:",
        scenario.name,
        scenario.repos.len(),
        scenario.days,
        scenario.days * 86_400.0 / scenario.compression()
    );
    let first = &scenario.repos[0].name;
    println!("    curl -s '{base}/api/v1/runs?repo={first}&limit=5'");
    println!("    curl -s '{base}/api/v1/events?repo={first}&limit=5'");
    println!("    curl -s {base}/metrics");
    let report = sim.run(print_progress).await;
    write_report(&report, args.report.as_ref())?;
    if !args.exit {
        println!("scenario played; the platform keeps serving at {base} until Ctrl-C");
    } else if stop_tx.send(()).is_err() {
        tracing::debug!("platform already stopped");
    }
    server.await.context("platform task failed")??;
    sim.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_accept_a_base_or_a_webhook_url() {
        let (hook, base) = target_urls("http://127.0.0.1:8080/").expect("base");
        assert_eq!(hook, "http://127.0.0.1:8080/webhook/github");
        assert_eq!(base, "http://127.0.0.1:8080");
        let (hook, base) = target_urls("http://h:1/webhook/github").expect("hook");
        assert_eq!(hook, "http://h:1/webhook/github");
        assert_eq!(base, "http://h:1");
        assert!(target_urls("127.0.0.1:8080").is_err());
    }
}
