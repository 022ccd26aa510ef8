//! Wrong inputs: each is an error that names the problem.
use aetherveil_reports::{ReportError, parse};

#[test]
fn wrong_inputs_are_named() {
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("  \n\t ", "empty"),
        ("{\"SchemaVersion\": 2, \"Results\": [", "truncated"),
        ("{\"SchemaVersion\": 2,, }", "not valid JSON"),
        ("{\"SchemaVersion\": 1, \"Results\": []}", "schema version 1"),
        ("{\"SchemaVersion\": \"2\", \"Results\": []}", "schema version \"2\""),
        ("{\"ImageID\": \"x\", \"Results\": []}", "no SchemaVersion"),
        ("[{\"Target\": \"x\"}]", "bare JSON list"),
        ("{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.6\"}", "CycloneDX"),
        ("{\"spdxVersion\": \"SPDX-2.3\"}", "SPDX"),
        ("{\"Findings\": [{\"SchemaVersion\": \"2018-10-08\"}]}", "ASFF"),
        ("{\"version\": \"15.0.7\", \"vulnerabilities\": [], \"scan\": {}}", "GitLab"),
        ("[{\"check_name\": \"x\", \"fingerprint\": \"y\"}]", "GitLab Code Quality"),
        ("{\"version\": 0, \"detector\": {}, \"manifests\": {}}", "dependency snapshot"),
        ("{\"version\": \"2.0.0\", \"runs\": []}", "SARIF version \"2.0.0\""),
        ("<?xml version=\"1.0\" ?>\n<testsuites name=\"trivy\"></testsuites>", "JUnit XML"),
        ("<!DOCTYPE html><html></html>", "HTML"),
        ("Report Summary\n\n┌────────┐\n", "plain text"),
        ("{\"hello\": \"world\"}", "neither a Trivy report"),
        ("42", "plain text"),
    ];
    for (input, needle) in cases {
        let err = parse(input.as_bytes()).expect_err(input);
        assert!(err.to_string().contains(needle), "{input:?}: {err}");
    }
}

#[test]
fn truncation_reports_where_the_file_ends() {
    let full = br#"{"SchemaVersion": 2, "ArtifactName": "x", "Results": []}"#;
    for cut in 1..full.len() - 1 {
        match parse(&full[..cut]) {
            Err(ReportError::Truncated { line: 1, .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn a_byte_order_mark_and_leading_blank_lines_are_fine() {
    let mut bytes = b"\xEF\xBB\xBF\n\n".to_vec();
    bytes.extend_from_slice(br#"{"SchemaVersion": 2, "ArtifactName": "x"}"#);
    assert!(parse(&bytes).is_ok());
}
