//! `aetherveil bench mining`: log lines per second through the template miner's insert path, on one
//! thread, and the process's peak RSS.
//!
//! The input is the `Content` column of every Loghub-2k system (`--data`, the first ground-truth
//! variant present), or one message per line of a file (`--input`), which `scripts/bench-mining.sh`
//! writes with `--write-input` so that Drain3 reads exactly the same lines. Each pass feeds every
//! line to a fresh [`Miner`] with the default configuration (one miner for all systems, as Drain3
//! gets), so every pass learns its templates from scratch; passes repeat until at least a second
//! has been measured.

use std::path::PathBuf;
use std::time::Instant;

use aetherveil_logparse::{Miner, MinerConfig};
use anyhow::{Context, bail};
use serde_json::json;

use super::stats::thousands;
use crate::eval::loghub::dataset;

/// Throughput target of the issue, on one core.
const TARGET_PER_SEC: f64 = 1_000_000.0;
/// Minimum measured time when `--repeat` is not given.
const MIN_SECONDS: f64 = 1.0;

#[derive(Debug, clap::Args)]
pub struct MiningBenchArgs {
    /// A Loghub-2k folder: the `Content` of every structured CSV of its first variant is the input.
    #[arg(long, required_unless_present = "input")]
    pub data: Option<PathBuf>,
    /// A file with one log message per line (instead of --data).
    #[arg(long, conflicts_with = "data")]
    pub input: Option<PathBuf>,
    /// Write the input lines to this file and exit (so a peer can be fed the same lines).
    #[arg(long, value_name = "FILE")]
    pub write_input: Option<PathBuf>,
    /// Passes over the input (default: as many as it takes to measure at least one second).
    #[arg(long)]
    pub repeat: Option<usize>,
    /// Print one JSON object on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
}

/// The `Content` of every system of the first variant under `root`, one message per line (line
/// breaks inside a message become spaces).
fn loghub_lines(root: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let variants = dataset::load(root)?;
    let (variant, logs) = variants.into_iter().next().context("no variant")?;
    eprintln!(
        "bench mining: {variant}: {}",
        logs.iter().map(|l| format!("{} {}", l.system, l.rows.len())).collect::<Vec<_>>().join(", ")
    );
    Ok(logs.into_iter().flat_map(|l| l.rows).map(|r| r.content.replace(['\r', '\n'], " ")).collect())
}

/// Runs `aetherveil bench mining`.
pub fn mining(args: MiningBenchArgs) -> anyhow::Result<()> {
    let lines = match (&args.input, &args.data) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            text.lines().map(str::to_owned).collect()
        }
        (None, Some(root)) => loghub_lines(root)?,
        (None, None) => bail!("give --data or --input"),
    };
    if lines.is_empty() {
        bail!("no input lines");
    }
    if let Some(out) = &args.write_input {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("bench mining: wrote {} lines to {}", lines.len(), out.display());
        return Ok(());
    }
    let debug_build = cfg!(debug_assertions);
    if debug_build {
        eprintln!("bench mining: WARNING: a debug build; the figures are meaningless (use --release)");
    }

    let mut passes = 0usize;
    let mut seconds = 0.0;
    let mut first_pass = 0.0;
    let mut templates;
    loop {
        let mut miner = Miner::new(MinerConfig::default());
        let started = Instant::now();
        for line in &lines {
            std::hint::black_box(miner.insert(line));
        }
        let took = started.elapsed().as_secs_f64();
        if passes == 0 {
            first_pass = took;
        }
        seconds += took;
        passes += 1;
        templates = miner.len();
        let done = match args.repeat {
            Some(n) => passes >= n.max(1),
            None => seconds >= MIN_SECONDS,
        };
        if done {
            break;
        }
    }
    let total = lines.len() * passes;
    let per_sec = total as f64 / seconds.max(1e-12);
    let first_per_sec = lines.len() as f64 / f64::max(first_pass, 1e-12);
    let rss = super::process::own_status_kb("VmHWM:");
    if args.json {
        let report = json!({
            "bench": "mining",
            "build": if debug_build { "debug" } else { "release" },
            "lines": lines.len(),
            "passes": passes,
            "templates": templates,
            "seconds": seconds,
            "lines_per_s": per_sec,
            "first_pass_lines_per_s": first_per_sec,
            "peak_rss_kb": rss,
            "target_lines_per_s": TARGET_PER_SEC,
            "pass": per_sec >= TARGET_PER_SEC,
        });
        println!("{report}");
        return Ok(());
    }
    println!(
        "aetherveil bench mining ({} build, one thread): {} lines × {passes} passes, a fresh miner per pass",
        if debug_build { "debug" } else { "release" },
        thousands(lines.len() as f64)
    );
    println!("templates per pass: {templates}");
    println!(
        "throughput: {} lines/s over {seconds:.2} s (first pass {} lines/s); target >= {} lines/s: {}",
        thousands(per_sec),
        thousands(first_per_sec),
        thousands(TARGET_PER_SEC),
        if per_sec >= TARGET_PER_SEC { "pass" } else { "FAIL" }
    );
    if let Some(kb) = rss {
        println!("peak RSS: {:.1} MB (the whole process, input included)", kb as f64 / 1024.0);
    }
    Ok(())
}
