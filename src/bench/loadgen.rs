//! `aetherveil bench loadgen`: how fast the load generator can send signed webhooks, measured
//! against a sink that answers 200 without doing anything, so that the webhook benchmark is never
//! limited by its own client.
//!
//! The sink is a child process (`aetherveil bench sink`), so the report can say how many cores
//! the generator and the sink each used.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::bodies::Bodies;
use super::load::{self, Target};
use super::process::{CpuSnapshot, Proc, TempDir, free_port};
use super::stats::thousands;
use super::{Payload, loopback, progress};
use crate::fixtures::Detail;

/// The rate the generator must sustain (the webhook benchmark's target).
const TARGET_PER_SEC: f64 = 20_000.0;

#[derive(Debug, clap::Args)]
pub struct LoadgenBenchArgs {
    /// Keep-alive connections.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub connections: u64,
    /// Length of the measured phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Body shape (see `bench webhook --help`).
    #[arg(long, value_enum, default_value_t = Payload::Compact)]
    pub payload: Payload,
}

#[derive(Debug, clap::Args)]
pub struct SinkArgs {
    /// Port to listen on, on loopback.
    #[arg(long)]
    pub port: u16,
}

pub async fn loadgen(args: LoadgenBenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("bench: WARNING: a debug build; run `cargo run --release -- bench loadgen` for real figures");
    }
    let dir = TempDir::new(&std::env::temp_dir(), "aetherveil-loadgen")?;
    let addr = loopback(free_port()?);
    let exe = std::env::current_exe().context("locating this executable")?;
    let sink_args = ["bench".to_owned(), "sink".to_owned(), "--port".to_owned(), addr.port().to_string()];
    let mut sink = Proc::spawn("sink", &exe, &sink_args, &[], None, addr, dir.path().join("sink.log"))?;
    sink.wait_ready("/healthz", Duration::from_secs(10)).await?;
    let detail = match args.payload {
        Payload::Compact => Detail::Compact,
        Payload::Full => Detail::Full,
    };
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let bodies = Arc::new(Bodies::unique(detail, secret.as_bytes())?);
    let target = Arc::new(Target::new(addr, aetherveil_webhook::PATH, "workflow_run", bodies)?);
    let connections = args.connections as usize;
    progress("loadgen: warm-up 1 s");
    load::closed_loop(Arc::clone(&target), connections, Duration::from_secs(1), 0).await?;
    progress(format!("loadgen: {connections} connections, {:.0} s", args.duration));
    let (me, other) = (CpuSnapshot::of(std::process::id()), CpuSnapshot::of(sink.pid));
    let t = load::closed_loop(Arc::clone(&target), connections, Duration::from_secs_f64(args.duration), 0).await?;
    let wall = t.elapsed.as_secs_f64();
    let (generator, _) = me.cores_until(&CpuSnapshot::of(std::process::id()), wall);
    let (sink_cores, _) = other.cores_until(&CpuSnapshot::of(sink.pid), wall);
    sink.stop(Duration::from_secs(2)).await;
    if t.ok == 0 {
        bail!("the sink accepted nothing ({} errors; first: {})", t.errors, t.first_error.as_deref().unwrap_or("none"));
    }
    let rate = t.ok_per_sec();
    let verdict = if rate >= TARGET_PER_SEC { "PASS" } else { "FAIL" };
    println!();
    println!("aetherveil bench loadgen: signed {:?} workflow_run deliveries against a do-nothing sink", args.payload);
    println!("  deliveries/s             {:>10}   target >= {}  {verdict}", thousands(rate), thousands(TARGET_PER_SEC));
    println!("  non-2xx / errors         {:>10}", format!("{} / {}", t.non_2xx_total(), t.errors));
    println!("  load generator CPU       {generator:>10.2} cores ({} per core)", thousands(rate / generator.max(0.01)));
    println!("  sink CPU                 {sink_cores:>10.2} cores");
    Ok(())
}

/// A webhook endpoint that reads each body and answers 200 at once (for `bench loadgen`).
pub async fn sink(args: SinkArgs) -> anyhow::Result<()> {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(aetherveil_webhook::PATH, post(|body: axum::body::Bytes| async move { format!("{}", body.len()) }));
    let listener = tokio::net::TcpListener::bind(loopback(args.port)).await.context("binding the sink")?;
    axum::serve(listener, app).with_graceful_shutdown(aetherveil_runtime::server::shutdown_signal()).await?;
    Ok(())
}
