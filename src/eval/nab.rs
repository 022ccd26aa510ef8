//! `aetherveil eval nab --data <NAB folder> [--json]`: the Numenta Anomaly Benchmark.
//!
//! Runs the monitor's streaming detector ([`aetherveil_monitor::detector`]) over every data file
//! present, one fresh detector per file with the same global configuration, and scores its output
//! with our re-implementation of NAB's scorer ([`scorer`]): threshold optimised over the whole
//! corpus per profile, raw scores normalised between the null detector (0) and the perfect one
//! (100). Only the data groups present in the folder are scored, so the figures are comparable with
//! the published detectors *rescored on the same files* (printed alongside), not directly with the
//! published full-corpus board.
//!
//! The scorer is checked against NAB's published output: the numenta detector's per-row anomaly
//! scores, scored at its published thresholds, reproduce its published per-file raw scores (see the
//! tests in [`tests`](self) and the `scorer check` line of the report).

pub mod corpus;
pub mod evaluate;
pub mod reproduce;
pub mod scorer;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Instant;

use aetherveil_monitor::detector::{Detector, DetectorConfig};
use anyhow::Context;
use serde_json::{Map, Value, json};

use corpus::Corpus;
use evaluate::ProfileResult;

#[derive(Debug, clap::Args)]
pub struct NabArgs {
    /// The NAB folder (data/, labels/, config/, results/).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: NabArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run_blocking(&args)).await.context("the NAB evaluation panicked")?
}

/// The detector's output for every series, and the time spent in `update` (summed over threads).
pub fn run_detector(corpus: &Corpus, config: &DetectorConfig) -> (Vec<Vec<f64>>, f64) {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(corpus.series.len()).max(1);
    let mut outputs: Vec<(Vec<f64>, f64)> = vec![(Vec::new(), 0.0); corpus.series.len()];
    std::thread::scope(|scope| {
        for (t, chunk) in outputs.chunks_mut(corpus.series.len().div_ceil(threads)).enumerate() {
            let first = t * corpus.series.len().div_ceil(threads);
            scope.spawn(move || {
                for (k, slot) in chunk.iter_mut().enumerate() {
                    let series = &corpus.series[first + k];
                    let start = Instant::now();
                    let mut detector = Detector::new(config.clone());
                    let scores: Vec<f64> =
                        series.timestamps.iter().zip(&series.values).map(|(ts, v)| detector.update(*ts, *v)).collect();
                    *slot = (scores, start.elapsed().as_secs_f64());
                }
            });
        }
    });
    let seconds = outputs.iter().map(|o| o.1).sum();
    (outputs.into_iter().map(|o| o.0).collect(), seconds)
}

fn run_blocking(args: &NabArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let corpus = Corpus::load(&args.data)?;
    let rows: usize = corpus.series.iter().map(|s| s.values.len()).sum();
    eprintln!(
        "nab: {} files, {} rows, {} windows in {} groups from {}",
        corpus.series.len(),
        rows,
        corpus.window_count(),
        corpus.groups().len(),
        corpus.root.display()
    );
    for name in &corpus.unlabelled {
        eprintln!("nab: {name} has no entry in labels/combined_windows.json, not scored");
    }
    eprintln!("nab: running the detector");
    let config = DetectorConfig::default();
    let (scores, detector_seconds) = run_detector(&corpus, &config);
    eprintln!("nab: scoring (threshold optimised per profile over the files present)");
    let results = evaluate::evaluate(&corpus, &scores);

    if args.json {
        println!("{}", serde_json::to_string(&json_report(&corpus, &results))?);
        return Ok(());
    }

    let references = references(&corpus);
    eprintln!("nab: checking the scorer against numenta's published output");
    let check = reproduce::check_published(&corpus, "numenta");
    print_report(&corpus, &results, &references, check.ok().map(|c| c.0).as_deref());
    println!(
        "\ndetector: {rows} updates in {detector_seconds:.3} s of detector time ({:.1} M updates/s per core); whole run {:.2} s",
        rows as f64 / detector_seconds.max(1e-9) / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `{"eval": "nab", "summary": {<profile>: normalised}, "groups": {<data file>: {...}}}`.
fn json_report(corpus: &Corpus, results: &[ProfileResult]) -> Value {
    let summary: Map<String, Value> = results.iter().map(|r| (r.profile.clone(), json!(r.normalised))).collect();
    let mut groups = Map::new();
    for (i, series) in corpus.series.iter().enumerate() {
        let mut metrics = Map::new();
        metrics.insert("windows".into(), json!(series.windows.len()));
        metrics.insert("rows".into(), json!(series.values.len()));
        for r in results {
            let file = &r.files[i];
            metrics.insert(r.profile.clone(), json!(file.score));
            metrics.insert(format!("{}.detected_windows", r.profile), json!(file.detected_windows));
            metrics.insert(format!("{}.false_positive_rows", r.profile), json!(file.fp));
        }
        groups.insert(series.name.clone(), Value::Object(metrics));
    }
    json!({"eval": "nab", "summary": summary, "groups": groups})
}

/// Published comparison rows: (label, detector, profile → normalised score).
struct References {
    full_corpus: BTreeMap<String, BTreeMap<String, f64>>,
    on_files_present: BTreeMap<String, BTreeMap<String, f64>>,
}

fn references(corpus: &Corpus) -> References {
    let full_corpus = corpus::read_final_results(&corpus.root).unwrap_or_default();
    let mut on_files_present = BTreeMap::new();
    let detectors: Vec<String> = std::fs::read_dir(corpus.root.join("results"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for detector in detectors {
        let scores = reproduce::published_on_subset(corpus, &detector);
        if !scores.is_empty() {
            on_files_present.insert(detector, scores);
        }
    }
    References { full_corpus, on_files_present }
}

fn profile_cells(profiles: &[String], scores: &BTreeMap<String, f64>) -> String {
    profiles.iter().map(|p| scores.get(p).map_or(format!("{:>20}", "-"), |s| format!("{s:>20.2}"))).collect()
}

fn print_report(
    corpus: &Corpus,
    results: &[ProfileResult],
    references: &References,
    check: Option<&[reproduce::ProfileCheck]>,
) {
    let profiles: Vec<String> = results.iter().map(|r| r.profile.clone()).collect();
    let groups = corpus.groups();
    println!("NAB: the aetherveil streaming detector, scored with our NAB scorer");
    println!(
        "{} data files in {} groups ({}), {} windows",
        corpus.series.len(),
        groups.len(),
        groups.join(", "),
        corpus.window_count()
    );
    if corpus.missing_groups.is_empty() {
        println!("every group named in the labels is present");
    } else {
        println!(
            "only the groups present are scored; missing here: {} (compare with the published detectors rescored on the same files, below)",
            corpus.missing_groups.join(", ")
        );
    }

    println!("\n{:<22}{:>12}{:>12}{:>12}", "profile", "threshold", "raw score", "NAB score");
    for r in results {
        println!("{:<22}{:>12.6}{:>12.3}{:>12.2}", r.profile, r.optimum.threshold, r.optimum.score, r.normalised);
    }

    println!(
        "\nper group (normalised within the group at the corpus-wide threshold; a group without windows shows its raw score):"
    );
    println!(
        "{:<26}{:>6}{:>8}{}",
        "group",
        "files",
        "windows",
        profiles.iter().map(|p| format!("{p:>20}")).collect::<String>()
    );
    for (g, group) in groups.iter().enumerate() {
        let members: Vec<_> = corpus.series.iter().filter(|s| &s.group == group).collect();
        let windows: usize = members.iter().map(|s| s.windows.len()).sum();
        let cells: String = results.iter().map(|r| format!("{:>20.2}", r.groups[g].1)).collect();
        println!("{group:<26}{:>6}{windows:>8}{cells}", members.len());
    }

    let header = format!("{:<22}{}", "detector", profiles.iter().map(|p| format!("{p:>20}")).collect::<String>());
    println!("\nus, on the files present:");
    println!("{header}");
    let ours: BTreeMap<String, f64> = results.iter().map(|r| (r.profile.clone(), r.normalised)).collect();
    println!("{:<22}{}", "aetherveil", profile_cells(&profiles, &ours));
    if !references.on_files_present.is_empty() {
        println!(
            "\npublished detectors rescored on the same files (their published per-file raw scores, full-corpus thresholds):"
        );
        println!("{header}");
        let mut rows: Vec<_> = references.on_files_present.iter().collect();
        rows.sort_by(|a, b| b.1.get("standard").unwrap_or(&0.0).total_cmp(a.1.get("standard").unwrap_or(&0.0)));
        for (detector, scores) in rows {
            println!("{detector:<22}{}", profile_cells(&profiles, scores));
        }
    }
    if !references.full_corpus.is_empty() {
        println!("\npublished board (results/final_results.json, full corpus of every group; for context only):");
        println!("{header}");
        let mut rows: Vec<_> = references.full_corpus.iter().collect();
        rows.sort_by(|a, b| b.1.get("standard").unwrap_or(&0.0).total_cmp(a.1.get("standard").unwrap_or(&0.0)));
        for (detector, scores) in rows {
            println!("{detector:<22}{}", profile_cells(&profiles, scores));
        }
    }
    if let Some(checks) = check {
        println!("\nscorer check: numenta's published per-row scores at its published thresholds, through our scorer:");
        for c in checks {
            let worst = c.worst();
            println!(
                "{:<22} total {:.6} vs published {:.6}; worst file {} ({:.2e} relative); normalised on these files {:.2}",
                c.profile,
                c.ours_total,
                c.published_total,
                worst.map_or("-", |w| w.file.as_str()),
                worst.map_or(0.0, |w| w.relative_deviation()),
                c.ours_normalised
            );
        }
    }
}
