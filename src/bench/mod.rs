//! `aetherveil bench`: measurements whose figures go into release notes. Timings live here and in
//! the printed report, never in test assertions.
//!
//! `aetherveil bench webhook` measures signed GitHub deliveries through the real HTTP server
//! (`aetherveil serve`, spawned as a child process with a fresh SQLite data directory, so every
//! acknowledged delivery is a durable write), on loopback:
//!
//! 1. cold start: exec to the first `200` on `/healthz`, several spawns, median and max;
//! 2. idle RSS after start-up and one second of idling;
//! 3. throughput: a closed loop over N keep-alive connections, each request a fresh
//!    `X-GitHub-Delivery` and a valid `X-Hub-Signature-256` over a ~7 KB `workflow_run` body
//!    carrying a new run state ([`bodies`]);
//! 4. latency at a fixed rate: an open loop, measured from each request's intended send time;
//! 5. honesty: a sample of acknowledged delivery ids read back from `/api/v1/deliveries/{id}`;
//! 6. the same phases against the Python peer (functions-framework on gunicorn, `scripts/bench`),
//!    side by side, when it is installed.
//!
//! The load generator runs in this process, on the same machine: on a small machine it takes a
//! share of the CPU the server would otherwise have, so the figures are a floor. The report says
//! how many cores the server, the load generator and everything else used in each phase.

mod bodies;
pub mod gate;
mod load;
pub mod loadgen;
pub mod logscan;
pub mod mining;
pub mod monitor;
mod process;
mod stats;
pub mod ui;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::fixtures;
use bodies::Bodies;
use load::Target;
use process::{CpuSnapshot, Proc, TempDir};
use stats::{LatencySummary, PhaseStats, median, round1, round3, thousands};

/// Targets the release note quotes next to the figures.
const TARGET_DELIVERIES_PER_S: f64 = 20_000.0;
const TARGET_P99_MS: f64 = 10.0;
const TARGET_P99_RATE: f64 = 2_000.0;
const TARGET_COLD_START_MS: f64 = 50.0;
const TARGET_IDLE_RSS_MB: f64 = 40.0;

const WEBHOOK_PATH: &str = "/webhook/github";
const DELIVERY_API: &str = "/api/v1/deliveries/";

/// Whether to run the Python peer side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeerMode {
    /// Do not run the peer.
    Off,
    /// Run it if functions-framework and gunicorn are importable; otherwise say how to install.
    Auto,
    /// Fail if the peer cannot be run.
    Required,
}

/// `webhook.intake` of the measured server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Intake {
    Inline,
    Queued,
    Log,
}

impl Intake {
    fn as_str(self) -> &'static str {
        match self {
            Intake::Inline => "inline",
            Intake::Queued => "queued",
            Intake::Log => "log",
        }
    }
}

/// Which `workflow_run` body to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Payload {
    /// ~7 KB: every object GitHub sends, with the commonly used `*_url` fields.
    Compact,
    /// ~19 KB: every field of GitHub's documented example payload, all `*_url` templates.
    Full,
}

/// Signed deliveries per second through the real server with durable writes, on loopback.
#[derive(Debug, clap::Args)]
pub struct WebhookBenchArgs {
    /// Keep-alive connections in the closed-loop throughput phase.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub connections: u64,

    /// Length of each measured phase (throughput and fixed rate), in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub duration: f64,

    /// Closed-loop warm-up before the throughput phase, in seconds (not counted).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub warmup: f64,

    /// Requests per second in the fixed-rate (open-loop) latency phase.
    #[arg(long, default_value_t = 2_000.0)]
    pub rate: f64,

    /// Connections available to the fixed-rate phase (requests wait for a free one, and that
    /// wait counts in their latency).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub rate_connections: u64,

    /// Server spawns for the cold-start measurement (0 skips it).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub cold_starts: u64,

    /// Acknowledged deliveries to read back from /api/v1/deliveries/{id} after the load.
    #[arg(long, default_value_t = 100)]
    pub verify_sample: usize,

    /// Send a pool of N bodies built and signed up front, round robin, instead of a new run state
    /// per delivery (the default). Re-sent states are cheaper for the server than real traffic,
    /// so a small pool flatters it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub bodies: Option<u64>,

    /// Body shape: compact (~7 KB) or full (~19 KB, every field of GitHub's documented example).
    #[arg(long, value_enum, default_value_t = Payload::Compact)]
    pub payload: Payload,

    /// The server's `webhook.intake`: inline (the default: records and event in the acknowledging
    /// commit), queued (raw body and a queued record; the normalizer does the rest after) or log
    /// (appended to the ingest log; its applier stores it in batches after).
    #[arg(long, value_enum, default_value_t = Intake::Inline)]
    pub intake: Intake,

    /// Run the Python peer (functions-framework on gunicorn) side by side.
    #[arg(long, value_enum, default_value_t = PeerMode::Auto)]
    pub peer: PeerMode,

    /// Folder holding peer_webhook.py (default: scripts/bench in the source tree).
    #[arg(long, value_name = "DIR")]
    pub peer_dir: Option<PathBuf>,

    /// Python interpreter for the peer.
    #[arg(long, default_value = "python3")]
    pub python: String,

    /// gunicorn worker processes for the peer.
    #[arg(long, default_value_t = 2)]
    pub peer_workers: u32,

    /// gunicorn threads per worker for the peer.
    #[arg(long, default_value_t = 8)]
    pub peer_threads: u32,

    /// Server binary to measure (default: this executable).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<PathBuf>,

    /// Where to create the servers' temporary data directories (default: the system temp dir).
    /// The filesystem matters: durable writes on tmpfs are not durable.
    #[arg(long, value_name = "DIR")]
    pub tmp_dir: Option<PathBuf>,

    /// Print one JSON object with every figure on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `aetherveil bench webhook`. Every child process is killed on every exit path, Ctrl-C
/// included.
pub async fn webhook(args: WebhookBenchArgs) -> anyhow::Result<()> {
    tokio::select! {
        r = run(args) => r,
        r = tokio::signal::ctrl_c() => {
            r.context("listening for Ctrl-C")?;
            bail!("interrupted; child processes stopped")
        }
    }
}

/// Everything measured on one side (ours or the peer).
#[derive(Debug, Default)]
struct Side {
    cold_ms: Vec<f64>,
    idle_rss_kb: Option<u64>,
    processes: usize,
    throughput: Option<PhaseStats>,
    throughput_lat: Option<LatencySummary>,
    fixed: Option<PhaseStats>,
    fixed_lat: Option<LatencySummary>,
    rss_after_kb: Option<u64>,
    peak_rss_kb: Option<u64>,
    /// (read back with 200, sampled, problems)
    verified: Option<(usize, usize, Vec<String>)>,
    throughput_cpu: Option<CpuUse>,
    fixed_cpu: Option<CpuUse>,
    /// Events published during the throughput phase that consumers had not yet processed when it
    /// ended, and how long they took to drain (our server only).
    drain: Option<Drain>,
}

#[derive(Debug, Clone, Copy)]
struct Drain {
    backlog: u64,
    seconds: f64,
    drained: bool,
}

/// Sums `aetherveil_bus_backlog_messages` over subscriptions, with the deliveries the ingest log
/// has not applied yet (each of those is still to publish its event).
async fn bus_backlog(addr: std::net::SocketAddr) -> anyhow::Result<u64> {
    let text = process::http_get_body(addr, "/metrics", Duration::from_secs(10)).await?;
    Ok(text
        .lines()
        .filter(|l| {
            l.starts_with("aetherveil_bus_backlog_messages")
                || l.starts_with("aetherveil_webhook_log_unapplied_deliveries")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}

/// Waits (at most two minutes) until the consumers have caught up with everything published.
async fn wait_drained(addr: std::net::SocketAddr) -> anyhow::Result<Drain> {
    let started = std::time::Instant::now();
    let backlog = bus_backlog(addr).await?;
    let mut left = backlog;
    while left > 0 && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = bus_backlog(addr).await?;
    }
    Ok(Drain { backlog, seconds: started.elapsed().as_secs_f64(), drained: left == 0 })
}

/// CPU used during a phase, in cores (CPU seconds per wall second).
#[derive(Debug, Clone)]
struct CpuUse {
    server: f64,
    /// Server threads by name, busiest first (our server only; the peer is a process tree).
    server_threads: Vec<(String, f64)>,
    load_generator: f64,
    /// Everything else on the machine (other processes: a busy machine skews the figures).
    others: f64,
}

impl CpuUse {
    fn to_json(&self) -> Value {
        json!({
            "server_cores": round3(self.server),
            "server_threads": self.server_threads.iter().map(|(n, c)| (n.clone(), json!(round3(*c)))).collect::<serde_json::Map<_, _>>(),
            "load_generator_cores": round3(self.load_generator),
            "other_processes_cores": round3(self.others),
        })
    }

    fn describe(&self) -> String {
        let threads: Vec<String> = self.server_threads.iter().take(4).map(|(n, c)| format!("{n} {c:.2}")).collect();
        let split = if threads.is_empty() { String::new() } else { format!(" ({})", threads.join(", ")) };
        format!(
            "server {:.2} cores{split}; load generator {:.2}; other processes {:.2}",
            self.server, self.load_generator, self.others
        )
    }
}

/// Measures the CPU a phase costs the server (`pid`, with its descendants when `tree`) and this
/// process (the load generator).
struct CpuMeter {
    pid: u32,
    tree: bool,
    server: CpuSnapshot,
    me: CpuSnapshot,
    machine: Option<f64>,
    started: std::time::Instant,
}

impl CpuMeter {
    fn start(pid: u32, tree: bool) -> Self {
        Self {
            pid,
            tree,
            server: Self::snap(pid, tree),
            me: CpuSnapshot::of(std::process::id()),
            machine: process::machine_busy_seconds(),
            started: std::time::Instant::now(),
        }
    }

    fn snap(pid: u32, tree: bool) -> CpuSnapshot {
        if tree { CpuSnapshot::of_tree(pid) } else { CpuSnapshot::of(pid) }
    }

    fn stop(self) -> CpuUse {
        let wall = self.started.elapsed().as_secs_f64();
        let (server, server_threads) = self.server.cores_until(&Self::snap(self.pid, self.tree), wall);
        let (load_generator, _) = self.me.cores_until(&CpuSnapshot::of(std::process::id()), wall);
        let machine = match (self.machine, process::machine_busy_seconds()) {
            (Some(a), Some(b)) if wall > 0.0 => (b - a) / wall,
            _ => 0.0,
        };
        CpuUse {
            server,
            server_threads: if self.tree { Vec::new() } else { server_threads },
            load_generator,
            others: (machine - server - load_generator).max(0.0),
        }
    }
}

struct Env {
    base: PathBuf,
    secret: String,
    bodies: Arc<Bodies>,
    intake: Intake,
}

async fn run(args: WebhookBenchArgs) -> anyhow::Result<()> {
    validate(&args)?;
    let debug_build = cfg!(debug_assertions);
    if debug_build {
        eprintln!(
            "\n\
             ********************************************************************\n\
             *  WARNING: this is a DEBUG build. Its figures are meaningless.     *\n\
             *  Run: cargo run --release -- bench webhook                        *\n\
             ********************************************************************\n"
        );
    }
    let server_bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("locating this executable")?,
    };
    let base = args.tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let detail = match args.payload {
        Payload::Compact => fixtures::Detail::Compact,
        Payload::Full => fixtures::Detail::Full,
    };
    let bodies = match args.bodies {
        Some(n) => {
            progress(format!("building a pool of {n} signed workflow_run bodies ({:?})", args.payload));
            Bodies::pool(detail, secret.as_bytes(), n)?
        }
        None => Bodies::unique(detail, secret.as_bytes())?,
    };
    let env = Env { base, secret, bodies: Arc::new(bodies), intake: args.intake };

    // Find out about the peer first, so `--peer required` fails before a minute of measuring.
    let peer_dir = match args.peer {
        PeerMode::Off => Err("not run (--peer off)".to_owned()),
        mode => match peer_available(&args).await {
            Ok(dir) => Ok(dir),
            Err(why) if mode == PeerMode::Required => {
                bail!("the Python peer cannot run (--peer required): {why}")
            }
            Err(why) => {
                eprintln!(
                    "bench: the Python peer is not installed ({why}); install it with \
                     scripts/bench/setup.sh, then run again. Continuing without it."
                );
                Err(format!("not installed ({why}); run scripts/bench/setup.sh"))
            }
        },
    };

    let ours = measure_ours(&args, &env, &server_bin).await?;
    let (peer, peer_note) = match peer_dir {
        Err(note) => (None, Some(note)),
        Ok(dir) => match measure_peer(&args, &env, &dir).await {
            Ok(side) => (Some(side), None),
            Err(e) if args.peer == PeerMode::Auto => {
                eprintln!("bench: the Python peer failed: {e:#}");
                (None, Some(format!("failed: {e:#}")))
            }
            Err(e) => return Err(e.context("running the Python peer (--peer required)")),
        },
    };

    let report = Report {
        args: &args,
        env: &env,
        debug_build,
        ours: &ours,
        peer: peer.as_ref(),
        peer_note: peer_note.as_deref(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{}", report.table());
    }

    let duplicates: u64 = [&ours.throughput, &ours.fixed].into_iter().flatten().map(|p| p.duplicates).sum();
    if duplicates > 0 {
        bail!("the server answered `duplicate` to {duplicates} deliveries whose ids were fresh");
    }
    if let Some((ok, sampled, problems)) = &ours.verified {
        if ok < sampled {
            for p in problems.iter().take(5) {
                eprintln!("bench: not readable: {p}");
            }
            bail!(
                "only {ok} of {sampled} acknowledged deliveries could be read back from \
                 {DELIVERY_API}{{id}}: the server acknowledged deliveries it did not keep"
            );
        }
    }
    Ok(())
}

fn validate(args: &WebhookBenchArgs) -> anyhow::Result<()> {
    if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 3_600.0) {
        bail!("--duration must be between 0 and 3600 seconds");
    }
    if !(args.warmup.is_finite() && (0.0..=600.0).contains(&args.warmup)) {
        bail!("--warmup must be between 0 and 600 seconds");
    }
    if !(args.rate.is_finite() && args.rate >= 1.0 && args.rate <= 1_000_000.0) {
        bail!("--rate must be between 1 and 1,000,000 per second");
    }
    if args.peer_workers == 0 || args.peer_threads == 0 {
        bail!("--peer-workers and --peer-threads must be at least 1");
    }
    Ok(())
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("bench: {}", msg.as_ref());
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn spawn_ours(server_bin: &Path, env: &Env, dir: &TempDir) -> anyhow::Result<Proc> {
    let port = process::free_port()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    let args = vec![
        "serve".to_owned(),
        "--addr".to_owned(),
        format!("127.0.0.1:{port}"),
        "--data-dir".to_owned(),
        data.display().to_string(),
    ];
    Proc::spawn(
        "aetherveil serve",
        server_bin,
        &args,
        &[("AETHERVEIL_WEBHOOK_SECRET", env.secret.as_str()), ("AETHERVEIL_WEBHOOK_INTAKE", env.intake.as_str())],
        None,
        loopback(port),
        dir.path().join("server.log"),
    )
}

async fn measure_ours(args: &WebhookBenchArgs, env: &Env, server_bin: &Path) -> anyhow::Result<Side> {
    let mut side = Side::default();
    let ready_timeout = Duration::from_secs(15);
    for k in 0..args.cold_starts {
        let dir = TempDir::new(&env.base, "aetherveil-bench")?;
        let mut server = spawn_ours(server_bin, env, &dir)?;
        let t = server.wait_ready("/healthz", ready_timeout).await?;
        let ms = t.as_secs_f64() * 1000.0;
        progress(format!("aetherveil cold start {}/{}: {ms:.1} ms", k + 1, args.cold_starts));
        side.cold_ms.push(ms);
        server.stop(Duration::from_secs(5)).await;
    }

    let dir = TempDir::new(&env.base, "aetherveil-bench")?;
    let mut server = spawn_ours(server_bin, env, &dir)?;
    server.wait_ready("/healthz", ready_timeout).await?;
    progress(format!(
        "aetherveil serve is up on {} (pid {}), data in {}",
        server.addr,
        server.pid,
        dir.path().display()
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    side.idle_rss_kb = server.rss_kb();
    side.processes = server.process_count();

    let target = Arc::new(Target::new(server.addr, WEBHOOK_PATH, "workflow_run", Arc::clone(&env.bodies))?);
    let sample = args.verify_sample;
    load_phases(args, &target, &mut side, "aetherveil", sample, (server.pid, false), Some(server.addr)).await?;
    side.rss_after_kb = server.rss_kb();
    side.peak_rss_kb = server.peak_rss_kb();

    let mut ids = Vec::new();
    if let Some(t) = &side.throughput {
        ids.extend(t.acked_sample.iter().cloned());
    }
    if let Some(f) = &side.fixed {
        ids.extend(f.acked_sample.iter().cloned());
    }
    let mut pool = PhaseStats { acked_sample: ids, ..Default::default() };
    pool.thin_sample(args.verify_sample);
    if !pool.acked_sample.is_empty() {
        progress(format!("reading back {} acknowledged deliveries from {DELIVERY_API}{{id}}", pool.acked_sample.len()));
        let (ok, problems) = load::verify(server.addr, DELIVERY_API, &pool.acked_sample).await?;
        progress(format!("verified {ok}/{}", pool.acked_sample.len()));
        side.verified = Some((ok, pool.acked_sample.len(), problems));
    }
    server.stop(Duration::from_secs(10)).await;
    Ok(side)
}

/// Warm-up, closed-loop throughput, then the fixed-rate open loop.
async fn load_phases(
    args: &WebhookBenchArgs,
    target: &Arc<Target>,
    side: &mut Side,
    who: &str,
    sample: usize,
    (pid, tree): (u32, bool),
    drain_at: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let duration = Duration::from_secs_f64(args.duration);
    if args.warmup > 0.0 {
        progress(format!("{who}: warm-up {:.0} s", args.warmup));
        let w =
            load::closed_loop(Arc::clone(target), args.connections as usize, Duration::from_secs_f64(args.warmup), 0)
                .await?;
        if w.ok == 0 {
            bail!(
                "{who}: no delivery was accepted during warm-up ({} non-2xx {:?}, {} errors, first error: {})",
                w.non_2xx_total(),
                w.non_2xx,
                w.errors,
                w.first_error.as_deref().unwrap_or("none")
            );
        }
    }
    progress(format!("{who}: throughput, {} connections, {:.0} s", args.connections, args.duration));
    let meter = CpuMeter::start(pid, tree);
    let mut t = load::closed_loop(Arc::clone(target), args.connections as usize, duration, sample).await?;
    side.throughput_cpu = Some(meter.stop());
    progress(format!(
        "{who}: {} deliveries/s ({} ok, {} non-2xx, {} errors)",
        thousands(t.ok_per_sec()),
        t.ok,
        t.non_2xx_total(),
        t.errors
    ));
    side.throughput_lat = LatencySummary::from_micros(&mut t.latencies_us);
    t.latencies_us = Vec::new();
    side.throughput = Some(t);

    if let Some(addr) = drain_at {
        let d = wait_drained(addr).await?;
        progress(format!(
            "{who}: consumers had {} events to catch up on; {} in {:.1} s",
            d.backlog,
            if d.drained { "drained" } else { "NOT drained" },
            d.seconds
        ));
        side.drain = Some(d);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    progress(format!("{who}: fixed rate {}/s for {:.0} s", thousands(args.rate), args.duration));
    let meter = CpuMeter::start(pid, tree);
    let mut f = load::open_loop(
        Arc::clone(target),
        args.rate_connections as usize,
        args.rate,
        duration,
        Duration::from_secs(30),
        sample,
    )
    .await?;
    side.fixed_cpu = Some(meter.stop());
    side.fixed_lat = LatencySummary::from_micros(&mut f.latencies_us);
    f.latencies_us = Vec::new();
    progress(format!(
        "{who}: achieved {}/s, p99 {} ms",
        thousands(f.ok_per_sec()),
        side.fixed_lat.map(|l| format!("{:.2}", l.p99_ms)).unwrap_or_else(|| "-".into())
    ));
    side.fixed = Some(f);
    Ok(())
}

fn default_peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join("bench")
}

/// The peer's folder if the peer can run, or why it cannot.
async fn peer_available(args: &WebhookBenchArgs) -> Result<PathBuf, String> {
    let dir = args.peer_dir.clone().unwrap_or_else(default_peer_dir);
    if !dir.join("peer_webhook.py").is_file() {
        return Err(format!("{} has no peer_webhook.py (see --peer-dir)", dir.display()));
    }
    let out = tokio::process::Command::new(&args.python)
        .args(["-c", "import functions_framework, gunicorn"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", args.python))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("import failed");
        return Err(format!("{} -c 'import functions_framework, gunicorn': {last}", args.python));
    }
    Ok(dir)
}

fn spawn_peer(args: &WebhookBenchArgs, env: &Env, peer_dir: &Path, dir: &TempDir) -> anyhow::Result<Proc> {
    let port = process::free_port()?;
    let gunicorn_args = vec![
        "-m".to_owned(),
        "gunicorn".to_owned(),
        "--workers".to_owned(),
        args.peer_workers.to_string(),
        "--threads".to_owned(),
        args.peer_threads.to_string(),
        "--bind".to_owned(),
        format!("127.0.0.1:{port}"),
        "--chdir".to_owned(),
        peer_dir.display().to_string(),
        "--log-level".to_owned(),
        "warning".to_owned(),
        "functions_framework:create_app(target='webhook', source='peer_webhook.py')".to_owned(),
    ];
    Proc::spawn(
        "python peer (gunicorn)",
        Path::new(&args.python),
        &gunicorn_args,
        // No __pycache__ left in the source tree.
        &[("AETHERVEIL_WEBHOOK_SECRET", env.secret.as_str()), ("PYTHONDONTWRITEBYTECODE", "1")],
        Some(peer_dir),
        loopback(port),
        dir.path().join("peer.log"),
    )
}

async fn measure_peer(args: &WebhookBenchArgs, env: &Env, peer_dir: &Path) -> anyhow::Result<Side> {
    let mut side = Side::default();
    let ready_timeout = Duration::from_secs(60);
    for k in 0..args.cold_starts {
        let dir = TempDir::new(&env.base, "aetherveil-bench-peer")?;
        let mut peer = spawn_peer(args, env, peer_dir, &dir)?;
        let t = peer.wait_ready("/", ready_timeout).await?;
        let ms = t.as_secs_f64() * 1000.0;
        progress(format!("peer cold start {}/{}: {ms:.1} ms", k + 1, args.cold_starts));
        side.cold_ms.push(ms);
        peer.stop(Duration::from_secs(10)).await;
    }
    let dir = TempDir::new(&env.base, "aetherveil-bench-peer")?;
    let mut peer = spawn_peer(args, env, peer_dir, &dir)?;
    peer.wait_ready("/", ready_timeout).await?;
    progress(format!(
        "python peer is up on {} (pid {}, {} workers × {} threads)",
        peer.addr, peer.pid, args.peer_workers, args.peer_threads
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    side.idle_rss_kb = peer.rss_kb();
    side.processes = peer.process_count();
    let target = Arc::new(Target::new(peer.addr, WEBHOOK_PATH, "workflow_run", Arc::clone(&env.bodies))?);
    load_phases(args, &target, &mut side, "python peer", 0, (peer.pid, true), None).await?;
    side.rss_after_kb = peer.rss_kb();
    peer.stop(Duration::from_secs(10)).await;
    Ok(side)
}

/// Appends one formatted line to a `String` (infallible, unlike `writeln!`'s `fmt::Result`).
macro_rules! push_line {
    ($s:expr, $($arg:tt)*) => {{
        $s.push_str(&format!($($arg)*));
        $s.push('\n');
    }};
}

/// Formats the figures as a table or one JSON object.
struct Report<'a> {
    args: &'a WebhookBenchArgs,
    env: &'a Env,
    debug_build: bool,
    ours: &'a Side,
    peer: Option<&'a Side>,
    peer_note: Option<&'a str>,
}

fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1_000_000.0
}

fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

impl Side {
    fn cold_median(&self) -> Option<f64> {
        median(&self.cold_ms)
    }
    fn cold_max(&self) -> Option<f64> {
        self.cold_ms.iter().copied().reduce(f64::max)
    }
    fn rate(&self) -> Option<f64> {
        self.throughput.as_ref().map(PhaseStats::ok_per_sec)
    }
    fn fixed_ok(&self, rate: f64) -> bool {
        self.fixed.as_ref().is_some_and(|f| {
            f.errors == 0
                && f.duplicates == 0
                && f.non_2xx_total() == 0
                && f.abandoned == 0
                && f.ok_per_sec() >= 0.98 * rate
        })
    }
}

impl Report<'_> {
    fn machine(&self) -> Value {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_owned())
            })
            .unwrap_or_default();
        let kernel =
            std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()).unwrap_or_default();
        json!({
            "cpus": cpus,
            "cpu": cpu,
            "kernel": kernel,
            "data_dir_filesystem": process::filesystem_of(&self.env.base),
            "loadavg_at_report": std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.trim().to_owned()),
            "load_generator": "in-process (same machine, shares the CPUs)",
        })
    }

    fn side_json(&self, s: &Side) -> Value {
        let phase = |p: &Option<PhaseStats>, lat: &Option<LatencySummary>| {
            p.as_ref().map(|p| {
                json!({
                    "deliveries_per_s": round1(p.ok_per_sec()),
                    "ok": p.ok,
                    "duplicates": p.duplicates,
                    "non_2xx": p.non_2xx_total(),
                    "non_2xx_by_status": p.non_2xx.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    "errors": p.errors,
                    "abandoned": p.abandoned,
                    "first_error": p.first_error,
                    "elapsed_s": round3(p.elapsed.as_secs_f64()),
                    "latency_ms": lat.map(LatencySummary::to_json),
                })
            })
        };
        let mut fixed = phase(&s.fixed, &s.fixed_lat);
        if let Some(f) = fixed.as_mut().and_then(Value::as_object_mut) {
            f.insert("target_rate".into(), json!(self.args.rate));
            if let Some(v) = f.remove("deliveries_per_s") {
                f.insert("achieved_rate".into(), v);
            }
        }
        json!({
            "cold_start_ms": {
                "runs": s.cold_ms.iter().map(|m| round3(*m)).collect::<Vec<_>>(),
                "median": s.cold_median().map(round3),
                "max": s.cold_max().map(round3),
            },
            "idle_rss_mb": s.idle_rss_kb.map(|k| round1(mb(k))),
            "rss_after_load_mb": s.rss_after_kb.map(|k| round1(mb(k))),
            "peak_rss_mb": s.peak_rss_kb.map(|k| round1(mb(k))),
            "processes": s.processes,
            "throughput": phase(&s.throughput, &s.throughput_lat),
            "throughput_cpu": s.throughput_cpu.as_ref().map(CpuUse::to_json),
            "consumer_drain": s.drain.map(|d| serde_json::json!({
                "backlog_after_throughput": d.backlog,
                "seconds": d.seconds,
                "drained": d.drained,
            })),
            "fixed_rate": fixed,
            "fixed_rate_cpu": s.fixed_cpu.as_ref().map(CpuUse::to_json),
            "verified": s.verified.as_ref().map(|(ok, n, problems)| json!({
                "read_back_200": ok, "sampled": n, "problems": problems.iter().take(10).collect::<Vec<_>>(),
            })),
        })
    }

    fn json(&self) -> Value {
        let a = self.args;
        let o = self.ours;
        let ratio = self.peer.map(|p| {
            json!({
                "deliveries_per_s_ours_over_peer": match (o.rate(), p.rate()) {
                    (Some(x), Some(y)) if y > 0.0 => Some(round3(x / y)),
                    _ => None,
                },
                "fixed_rate_p99_peer_over_ours": match (o.fixed_lat, p.fixed_lat) {
                    (Some(x), Some(y)) if x.p99_ms > 0.0 => Some(round3(y.p99_ms / x.p99_ms)),
                    _ => None,
                },
            })
        });
        let rate_matches = (a.rate - TARGET_P99_RATE).abs() < f64::EPSILON;
        json!({
            "bench": "webhook",
            "build": if self.debug_build { "debug" } else { "release" },
            "machine": self.machine(),
            "config": {
                "connections": a.connections,
                "duration_s": a.duration,
                "warmup_s": a.warmup,
                "rate": a.rate,
                "rate_connections": a.rate_connections,
                "cold_starts": a.cold_starts,
                "payload": format!("{:?}", a.payload).to_lowercase(),
                "intake": a.intake.as_str(),
                "bodies": match self.env.bodies.pool_size() {
                    Some(n) => json!({ "mode": "pool", "pool_size": n }),
                    None => json!({ "mode": "unique", "note": "every delivery a new run state, signed per request" }),
                },
                "body_bytes": { "min": self.env.bodies.sizes.0, "mean": self.env.bodies.sizes.1, "max": self.env.bodies.sizes.2 },
                "peer_workers": a.peer_workers,
                "peer_threads": a.peer_threads,
            },
            "aetherveil": self.side_json(o),
            "peer": self.peer.map(|p| self.side_json(p)),
            "peer_note": self.peer_note,
            "ratios": ratio,
            "targets": {
                "deliveries_per_s": { "min": TARGET_DELIVERIES_PER_S, "pass": o.rate().map(|r| r >= TARGET_DELIVERIES_PER_S) },
                "p99_ms_at_2000_per_s": {
                    "max": TARGET_P99_MS,
                    "measured_at_rate": a.rate,
                    "pass": o.fixed_lat.filter(|_| rate_matches).map(|l| l.p99_ms < TARGET_P99_MS && o.fixed_ok(a.rate)),
                },
                "cold_start_ms": { "max": TARGET_COLD_START_MS, "pass": o.cold_median().map(|m| m < TARGET_COLD_START_MS) },
                "idle_rss_mb": { "max": TARGET_IDLE_RSS_MB, "pass": o.idle_rss_kb.map(|k| mb(k) < TARGET_IDLE_RSS_MB) },
            },
        })
    }

    fn table(&self) -> String {
        let a = self.args;
        let o = self.ours;
        let p = self.peer;
        let m = self.machine();
        let mut s = String::new();
        let opt = |x: Option<String>| x.unwrap_or_else(|| "-".to_owned());
        let ms = |x: Option<f64>| opt(x.map(|v| format!("{v:.2} ms")));
        let rate = |x: Option<f64>| opt(x.map(|v| format!("{}/s", thousands(v))));
        let rss = |x: Option<u64>| opt(x.map(|k| format!("{:.1} MB", mb(k))));
        let peer_col = |f: &dyn Fn(&Side) -> String| p.map(f).unwrap_or_else(|| "-".to_owned());

        push_line!(s, "");
        if self.debug_build {
            push_line!(
                s,
                "!!! DEBUG BUILD: these figures are meaningless; use `cargo run --release -- bench webhook` !!!\n"
            );
        }
        push_line!(
            s,
            "aetherveil bench webhook: {} build, {} CPUs ({}), kernel {}",
            if self.debug_build { "debug" } else { "release" },
            m["cpus"],
            m["cpu"].as_str().unwrap_or("?"),
            m["kernel"].as_str().unwrap_or("?"),
        );
        push_line!(
            s,
            "data dir on {}; load generator in-process on the same CPUs; webhook.intake = {}",
            m["data_dir_filesystem"].as_str().unwrap_or("?"),
            a.intake.as_str(),
        );
        let (min, mean, max) = self.env.bodies.sizes;
        let mode = match self.env.bodies.pool_size() {
            Some(n) => {
                format!("a pool of {n} pre-signed bodies sent round robin (re-sent run states flatter the server)")
            }
            None => "every delivery a new run state (requested, in_progress, completed), signed per request".to_owned(),
        };
        push_line!(
            s,
            "payload: workflow_run ({:?}), {min}..{max} bytes (mean {mean}), fresh X-GitHub-Delivery per request;\n         {mode}",
            a.payload,
        );
        let peer_name = format!("python peer ({}w×{}t)", a.peer_workers, a.peer_threads);
        push_line!(s, "");
        let row = |s: &mut String, label: &str, ours: String, peer: String, target: &str, verdict: &str| {
            push_line!(s, "{label:<34} {ours:>14} {peer:>22}   {target:<14} {verdict}");
        };
        row(&mut s, "", "aetherveil".into(), peer_name, "target", "");
        row(&mut s, "", "-".repeat(10), "-".repeat(20), "------", "");
        let n = o.cold_ms.len();
        if n > 0 {
            row(
                &mut s,
                &format!("cold start, median of {n}"),
                ms(o.cold_median()),
                peer_col(&|p| ms(p.cold_median())),
                &format!("< {TARGET_COLD_START_MS} ms"),
                o.cold_median().map_or("", |v| pass(v < TARGET_COLD_START_MS)),
            );
            row(&mut s, "cold start, max", ms(o.cold_max()), peer_col(&|p| ms(p.cold_max())), "", "");
        }
        row(
            &mut s,
            "idle RSS (all processes)",
            rss(o.idle_rss_kb),
            peer_col(&|p| format!("{} ({} proc)", rss(p.idle_rss_kb), p.processes)),
            &format!("< {TARGET_IDLE_RSS_MB} MB"),
            o.idle_rss_kb.map_or("", |k| pass(mb(k) < TARGET_IDLE_RSS_MB)),
        );
        row(
            &mut s,
            &format!("throughput, {} conns, {} s", a.connections, a.duration),
            rate(o.rate()),
            peer_col(&|p| rate(p.rate())),
            &format!(">= {}/s", thousands(TARGET_DELIVERIES_PER_S)),
            o.rate().map_or("", |r| pass(r >= TARGET_DELIVERIES_PER_S)),
        );
        let counts = |x: &Side| {
            x.throughput
                .as_ref()
                .map_or("-".to_owned(), |t| format!("{} / {} / {}", t.non_2xx_total(), t.duplicates, t.errors))
        };
        row(&mut s, "  non-2xx / duplicate / errors", counts(o), peer_col(&|p| counts(p)), "", "");
        let lat = |l: Option<LatencySummary>, f: fn(&LatencySummary) -> f64| ms(l.as_ref().map(f));
        row(
            &mut s,
            "  latency p50 (closed loop)",
            lat(o.throughput_lat, |l| l.p50_ms),
            peer_col(&|p| lat(p.throughput_lat, |l| l.p50_ms)),
            "",
            "",
        );
        row(
            &mut s,
            "  latency p99 (closed loop)",
            lat(o.throughput_lat, |l| l.p99_ms),
            peer_col(&|p| lat(p.throughput_lat, |l| l.p99_ms)),
            "",
            "",
        );

        let fixed_rate = |x: &Side| rate(x.fixed.as_ref().map(PhaseStats::ok_per_sec));
        row(
            &mut s,
            &format!("fixed rate {}/s, achieved", thousands(a.rate)),
            fixed_rate(o),
            peer_col(&|p| fixed_rate(p)),
            "",
            "",
        );
        let fcounts = |x: &Side| {
            x.fixed.as_ref().map_or("-".to_owned(), |t| {
                format!("{} / {} / {} / {}", t.non_2xx_total(), t.duplicates, t.errors, t.abandoned)
            })
        };
        row(&mut s, "  non-2xx / dup / errors / unsent", fcounts(o), peer_col(&|p| fcounts(p)), "", "");
        row(
            &mut s,
            "  latency p50",
            lat(o.fixed_lat, |l| l.p50_ms),
            peer_col(&|p| lat(p.fixed_lat, |l| l.p50_ms)),
            "",
            "",
        );
        let rate_matches = (a.rate - TARGET_P99_RATE).abs() < f64::EPSILON;
        row(
            &mut s,
            "  latency p99",
            lat(o.fixed_lat, |l| l.p99_ms),
            peer_col(&|p| lat(p.fixed_lat, |l| l.p99_ms)),
            &format!("< {TARGET_P99_MS} ms @2k/s"),
            match (o.fixed_lat, rate_matches) {
                (Some(l), true) => pass(l.p99_ms < TARGET_P99_MS && o.fixed_ok(a.rate)),
                (Some(_), false) => "n/a (rate)",
                _ => "",
            },
        );
        row(
            &mut s,
            "  latency p99.9",
            lat(o.fixed_lat, |l| l.p999_ms),
            peer_col(&|p| lat(p.fixed_lat, |l| l.p999_ms)),
            "",
            "",
        );
        row(
            &mut s,
            "  latency max",
            lat(o.fixed_lat, |l| l.max_ms),
            peer_col(&|p| lat(p.fixed_lat, |l| l.max_ms)),
            "",
            "",
        );
        row(
            &mut s,
            "RSS after load (peak)",
            opt(o.rss_after_kb.map(|k| format!("{:.1} MB ({:.0})", mb(k), o.peak_rss_kb.map_or(0.0, mb)))),
            peer_col(&|p| rss(p.rss_after_kb)),
            "",
            "",
        );
        let verified = o.verified.as_ref().map_or("-".to_owned(), |(ok, n, _)| format!("{ok}/{n}"));
        row(
            &mut s,
            "acked deliveries read back (200)",
            verified,
            "n/a".into(),
            "all",
            match &o.verified {
                Some((ok, n, _)) => pass(ok == n),
                None => "",
            },
        );
        push_line!(s, "");
        if let Some(p) = p {
            if let (Some(x), Some(y)) = (o.rate(), p.rate()) {
                if y > 0.0 {
                    push_line!(s, "aetherveil / python peer: {:.2}× the deliveries per second", x / y);
                }
            }
            if let (Some(x), Some(y)) = (o.fixed_lat, p.fixed_lat) {
                if x.p99_ms > 0.0 {
                    push_line!(
                        s,
                        "python peer p99 at {}/s is {:.2}× ours ({:.2} ms vs {:.2} ms)",
                        thousands(a.rate),
                        y.p99_ms / x.p99_ms,
                        y.p99_ms,
                        x.p99_ms
                    );
                }
            }
            let durable = match a.intake {
                Intake::Log => "appends every delivery to its ingest log before answering",
                Intake::Inline | Intake::Queued => "commits every delivery to SQLite before answering",
            };
            push_line!(s, "(the peer verifies and parses only; aetherveil also deduplicates and {durable})");
        } else if let Some(note) = self.peer_note {
            push_line!(s, "python peer: {note}");
        }
        for (who, side) in [("aetherveil", Some(o)), ("python peer", p)] {
            let Some(side) = side else { continue };
            if let Some(c) = &side.throughput_cpu {
                push_line!(s, "{who}, CPU during throughput: {}", c.describe());
            }
            if let Some(d) = side.drain {
                push_line!(
                    s,
                    "{who}, consumers: {} events behind when the throughput phase ended, {} in {:.1} s",
                    d.backlog,
                    if d.drained { "caught up" } else { "still NOT caught up" },
                    d.seconds
                );
            }
            if let Some(c) = &side.fixed_cpu {
                push_line!(s, "{who}, CPU at {}/s: {}", thousands(a.rate), c.describe());
            }
            for phase in [&side.throughput, &side.fixed].into_iter().flatten() {
                if let Some(e) = &phase.first_error {
                    push_line!(s, "{who}: first transport error: {e}");
                }
            }
        }
        s
    }
}
