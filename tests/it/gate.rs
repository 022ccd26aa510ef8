//! `aetherveil gate trivy`: exit codes 0 (pass), 1 (policy failure), 2 (bad input or policy),
//! with the problem named on stderr; Markdown appended to a summary file.
use crate::support::bin;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("functions/gate/tests/fixtures").join(name)
}

fn gate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).arg("gate").arg("trivy").args(args).output().expect("run aetherveil");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_codes_and_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = fixture("image.json");
    let report = report.to_str().expect("utf-8");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.to_string_lossy().into_owned()
    };
    let lenient = write("lenient.yml", "version: 1\nfail_on:\n  severities: [CRITICAL]\n  min_cvss: 9.5\n");
    let strict = fixture("policy.yml");
    let strict = strict.to_str().expect("utf-8");
    let bad_policy = write("bad.yml", "version: 1\nfail_on:\n  severites: [HIGH]\n");
    let truncated = write("cut.json", r#"{"SchemaVersion": 2, "Results": [{"Target": "#);
    let cdx = write("sbom.json", r#"{"bomFormat": "CycloneDX", "specVersion": "1.5"}"#);

    let (code, out, _) = gate(&[report, "--policy", &lenient]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("security gate: PASS"), "{out}");

    let summary = dir.path().join("summary.md");
    let (code, out, _) =
        gate(&[report, "--policy", strict, "--format", "json", "--summary", summary.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json on stdout");
    assert_eq!(v["passed"], false);
    let md = std::fs::read_to_string(&summary).expect("summary written");
    assert!(md.contains("## ❌ Security gate: failed"), "{md}");

    // The report is its own baseline: nothing is new, it passes.
    let (code, _, _) = gate(&[report, "--policy", strict, "--baseline", report]);
    assert_eq!(code, 0);

    let cases: &[(&[&str], &str)] = &[
        (&[&truncated, "--policy", strict], "truncated"),
        (&[&cdx, "--policy", strict], "CycloneDX"),
        (&["/nonexistent/report.json", "--policy", strict], "cannot read /nonexistent/report.json"),
        (&[report, "--policy", &bad_policy], "unknown field `severites`"),
        (&[report, "--policy", strict, "--baseline", &cdx], "baseline"),
    ];
    for (args, needle) in cases {
        let (code, out, err) = gate(args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.is_empty(), "no verdict on bad input: {out}");
    }

    for format in ["markdown", "sarif", "text"] {
        let (code, out, _) = gate(&[report, "--policy", strict, "--format", format]);
        assert_eq!(code, 1);
        assert!(!out.is_empty(), "{format}");
    }
}
