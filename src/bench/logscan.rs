//! `aetherveil bench logscan`: the logscan function's whole analysis of one large GitHub-format
//! job log (read, classify, explain, diff against a passing run), streamed from a file, with the
//! throughput and the process's peak RSS (VmHWM).
//!
//! The logs are generated into temporary files first: "Set up job", a `Run cargo test` step whose
//! output is compiler progress, test lines with varying numbers and ANSI colours, and in the
//! failing log one failing test near the end, then the failing exit marker. The passing log (a
//! tenth of the size) is learned as the job's passing profile, as logscan does.

use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use aetherveil_logparse::diff::PassingProfile;
use aetherveil_logparse::reader::JobLogReader;
use aetherveil_logscan::analyze::analyze;
use aetherveil_logscan::classify::{Classifier, JobContext};
use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct LogscanBenchArgs {
    /// Size of the generated failing log, in MB.
    #[arg(long, default_value_t = 100)]
    pub mb: u64,
}

/// Writes about `bytes` of a GitHub-format job log, failing or not; returns the number of lines.
fn generate(out: &mut impl Write, bytes: u64, failing: bool) -> std::io::Result<u64> {
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
    if failing {
        line(out, "---- parser::tests::empty stdout ----", &mut written)?;
        line(out, "thread 'parser::tests::empty' panicked at src/parser.rs:10:5:", &mut written)?;
        line(out, "assertion `left == right` failed", &mut written)?;
        line(out, "test result: FAILED. 1041 passed; 1 failed", &mut written)?;
        line(out, "##[error]Process completed with exit code 101.", &mut written)?;
    } else {
        line(out, "test result: ok. 1042 passed; 0 failed", &mut written)?;
    }
    Ok(lines)
}

fn write_log(path: &std::path::Path, bytes: u64, failing: bool) -> anyhow::Result<u64> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let lines = generate(&mut out, bytes, failing)?;
    out.flush()?;
    Ok(lines)
}

pub fn logscan(args: LogscanBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let (failed, passing) = (dir.path().join("failed.log"), dir.path().join("passing.log"));
    let lines = write_log(&failed, args.mb * 1_000_000, true)?;
    write_log(&passing, args.mb * 100_000, false)?;
    let size = std::fs::metadata(&failed)?.len();
    eprintln!("logscan: generated a {:.1} MB failing log ({lines} lines) and a passing one", size as f64 / 1e6);

    let started = Instant::now();
    let mut profile = PassingProfile::new();
    profile.learn(JobLogReader::new(BufReader::new(std::fs::File::open(&passing)?)).map_while(Result::ok));
    let learned = started.elapsed().as_secs_f64();
    let before = super::process::own_status_kb("VmHWM:");

    let started = Instant::now();
    let ctx = JobContext {
        job_name: "test".into(),
        conclusion: Some("failure".into()),
        runner_labels: vec!["ubuntu-latest".into()],
        failed_step: Some("Run cargo test --workspace".into()),
    };
    let classifier = Classifier::new(None);
    let analysis = analyze(std::fs::File::open(&failed)?, &ctx, &classifier, Some(&profile), 12)?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = super::process::own_status_kb("VmHWM:");

    if cfg!(debug_assertions) {
        println!("!!! DEBUG BUILD: use `cargo run --release -- bench logscan` for meaningful figures !!!");
    }
    println!(
        "logscan analysis of a {:.1} MB GitHub-format job log ({} lines), streamed from a file:",
        size as f64 / 1e6,
        analysis.stats.lines
    );
    println!(
        "  read + classify + explain + diff: {seconds:.2} s, {:.1} MB/s, {:.2} M lines/s",
        size as f64 / 1e6 / seconds,
        analysis.stats.lines as f64 / 1e6 / seconds
    );
    println!("  (passing profile of a {:.1} MB log learned first in {learned:.2} s)", size as f64 / 1e7);
    let kb = |k: Option<u64>| k.map_or_else(|| "-".to_owned(), |k| format!("{:.1} MB", k as f64 / 1024.0));
    println!("  peak RSS (VmHWM): {} before the analysis, {} after", kb(before), kb(peak));
    let c = &analysis.classification;
    println!(
        "  diagnosis: {} ({:.2}), {} evidence lines, {} new lines vs the passing run",
        c.cause,
        c.confidence,
        analysis.lines.len(),
        analysis.stats.new_lines
    );
    for l in &analysis.lines {
        println!("    {:>8} | {}", l.line, l.text);
    }
    Ok(())
}
