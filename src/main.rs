//! The `aetherveil` binary: wires configuration and logging, then hands over to the library.

use aetherveil::{bench, eval, replay, serve::Host, sim};
use aetherveil_config::{Config, LogFormat, Overrides};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Aetherveil: an autonomous reliability platform for GitHub Actions.
#[derive(Debug, Parser)]
#[command(name = "aetherveil", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// A TOML config file (default: ./aetherveil.toml if present, or $AETHERVEIL_CONFIG).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every function in one process over the embedded store and bus.
    Serve {
        /// Listen address (config: server.addr).
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Data directory holding aetherveil.db (config: server.data_dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
        /// After start-up, post a small signed CI history to the webhook so there is data to look at.
        #[arg(long)]
        demo: bool,
    },
    /// Run one function the way its Cloud Run container does (Functions Framework contract).
    RunFunction {
        /// The function to run.
        #[arg(long, env = "FUNCTION_TARGET")]
        target: String,
        /// The port to listen on, on all interfaces.
        #[arg(long, env = "PORT", default_value_t = 8080)]
        port: u16,
        /// Data directory (config: server.data_dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Sign JSON payloads and post them to a webhook endpoint, as GitHub would.
    Replay(replay::ReplayArgs),
    /// Print the effective configuration (secrets redacted) after every layer is applied.
    Config {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Play a scenario (see docs/scenario.md) against a running platform, as GitHub would, and
    /// report what happened next to what the platform did.
    Sim(sim::SimArgs),
    /// Start the platform in a temporary directory and play the bundled five-repository,
    /// thirty-day scenario against it in about a minute.
    Demo(sim::DemoArgs),
    /// Why did this job fail? Logscan's analysis of a job log (or a run's log zip) on disk.
    Diagnose(aetherveil::diagnose::DiagnoseArgs),
    /// Security gate: a Trivy JSON report or a SARIF log against a policy (docs/gate.md).
    /// Exit code 0: pass; 1: the policy fails; 2: a bad report, baseline or policy.
    Gate {
        #[command(subcommand)]
        what: aetherveil_gate::cli::GateCommand,
    },
    /// Ask the agent council of a running platform for a plan about a run (docs/ado.md).
    Plan(aetherveil_ado::cli::PlanArgs),
    /// Cloud Workflows definitions (workflows/), run locally against a running platform.
    Workflow {
        #[command(subcommand)]
        what: WorkflowCommand,
    },
    /// Evaluate on a public dataset (`../shared/datasets`), printing the metric its papers use.
    Eval {
        #[command(subcommand)]
        what: eval::EvalCommand,
    },
    /// Measure the platform.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum WorkflowCommand {
    /// Run one workflow and print its result.
    Run(aetherveil::workflow_cli::WorkflowRunArgs),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Signed deliveries per second through the real HTTP server, latency, cold start and idle RSS,
    /// side by side with a Python functions-framework handler.
    Webhook(bench::WebhookBenchArgs),
    /// How fast the load generator sends signed webhooks, against a sink that does nothing.
    Loadgen(bench::loadgen::LoadgenBenchArgs),
    /// Pipeline events per second through the monitor's core on one thread, and memory per series.
    Monitor(bench::monitor::MonitorBenchArgs),
    /// Logscan's whole analysis (read, classify, explain, diff) of a generated 100 MB job log: MB/s
    /// and peak RSS.
    Logscan(bench::logscan::LogscanBenchArgs),
    /// Log lines per second through the template miner on one thread (side by side with Drain3 in
    /// scripts/bench-mining.sh).
    Mining(bench::mining::MiningBenchArgs),
    /// Time to gate the largest Trivy report of a folder (parse, policy, risk, Markdown).
    Gate(bench::gate::GateBenchArgs),
    /// Page render times of the web UI (p50/p99) with 100,000 runs in the store.
    Ui(bench::ui::UiBenchArgs),
    /// The do-nothing webhook sink `bench loadgen` measures against.
    #[command(hide = true)]
    Sink(bench::loadgen::SinkArgs),
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Warnings and errors on stderr for the client-side commands (RUST_LOG overrides).
fn init_cli_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn load(config: &ConfigArgs, overrides: Overrides) -> Result<Config, ExitCode> {
    Config::load(config.config.as_deref(), &overrides).map_err(|e| {
        eprintln!("aetherveil: configuration error: {e}");
        ExitCode::from(2)
    })
}

/// glibc's allocator spends a tenth of the webhook path's CPU in malloc and free under many
/// threads; mimalloc's per-thread heaps avoid most of it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Blocking threads (store reads) that have been idle half a second exit: each one kept holds
    // its stack and its allocator pages.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_keep_alive(std::time::Duration::from_millis(500))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aetherveil: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { addr, data_dir, config, demo } => {
                let config = match load(&config, Overrides { addr, data_dir }) {
                    Ok(c) => c,
                    Err(code) => return Ok(code),
                };
                init_logging(&config);
                Host::connect(config, "serve").await?.serve(demo).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::RunFunction { target, port, data_dir, config } => {
                let config = match load(&config, Overrides { addr: None, data_dir }) {
                    Ok(c) => c,
                    Err(code) => return Ok(code),
                };
                init_logging(&config);
                Host::connect(config, &target).await?.serve_function(&target, port).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Replay(args) => replay::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Config { config } => {
                let mut config = match load(&config, Overrides::default()) {
                    Ok(c) => c,
                    Err(code) => return Ok(code),
                };
                if !config.webhook.secret.is_empty() {
                    config.webhook.secret = "<redacted>".into();
                }
                if !config.github.token.is_empty() {
                    config.github.token = "<redacted>".into();
                }
                if !config.github.app_private_key.is_empty() {
                    config.github.app_private_key = "<redacted>".into();
                }
                if !config.llm.api_key.is_empty() {
                    config.llm.api_key = "<redacted>".into();
                }
                print!("{}", toml::to_string_pretty(&config)?);
                Ok(ExitCode::SUCCESS)
            }
            Command::Diagnose(args) => {
                init_cli_logging();
                aetherveil::diagnose::run(&args).map(|ok| if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }
            Command::Plan(args) => {
                init_cli_logging();
                let ok = aetherveil_ado::cli::run(&args).await?;
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }
            Command::Workflow { what: WorkflowCommand::Run(args) } => {
                init_cli_logging();
                let ok = aetherveil::workflow_cli::run(&args).await?;
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }
            Command::Gate { what } => Ok(ExitCode::from(aetherveil_gate::cli::run(&what))),
            Command::Eval { what } => {
                init_cli_logging();
                eval::run(what).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Sim(args) => {
                init_cli_logging();
                sim::sim(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Demo(args) => {
                init_cli_logging();
                sim::demo(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Bench { what: BenchCommand::Loadgen(args) } => {
                bench::loadgen::loadgen(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Bench { what: BenchCommand::Monitor(args) } => {
                bench::monitor::monitor(args).map(|()| ExitCode::SUCCESS)
            }
            Command::Bench { what: BenchCommand::Mining(args) } => {
                bench::mining::mining(args).map(|()| ExitCode::SUCCESS)
            }
            Command::Bench { what: BenchCommand::Logscan(args) } => {
                bench::logscan::logscan(args).map(|()| ExitCode::SUCCESS)
            }
            Command::Bench { what: BenchCommand::Gate(args) } => bench::gate::gate(args).map(|()| ExitCode::SUCCESS),
            Command::Bench { what: BenchCommand::Ui(args) } => bench::ui::ui(args).await.map(|()| ExitCode::SUCCESS),
            Command::Bench { what: BenchCommand::Sink(args) } => {
                bench::loadgen::sink(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Bench { what: BenchCommand::Webhook(args) } => {
                bench::webhook(args).await.map(|()| ExitCode::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aetherveil: {e:#}");
            ExitCode::FAILURE
        }
    }
}
