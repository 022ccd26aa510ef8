//! Failure signatures: the same failure in another run has the same signature; another failure
//! does not.

use aetherveil_healer::signature::signature;
use aetherveil_logscan::Diagnosis;
use serde_json::json;

fn diagnosis(job_id: u64, cause: &str, rule: &str, evidence: &str) -> Diagnosis {
    serde_json::from_value(json!({
        "id": job_id.to_string(), "repo": "octo/app", "run_id": 900 + job_id, "run_attempt": 1, "job_id": job_id,
        "job_name": "test", "workflow_name": "CI", "head_sha": format!("{job_id:040}"), "head_branch": "main",
        "html_url": null, "conclusion": "failure", "cause": cause, "confidence": 0.9, "transient": true,
        "summary": "", "reason": "", "remedy": "", "method": "rules", "lines": [],
        "findings": [{"id": rule, "cause": cause, "severity": "high", "confidence": 0.9,
                      "evidence": [{"line": 40 + job_id, "step": "Run npm ci", "text": evidence}]}],
        "compared_with": 0, "log": {"bytes": 1, "lines": 1, "steps": 1, "new_lines": 0},
        "model_version": null, "analysed_at": "2026-11-27T12:00:00Z"
    }))
    .expect("a diagnosis")
}

#[test]
fn the_same_failure_in_another_run_has_the_same_signature() {
    let a = diagnosis(
        1,
        "network",
        "npm.network_request_failed",
        "npm error network request to https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz failed, reason: read ECONNRESET",
    );
    let b = diagnosis(
        2,
        "network",
        "npm.network_request_failed",
        "npm error network request to https://registry.npmjs.org/chalk/-/chalk-5.3.0.tgz failed, reason: read ECONNRESET",
    );
    assert_eq!(signature(&a), signature(&b), "values differ, the failure is the same");
    assert_eq!(signature(&a).len(), 16);
    assert!(signature(&a).bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn another_rule_cause_or_message_is_another_signature() {
    let base = diagnosis(
        1,
        "network",
        "npm.network_request_failed",
        "npm error network request to https://x/a.tgz failed, reason: read ECONNRESET",
    );
    let other_rule = diagnosis(
        1,
        "network",
        "net.connection_failed",
        "npm error network request to https://x/a.tgz failed, reason: read ECONNRESET",
    );
    let other_cause = diagnosis(
        1,
        "rate_limit",
        "npm.network_request_failed",
        "npm error network request to https://x/a.tgz failed, reason: read ECONNRESET",
    );
    let other_text = diagnosis(1, "network", "npm.network_request_failed", "npm error code EAI_AGAIN");
    let s = signature(&base);
    assert_ne!(s, signature(&other_rule));
    assert_ne!(s, signature(&other_cause));
    assert_ne!(s, signature(&other_text));
}
