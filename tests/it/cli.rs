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
        &["sim", "--help"],
        &["demo", "--help"],
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
