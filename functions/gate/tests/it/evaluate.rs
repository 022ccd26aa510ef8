//! Table tests, one per policy feature. Each expected outcome is derived by hand from the policy
//! text and the findings in the case.
use crate::{findings, report, v};
use aetherveil_gate::{Baseline, Policy, Status, evaluate};
use chrono::{DateTime, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).single().expect("date")
}

fn policy(yaml: &str) -> Policy {
    Policy::parse(yaml, "test", "test", None).expect("valid policy")
}

/// (id, package) → status, for every finding of a verdict.
fn statuses(v: &aetherveil_gate::Verdict) -> Vec<(String, Status)> {
    let mut s: Vec<(String, Status)> = v
        .findings
        .iter()
        .map(|a| (format!("{}/{}", a.finding.id, a.finding.package.as_deref().unwrap_or("")), a.status))
        .collect();
    s.sort_by(|a, b| a.0.cmp(&b.0));
    s
}

#[test]
fn severities() {
    let r = findings(&report(&[(
        "img",
        vec![v("CVE-1", "CRITICAL"), v("CVE-2", "HIGH"), v("CVE-3", "MEDIUM"), v("CVE-4", "LOW")],
    )]));
    let cases: &[(&str, bool, &[&str])] = &[
        ("[CRITICAL]", false, &["CVE-1"]),
        ("[CRITICAL, HIGH]", false, &["CVE-1", "CVE-2"]),
        ("[medium, low]", false, &["CVE-3", "CVE-4"]),
        ("[UNKNOWN]", true, &[]),
        ("[]", true, &[]),
    ];
    for (severities, passes, failing) in cases {
        let p = policy(&format!("version: 1\nfail_on:\n  severities: {severities}\n"));
        let verdict = evaluate(&r, &p, None, now());
        assert_eq!(verdict.passed, *passes, "{severities}");
        let mut got: Vec<&str> = verdict.failing().map(|a| a.finding.id.as_str()).collect();
        got.sort_unstable();
        assert_eq!(&got, failing, "{severities}");
        assert_eq!(verdict.exit_code(), if *passes { 0 } else { 1 });
    }
}

#[test]
fn only_fixable() {
    let r = findings(&report(&[(
        "img",
        vec![v("CVE-1", "CRITICAL").unfixed(), v("CVE-2", "HIGH"), v("CVE-3", "HIGH").unfixed()],
    )]));
    let loose = evaluate(&r, &policy("version: 1\n"), None, now());
    assert_eq!(loose.counts.failing.total(), 3, "without only_fixable every CRITICAL/HIGH fails");
    let strict = evaluate(&r, &policy("version: 1\nfail_on:\n  only_fixable: true\n"), None, now());
    assert_eq!(
        statuses(&strict),
        vec![
            ("CVE-1/openssl".into(), Status::NotFixable),
            ("CVE-2/openssl".into(), Status::Fail),
            ("CVE-3/openssl".into(), Status::NotFixable)
        ]
    );
    assert_eq!(strict.counts.not_fixable, 2);
    assert!(!strict.passed);
}

#[test]
fn min_cvss() {
    let r = findings(&report(&[(
        "img",
        vec![
            v("CVE-1", "HIGH").cvss(7.5),
            v("CVE-2", "HIGH").cvss(6.9),
            v("CVE-3", "HIGH"),
            v("CVE-4", "MEDIUM").cvss(9.0),
        ],
    )]));
    // With severities: HIGH and at least 7.0; a HIGH without a score is judged by severity alone.
    let with = evaluate(&r, &policy("version: 1\nfail_on:\n  severities: [HIGH]\n  min_cvss: 7.0\n"), None, now());
    let failing: Vec<&str> = with.failing().map(|a| a.finding.id.as_str()).collect();
    assert_eq!(failing.len(), 2);
    assert!(failing.contains(&"CVE-1") && failing.contains(&"CVE-3"), "{failing:?}");
    let cve2 = with.findings.iter().find(|a| a.finding.id == "CVE-2").expect("CVE-2");
    assert!(cve2.notes.iter().any(|n| n.contains("below min_cvss 7")), "{:?}", cve2.notes);
    // Without severities: the score alone decides, and unscored findings never fail.
    let alone = evaluate(&r, &policy("version: 1\nfail_on:\n  severities: []\n  min_cvss: 7.0\n"), None, now());
    let mut failing: Vec<&str> = alone.failing().map(|a| a.finding.id.as_str()).collect();
    failing.sort_unstable();
    assert_eq!(failing, vec!["CVE-1", "CVE-4"]);
}

#[test]
fn max_counts() {
    let r = findings(&report(&[(
        "img",
        vec![
            v("CVE-1", "MEDIUM"),
            v("CVE-2", "MEDIUM"),
            v("CVE-3", "MEDIUM"),
            v("CVE-4", "LOW"),
            v("CVE-5", "LOW").unfixed(),
        ],
    )]));
    let cases: &[(&str, bool, usize)] = &[
        ("MEDIUM: 3", true, 0),
        ("MEDIUM: 2", false, 1),
        ("MEDIUM: 2\n  LOW: 1", false, 2),
        ("LOW: 1", false, 1),
        ("CRITICAL: 0", true, 0),
    ];
    for (counts, passes, reasons) in cases {
        let p = policy(&format!("version: 1\nfail_on:\n  severities: [CRITICAL]\nmax_counts:\n  {counts}\n"));
        let verdict = evaluate(&r, &p, None, now());
        assert_eq!((verdict.passed, verdict.reasons.len()), (*passes, *reasons), "{counts}: {:?}", verdict.reasons);
    }
    // Unfixed findings set aside by only_fixable do not count: 1 LOW left, within LOW: 1.
    let p = policy("version: 1\nfail_on:\n  severities: [CRITICAL]\n  only_fixable: true\nmax_counts:\n  LOW: 1\n");
    assert!(evaluate(&r, &p, None, now()).passed);
    let verdict = evaluate(&r, &policy("version: 1\nmax_counts:\n  MEDIUM: 2\n"), None, now());
    assert!(verdict.reasons[0].contains("3 MEDIUM findings exceed the maximum of 2"), "{:?}", verdict.reasons);
}

#[test]
fn ignore_rules_and_their_expiry() {
    let r = findings(&report(&[
        (
            "img",
            vec![v("CVE-1", "CRITICAL"), v("CVE-2", "CRITICAL").package("zlib"), v("CVE-3", "HIGH").package("libxml2")],
        ),
        ("usr/lib/vendor", vec![v("CVE-4", "HIGH").package("curl")]),
    ]));
    let p = policy(
        "version: 1
ignore:
  - id: cve-1
    reason: not reachable from our code
    expires: 2026-06-15
  - id: CVE-2
    package: zlib
    reason: waiting for the distribution
    expires: 2026-06-14
  - package: \"lib*\"
    reason: patched in our fork
    expires: 2027-01-01
  - path: \"usr/lib/**\"
    reason: vendored, scanned upstream
    expires: 2027-01-01
",
    );
    let verdict = evaluate(&r, &p, None, now());
    // CVE-1: the rule's last day is today: still ignored. CVE-2: expired yesterday: fails.
    assert_eq!(
        statuses(&verdict),
        vec![
            ("CVE-1/openssl".into(), Status::Ignored),
            ("CVE-2/zlib".into(), Status::Fail),
            ("CVE-3/libxml2".into(), Status::Ignored),
            ("CVE-4/curl".into(), Status::Ignored),
        ]
    );
    assert!(!verdict.passed);
    assert_eq!(verdict.expired_ignores.len(), 1);
    assert_eq!(verdict.expired_ignores[0].findings, 1);
    assert!(
        verdict.warnings.iter().any(|w| w.contains("expired on 2026-06-14") && w.contains("no longer ignored")),
        "{:?}",
        verdict.warnings
    );
    let cve2 = verdict.findings.iter().find(|a| a.finding.id == "CVE-2").expect("CVE-2");
    assert!(cve2.notes.iter().any(|n| n.contains("expired")), "{:?}", cve2.notes);
    // The same policy a day earlier: everything ignored, the gate passes.
    let earlier = evaluate(&r, &p, None, now() - chrono::Duration::days(1));
    assert!(earlier.passed && earlier.expired_ignores.is_empty(), "{:?}", earlier.reasons);
}

#[test]
fn baseline_mode() {
    let main = findings(&report(&[("img", vec![v("CVE-1", "CRITICAL"), v("CVE-2", "HIGH")])]));
    // The pull request upgraded openssl (CVE-1 remains at a new version), added CVE-3, fixed CVE-2.
    let pr = findings(&report(&[("img", vec![v("CVE-1", "CRITICAL"), v("CVE-3", "HIGH").package("curl")])]));
    let p = policy("version: 1\n");
    let without = evaluate(&pr, &p, None, now());
    assert_eq!(without.counts.failing.total(), 2);
    let with = evaluate(&pr, &p, Some(&Baseline::from_findings(&main)), now());
    assert_eq!(statuses(&with), vec![("CVE-1/openssl".into(), Status::Baseline), ("CVE-3/curl".into(), Status::Fail)]);
    assert!(with.baseline && !with.passed);
    // Nothing new: passes.
    let same = evaluate(&main, &p, Some(&Baseline::from_findings(&main)), now());
    assert!(same.passed && same.counts.baseline == 2);
}

#[test]
fn known_exploited_always_fail() {
    let main = findings(&report(&[("img", vec![v("CVE-2021-44228", "LOW").unfixed()])]));
    let pr = findings(&report(&[("img", vec![v("CVE-2021-44228", "LOW").unfixed(), v("CVE-9", "LOW")])]));
    let p = policy(
        "version: 1
fail_on:
  severities: [CRITICAL]
  only_fixable: true
  min_cvss: 9.0
ignore:
  - id: CVE-2021-44228
    reason: we think it is fine
    expires: 2099-01-01
known_exploited:
  ids: [cve-2021-44228]
",
    );
    // LOW, unfixed, below min_cvss, ignored and in the baseline: it fails all the same.
    let verdict = evaluate(&pr, &p, Some(&Baseline::from_findings(&main)), now());
    assert_eq!(
        statuses(&verdict),
        vec![("CVE-2021-44228/openssl".into(), Status::Fail), ("CVE-9/openssl".into(), Status::Pass)]
    );
    let kev = &verdict.findings[0];
    assert!(kev.known_exploited && kev.reasons[0].contains("known exploited"), "{:?}", kev.reasons);
    assert!(verdict.reasons[0].contains("1 of them known exploited"), "{:?}", verdict.reasons);
    // Off the list, the same report passes.
    let off = policy("version: 1\nfail_on:\n  severities: [CRITICAL]\n");
    assert!(evaluate(&pr, &off, None, now()).passed);
}

#[test]
fn scope_by_target_kind_and_artifact_type() {
    let r =
        findings(&report(&[("img", vec![v("CVE-1", "CRITICAL")]), ("app/testdata/x", vec![v("CVE-2", "CRITICAL")])]));
    let excluded = evaluate(&r, &policy("version: 1\nscope:\n  exclude_targets: [\"**/testdata/**\"]\n"), None, now());
    assert_eq!(
        statuses(&excluded),
        vec![("CVE-1/openssl".into(), Status::Fail), ("CVE-2/openssl".into(), Status::OutOfScope)]
    );
    let only = evaluate(&r, &policy("version: 1\nscope:\n  targets: [\"app/**\"]\n"), None, now());
    assert_eq!(only.counts.failing.total(), 1);
    let kinds = evaluate(&r, &policy("version: 1\nscope:\n  kinds: [secret, misconfiguration]\n"), None, now());
    assert!(kinds.passed && kinds.counts.out_of_scope == 2);
    let repo_only =
        evaluate(&r, &policy("version: 1\nscope:\n  artifact_types: [repository, filesystem]\n"), None, now());
    assert!(repo_only.passed, "an image report is outside a repository-only policy");
    assert!(repo_only.warnings[0].contains("container_image"), "{:?}", repo_only.warnings);
    let classes = evaluate(&r, &policy("version: 1\nscope:\n  classes: [lang-pkgs]\n"), None, now());
    assert!(classes.passed);
}

#[test]
fn other_finding_kinds_and_sarif() {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reports/tests/fixtures/trivy-mixed.json"),
    )
    .expect("fixture");
    let f = aetherveil_gate::Findings::from_report(&aetherveil_reports::parse(&bytes).expect("parses"));
    let kinds: Vec<&str> = f.findings.iter().map(|x| x.kind.label()).collect();
    // 3 vulnerabilities, 1 failed check (the PASS one is not a finding), 1 secret, 1 license.
    assert_eq!(kinds, ["vulnerability", "vulnerability", "vulnerability", "misconfiguration", "secret", "license"]);
    let verdict = evaluate(&f, &policy("version: 1\nfail_on:\n  only_fixable: true\n"), None, now());
    let mut failing: Vec<&str> = verdict.failing().map(|a| a.finding.id.as_str()).collect();
    failing.sort_unstable();
    // HIGH CVE-2024-0001 (fixed), HIGH DS-0002, CRITICAL github-pat, HIGH GPL-3.0-only; the
    // unfixed CRITICAL zlib is set aside and the lodash UNKNOWN is not listed.
    assert_eq!(failing, vec!["CVE-2024-0001", "DS-0002", "GPL-3.0-only", "github-pat"]);

    let sarif = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reports/tests/fixtures/codeql.sarif"),
    )
    .expect("fixture");
    let f = aetherveil_gate::Findings::from_report(&aetherveil_reports::parse(&sarif).expect("parses"));
    // The pass result and the one absent from the tool's baseline are not findings.
    assert_eq!(f.findings.len(), 2);
    assert_eq!(f.tool, "CodeQL");
    let sql = &f.findings[0];
    assert_eq!(
        (sql.severity, sql.cvss, sql.target.as_str(), sql.line),
        (aetherveil_reports::Severity::High, Some(8.8), "src/db.js", Some(42))
    );
    assert_eq!(f.findings[1].severity, aetherveil_reports::Severity::Low, "a note");
}
