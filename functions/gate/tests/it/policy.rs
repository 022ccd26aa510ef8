//! The policy file is read strictly: every mistake is an error naming the field.
use aetherveil_gate::Policy;
use aetherveil_reports::Severity;

fn err(yaml: &str) -> String {
    Policy::parse(yaml, "p.yml", "p", None).expect_err(yaml).to_string()
}

#[test]
fn mistakes_are_named() {
    let cases: &[(&str, &str)] = &[
        ("version: 2\n", "`version` must be 1"),
        ("fail_on: {}\n", "missing field `version`"),
        ("version: 1\nfail_on:\n  severity: [HIGH]\n", "unknown field `severity`"),
        ("version: 1\nfail_on:\n  severities: [SEVERE]\n", "\"SEVERE\" is not a severity"),
        ("version: 1\nfail_on:\n  min_cvss: 11\n", "`fail_on.min_cvss` must be between 0 and 10"),
        ("version: 1\nmax_counts:\n  HUGE: 1\n", "`max_counts.HUGE`"),
        ("version: 1\nmax_counts:\n  LOW: -1\n", "max_counts"),
        ("version: 1\nignore:\n  - id: CVE-1\n    expires: 2030-01-01\n", "`ignore[0].reason` is required"),
        ("version: 1\nignore:\n  - id: CVE-1\n    reason: ok\n", "`ignore[0].expires` is required"),
        ("version: 1\nignore:\n  - id: CVE-1\n    reason: ok\n    expires: someday\n", "\"someday\" is not a date"),
        (
            "version: 1\nignore:\n  - reason: ok\n    expires: 2030-01-01\n",
            "must name at least one of id, package or path",
        ),
        (
            "version: 1\nignore:\n  - id: CVE-1\n    reason: ok\n    expires: 2030-01-01\n    until: x\n",
            "unknown field `until`",
        ),
        ("version: 1\nscope:\n  kinds: [vulns]\n", "unknown variant `vulns`"),
        ("version: 1\nknown_exploited:\n  file: /nonexistent/kev.txt\n", "cannot read the known-exploited list"),
        ("version: [1\n", "not valid"),
        ("", "not valid"),
    ];
    for (yaml, needle) in cases {
        let e = err(yaml);
        assert!(e.contains(needle), "{yaml:?}: {e}");
        assert!(e.contains("p.yml"), "names the file: {e}");
    }
}

#[test]
fn defaults_and_the_built_in_policy() {
    let p = Policy::parse("version: 1\n", "p.yml", "p", None).expect("minimal");
    assert_eq!(p.name, "p");
    assert_eq!(p.fail_severities.iter().copied().collect::<Vec<_>>(), vec![Severity::High, Severity::Critical]);
    assert!(!p.only_fixable && p.min_cvss.is_none() && p.ignores.is_empty() && p.known_exploited.is_empty());
    let d = Policy::builtin_default();
    assert_eq!(d.name, "default");
    assert!(d.only_fixable);
}

#[test]
fn known_exploited_lists_are_read_from_text_and_cisa_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kev.txt"), "# local list\nCVE-2021-44228\ncve-2014-0160  # heartbleed\n\n")
        .expect("write");
    std::fs::write(
        dir.path().join("kev.json"),
        r#"{"title": "CISA KEV", "vulnerabilities": [{"cveID": "CVE-2023-4966"}, {"cveID": "CVE-2024-3400"}]}"#,
    )
    .expect("write");
    let yaml = "version: 1\nknown_exploited:\n  ids: [CVE-1]\n  file: kev.txt\n";
    std::fs::write(dir.path().join("p.yml"), yaml).expect("write");
    let p = Policy::load(&dir.path().join("p.yml")).expect("loads");
    assert_eq!(
        p.known_exploited.iter().map(String::as_str).collect::<Vec<_>>(),
        vec!["CVE-1", "CVE-2014-0160", "CVE-2021-44228"]
    );
    std::fs::write(dir.path().join("q.yml"), "version: 1\nknown_exploited:\n  file: kev.json\n").expect("write");
    let q = Policy::load(&dir.path().join("q.yml")).expect("loads");
    assert_eq!(q.known_exploited.len(), 2);
    assert!(q.known_exploited.contains("CVE-2024-3400"));
}

#[test]
fn the_committed_schema_and_examples_agree() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("policy.schema.json")).expect("schema")).expect("json");
    let props = schema["properties"].as_object().expect("properties");
    for key in ["version", "name", "fail_on", "max_counts", "ignore", "scope", "known_exploited"] {
        assert!(props.contains_key(key), "the schema documents {key}");
    }
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    let example = std::fs::read_to_string(root.join("policies/example.yml")).expect("example");
    Policy::parse(&example, "example.yml", "example", Some(&root.join("policies")))
        .expect("the documented example is valid");
}
