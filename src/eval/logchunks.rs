//! `aetherveil eval logchunks --data <folder> [--json]`: LogChunks (Brandt et al., MSR 2020), the
//! chunk of a failed build log that explains the failure, scored as in Brandt et al.'s comparative
//! study: line-level precision, recall and F1 of the retrieved lines against the labelled chunk.
//!
//! How the labelled `Output` becomes line numbers. Logs are read with
//! [`CarriageReturn::LineBreak`] (a lone `\r` ends a line, as in the labelling tool, which showed
//! `\r`-rewritten Travis lines as separate lines), ANSI escapes removed. The `Output` text is split
//! the same way, escapes removed, each line trimmed, and blank lines dropped. It is then located in
//! the log's non-blank lines (trimmed): its first line must be the end of a log line (labellers
//! often started a selection mid-line), its last line the start of one, and the lines between must
//! be equal. If that fails, escape remnants that lost their ESC byte (`[31m`) are removed from both
//! sides and the search is repeated. A chunk that still cannot be found leaves its log out (counted
//! in the report). When the chunk text occurs several times, the occurrence the retrieval overlaps
//! most is the reference.
//!
//! Per log: P = |retrieved ∩ labelled| / |retrieved| (0 if nothing retrieved), R = |retrieved ∩
//! labelled| / |labelled|, F1 = 2PR / (P + R) (0 if P + R = 0); blank lines are ignored on both
//! sides. The summary is the macro average over logs (the paper averages over retrieval runs);
//! groups are per repository.
//!
//! Modes (one explainer configuration for both):
//! - zero-shot: [`explain`] on the log alone, every log present; nothing of the repository is used;
//! - few-shot: as in the paper, for each repository, log k (k ≥ 2, in chronological order) is
//!   explained with [`Hints`] learned from the labelled chunks of the up to 5 logs before it. The
//!   zero-shot figure on those same logs is printed beside it.

mod corpus;

use std::collections::BTreeMap;

use aetherveil_logparse::LogLine;
use aetherveil_logparse::explain::{Explainer, Hints, explain};
use aetherveil_logparse::reader::{CarriageReturn, ReaderConfig, read_lines, strip_ansi};
use anyhow::Context;
use serde_json::{Map, Value, json};

use corpus::Repo;

/// Earlier logs used as examples in the few-shot mode.
const FEW_SHOT_EXAMPLES: usize = 5;

#[derive(Debug, clap::Args)]
pub struct LogchunksArgs {
    /// The dataset folder (same layout as `../shared/datasets/logchunks`).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also print, on stderr, each log's labelled and retrieved line ranges and its zero-shot score.
    #[arg(long)]
    pub per_log: bool,
    /// Write, into this folder, one `<Language>_<owner@repo>.jsonl` per repository: a JSON line per
    /// labelled log with its lines, the labelled occurrences, the retrieved lines and the
    /// zero-shot F1 (for studying misses).
    #[arg(long)]
    pub dump: Option<std::path::PathBuf>,
}

pub async fn run(args: LogchunksArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run_blocking(&args)).await.context("the logchunks evaluation panicked")?
}

/// Line-level precision, recall and F1 of one log.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    fn of(retrieved: &[u32], labelled: &[u32]) -> Self {
        let hit = retrieved.iter().filter(|n| labelled.binary_search(n).is_ok()).count() as f64;
        let precision = if retrieved.is_empty() { 0.0 } else { hit / retrieved.len() as f64 };
        let recall = if labelled.is_empty() { 0.0 } else { hit / labelled.len() as f64 };
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        Self { precision, recall, f1 }
    }

    fn mean<'a>(all: impl IntoIterator<Item = &'a Prf>) -> Self {
        let (mut sum, mut n) = (Prf::default(), 0.0);
        for p in all {
            sum.precision += p.precision;
            sum.recall += p.recall;
            sum.f1 += p.f1;
            n += 1.0;
        }
        if n == 0.0 {
            return sum;
        }
        Self { precision: sum.precision / n, recall: sum.recall / n, f1: sum.f1 / n }
    }
}

/// One log, read, with its labelled chunk located.
struct Labelled {
    lines: Vec<LogLine>,
    /// Every occurrence of the chunk: sorted line numbers.
    occurrences: Vec<Vec<u32>>,
    /// The chunk's lines (for few-shot hints).
    chunk: Vec<String>,
}

/// Per-log outcome.
struct LogResult {
    zero: Prf,
    /// Few-shot score, for logs with at least one earlier example.
    few: Option<Prf>,
}

fn run_blocking(args: &LogchunksArgs) -> anyhow::Result<()> {
    let repos = corpus::load(&args.data)?;
    let logs: usize = repos.iter().map(|r| r.examples.len()).sum();
    let missing: usize = repos.iter().map(|r| r.missing).sum();
    eprintln!(
        "logchunks: {} repositories with logs present, {logs} labelled logs ({missing} listed but missing) in {}",
        repos.len(),
        args.data.display()
    );
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(repos.len()).max(1);
    let mut results: Vec<(String, Vec<LogResult>, usize)> = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = repos
            .chunks(repos.len().div_ceil(threads))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|repo| evaluate_repo(&args.data, repo, args.per_log, args.dump.as_deref()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            if let Ok(done) = handle.join() {
                results.extend(done);
            }
        }
    });
    let unlocated: usize = results.iter().map(|r| r.2).sum();
    eprintln!("logchunks: {unlocated} labelled chunks could not be located in their log (left out)");

    let all: Vec<&LogResult> = results.iter().flat_map(|r| &r.1).collect();
    let zero = Prf::mean(all.iter().map(|r| &r.zero));
    let few_logs: Vec<&LogResult> = all.iter().copied().filter(|r| r.few.is_some()).collect();
    let few = Prf::mean(few_logs.iter().filter_map(|r| r.few.as_ref()));
    let zero_on_few = Prf::mean(few_logs.iter().map(|r| &r.zero));

    if args.json {
        let mut groups = Map::new();
        for (name, logs, _) in &results {
            let z = Prf::mean(logs.iter().map(|r| &r.zero));
            let f = Prf::mean(logs.iter().filter_map(|r| r.few.as_ref()));
            groups.insert(
                name.clone(),
                json!({
                    "logs": logs.len(),
                    "zero_shot.precision": z.precision, "zero_shot.recall": z.recall, "zero_shot.f1": z.f1,
                    "few_shot.precision": f.precision, "few_shot.recall": f.recall, "few_shot.f1": f.f1,
                }),
            );
        }
        let summary = json!({
            "zero_shot.precision": zero.precision, "zero_shot.recall": zero.recall, "zero_shot.f1": zero.f1,
            "few_shot.precision": few.precision, "few_shot.recall": few.recall, "few_shot.f1": few.f1,
            "zero_shot_on_few_shot_logs.f1": zero_on_few.f1,
            "logs": all.len(), "few_shot_logs": few_logs.len(), "unlocated": unlocated,
        });
        println!(
            "{}",
            serde_json::to_string(&json!({"eval": "logchunks", "summary": summary, "groups": Value::Object(groups)}))?
        );
        return Ok(());
    }
    let by_repo: BTreeMap<&str, &Vec<LogResult>> = results.iter().map(|r| (r.0.as_str(), &r.1)).collect();
    println!("\n{:<44} {:>5} {:>22} {:>22}", "repository", "logs", "zero-shot P / R / F1", "few-shot P / R / F1");
    for (name, logs) in &by_repo {
        let z = Prf::mean(logs.iter().map(|r| &r.zero));
        let f = Prf::mean(logs.iter().filter_map(|r| r.few.as_ref()));
        println!("{name:<44} {:>5} {:>22} {:>22}", logs.len(), triple(&z), triple(&f));
    }
    println!("\nmacro average over logs               logs   precision  recall    F1");
    println!(
        "  zero-shot (all logs)              {:>6}   {:>8.3}  {:>6.3}  {:>6.3}",
        all.len(),
        zero.precision,
        zero.recall,
        zero.f1
    );
    println!(
        "  zero-shot (logs 2.. of each repo) {:>6}   {:>8.3}  {:>6.3}  {:>6.3}",
        few_logs.len(),
        zero_on_few.precision,
        zero_on_few.recall,
        zero_on_few.f1
    );
    println!(
        "  few-shot  (logs 2.., ≤5 examples) {:>6}   {:>8.3}  {:>6.3}  {:>6.3}",
        few_logs.len(),
        few.precision,
        few.recall,
        few.f1
    );
    println!("\npublished (Brandt et al., 400 runs, 1-5 examples of the same repo):");
    println!("  CTS text similarity  best F1 0.51");
    println!("  KWS keyword search   precision ≈0.16, recall 0.70 (best recall), F1 ≈0.26");
    println!("  PBE program synthesis precision 0.95; a program for 227/400 runs only");
    println!("  random line baseline precision and recall 0.05-0.08");
    println!("target: zero-shot F1 ≥ 0.60 -> {}", if zero.f1 >= 0.60 { "PASS" } else { "FAIL" });
    Ok(())
}

fn triple(p: &Prf) -> String {
    format!("{:.2} / {:.2} / {:.2}", p.precision, p.recall, p.f1)
}

/// Reads and scores every log of one repository in both modes; also returns how many chunks
/// could not be located.
fn evaluate_repo(
    root: &std::path::Path,
    repo: &Repo,
    per_log: bool,
    dump_to: Option<&std::path::Path>,
) -> (String, Vec<LogResult>, usize) {
    let mut dump = Vec::new();
    let config = ReaderConfig { carriage_return: CarriageReturn::LineBreak, ..ReaderConfig::default() };
    let mut labelled: Vec<Labelled> = Vec::new();
    let mut unlocated = 0;
    for example in &repo.examples {
        let path = root.join("samples").join(&example.input);
        let lines = match std::fs::read(&path).map_err(anyhow::Error::from).and_then(|b| Ok(read_lines(&b, config)?)) {
            Ok(lines) => lines,
            Err(e) => {
                eprintln!("logchunks: {}: {e:#}", path.display());
                unlocated += 1;
                continue;
            }
        };
        let chunk = chunk_lines(&example.output, false);
        let mut occurrences = locate(&lines, &chunk, false);
        if occurrences.is_empty() {
            occurrences = locate(&lines, &chunk_lines(&example.output, true), true);
        }
        if occurrences.is_empty() {
            unlocated += 1;
            continue;
        }
        labelled.push(Labelled { lines, occurrences, chunk });
    }
    let mut results = Vec::with_capacity(labelled.len());
    for (k, log) in labelled.iter().enumerate() {
        let found = retrieved(&explain(&log.lines));
        let zero = score(&found, &log.occurrences);
        if per_log {
            let span = |v: &[u32]| format!("{}-{} ({})", v.first().unwrap_or(&0), v.last().unwrap_or(&0), v.len());
            eprintln!(
                "{}#{k}: labelled {} retrieved {} of {} lines: P {:.2} R {:.2} F1 {:.2}",
                repo.name,
                span(&log.occurrences[0]),
                span(&found),
                log.lines.len(),
                zero.precision,
                zero.recall,
                zero.f1
            );
        }
        if dump_to.is_some() {
            let texts: Vec<&str> = log.lines.iter().map(|l| l.text.as_str()).collect();
            let numbers: Vec<u32> = log.lines.iter().map(|l| l.number).collect();
            dump.push(json!({"repo": repo.name, "k": k, "numbers": numbers, "texts": texts,
                "labelled": log.occurrences, "retrieved": found, "f1": zero.f1}));
        }
        let few = (k > 0).then(|| {
            let mut hints = Hints::default();
            for example in &labelled[k.saturating_sub(FEW_SHOT_EXAMPLES)..k] {
                hints.learn(example.chunk.iter().map(String::as_str));
            }
            let mut explainer = Explainer::with_hints(hints);
            for line in &log.lines {
                explainer.push(line);
            }
            score(&retrieved(&explainer.finish()), &log.occurrences)
        });
        results.push(LogResult { zero, few });
    }
    if let Some(folder) = dump_to {
        let file = folder.join(repo.name.replace('/', "_") + ".jsonl");
        let text: String = dump.iter().map(|d| format!("{d}\n")).collect();
        if let Err(e) = std::fs::create_dir_all(folder).and_then(|()| std::fs::write(&file, text)) {
            eprintln!("logchunks: {}: {e}", file.display());
        }
    }
    (repo.name.clone(), results, unlocated)
}

/// The non-blank line numbers of an explanation.
fn retrieved(explanation: &aetherveil_logparse::explain::Explanation) -> Vec<u32> {
    let mut lines: Vec<u32> =
        explanation.lines.iter().filter(|l| !l.line.text.trim().is_empty()).map(|l| l.line.number).collect();
    lines.sort_unstable();
    lines.dedup();
    lines
}

/// Scores against the occurrence of the chunk the retrieval overlaps most.
fn score(retrieved: &[u32], occurrences: &[Vec<u32>]) -> Prf {
    occurrences
        .iter()
        .map(|occurrence| Prf::of(retrieved, occurrence))
        .max_by(|a, b| a.f1.total_cmp(&b.f1))
        .unwrap_or_default()
}

/// Removes escape remnants whose ESC byte was lost (`[31m`, `[0m`).
fn strip_bare_sgr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('[') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let params = after.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
        if after.as_bytes().get(params) == Some(&b'm') {
            rest = &after[params + 1..];
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn normalise(text: &str, bare_sgr: bool) -> String {
    let text = strip_ansi(text);
    let text = if bare_sgr { strip_bare_sgr(&text) } else { text };
    text.trim().to_owned()
}

/// The labelled chunk's non-blank lines, normalised.
fn chunk_lines(output: &str, bare_sgr: bool) -> Vec<String> {
    output
        .split("\r\n")
        .flat_map(|l| l.split(['\r', '\n']))
        .map(|l| normalise(l, bare_sgr))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Every place the chunk occurs in the log (see the module documentation for the rule).
fn locate(lines: &[LogLine], chunk: &[String], bare_sgr: bool) -> Vec<Vec<u32>> {
    if chunk.is_empty() {
        return Vec::new();
    }
    let text: Vec<(u32, String)> =
        lines.iter().map(|l| (l.number, normalise(&l.text, bare_sgr))).filter(|(_, t)| !t.is_empty()).collect();
    let m = chunk.len();
    let mut found = Vec::new();
    for start in 0..text.len().saturating_sub(m - 1) {
        let fits = chunk.iter().enumerate().all(|(k, c)| {
            let l = &text[start + k].1;
            if m == 1 {
                l.contains(c.as_str()) || (c.ends_with(l.as_str()) && l.len() > 3)
            } else if k == 0 {
                l.ends_with(c.as_str()) || (c.ends_with(l.as_str()) && l.len() > 3)
            } else if k == m - 1 {
                l.starts_with(c.as_str())
            } else {
                l == c
            }
        });
        if fits {
            found.push(text[start..start + m].iter().map(|(n, _)| *n).collect());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zero-shot F1 floor of the quarter-of-the-dataset test.
    const FLOOR: f64 = 0.62;

    fn log(text: &str) -> Vec<LogLine> {
        let config = ReaderConfig { carriage_return: CarriageReturn::LineBreak, ..ReaderConfig::default() };
        read_lines(text.as_bytes(), config).unwrap_or_default()
    }

    #[test]
    fn chunk_is_located_from_mid_line_start_across_blank_lines() {
        let lines = log("setup\n[\u{1b}[31merror\u{1b}[0m] a.scala:3: boom\r\r\n\n  at x\ndone: failed\nnext\n");
        let chunk = chunk_lines("error] a.scala:3: boom\n\n  at x  \ndone", false);
        assert_eq!(locate(&lines, &chunk, false), vec![vec![2, 5, 6]]);
    }

    /// Zero-shot on a fixed quarter of the repositories (every fourth, in name order), so that it
    /// stays fast in debug builds. The floor is just below what the explainer reaches there.
    #[test]
    fn zero_shot_f1_on_a_quarter_of_the_repositories_stays_above_its_floor() {
        let Some(root) = aetherveil_testkit::dataset("logchunks") else { return };
        let repos = corpus::load(&root).expect("the LogChunks folder loads");
        assert_eq!(repos.len(), 40, "repositories with logs present");
        let results: Vec<LogResult> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                repos.iter().step_by(4).map(|repo| scope.spawn(|| evaluate_repo(&root, repo, false, None).1)).collect();
            handles.into_iter().flat_map(|h| h.join().expect("a repository's evaluation panicked")).collect()
        });
        assert!(results.len() >= 90, "{} logs", results.len());
        let zero = Prf::mean(results.iter().map(|r| &r.zero));
        eprintln!("zero-shot on every fourth repository: {zero:?}");
        assert!(zero.f1 >= FLOOR, "zero-shot F1 {:.3} < {FLOOR}", zero.f1);
    }

    #[test]
    fn metric_is_line_level_and_picks_the_best_occurrence() {
        let p = score(&[2, 3, 9], &[vec![1, 2, 3, 4], vec![9]]);
        assert!((p.precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((p.recall - 0.5).abs() < 1e-9);
        assert_eq!(Prf::of(&[], &[1]), Prf::default());
    }
}
