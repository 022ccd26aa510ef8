//! Rendered outputs: the Markdown summary (snapshot), SARIF and JSON shapes.
use aetherveil_gate::render::{Format, markdown, render, sarif};
use aetherveil_gate::{Policy, Verdict, evaluate};
use chrono::{TimeZone, Utc};

fn verdict() -> Verdict {
    let bytes = std::fs::read(crate::fixture("image.json")).expect("fixture");
    let findings = aetherveil_gate::Findings::from_report(&aetherveil_reports::parse(&bytes).expect("parses"));
    let policy = Policy::load(&crate::fixture("policy.yml")).expect("policy");
    evaluate(&findings, &policy, None, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("date"))
}

#[test]
fn markdown_summary() {
    let v = verdict();
    assert!(!v.passed);
    insta::assert_snapshot!(markdown(&v));
}

#[test]
fn sarif_output_is_sarif_the_gate_reads_back() {
    let v = verdict();
    let log = sarif(&v);
    let read = aetherveil_reports::parse_value(log.clone()).expect("our SARIF parses");
    let back = aetherveil_gate::Findings::from_report(&read);
    assert_eq!(back.findings.len(), 2, "the two considered findings (the unfixed musl one is set aside)");
    let levels: Vec<&str> = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["level"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(levels, ["error", "error"]);
}

#[test]
fn json_and_text_carry_the_verdict() {
    let v = verdict();
    let json: serde_json::Value = serde_json::from_str(&render(&v, Format::Json)).expect("json");
    assert_eq!(json["passed"], false);
    assert_eq!(json["counts"]["failing"]["critical"], 1);
    assert_eq!(json["expired_ignores"][0]["findings"], 1);
    let text = render(&v, Format::Text);
    assert!(text.starts_with("security gate: FAIL"), "{text}");
    assert!(text.contains("expired on 2000-01-01"), "{text}");
}
