use crate::fixture;
use aetherveil_reports::{Report, SarifLog, Severity, parse};

fn sarif(name: &str) -> SarifLog {
    match parse(&fixture(name)).expect("parses") {
        Report::Sarif(s) => s,
        other => panic!("not read as SARIF: {other:?}"),
    }
}

#[test]
fn trivy_sarif_reads_rules_results_and_message_fields() {
    let log = sarif("trivy.sarif");
    assert_eq!(log.version, "2.1.0");
    let run = &log.runs[0];
    assert_eq!(run.tool.driver.name, "Trivy");
    let rule = &run.tool.driver.rules[0];
    let props = rule.properties.as_ref().expect("properties");
    assert_eq!(props.score(), Some(9.8));
    assert_eq!(props.tagged_severity(), Some(Severity::High));
    let r = &run.results[0];
    assert_eq!(r.trivy_field("Package"), Some("openssl"));
    assert_eq!(r.trivy_field("Installed Version"), Some("3.0.11-1"));
    assert_eq!(r.trivy_field("Fixed Version"), Some("3.0.13-1"));
    assert_eq!(r.trivy_field("Missing"), None);
    assert_eq!(r.uri(), Some("ghcr.io/acme/shop"));
    assert_eq!(r.start_line(), Some(1));
}

#[test]
fn other_scanners_sarif_reads_with_numeric_security_severity() {
    let log = sarif("codeql.sarif");
    let rules = &log.runs[0].tool.driver.rules;
    assert_eq!(rules[0].properties.as_ref().and_then(|p| p.score()), Some(8.8), "a number, not a string");
    assert_eq!(rules[1].default_configuration.as_ref().and_then(|c| c.level.as_deref()), Some("note"));
    assert_eq!(log.runs[0].results.len(), 4);
    assert_eq!(log.runs[0].results[2].kind.as_deref(), Some("pass"));
}
