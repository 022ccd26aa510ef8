//! The command line as a new user meets it.

use crate::support::{Server, bin};
use std::process::Command;

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run aetherveil")
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["run-function", "--help"],
        &["replay", "--help"],
        &["config", "--help"],
        &["bench", "--help"],
        &["bench", "webhook", "--help"],
        &["bench", "loadgen", "--help"],
        &["bench", "mining", "--help"],
        &["bench", "logscan", "--help"],
        &["sim", "--help"],
        &["demo", "--help"],
        &["diagnose", "--help"],
        &["eval", "loghub", "--help"],
        &["eval", "logchunks", "--help"],
        &["eval", "cidiff", "--help"],
    ] {
        let out = run(args, &[]);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
}

#[test]
fn a_bad_config_stops_start_up_and_names_the_culprit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("AETHERVEIL_WEBHOOK_SECRT", "x")], "AETHERVEIL_WEBHOOK_SECRT"),
        (&[("AETHERVEIL_BUS_MAX_ATTEMPTS", "lots")], "AETHERVEIL_BUS_MAX_ATTEMPTS"),
        (&[("AETHERVEIL_SERVER_ADDR", "nowhere")], "server.addr"),
    ];
    for (env, needle) in cases {
        let out = run(&["serve", "--data-dir", &dir.path().display().to_string()], env);
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{env:?}: {err}");
    }
    let file = dir.path().join("aetherveil.toml");
    std::fs::write(&file, "[webhook]\nsecret = \"s\"\nmax_body = 10\n").expect("write");
    let out = run(&["serve", "--config", &file.display().to_string()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("webhook.max_body"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_github_app_that_cannot_get_a_token_stops_start_up_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/github/tests/fixtures/app-key.pem"),
    )
    .expect("the github crate's test key");
    // Nothing listens on port 9: the token exchange fails, and the platform must not start
    // without the credentials it was configured with.
    let env = [
        ("AETHERVEIL_WEBHOOK_SECRET", "s"),
        ("AETHERVEIL_GITHUB_API_URL", "http://127.0.0.1:9"),
        ("AETHERVEIL_GITHUB_APP_ID", "4242"),
        ("AETHERVEIL_GITHUB_APP_PRIVATE_KEY", key.as_str()),
        ("AETHERVEIL_GITHUB_APP_INSTALLATION_ID", "7"),
    ];
    let addr = crate::support::free_addr().to_string();
    let out = run(&["serve", "--addr", &addr, "--data-dir", &dir.path().display().to_string()], &env);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot get a token for GitHub App 4242 installation 7"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "the key never shows: {err}");
    let out = run(&["config"], &env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("app_installation_id = 7"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

#[test]
fn config_prints_the_effective_configuration_without_secrets() {
    let out = run(&["config"], &[("AETHERVEIL_WEBHOOK_SECRET", "hunter2"), ("AETHERVEIL_BUS_MAX_ATTEMPTS", "4")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("max_attempts = 4"), "{text}");
    assert!(!text.contains("hunter2"));
}

#[test]
fn sigterm_stops_the_server_cleanly_and_a_secret_is_generated_when_none_is_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_with(dir.path(), &[("AETHERVEIL_WEBHOOK_SECRET", "")]);
    let secret = std::fs::read_to_string(dir.path().join("webhook-secret")).expect("generated secret");
    assert!(secret.trim().len() >= 32);
    let status = server.sigterm();
    assert!(status.success(), "{status:?}");
}

const FAILED_LOG: &str = "2026-03-01T09:00:00.0000000Z ##[group]Run cargo build --locked\n\
2026-03-01T09:00:00.1000000Z cargo build --locked\n\
2026-03-01T09:00:00.2000000Z ##[endgroup]\n\
2026-03-01T09:00:04.0000000Z    Compiling ledger v0.3.1 (/home/runner/work/ledger/ledger)\n\
2026-03-01T09:00:05.0000000Z error[E0425]: cannot find value `totl` in this scope\n\
2026-03-01T09:00:05.0000000Z   --> src/lib.rs:12:5\n\
2026-03-01T09:00:05.1000000Z error: could not compile `ledger` (lib) due to 1 previous error\n\
2026-03-01T09:00:05.2000000Z ##[error]Process completed with exit code 101.\n";

#[test]
fn diagnose_explains_a_log_on_disk_and_says_why_it_cannot_read_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("build.log");
    std::fs::write(&log, FAILED_LOG).expect("write");
    let path = log.to_str().expect("utf-8 path");
    let out = run(&["diagnose", path], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("does not compile") && text.contains("error[E0425]"), "{text}");
    assert!(text.contains("     5 | error[E0425]"), "evidence with its line number: {text}");

    let out = run(&["diagnose", path, "--json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["cause"], "compilation");
    assert_eq!(json["transient"], false);

    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, [0u8, 159, 146, 150, 0, 7, 1, 2]).expect("write");
    let out = run(&["diagnose", garbage.to_str().expect("utf-8 path")], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unknown") && text.contains("cannot be read"), "{text}");
}
