//! The explainer: the chunk that explains a failure, from the failed log alone.

use aetherveil_logparse::explain::{Explainer, Hints, explain};
use aetherveil_logparse::reader::{ReaderConfig, read_lines};

fn texts(log: &str) -> Vec<String> {
    let lines = read_lines(log.as_bytes(), ReaderConfig::default()).expect("text");
    explain(&lines).lines.into_iter().map(|l| l.line.text).collect()
}

#[test]
fn cargo_failure_chunk_is_the_compiler_error_not_the_exit_line() {
    let log = "2026-01-01T00:00:00.0000000Z ##[group]Run cargo build\n\
2026-01-01T00:00:00.0000000Z ##[endgroup]\n\
2026-01-01T00:00:01.0000000Z    Compiling serde v1.0.0\n\
2026-01-01T00:00:01.0000000Z    Compiling app v0.1.0\n\
2026-01-01T00:00:02.0000000Z error[E0425]: cannot find value `cfg` in this scope\n\
2026-01-01T00:00:02.0000000Z   --> src/main.rs:3:5\n\
2026-01-01T00:00:02.0000000Z    |\n\
2026-01-01T00:00:02.0000000Z 3  |     cfg.run();\n\
2026-01-01T00:00:02.0000000Z    |     ^^^ not found in this scope\n\
2026-01-01T00:00:02.0000000Z \n\
2026-01-01T00:00:03.0000000Z For more information about this error, try `rustc --explain E0425`.\n\
2026-01-01T00:00:03.0000000Z ##[error]Process completed with exit code 101.\n\
2026-01-01T00:00:04.0000000Z Post job cleanup.\n";
    let lines = read_lines(log.as_bytes(), ReaderConfig::default()).expect("text");
    let explanation = explain(&lines);
    let chunk: Vec<&str> = explanation.lines.iter().map(|l| l.line.text.as_str()).collect();
    assert_eq!(chunk[0], "error[E0425]: cannot find value `cfg` in this scope");
    assert!(chunk.contains(&"   |     ^^^ not found in this scope"));
    assert!(!chunk.iter().any(|l| l.starts_with("Process completed")));
    assert_eq!(explanation.failing_step.as_deref(), Some("Run cargo build"));
    assert!(explanation.lines.iter().all(|l| l.line.step.as_deref() == Some("Run cargo build")));
}

#[test]
fn repeated_noise_loses_to_the_rare_failure_and_passing_summaries_do_not_score() {
    let mut log = String::new();
    for i in 0..200 {
        log.push_str(&format!("test module::case_{i} ... ok\n"));
        if i % 10 == 0 {
            log.push_str(&format!("warning: retrying download {i}\n"));
        }
    }
    log.push_str("test result: ok. 200 passed; 0 failed\n");
    log.push_str("---- parser::tests::empty stdout ----\n");
    log.push_str("thread 'parser::tests::empty' panicked at src/parser.rs:10:5:\n");
    log.push_str("assertion `left == right` failed\n  left: 1\n right: 2\n");
    log.push_str("\nfailures:\n    parser::tests::empty\n");
    log.push_str("test result: FAILED. 1 passed; 1 failed\n");
    let chunk = texts(&log);
    assert!(chunk.iter().any(|l| l.contains("panicked at")), "{chunk:?}");
    assert!(chunk.iter().all(|l| !l.contains("retrying download")));
    assert!(chunk.len() <= aetherveil_logparse::explain::MAX_CHUNK_LINES);
}

#[test]
fn a_log_without_failure_words_gives_an_empty_chunk() {
    let explanation = explain(&read_lines(b"building\ndone\n", ReaderConfig::default()).expect("text"));
    assert!(explanation.lines.is_empty());
    assert_eq!(explanation.total_lines, 2);
}

#[test]
fn hints_from_earlier_chunks_pull_in_lines_of_the_same_shape() {
    let log = "running checks\nREADME.md:120:Line longer than 80 characters.\nall done\n";
    let lines = read_lines(log.as_bytes(), ReaderConfig::default()).expect("text");
    assert!(explain(&lines).lines.is_empty(), "nothing in the line says failure");
    let mut hints = Hints::default();
    hints.learn(["README.md:2180:Line longer than 80 characters."]);
    let mut explainer = Explainer::with_hints(hints);
    for line in &lines {
        explainer.push(line);
    }
    let chunk: Vec<u32> = explainer.finish().lines.iter().map(|l| l.line.number).collect();
    assert_eq!(chunk, [2]);
}
