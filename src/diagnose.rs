//! `aetherveil diagnose LOG [--passing LOG]... [--json]`: logscan's analysis of a log on disk, the
//! same pass the logscan function runs on a failed job (rules, explanation, diff against passing
//! runs), without a platform or GitHub.

use aetherveil_logparse::diff::PassingProfile;
use aetherveil_logparse::reader::{JobLogReader, ReaderConfig, read_run_archive};
use aetherveil_logscan::analyze::{Analysis, Analyzer, analyze};
use aetherveil_logscan::classify::{Classifier, JobContext};
use anyhow::Context;
use serde_json::{Value, json};
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

/// Evidence lines shown per job (as in a stored diagnosis).
const MAX_LINES: usize = 12;

#[derive(Debug, clap::Args)]
pub struct DiagnoseArgs {
    /// A job's log (what GitHub's "Download log" or `GET /repos/{repo}/actions/jobs/{id}/logs`
    /// gives), or a run's log archive (the zip of `GET /repos/{repo}/actions/runs/{id}/logs`: every
    /// job in it is diagnosed). Plain logs of other CI systems work too.
    pub log: PathBuf,
    /// Logs of passing runs of the same job: lines never seen in them are shown first.
    #[arg(long)]
    pub passing: Vec<PathBuf>,
    /// The job ran on a self-hosted runner (out of memory or disk is then not transient).
    #[arg(long)]
    pub self_hosted: bool,
    /// Print one JSON object per job, one per line.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command; `Ok(false)` when a log could not be read (the diagnosis says why).
pub fn run(args: &DiagnoseArgs) -> anyhow::Result<bool> {
    let mut profile = PassingProfile::new();
    for path in &args.passing {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        profile.learn(JobLogReader::new(BufReader::new(file)).map_while(Result::ok));
    }
    let profile = (profile.runs() > 0).then_some(&profile);
    let compared_with = args.passing.len() as u32;
    let classifier = Classifier::new(None);
    let labels = if args.self_hosted { vec!["self-hosted".to_owned()] } else { vec!["ubuntu-latest".to_owned()] };
    let context =
        |name: &str| JobContext { job_name: name.to_owned(), runner_labels: labels.clone(), ..JobContext::default() };

    let path = &args.log;
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut magic = [0u8; 4];
    let is_zip = file.read(&mut magic).is_ok_and(|n| n == 4 && magic == *b"PK\x03\x04");
    file.rewind().with_context(|| format!("cannot read {}", path.display()))?;
    if !is_zip {
        let name = path.file_stem().map_or_else(|| "job".to_owned(), |s| s.to_string_lossy().into_owned());
        let ctx = context(&name);
        return Ok(match analyze(file, &ctx, &classifier, profile, MAX_LINES) {
            Ok(analysis) => show(args, &name, &analysis, compared_with),
            Err(error) => unreadable(args, path, &name, &error.to_string()),
        });
    }
    let mut archive = match read_run_archive(BufReader::new(file)) {
        Ok(archive) => archive,
        Err(error) => return Ok(unreadable(args, path, "run", &error.to_string())),
    };
    let jobs: Vec<String> = archive.jobs().iter().map(|j| j.name.clone()).collect();
    for (index, name) in jobs.iter().enumerate() {
        let ctx = context(name);
        let mut analyzer = Analyzer::new(&ctx, &classifier, profile);
        if let Err(error) = archive.read_job(index, ReaderConfig::default(), |line| analyzer.push(line)) {
            return Ok(unreadable(args, path, name, &error.to_string()));
        }
        show(args, name, &analyzer.finish(MAX_LINES), compared_with);
    }
    Ok(true)
}

fn show(args: &DiagnoseArgs, name: &str, analysis: &Analysis, compared_with: u32) -> bool {
    if args.json {
        let c = &analysis.classification;
        let lines: Vec<Value> = analysis
            .lines
            .iter()
            .map(|l| json!({"line": l.line, "step": l.step, "text": l.text, "score": l.score}))
            .collect();
        let value = json!({
            "job": name, "cause": c.cause, "confidence": c.confidence, "transient": c.transient,
            "summary": analysis.summary, "reason": c.reason, "remedy": c.cause.remedy(), "method": c.method,
            "lines": lines, "findings": c.findings, "log_lines": analysis.stats.lines,
            "new_lines": analysis.stats.new_lines, "compared_with": compared_with,
        });
        println!("{value}");
    } else {
        println!("{}", analysis.markdown(name, compared_with));
    }
    true
}

fn unreadable(args: &DiagnoseArgs, path: &Path, name: &str, reason: &str) -> bool {
    let reason = format!("{} cannot be read: {reason}", path.display());
    if args.json {
        println!(
            "{}",
            json!({"job": name, "cause": "unknown", "confidence": 0.0, "transient": false, "reason": reason})
        );
    } else {
        println!("### {name}: the cause is unknown\n\n{reason}");
    }
    false
}
