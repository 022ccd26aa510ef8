//! `aetherveil eval nab` as a user runs it: the JSON contract on the real NAB folder, and clear
//! errors for a folder that is not one.

use crate::support::{bin, dataset};
use std::process::Command;

fn eval_nab(data: &std::path::Path, json: bool) -> std::process::Output {
    let mut cmd = Command::new(bin());
    cmd.args(["eval", "nab", "--data"]).arg(data);
    if json {
        cmd.arg("--json");
    }
    cmd.output().expect("run aetherveil eval nab")
}

#[test]
fn json_report_follows_the_evaluation_contract() {
    let Some(nab) = dataset("nab") else { return };
    let out = eval_nab(&nab, true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("exactly one JSON object on stdout");
    assert_eq!(report["eval"], "nab");
    for profile in ["standard", "reward_low_FP_rate", "reward_low_FN_rate"] {
        let score = report["summary"][profile].as_f64().unwrap_or(f64::NAN);
        assert!(score.is_finite() && score <= 100.0, "{profile}: {score}");
    }
    let groups = report["groups"].as_object().expect("groups");
    assert!(groups.contains_key("realKnownCause/nyc_taxi.csv"), "one group per data file");
    assert!(groups.values().all(|g| g["standard"].is_number() && g["windows"].is_number()));
}

#[test]
fn table_report_names_the_comparison_rows() {
    let Some(nab) = dataset("nab") else { return };
    let out = eval_nab(&nab, false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["standard", "relativeEntropy", "ARTime", "scorer check"] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn a_folder_that_is_not_nab_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = eval_nab(&dir.path().join("absent"), true);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let out = eval_nab(dir.path(), true);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no data/ folder"));
    assert!(out.stdout.is_empty(), "no JSON on failure");
}
