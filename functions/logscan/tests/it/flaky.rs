//! Flaky or deterministic: the simulator's flaky tests (a 503 from a health endpoint, a blown timing
//! budget, a refused loopback connection, a test deadline, a data race, a port in use, ...) must be
//! `flaky_test`, and its genuine assertion failures must never be, with every tool, over many runs.
//! The healer reruns `flaky_test` and never `test`, so both directions matter.

use std::collections::BTreeMap;

use aetherveil_logparse::reader::{ReaderConfig, read_lines};
use aetherveil_logscan::cause::Cause;
use aetherveil_logscan::classify::{Classifier, JobContext};
use aetherveil_simulator::logs::{LogSpec, render};
use aetherveil_simulator::{FailureKind, Tool};
use chrono::{Duration, TimeZone, Utc};

/// Runs per tool and kind. The repository and job name pick the job's layout (jest or vitest, the
/// Docker image's language, `go test -race`), the seed what fails and how.
const RUNS: u64 = 240;
const REPOS: &[&str] = &["acme/widget", "acme/billing", "octo/gateway", "octo/web", "lab/ledger", "lab/fleet"];
const JOBS: &[&str] = &["build", "test", "ci"];

/// A mock called one time too few (jest's `Expected number of calls: 3` / `Received number of calls: 2`,
/// vitest's `expected "spy" to be called 3 times, but got 2 times`). The simulator renders it as a
/// race, but the tools print it exactly as they print a genuine failure, so no hint may fire on it:
/// such logs are counted apart, not in the rate.
fn looks_deterministic(failure_lines: &str) -> bool {
    failure_lines.contains("Expected number of calls") || failure_lines.contains("\" to be called ")
}

/// How one tool's logs of one kind were classified.
#[derive(Default)]
struct Tally {
    total: usize,
    by_cause: BTreeMap<String, usize>,
    /// Logs whose failure shows no flaky symptom at all (see [`looks_deterministic`]).
    no_symptom: usize,
    /// The others that logscan recognised as a test failure (`test` or `flaky_test`), and of them
    /// those diagnosed `flaky_test`.
    recognised: usize,
    flaky: usize,
    /// The others in which some flaky hint fired, whatever the diagnosis.
    hinted: usize,
    /// A few of the logs that were not classified as they should be: (summary, reason).
    misses: Vec<(String, String)>,
}

fn tally(classifier: &Classifier, tool: Tool, kind: FailureKind) -> Tally {
    let mut t = Tally::default();
    for run in 0..RUNS {
        let hosted = run % 4 != 3;
        let labels: Vec<String> = if hosted {
            vec!["ubuntu-latest".into()]
        } else {
            vec!["self-hosted".into(), "linux".into(), "x64".into()]
        };
        let repo = REPOS[(run as usize) % REPOS.len()];
        let job_name = JOBS[(run as usize / REPOS.len()) % JOBS.len()];
        let spec = LogSpec {
            job_name,
            tool,
            labels: &labels,
            runner_name: if hosted { "GitHub Actions 7" } else { "build-runner-3" },
            repo,
            head_sha: "0123456789abcdef0123456789abcdef01234567",
            started_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().expect("date"),
            duration: Duration::minutes(7),
            failure: Some(kind),
            seed: 1000 + run,
        };
        let log = render(&spec);
        let ctx = JobContext {
            job_name: job_name.into(),
            conclusion: Some(log.conclusion.to_owned()),
            runner_labels: labels.clone(),
            failed_step: None,
        };
        let lines = read_lines(log.text.as_bytes(), ReaderConfig::default()).expect("a readable log");
        let c = classifier.classify(&ctx, &lines);
        t.total += 1;
        *t.by_cause.entry(c.cause.label().to_owned()).or_default() += 1;
        let failure_text: String = lines
            .iter()
            .filter(|l| log.failure_lines.contains(&(l.number as usize)))
            .map(|l| format!("{}\n", l.text))
            .collect();
        if kind == FailureKind::FlakyTest && looks_deterministic(&failure_text) {
            t.no_symptom += 1;
            continue;
        }
        if matches!(c.cause, Cause::Test | Cause::FlakyTest) {
            t.recognised += 1;
        }
        t.flaky += usize::from(c.cause == Cause::FlakyTest);
        t.hinted += usize::from(c.findings.iter().any(|f| f.cause == Cause::FlakyTest));
        let wanted = if kind == FailureKind::FlakyTest { Cause::FlakyTest } else { Cause::Test };
        if c.cause != wanted && t.misses.len() < 4 {
            t.misses.push((log.summary.clone(), c.reason.clone()));
        }
    }
    t
}

#[test]
fn flaky_tests_are_flaky_and_genuine_failures_never_are() {
    let classifier = Classifier::new(None);
    let mut problems = Vec::new();
    eprintln!(
        "{:<8} {:<13} {:>4} {:>10} {:>10} {:>10} {:>10}  causes",
        "tool", "kind", "runs", "no symptom", "recognised", "flaky_test", "hinted"
    );
    for tool in Tool::ALL {
        for kind in [FailureKind::FlakyTest, FailureKind::TestFailure] {
            let t = tally(&classifier, tool, kind);
            let pct = |n: usize, of: usize| n * 100 / of.max(1);
            let causes: Vec<String> = t.by_cause.iter().map(|(c, n)| format!("{c}={n}")).collect();
            let considered = t.total - t.no_symptom;
            eprintln!(
                "{:<8} {:<13} {:>4} {:>10} {:>10} {:>5} {:>3}% {:>5} {:>3}%  {}",
                tool.label(),
                kind.label(),
                t.total,
                t.no_symptom,
                t.recognised,
                t.flaky,
                pct(t.flaky, t.recognised),
                t.hinted,
                pct(t.hinted, considered),
                causes.join(" ")
            );
            for (summary, reason) in &t.misses {
                eprintln!("    miss: {summary}\n          {reason}");
            }
            let what = format!("{} {}", tool.label(), kind.label());
            if kind == FailureKind::TestFailure {
                // Never: not as the diagnosis, and no hint anywhere near the failure either.
                if t.flaky > 0 || t.hinted > 0 {
                    problems.push(format!("{what}: {} diagnosed flaky_test, a hint fired in {}", t.flaky, t.hinted));
                }
                continue;
            }
            // Docker runs the tests inside `docker build`, where BuildKit prefixes every line
            // (`#12 1.080 FAILED tests/...`) and the test rules, anchored at the start of the line,
            // do not recognise most of them; the rate is over the logs that are recognised, and the
            // hints themselves must still fire.
            if tool != Tool::Docker && t.recognised < considered {
                problems.push(format!("{what}: only {} of {considered} recognised as a test failure", t.recognised));
            }
            if t.flaky * 100 < t.recognised * 95 {
                problems.push(format!("{what}: {} of {} flaky_test", t.flaky, t.recognised));
            }
            if t.hinted * 100 < considered * 95 {
                problems.push(format!("{what}: a hint fired in only {} of {considered}", t.hinted));
            }
            if t.no_symptom * 100 > t.total * 35 {
                problems.push(format!("{what}: {} of {} show no flaky symptom", t.no_symptom, t.total));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "flaky logs must be flaky_test in 95% per tool, test failures never:\n{}",
        problems.join("\n")
    );
}
