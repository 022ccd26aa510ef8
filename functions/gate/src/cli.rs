//! `aetherveil gate trivy REPORT --policy FILE [--baseline FILE] [--format F] [--summary FILE]`.
//! Exit codes: 0 pass, 1 the policy fails, 2 bad input (report, baseline or policy).

use crate::evaluate::{Baseline, evaluate};
use crate::finding::Findings;
use crate::policy::Policy;
use crate::render::{Format, render};
use aetherveil_reports::ReportError;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, clap::Subcommand)]
pub enum GateCommand {
    /// Gate a Trivy JSON report (SchemaVersion 2) or a SARIF 2.1.0 log against a policy.
    /// Exit code 0: pass; 1: the policy fails; 2: a bad report, baseline or policy.
    Trivy(TrivyArgs),
}

#[derive(Debug, clap::Args)]
pub struct TrivyArgs {
    /// The report: `trivy ... --format json` output, or any SARIF 2.1.0 log.
    pub report: PathBuf,
    /// The policy file (YAML; see docs/gate.md).
    #[arg(long)]
    pub policy: PathBuf,
    /// A baseline report (the default branch's): only findings absent from it can fail.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also append the Markdown summary to this file (for example "$GITHUB_STEP_SUMMARY").
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
}

/// Runs the command; returns the exit code. Errors go to stderr, naming the file and the problem.
pub fn run(command: &GateCommand) -> u8 {
    match command {
        GateCommand::Trivy(args) => match trivy(args) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("aetherveil gate: {message}");
                EXIT_BAD_INPUT
            }
        },
    }
}

/// Reads a report file into findings, naming the file in the error.
pub fn read_findings(path: &Path) -> Result<Findings, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let report = aetherveil_reports::parse(&bytes).map_err(|e: ReportError| format!("{}: {e}", path.display()))?;
    Ok(Findings::from_report(&report))
}

fn trivy(args: &TrivyArgs) -> Result<u8, String> {
    let policy = Policy::load(&args.policy).map_err(|e| e.to_string())?;
    let findings = read_findings(&args.report)?;
    let baseline = match &args.baseline {
        Some(path) => Some(Baseline::from_findings(&read_findings(path).map_err(|e| format!("baseline {e}"))?)),
        None => None,
    };
    let verdict = evaluate(&findings, &policy, baseline.as_ref(), chrono::Utc::now());
    let out = render(&verdict, args.format);
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (`| head`) must not turn a verdict into a crash; the exit code still tells.
    if let Err(e) = stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(format!("cannot write the verdict: {e}"));
        }
    }
    if let Some(path) = &args.summary {
        let md = crate::render::markdown(&verdict);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(md.as_bytes()))
            .map_err(|e| format!("cannot append the summary to {}: {e}", path.display()))?;
    }
    Ok(verdict.exit_code())
}
