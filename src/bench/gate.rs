//! `aetherveil bench gate`: the time to gate the largest Trivy report of a folder (by default
//! `../shared/datasets/trivy/reports`): read the bytes into the typed report, normalise the
//! findings, evaluate a policy that uses every feature (severities, only-fixable, min CVSS, max
//! counts, ignore rules one of which has expired, a 1,500-id known-exploited list, a baseline),
//! score and rank the risks, and render the Markdown summary. Then every report of the folder
//! once, for the total.

use std::path::PathBuf;
use std::time::Instant;

use aetherveil_gate::render::markdown;
use aetherveil_gate::{Baseline, Findings, Policy, evaluate};
use anyhow::{Context, bail};
use serde_json::json;

use super::stats::{median, percentile};

/// The issue's target for the largest report.
const TARGET_MS: f64 = 20.0;
const MIN_SECONDS: f64 = 1.0;
const MIN_ITERATIONS: usize = 50;

#[derive(Debug, clap::Args)]
pub struct GateBenchArgs {
    /// A folder of Trivy reports (`*.json*`); the largest one that parses is measured.
    #[arg(long, default_value = "../shared/datasets/trivy/reports")]
    pub data: PathBuf,
    /// Iterations (default: as many as it takes to measure at least one second, at least 50).
    #[arg(long)]
    pub repeat: Option<usize>,
    /// Print one JSON object on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
}

/// The policy the bench evaluates: every feature switched on.
fn bench_policy() -> anyhow::Result<Policy> {
    let mut kev: Vec<String> = (0..1500).map(|i| format!("CVE-2099-{i:05}")).collect();
    kev.push("CVE-2019-1549".into());
    let text = format!(
        r#"version: 1
name: bench
fail_on:
  severities: [CRITICAL, HIGH]
  only_fixable: true
  min_cvss: 4.0
max_counts:
  MEDIUM: 10
  LOW: 50
ignore:
  - id: CVE-2019-1551
    reason: bench rule in force
    expires: 2999-12-31
  - package: "lib*"
    path: "**/usr/lib/**"
    reason: bench pattern rule
    expires: 2999-12-31
  - id: CVE-2019-1563
    reason: bench rule that has expired
    expires: 2000-01-01
scope:
  exclude_targets: ["**/testdata/**/node_modules/**"]
known_exploited:
  ids: [{}]
"#,
        kev.join(", ")
    );
    Ok(Policy::parse(&text, "bench policy", "bench", None)?)
}

/// Runs `aetherveil bench gate`.
pub fn gate(args: GateBenchArgs) -> anyhow::Result<()> {
    let debug_build = cfg!(debug_assertions);
    if debug_build {
        eprintln!("bench gate: WARNING: a debug build; the figures are meaningless (use --release)");
    }
    let mut reports = Vec::new();
    for entry in std::fs::read_dir(&args.data).with_context(|| format!("reading {}", args.data.display()))? {
        let path = entry?.path();
        if path.to_string_lossy().contains(".json") {
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            if aetherveil_reports::parse(&bytes).is_ok() {
                reports.push((path, bytes));
            }
        }
    }
    reports.sort_by_key(|(_, b)| std::cmp::Reverse(b.len()));
    let Some((largest, bytes)) = reports.first() else {
        bail!("no Trivy or SARIF report parses in {}", args.data.display());
    };
    let policy = bench_policy()?;
    // The baseline: the same report without its first half of findings, so half are new.
    let full = Findings::from_report(&aetherveil_reports::parse(bytes)?);
    let mut older = full.clone();
    older.findings = full.findings[full.findings.len() / 2..].to_vec();
    let baseline = Baseline::from_findings(&older);
    let now = chrono::Utc::now();

    let (mut total_ms, mut parse_ms, mut evaluate_ms, mut render_ms) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let started = Instant::now();
    let mut verdict;
    loop {
        let t0 = Instant::now();
        let report = aetherveil_reports::parse(std::hint::black_box(bytes))?;
        let findings = Findings::from_report(&report);
        let t1 = Instant::now();
        let v = evaluate(&findings, &policy, Some(&baseline), now);
        let t2 = Instant::now();
        let md = markdown(&v);
        let t3 = Instant::now();
        std::hint::black_box(md);
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        total_ms.push(ms(t0, t3));
        parse_ms.push(ms(t0, t1));
        evaluate_ms.push(ms(t1, t2));
        render_ms.push(ms(t2, t3));
        verdict = v;
        let done = match args.repeat {
            Some(n) => total_ms.len() >= n.max(1),
            None => started.elapsed().as_secs_f64() >= MIN_SECONDS && total_ms.len() >= MIN_ITERATIONS,
        };
        if done {
            break;
        }
    }
    let mut sorted = total_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let med = median(&total_ms).unwrap_or(f64::NAN);
    let p99 = percentile(&sorted, 0.99).unwrap_or(f64::NAN);
    let max = sorted.last().copied().unwrap_or(f64::NAN);

    let all_started = Instant::now();
    let mut all_findings = 0;
    for (_, b) in &reports {
        let f = Findings::from_report(&aetherveil_reports::parse(b)?);
        all_findings += f.findings.len();
        std::hint::black_box(markdown(&evaluate(&f, &policy, None, now)));
    }
    let all_ms = all_started.elapsed().as_secs_f64() * 1e3;

    let name = largest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if args.json {
        println!(
            "{}",
            json!({
                "bench": "gate",
                "build": if debug_build { "debug" } else { "release" },
                "largest_report": name,
                "bytes": bytes.len(),
                "findings": full.findings.len(),
                "iterations": total_ms.len(),
                "median_ms": med,
                "p99_ms": p99,
                "max_ms": max,
                "median_parse_ms": median(&parse_ms),
                "median_evaluate_ms": median(&evaluate_ms),
                "median_render_ms": median(&render_ms),
                "passed": verdict.passed,
                "reports": reports.len(),
                "all_reports_ms": all_ms,
                "all_findings": all_findings,
                "target_ms": TARGET_MS,
                "pass": med < TARGET_MS,
            })
        );
        return Ok(());
    }
    println!(
        "aetherveil bench gate ({} build, one thread): {name}, {} bytes, {} findings, {} iterations",
        if debug_build { "debug" } else { "release" },
        bytes.len(),
        full.findings.len(),
        total_ms.len()
    );
    println!(
        "gate the largest report: median {med:.3} ms, p99 {p99:.3} ms, max {max:.3} ms; target < {TARGET_MS} ms: {}",
        if med < TARGET_MS { "pass" } else { "FAIL" }
    );
    println!(
        "  parse + normalise {:.3} ms, evaluate + risk {:.3} ms, Markdown {:.3} ms (medians)",
        median(&parse_ms).unwrap_or(f64::NAN),
        median(&evaluate_ms).unwrap_or(f64::NAN),
        median(&render_ms).unwrap_or(f64::NAN)
    );
    println!(
        "  verdict: {} ({} failing, {} in the baseline)",
        if verdict.passed { "pass" } else { "fail" },
        verdict.counts.failing.total(),
        verdict.counts.baseline
    );
    println!("all {} reports of the folder, once each: {all_ms:.2} ms ({all_findings} findings)", reports.len());
    Ok(())
}
