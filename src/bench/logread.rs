//! `aetherveil bench logread`: reading and explaining one large GitHub-format job log, streamed
//! from a file, with the throughput and the process's peak RSS (VmHWM).
//!
//! The log is generated into a temporary file first: "Set up job", a `Run cargo test` step whose
//! output is compiler progress, test lines with varying numbers and ANSI colours, and one failing
//! test near the end, then the failing exit marker.

use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use aetherveil_logparse::explain::Explainer;
use aetherveil_logparse::reader::{JobLogReader, ReaderConfig};
use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct LogreadBenchArgs {
    /// Size of the generated log, in MB.
    #[arg(long, default_value_t = 100)]
    pub mb: u64,
}

/// Writes about `bytes` of a failing GitHub-format job log; returns the number of lines.
fn generate(out: &mut impl Write, bytes: u64) -> std::io::Result<u64> {
    let mut written = 0u64;
    let mut lines = 0u64;
    let mut line = |out: &mut dyn Write, text: &str, written: &mut u64| -> std::io::Result<()> {
        let s = format!(
            "2026-01-01T00:{:02}:{:02}.{:07}Z {text}\n",
            (lines / 60_000) % 60,
            (lines / 1000) % 60,
            lines % 10_000_000
        );
        out.write_all(s.as_bytes())?;
        *written += s.len() as u64;
        lines += 1;
        Ok(())
    };
    line(out, "Requested labels: ubuntu-latest", &mut written)?;
    line(out, "##[group]Run cargo test --workspace", &mut written)?;
    line(out, "\u{1b}[36;1mcargo test --workspace\u{1b}[0m", &mut written)?;
    line(out, "##[endgroup]", &mut written)?;
    let mut i = 0u64;
    while written < bytes.saturating_sub(2_000) {
        let text = match i % 4 {
            0 => format!("\u{1b}[1m\u{1b}[32m   Compiling\u{1b}[0m crate-{} v0.{}.{}", i % 997, i % 13, i % 7),
            1 => format!("test module_{}::case_{} ... \u{1b}[32mok\u{1b}[0m", i % 311, i),
            2 => format!("running {} tests in {:.2}s", i % 50, (i % 1000) as f64 / 100.0),
            _ => format!("[{:>3}%] Building object obj/{:08x}.o", i % 101, i.wrapping_mul(2_654_435_761)),
        };
        line(out, &text, &mut written)?;
        i += 1;
    }
    line(out, "---- parser::tests::empty stdout ----", &mut written)?;
    line(out, "thread 'parser::tests::empty' panicked at src/parser.rs:10:5:", &mut written)?;
    line(out, "assertion `left == right` failed", &mut written)?;
    line(out, "test result: FAILED. 1041 passed; 1 failed", &mut written)?;
    line(out, "##[error]Process completed with exit code 101.", &mut written)?;
    Ok(lines)
}

/// The process's peak resident set (VmHWM), in kB, on Linux.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn logread(args: LogreadBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let path = dir.path().join("job.log");
    let target = args.mb * 1_000_000;
    let lines = {
        let mut out = BufWriter::new(std::fs::File::create(&path)?);
        let lines = generate(&mut out, target)?;
        out.flush()?;
        lines
    };
    let size = std::fs::metadata(&path)?.len();
    let before = peak_rss_kb();
    eprintln!("logread: generated {:.1} MB, {lines} lines at {}", size as f64 / 1e6, path.display());

    let started = Instant::now();
    let file = std::fs::File::open(&path)?;
    let mut explainer = Explainer::new();
    let mut read = 0u64;
    for line in JobLogReader::with_config(BufReader::with_capacity(256 * 1024, file), ReaderConfig::default()) {
        explainer.push(&line?);
        read += 1;
    }
    let explanation = explainer.finish();
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss_kb();

    if cfg!(debug_assertions) {
        println!("!!! DEBUG BUILD: use `cargo run --release -- bench logread` for meaningful figures !!!");
    }
    println!(
        "read + explain of a {:.1} MB GitHub-format job log ({read} lines), streamed from a file:",
        size as f64 / 1e6
    );
    println!("  {seconds:.2} s, {:.1} MB/s, {:.2} M lines/s", size as f64 / 1e6 / seconds, read as f64 / 1e6 / seconds);
    let kb = |k: Option<u64>| k.map_or_else(|| "-".to_owned(), |k| format!("{:.1} MB", k as f64 / 1024.0));
    println!("  peak RSS (VmHWM): {} before reading, {} after", kb(before), kb(peak));
    println!(
        "  chunk: {} lines, first: {:?}",
        explanation.lines.len(),
        explanation.lines.first().map(|l| &l.line.text)
    );
    Ok(())
}
