//! Cause classification: our own fixtures for every cause (tests/fixtures/<cause>/<tool>.log, written in
//! the tools' real output formats), every simulator failure kind with every tool, the learned model,
//! bad input, and the taxonomy mapping against the study's dataset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aetherveil_logparse::reader::{ReaderConfig, read_lines};
use aetherveil_logparse::{LineKind, LogLine};
use aetherveil_logscan::cause::{Cause, TAXONOMY, priors_from_taxonomy};
use aetherveil_logscan::classify::{Classification, Classifier, JobContext, Model, ModelArtifact, registry, unknown};
use aetherveil_simulator::FailureKind;
use aetherveil_simulator::Tool;
use aetherveil_simulator::logs::{LogSpec, render};
use chrono::{Duration, TimeZone, Utc};

/// The lines of a job log, as the logscan function reads them.
fn lines_of(text: &str) -> Vec<LogLine> {
    read_lines(text.as_bytes(), ReaderConfig::default()).expect("a readable fixture")
}

/// Text split into lines as is, for input the reader would refuse (the classifier must cope with
/// it on its own).
fn raw_lines(text: &str) -> Vec<LogLine> {
    let line = |(i, text): (usize, &str)| LogLine {
        number: i as u32 + 1,
        step: None,
        kind: LineKind::Output,
        text: text.to_owned(),
    };
    text.lines().enumerate().map(line).collect()
}

fn ctx(conclusion: &str, labels: &[&str]) -> JobContext {
    JobContext {
        job_name: "build".into(),
        conclusion: Some(conclusion.into()),
        runner_labels: labels.iter().map(|s| s.to_string()).collect(),
        failed_step: None,
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn classify_text(classifier: &Classifier, ctx: &JobContext, text: &str) -> Classification {
    classifier.classify(ctx, &lines_of(text))
}

/// One fixture and what its diagnosis must be.
struct Expect {
    path: &'static str,
    conclusion: &'static str,
    self_hosted: bool,
    cause: Cause,
    transient: bool,
    /// Line numbers the deciding finding's evidence must include (empty: decided by the conclusion).
    lines: &'static [u32],
}

const fn e(path: &'static str, cause: Cause, transient: bool, lines: &'static [u32]) -> Expect {
    Expect { path, conclusion: "failure", self_hosted: false, cause, transient, lines }
}

const fn with(x: Expect, conclusion: &'static str, self_hosted: bool) -> Expect {
    Expect { conclusion, self_hosted, ..x }
}

use Cause::*;

const FIXTURES: &[Expect] = &[
    e("compilation/cargo.log", Compilation, false, &[12]),
    e("compilation/maven.log", Compilation, false, &[17, 27]),
    e("compilation/gradle.log", Compilation, false, &[13, 19]),
    e("compilation/tsc.log", Compilation, false, &[5, 7]),
    e("compilation/go.log", Compilation, false, &[8, 9]),
    e("compilation/python.log", Compilation, false, &[14]),
    e("test/cargo.log", Test, false, &[15, 31]),
    e("test/pytest.log", Test, false, &[17]),
    e("test/jest.log", Test, false, &[10, 11, 27]),
    e("test/go.log", Test, false, &[7, 10]),
    e("test/maven.log", Test, false, &[9, 10, 23]),
    e("test/gradle.log", Test, false, &[9, 14, 22]),
    e("test/vitest.log", Test, false, &[12, 16]),
    e("flaky_test/go.log", FlakyTest, true, &[6, 9]),
    e("flaky_test/jest.log", FlakyTest, true, &[8, 15]),
    e("flaky_test/pytest.log", FlakyTest, true, &[11]),
    e("dependency/cargo.log", Dependency, false, &[6, 15]),
    e("dependency/npm.log", Dependency, false, &[5, 6, 13]),
    e("dependency/pip.log", Dependency, false, &[12, 20]),
    e("dependency/maven.log", Dependency, false, &[11]),
    e("dependency/gradle.log", Dependency, false, &[10, 11]),
    e("dependency/go.log", Dependency, false, &[5]),
    e("dependency/jdk.log", Dependency, false, &[10]),
    e("network/npm.log", Network, true, &[8]),
    e("network/pip.log", Network, true, &[5, 6]),
    e("network/checkout.log", Network, true, &[9, 13]),
    e("network/checkout-timeout.log", Network, true, &[7]),
    e("network/maven.log", Network, true, &[9]),
    e("network/docker.log", Network, true, &[10, 15]),
    e("network/cargo.log", Network, true, &[6, 8]),
    e("rate_limit/github_script.log", RateLimit, true, &[6, 13]),
    e("rate_limit/docker_hub.log", RateLimit, true, &[5]),
    e("rate_limit/setup_go.log", RateLimit, true, &[7, 8]),
    e("infrastructure/shutdown.log", Infrastructure, true, &[10]),
    e("infrastructure/hosted.log", Infrastructure, true, &[11]),
    with(e("infrastructure/self_hosted.log", Infrastructure, true, &[7]), "failure", true),
    with(e("timeout/job.log", Timeout, true, &[7]), "timed_out", false),
    with(e("timeout/step.log", Timeout, true, &[11]), "failure", false),
    with(e("timeout/conclusion_only.log", Timeout, true, &[]), "timed_out", false),
    e("resources/exit_137.log", Resources, true, &[6, 7]),
    with(e("resources/exit_137.log", Resources, false, &[6, 7]), "failure", true),
    e("resources/node_heap.log", Resources, true, &[11]),
    e("resources/java_oom.log", Resources, true, &[6]),
    e("resources/go_killed.log", Resources, true, &[6]),
    e("disk/docker.log", Disk, true, &[6, 10]),
    e("disk/npm.log", Disk, true, &[5, 8]),
    with(e("disk/runner_warning.log", Disk, false, &[6, 7]), "failure", true),
    e("permission/github_script.log", Permission, false, &[5, 11]),
    e("permission/git_push.log", Permission, false, &[5, 6]),
    e("permission/docker_login.log", Permission, false, &[7]),
    e("permission/npm.log", Permission, false, &[5]),
    e("permission/aws.log", Permission, false, &[6]),
    e("lint/clippy.log", Lint, false, &[15, 16, 17]),
    e("lint/rustfmt.log", Lint, false, &[5]),
    e("lint/eslint.log", Lint, false, &[7, 8, 10]),
    e("lint/black.log", Lint, false, &[5, 6, 9]),
    e("lint/golangci.log", Lint, false, &[6, 7]),
    e("lint/checkstyle.log", Lint, false, &[6, 9]),
    e("lint/prettier.log", Lint, false, &[8]),
    e("security/trivy.log", Security, false, &[9, 14, 15]),
    e("security/npm_audit.log", Security, false, &[13]),
    e("security/cargo_audit.log", Security, false, &[12, 15]),
    e("security/govulncheck.log", Security, false, &[9, 16]),
    e("security/dependency_check.log", Security, false, &[12, 14]),
    e("configuration/invalid_workflow.log", Configuration, false, &[1, 2]),
    e("configuration/unresolved_action.log", Configuration, false, &[10]),
    e("configuration/missing_input.log", Configuration, false, &[5]),
    e("configuration/merge_conflict.log", Configuration, false, &[6, 7]),
    e("configuration/missing_script.log", Configuration, false, &[5]),
    e("cancelled/user.log", Cancelled, false, &[6]),
    with(e("cancelled/concurrency.log", Cancelled, false, &[]), "cancelled", false),
    e("cancelled/concurrency.log", Cancelled, false, &[6, 7]),
];

#[test]
fn every_fixture_is_diagnosed_with_its_cause_transience_and_evidence() {
    let classifier = Classifier::new(None);
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for x in FIXTURES {
        seen.insert(x.path);
        let text = std::fs::read_to_string(fixtures_dir().join(x.path)).expect("fixture");
        let labels: &[&str] = if x.self_hosted { &["self-hosted", "linux"] } else { &["ubuntu-latest"] };
        let c = classify_text(&classifier, &ctx(x.conclusion, labels), &text);
        let evidence: Vec<u32> = c
            .findings
            .iter()
            .filter(|f| f.cause == c.cause || (c.cause == FlakyTest && f.cause == Test))
            .flat_map(|f| f.evidence.iter().map(|e| e.line))
            .collect();
        let missing: Vec<u32> = x.lines.iter().copied().filter(|l| !evidence.contains(l)).collect();
        let ok = c.cause == x.cause
            && c.transient == x.transient
            && missing.is_empty()
            && (0.0..=1.0).contains(&c.confidence)
            && !c.reason.is_empty();
        if !ok {
            failures.push(format!(
                "{} ({}): got {} transient={} conf={:.2} evidence {:?} (missing {:?}); reason: {}",
                x.path, x.conclusion, c.cause, c.transient, c.confidence, evidence, missing, c.reason
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures wrong:\n{}", failures.len(), FIXTURES.len(), failures.join("\n"));
    // Every fixture on disk is checked, and every cause but unknown has fixtures.
    let mut on_disk = Vec::new();
    for dir in std::fs::read_dir(fixtures_dir()).expect("fixtures dir") {
        let dir = dir.expect("entry").path();
        for f in std::fs::read_dir(&dir).expect("cause dir") {
            let f = f.expect("entry").path();
            on_disk.push(f.strip_prefix(fixtures_dir()).expect("prefix").to_string_lossy().replace('\\', "/"));
        }
    }
    for f in &on_disk {
        assert!(seen.contains(f.as_str()), "fixture {f} has no expectation");
    }
    assert!(on_disk.len() >= 40, "only {} fixtures", on_disk.len());
    for cause in Cause::ALL.into_iter().filter(|&c| c != Unknown) {
        assert!(FIXTURES.iter().any(|x| x.cause == cause), "no fixture for {cause}");
        assert!(on_disk.iter().any(|f| f.starts_with(&format!("{}/", cause.label()))), "no fixture dir for {cause}");
    }
}

#[test]
fn every_simulator_failure_kind_with_every_tool_is_diagnosed() {
    let classifier = Classifier::new(None);
    let mut wrong = Vec::new();
    let mut total = 0;
    let mut evidence_on_cause_lines = 0;
    for kind in FailureKind::ALL {
        for tool in Tool::ALL {
            for seed in 1..=6u64 {
                for hosted in [true, false] {
                    let labels: Vec<String> = if hosted {
                        vec!["ubuntu-latest".into()]
                    } else {
                        vec!["self-hosted".into(), "linux".into(), "x64".into()]
                    };
                    let spec = LogSpec {
                        job_name: "build",
                        tool,
                        labels: &labels,
                        runner_name: if hosted { "GitHub Actions 7" } else { "build-runner-3" },
                        repo: "acme/widget",
                        head_sha: "0123456789abcdef0123456789abcdef01234567",
                        started_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().expect("date"),
                        duration: Duration::minutes(7),
                        failure: Some(kind),
                        seed,
                    };
                    let log = render(&spec);
                    let ctx = JobContext {
                        job_name: "build".into(),
                        conclusion: Some(log.conclusion.to_owned()),
                        runner_labels: labels.clone(),
                        failed_step: None,
                    };
                    let c = classify_text(&classifier, &ctx, &log.text);
                    total += 1;
                    let evidence: Vec<usize> = c
                        .findings
                        .iter()
                        .filter(|f| f.cause == c.cause || (c.cause == FlakyTest && f.cause == Test))
                        .flat_map(|f| f.evidence.iter().map(|e| e.line as usize))
                        .collect();
                    if evidence.iter().any(|l| log.failure_lines.contains(l)) {
                        evidence_on_cause_lines += 1;
                    }
                    if !kind.expected_causes().contains(&c.cause.label()) {
                        wrong.push(format!(
                            "{}/{}/seed {seed}/{}: {}, got {} ({:.2}): {}",
                            kind.label(),
                            tool.label(),
                            if hosted { "hosted" } else { "self-hosted" },
                            log.summary,
                            c.cause,
                            c.confidence,
                            c.reason
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "simulator: {} of {total} logs diagnosed as their kind; evidence on a ground-truth line in {evidence_on_cause_lines}",
        total - wrong.len()
    );
    assert!(wrong.is_empty(), "{} of {total} simulator logs misdiagnosed:\n{}", wrong.len(), wrong.join("\n"));
    assert!(
        evidence_on_cause_lines * 10 >= total * 9,
        "evidence on ground-truth lines in only {evidence_on_cause_lines} of {total}"
    );
}

#[test]
fn a_runner_lost_beats_a_test_failure_and_a_later_test_failure_beats_a_retried_network_warning() {
    let classifier = Classifier::new(None);
    let shutdown = std::fs::read_to_string(fixtures_dir().join("infrastructure/shutdown.log")).expect("fixture");
    let c = classify_text(&classifier, &ctx("failure", &["ubuntu-latest"]), &shutdown);
    assert_eq!(c.cause, Infrastructure);
    assert!(c.findings.iter().any(|f| f.cause == Test), "the test failure is still reported as a finding");
    let retried = std::fs::read_to_string(fixtures_dir().join("test/cargo.log")).expect("fixture");
    let c = classify_text(&classifier, &ctx("failure", &["ubuntu-latest"]), &retried);
    assert_eq!(c.cause, Test);
    assert!(c.findings.iter().any(|f| f.cause == Network && f.evidence[0].line == 5));
}

#[test]
fn bad_input_is_unknown_with_a_reason_and_never_panics() {
    let classifier = Classifier::new(None);
    let job = ctx("failure", &["ubuntu-latest"]);
    // Empty.
    let c = classifier.classify(&job, &[]);
    assert_eq!((c.cause, c.transient, c.confidence), (Unknown, false, 0.0));
    assert!(c.reason.contains("empty"), "{}", c.reason);
    // Binary garbage, as a lossy reader would hand it over.
    let mut state = 0x2545_f491_u32;
    let garbage: Vec<u8> = (0..20_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    let c = classifier.classify(&job, &raw_lines(&String::from_utf8_lossy(&garbage)));
    assert_eq!(c.cause, Unknown);
    assert!(c.reason.contains("not text"), "{}", c.reason);
    // An invalid zip (a truncated archive: the local header and nothing after it).
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    zip.extend(garbage.iter().take(300));
    let c = classifier.classify(&job, &raw_lines(&String::from_utf8_lossy(&zip)));
    assert_eq!(c.cause, Unknown);
    assert!(!c.reason.is_empty());
    // Truncated: the first lines of a job, cut before anything failed.
    let full = std::fs::read_to_string(fixtures_dir().join("test/jest.log")).expect("fixture");
    let cut: String = full.lines().take(8).map(|l| format!("{l}\n")).collect();
    let c = classifier.classify(&job, &raw_lines(&cut));
    assert_eq!(c.cause, Unknown);
    assert!(c.reason.contains("truncated"), "{}", c.reason);
    // Cut in the middle of a UTF-8 sequence and of a line, and a line of a megabyte.
    let mut bytes = full.as_bytes()[..full.len() / 2].to_vec();
    bytes.extend_from_slice(&[0xe2, 0x82]);
    let c = classifier.classify(&job, &raw_lines(&String::from_utf8_lossy(&bytes)));
    assert!((0.0..=1.0).contains(&c.confidence));
    let long = format!("{}€ No space left on device\n", "x".repeat(1 << 20));
    let c = classifier.classify(&job, &raw_lines(&long));
    assert_eq!(c.cause, Unknown, "the needle is past the part of a line that is looked at");
    // The helper for callers that cannot read the log at all.
    let c = unknown("log download failed: 410 Gone");
    assert_eq!((c.cause, c.reason.as_str(), c.method.as_str()), (Unknown, "log download failed: 410 Gone", "none"));
}

#[test]
fn feed_keeps_bounded_state_on_a_long_log() {
    let classifier = Classifier::new(None);
    let job = ctx("failure", &["ubuntu-latest"]);
    let mut scan = classifier.scan(&job);
    let step: Option<Arc<str>> = Some(Arc::from("cargo test"));
    for n in 1..=200_000u32 {
        let text = if n % 3 == 0 {
            format!("warning: spurious network error (2 tries remaining): [7] Couldn't connect to server {n}")
        } else {
            format!("test module_{n}::works ... ok")
        };
        scan.feed(&LogLine { number: n, step: step.clone(), kind: LineKind::Output, text });
    }
    scan.feed(&LogLine {
        number: 200_001,
        step: step.clone(),
        kind: LineKind::Output,
        text: "test result: FAILED. 1 passed; 1 failed".into(),
    });
    assert!(scan.features().len() <= 2048);
    let c = scan.finish();
    assert_eq!(c.cause, Test, "{}", c.reason);
    for f in &c.findings {
        assert!(f.evidence.len() <= 6, "{} keeps {} evidence lines", f.id, f.evidence.len());
    }
}

/// Fixture features with a few tokens changed, to check the model generalises beyond what it saw.
fn variant(text: &str, k: usize) -> String {
    let names = ["orders", "billing", "gateway", "catalog", "session"];
    text.replace("ledger", names[k % names.len()])
        .replace("fleet", names[(k + 1) % names.len()])
        .replace("example", "acme")
        .replace("billing", names[(k + 2) % names.len()])
}

#[test]
fn the_model_learns_from_features_and_predicts_held_out_variants() {
    let classifier = Classifier::new(None);
    let mut train = Vec::new();
    let mut held_out = Vec::new();
    for x in FIXTURES.iter().filter(|x| !x.lines.is_empty()) {
        let text = std::fs::read_to_string(fixtures_dir().join(x.path)).expect("fixture");
        for k in 0..4 {
            let job = ctx(x.conclusion, &["ubuntu-latest"]);
            let mut scan = classifier.scan(&job);
            for line in lines_of(&variant(&text, k)) {
                scan.feed(&line);
            }
            // Without the rule ids: the model must learn from the tokens alone.
            let features: Vec<String> = scan.features().into_iter().filter(|f| !f.starts_with("r:")).collect();
            if k < 3 { train.push((features, x.cause)) } else { held_out.push((features, x.cause)) }
        }
    }
    let model = Model::train(&train);
    let right = held_out.iter().filter(|(f, cause)| model.predict(f).first().map(|p| p.0) == Some(*cause)).count();
    eprintln!("model: {right} of {} held-out variants predicted right", held_out.len());
    assert!(right * 10 >= held_out.len() * 9, "{right} of {}", held_out.len());
    for (f, _) in &held_out {
        let p = model.predict(f);
        let sum: f64 = p.iter().map(|x| x.1).sum();
        assert!((sum - 1.0).abs() < 1e-9 && p.iter().all(|x| (0.0..=1.0).contains(&x.1)));
    }

    // The artifact round-trips through JSON, and another format version is refused.
    let artifact = ModelArtifact::new(model.clone(), train.len(), Utc::now());
    let back = ModelArtifact::from_json(&artifact.to_json()).expect("round trip");
    assert_eq!(back, artifact);
    assert!(back.classes.contains(&"flaky_test".to_owned()));
    let mut json: serde_json::Value = serde_json::from_slice(&artifact.to_json()).expect("json");
    json["format_version"] = 99.into();
    assert!(ModelArtifact::from_json(&serde_json::to_vec(&json).expect("json")).is_err());
    assert!(ModelArtifact::from_json(b"\x00\x01 not json").is_err());

    // No rule fires on this log; the model recognises the vocabulary of a disk-full failure.
    let with_model = Classifier::new(Some(model));
    let odd = "2026-03-04T10:00:00.0000000Z ##[group]Run ./build.sh\n\
               2026-03-04T10:00:01.0000000Z write failed: no space remaining on the device while writing the cache\n\
               2026-03-04T10:00:02.0000000Z ##[error]Process completed with exit code 1.\n";
    let rules_only = classify_text(&classifier, &ctx("failure", &["ubuntu-latest"]), odd);
    let c = classify_text(&with_model, &ctx("failure", &["ubuntu-latest"]), odd);
    assert_eq!(rules_only.cause, Unknown, "{}", rules_only.reason);
    assert_eq!(c.method, "model", "{}", c.reason);
    assert!((0.0..=1.0).contains(&c.confidence));
    // Where the rules are confident, the model only moves the confidence.
    let text = std::fs::read_to_string(fixtures_dir().join("lint/clippy.log")).expect("fixture");
    let c = classify_text(&with_model, &ctx("failure", &["ubuntu-latest"]), &text);
    assert_eq!((c.cause, c.method.as_str()), (Lint, "rules+model"));
}

#[test]
fn causes_have_labels_remedies_and_taxonomy_tags() {
    assert_eq!(Cause::ALL.len(), 16);
    for c in Cause::ALL {
        assert_eq!(Cause::from_label(c.label()), Some(c));
        assert_eq!(serde_json::to_value(c).expect("json"), serde_json::Value::String(c.label().into()));
        assert!(!c.describe().is_empty() && !c.remedy().is_empty());
    }
    let labels: Vec<&str> = Cause::ALL.iter().map(|c| c.label()).collect();
    assert_eq!(
        labels,
        [
            "compilation",
            "test",
            "flaky_test",
            "dependency",
            "network",
            "rate_limit",
            "infrastructure",
            "timeout",
            "resources",
            "disk",
            "permission",
            "lint",
            "security",
            "configuration",
            "cancelled",
            "unknown"
        ]
    );
    assert_eq!(Cause::Test.taxonomy_tags(), ["P7", "P8"]);
    assert_eq!(Cause::Dependency.taxonomy_tags(), ["P3", "P4", "W4"]);
    for c in [FlakyTest, Infrastructure, Timeout, Cancelled, Unknown] {
        assert!(c.taxonomy_tags().is_empty(), "{c} is operational");
    }
    assert!(Disk.transient_on(true) && !Disk.transient_on(false));
    assert!(!Cancelled.transient_by_default() && Timeout.transient_by_default());
    assert!(registry::check().expect("the registry compiles") > 60);
}

fn dataset_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/gha-failure-taxonomy");
    if dir.join("replication-labeling.Sheet1.csv").is_file() {
        return Some(dir);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "dataset missing under CI: {}", dir.display());
    eprintln!("skipping: {} is missing", dir.display());
    None
}

/// The (tag, category) column pairs of the study's CSV; its free-text fields are quoted and contain commas.
fn taxonomy_rows(csv: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for line in csv.lines().skip(1) {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => fields.push(std::mem::take(&mut field)),
                c => field.push(c),
            }
        }
        fields.push(field);
        if fields.first().is_some_and(|id| !id.trim().is_empty()) && fields.len() > 9 {
            rows.push((fields[7].trim().to_owned(), fields[9].trim().to_owned()));
        }
    }
    rows
}

#[test]
fn taxonomy_counts_match_the_dataset() {
    let Some(dir) = dataset_dir() else { return };
    let csv = std::fs::read_to_string(dir.join("replication-labeling.Sheet1.csv")).expect("csv");
    let rows = taxonomy_rows(&csv);
    assert_eq!(rows.len(), 375);
    for entry in TAXONOMY {
        let n = rows.iter().filter(|(tag, _)| tag == entry.tag).count() as u32;
        assert_eq!(n, entry.jobs, "count of {}", entry.tag);
        assert!(rows.iter().filter(|(tag, _)| tag == entry.tag).all(|(_, cat)| cat == entry.category), "{}", entry.tag);
    }
    let priors = priors_from_taxonomy(
        TAXONOMY.iter().map(|e| (e.tag, rows.iter().filter(|(tag, _)| tag == e.tag).count() as u32)),
    );
    let sum: f64 = priors.iter().map(|p| p.1).sum();
    assert!((sum - 1.0).abs() < 1e-9);
    let prior = |c: Cause| priors.iter().find(|p| p.0 == c).map_or(0.0, |p| p.1);
    assert!(prior(Test) > prior(Dependency) && prior(Dependency) > prior(Compilation));
    assert!(prior(Unknown) > 0.0, "operational causes keep a small prior");
    eprintln!("taxonomy priors: {}", priors.iter().map(|(c, p)| format!("{c}={p:.3}")).collect::<Vec<_>>().join(" "));
}

#[test]
fn pips_verbose_notes_about_skipped_wheels_are_not_a_dependency_failure() {
    let classifier = Classifier::new(None);
    let log = "2026-02-01T10:00:00.0000000Z ##[group]Run pip install -v -r requirements.txt\n\
2026-02-01T10:00:01.0000000Z   Link requires a different Python (3.8.10 not in: '>=3.9'): https://files.example.org/pkg-2.0.tar.gz (from https://pypi.org/simple/pkg/)\n\
2026-02-01T10:00:02.0000000Z Successfully installed pkg-1.9\n\
2026-02-01T10:00:03.0000000Z ##[group]Run pytest\n\
2026-02-01T10:00:09.0000000Z FAILED tests/test_api.py::test_totals - assert 3 == 4\n\
2026-02-01T10:00:09.1000000Z ##[error]Process completed with exit code 1.\n";
    let c = classify_text(&classifier, &ctx("failure", &["ubuntu-latest"]), log);
    assert_eq!(c.cause, Test, "{}", c.reason);
    let refused = "ERROR: Package 'widget' requires a different Python: 3.8.10 not in '>=3.9'\n";
    let c = classify_text(&classifier, &ctx("failure", &["ubuntu-latest"]), refused);
    assert_eq!(c.cause, Dependency, "{}", c.reason);
}
