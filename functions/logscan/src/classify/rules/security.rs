//! A security gate fails (the study's P6): vulnerable dependencies or images, banned dependencies,
//! unapproved licences, leaked secrets.

use super::Rule;
use crate::cause::Cause::Security as S;
use crate::classify::Severity::{Critical, High};

const SECURITY_STEPS: &[&str] = &["audit", "scan", "security", "trivy", "vuln", "snyk", "grype", "codeql", "deny"];

pub const RULES: &[Rule] = &[
    // Trivy table output: "Total: 3 (HIGH: 2, CRITICAL: 1)" and "│ openssl │ CVE-2024-1234 │ CRITICAL │"
    Rule::new(
        "trivy.vulnerabilities",
        S,
        Critical,
        0.9,
        &["total: ", "│"],
        &[r"^Total: [1-9]\d* \((UNKNOWN|LOW|MEDIUM|HIGH|CRITICAL)", r"│\s*(CVE|GHSA)-[\w-]+\s*│\s*(CRITICAL|HIGH)\s*│"],
    )
    .steps(SECURITY_STEPS),
    // npm audit: "3 vulnerabilities (1 moderate, 2 high)" / "found 2 high severity vulnerabilities"
    Rule::new(
        "npm.audit",
        S,
        High,
        0.72,
        &["vulnerabilit"],
        &[
            r"^[1-9]\d* (high|critical) severity vulnerabilit",
            r"^found [1-9]\d* .*vulnerabilit",
            r"^[1-9]\d* vulnerabilit(y|ies) \(.*(high|critical)",
        ],
    )
    .steps(SECURITY_STEPS),
    // cargo audit: "error: 2 vulnerabilities found!" / cargo deny: "error[vulnerability]", "advisories FAILED"
    Rule::new(
        "rust.audit_deny",
        S,
        Critical,
        0.93,
        &["vulnerabilit", "error[", "advisories failed", "bans failed", "licenses failed"],
        &[
            r"^error: \d+ vulnerabilit(y|ies) found",
            r"^error\[(vulnerability|unsound|unmaintained|yanked|banned|rejected|unlicensed)\]",
            r"(advisories|bans|licenses) FAILED",
        ],
    ),
    Rule::new("rust.rustsec_id", S, High, 0.8, &["rustsec-"], &[r"RUSTSEC-\d{4}-\d{4}"]).steps(SECURITY_STEPS),
    // govulncheck: "Your code is affected by 1 vulnerability from 1 module." / "Vulnerability #1: GO-2024-1234"
    Rule::new(
        "go.govulncheck",
        S,
        Critical,
        0.93,
        &["your code is affected by", "vulnerability #"],
        &[r"Your code is affected by [1-9]\d* vulnerabilit", r"^Vulnerability #\d+: GO-\d{4}-\d+"],
    ),
    // pip-audit: "Found 2 known vulnerabilities in 1 package"; safety: "2 vulnerabilities reported"
    Rule::new(
        "python.audit",
        S,
        Critical,
        0.93,
        &["known vulnerabilit", "vulnerabilities reported", "vulnerability reported"],
        &[r"Found [1-9]\d* known vulnerabilit", r"[1-9]\d* vulnerabilit(y|ies) reported"],
    ),
    // OWASP dependency-check, Snyk, Grype.
    Rule::new(
        "sca.dependency_check",
        S,
        Critical,
        0.93,
        &[
            "identified with vulnerabilities",
            "dependency-check",
            "found [",
            "known issues, found",
            "severity threshold",
            "vulnerable paths",
        ],
        &[
            r"One or more dependencies were identified with vulnerabilities",
            r"dependency-check-maven:\S+:(check|aggregate)",
            r"known issues, found [1-9]",
            r"vulnerabilities at or above the severity threshold",
            r"[1-9]\d* vulnerable paths?",
        ],
    ),
    // Maven enforcer banned dependencies, Apache RAT licences, secret scanners.
    Rule::new(
        "policy.banned_or_secret",
        S,
        High,
        0.9,
        &["banned dependenc", "unapproved licen", "leaks found", "secret", "rat check"],
        &[
            r"(?i)found banned dependency",
            r"(?i)banned dependencies",
            r"(?i)unapproved licen[cs]es?",
            r"(?i)\bleaks found: [1-9]",
            r"(?i)[1-9]\d* (verified )?secrets? (found|detected)",
        ],
    ),
    Rule::new("generic.cve_id", S, High, 0.6, &["cve-", "ghsa-"], &[r"\bCVE-\d{4}-\d{4,}\b", r"\bGHSA(-[\w]{4}){3}\b"])
        .steps(SECURITY_STEPS),
];
