//! Acceptance: every native JSON report of `../shared/datasets/trivy/reports` gets a verdict
//! under a policy that uses every feature, and the CLI core refuses the other formats.
use aetherveil_gate::{Baseline, Findings, Policy, evaluate};
use aetherveil_testkit::dataset;
use std::path::PathBuf;

#[test]
fn every_native_report_gets_a_verdict() {
    let Some(root) = dataset("trivy/reports") else { return };
    let policy = Policy::parse(
        "version: 1\nfail_on:\n  only_fixable: true\nmax_counts:\n  MEDIUM: 5\nignore:\n  - id: CVE-2019-1549\n    reason: t\n    expires: 2000-01-01\nknown_exploited:\n  ids: [CVE-2019-1551]\n",
        "t",
        "t",
        None,
    )
    .expect("policy");
    let (mut gated, mut failed, mut refused, mut findings_total) = (0, 0, 0, 0);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&root).expect("dir").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).expect("read");
        let native = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("SchemaVersion").and_then(|s| s.as_u64()))
            == Some(2);
        match aetherveil_gate::cli::read_findings(&path) {
            Ok(f) => {
                assert!(native, "{name} was gated but is not a native report");
                let expected: usize = count_findings(&bytes);
                assert_eq!(f.findings.len(), expected, "{name}: every finding normalised");
                let v = evaluate(&f, &policy, Some(&Baseline::default()), chrono::Utc::now());
                assert_eq!(v.counts.all.total(), f.findings.len(), "{name}");
                assert!(v.passed == v.reasons.is_empty(), "{name}");
                // Deterministic and self-consistent: gating against itself as the baseline, only
                // known-exploited findings can fail.
                let again = evaluate(&f, &policy, Some(&Baseline::from_findings(&f)), chrono::Utc::now());
                assert!(again.failing().all(|a| a.known_exploited), "{name}");
                findings_total += f.findings.len();
                failed += usize::from(!v.passed);
                gated += 1;
            }
            Err(e) => {
                assert!(!native, "{name}: a native report was refused: {e}");
                assert!(e.contains(&name), "the message names the file: {e}");
                refused += 1;
            }
        }
    }
    eprintln!(
        "{gated} native reports gated ({failed} failed the policy, {findings_total} findings); {refused} other formats refused"
    );
    assert!(gated >= 50 && refused >= 5, "gated {gated}, refused {refused}");
}

/// Findings counted straight from the JSON: vulnerabilities, failed misconfigurations, secrets
/// and licenses.
fn count_findings(bytes: &[u8]) -> usize {
    let v: serde_json::Value = serde_json::from_slice(bytes).expect("json");
    let mut n = 0;
    for r in v["Results"].as_array().into_iter().flatten() {
        let len = |k: &str| r[k].as_array().map_or(0, Vec::len);
        n += len("Vulnerabilities") + len("Secrets") + len("Licenses");
        n += r["Misconfigurations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["Status"] == "FAIL" || m["Status"].is_null())
            .count();
    }
    n
}

#[test]
fn parsed_findings_are_the_same_shape_as_the_dataset_counts() {
    let Some(root) = dataset("trivy/reports") else { return };
    // SOURCE.md: alpine-310 has 4 MEDIUM vulnerabilities.
    let f: Findings = aetherveil_gate::cli::read_findings(&root.join("alpine-310.json.golden")).expect("parses");
    assert_eq!(f.findings.len(), 4);
    assert!(f.findings.iter().all(|x| x.severity == aetherveil_reports::Severity::Medium && x.fixable()));
}
