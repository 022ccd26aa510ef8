use crate::fixture;
use aetherveil_reports::{Report, Severity, TrivyReport, parse};

fn mixed() -> TrivyReport {
    match parse(&fixture("trivy-mixed.json")).expect("parses") {
        Report::Trivy(r) => *r,
        other => panic!("not read as Trivy: {other:?}"),
    }
}

#[test]
fn every_finding_type_and_field_is_read() {
    let r = mixed();
    assert_eq!(r.schema_version, 2);
    assert_eq!(r.artifact_type.as_deref(), Some("container_image"));
    assert_eq!(r.metadata.as_ref().and_then(|m| m.os.as_ref()).map(|o| o.family.as_str()), Some("debian"));
    assert_eq!(r.results.len(), 6);
    let v = &r.results[0].vulnerabilities[0];
    assert_eq!(v.vulnerability_id, "CVE-2024-0001");
    assert_eq!(v.severity, Severity::High);
    assert_eq!(v.fixed_version.as_deref(), Some("3.0.13-1"));
    assert_eq!(v.status.as_deref(), Some("fixed"));
    assert_eq!(v.layer.as_ref().and_then(|l| l.diff_id.as_deref()), Some("sha256:diff1"));
    assert_eq!(v.data_source.as_ref().and_then(|d| d.id.as_deref()), Some("debian"));
    assert_eq!(v.cvss["redhat"].v3_score, Some(5.9));
    assert_eq!(v.vendor_severity["nvd"], 4);
    assert_eq!(v.published().map(|d| d.to_rfc3339()), Some("2024-01-10T15:00:00+00:00".into()));
    assert!(v.fixable());
    // The severity source (debian) has no CVSS, so NVD's v3 is the score.
    assert_eq!(v.best_cvss(), Some((9.8, "nvd V3".into())));

    let unfixed = &r.results[0].vulnerabilities[1];
    assert_eq!(unfixed.severity, Severity::Critical, "severity names are case-insensitive");
    assert!(!unfixed.fixable());
    assert_eq!(unfixed.published(), None, "an odd date reads as unknown, not an error");
    assert_eq!(unfixed.best_cvss(), Some((6.8, "redhat V2".into())), "v2 when there is nothing newer");

    let npm = &r.results[1].vulnerabilities[0];
    assert_eq!(npm.severity, Severity::Unknown, "an unknown severity word reads as UNKNOWN");
    assert_eq!(npm.pkg_path.as_deref(), Some("app/node_modules/lodash/package.json"));
    assert_eq!(npm.best_cvss(), Some((8.7, "ghsa V4.0".into())), "v4.0 before v3");

    assert!(r.results[2].vulnerabilities.is_empty(), "null reads as empty");
    let config = &r.results[3];
    assert_eq!(config.misconf_summary.as_ref().map(|m| m.failures), Some(1));
    assert_eq!(config.misconfigurations.iter().filter(|m| m.failed()).count(), 1);
    assert_eq!(config.misconfigurations[0].cause_metadata.as_ref().and_then(|c| c.start_line), Some(1));
    let secret = &r.results[4].secrets[0];
    assert_eq!(
        (secret.rule_id.as_str(), secret.severity, secret.start_line),
        ("github-pat", Severity::Critical, Some(3))
    );
    let license = &r.results[5].licenses[0];
    assert_eq!((license.name.as_str(), license.category.as_deref()), ("GPL-3.0-only", Some("restricted")));
}

#[test]
fn cvss_bands_match_the_qualitative_scale() {
    let cases = [
        (10.0, Severity::Critical),
        (9.0, Severity::Critical),
        (8.9, Severity::High),
        (7.0, Severity::High),
        (6.9, Severity::Medium),
        (4.0, Severity::Medium),
        (3.9, Severity::Low),
        (0.1, Severity::Low),
        (0.0, Severity::Unknown),
    ];
    for (score, want) in cases {
        assert_eq!(Severity::from_cvss(score), want, "{score}");
    }
}

#[test]
fn a_wrong_type_names_its_path() {
    let text = r#"{"SchemaVersion": 2, "ArtifactName": "x", "Results": [{"Target": "t", "Vulnerabilities": [{"VulnerabilityID": 5}]}]}"#;
    let err = parse(text.as_bytes()).expect_err("a number is not an id");
    let msg = err.to_string();
    assert!(msg.contains("Results[0].Vulnerabilities[0].VulnerabilityID"), "{msg}");
}
