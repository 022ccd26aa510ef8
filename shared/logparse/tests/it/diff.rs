//! The diff of a failed log against the passing runs of the same job.

use aetherveil_logparse::LogLine;
use aetherveil_logparse::diff::{DiffConfig, PassingProfile, diff};
use aetherveil_logparse::reader::{ReaderConfig, read_lines};

fn lines(text: &str) -> Vec<LogLine> {
    read_lines(text.as_bytes(), ReaderConfig::default()).expect("text")
}

fn green(run: u32) -> String {
    format!(
        "2026-01-01T00:00:00.0000000Z ##[group]Run npm test\n\
2026-01-01T00:00:00.0000000Z ##[endgroup]\n\
2026-01-01T00:00:01.0000000Z added {} packages in {}s\n\
2026-01-01T00:00:02.0000000Z PASS src/app.test.js ({}.2 s)\n\
2026-01-01T00:00:02.0000000Z Tests: 12 passed, 12 total\n",
        300 + run,
        run + 3,
        run
    )
}

const RED: &str = "2026-01-01T00:00:00.0000000Z ##[group]Run npm test\n\
2026-01-01T00:00:00.0000000Z ##[endgroup]\n\
2026-01-01T00:00:01.0000000Z added 377 packages in 9s\n\
2026-01-01T00:00:02.0000000Z FAIL src/app.test.js (5.2 s)\n\
2026-01-01T00:00:02.0000000Z   ● renders the header\n\
2026-01-01T00:00:02.0000000Z     expect(received).toBe(expected)\n\
2026-01-01T00:00:02.0000000Z Tests: 1 failed, 11 passed, 12 total\n\
2026-01-01T00:00:03.0000000Z ##[error]Process completed with exit code 1.\n";

#[test]
fn only_lines_never_seen_when_green_are_hits_with_step_and_context() {
    let mut profile = PassingProfile::new();
    for run in 0..5 {
        profile.learn(lines(&green(run)));
    }
    assert_eq!(profile.runs(), 5);
    assert!(profile.seen_share("added 999 packages in 2s") > 0.9, "numbers are variables");
    let failed = lines(RED);
    let hits = diff(&profile, &failed, &DiffConfig::default());
    assert!(!hits.is_empty());
    let shown: Vec<u32> = hits.iter().flat_map(|h| h.lines.iter().map(|l| l.number)).collect();
    assert!(shown.contains(&4) && shown.contains(&6), "{shown:?}");
    assert!(!shown.contains(&3), "a line seen in every green run is not a hit");
    assert_eq!(hits[0].step.as_deref(), Some("Run npm test"));
    assert!(hits.iter().all(|h| h.lines.len() <= DiffConfig::default().max_hit_lines));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "ranked");
}

#[test]
fn profiles_serialise_and_merge() {
    let mut a = PassingProfile::new();
    a.learn(lines(&green(1)));
    let mut b = PassingProfile::new();
    b.learn(lines(&green(2)));
    b.learn(lines(&green(3)));
    let json = serde_json::to_string(&b).expect("serialises");
    let b: PassingProfile = serde_json::from_str(&json).expect("deserialises");
    a.merge(&b);
    assert_eq!(a.runs(), 3);
    assert!(a.seen_share("PASS src/app.test.js (7.2 s)") > 0.9);
    assert_eq!(a.seen_share("FAIL src/app.test.js (7.2 s)"), 0.0);
}

/// A Maven-like build: the passing run has a cached dependency and a test that logs a handled
/// exception; `extra` is inserted before the build result.
fn build(extra: &str, result: &str) -> String {
    format!(
        "[INFO] Scanning for projects...\n\
[INFO] Building demo 1.0\n\
[INFO] --- compiler:compile (default-compile) @ demo ---\n\
[INFO] Compiling 12 source files\n\
[INFO] Running demo.ParserTest\n\
java.lang.IllegalStateException: expected in this test\n\
\tat demo.Parser.parse(Parser.java:41)\n\
\tat demo.ParserTest.rejects(ParserTest.java:17)\n\
\tat org.junit.runners.ParentRunner.run(ParentRunner.java:363)\n\
[INFO] Tests run: 4, Failures: 0, Errors: 0, Skipped: 0\n\
{extra}\
{result}"
    )
}

const PASSED: &str = "[INFO] BUILD SUCCESS\n[INFO] Total time: 3.2 s\nFinished: SUCCESS\n";

fn profile_of(logs: &[String]) -> PassingProfile {
    let mut profile = PassingProfile::new();
    for log in logs {
        profile.learn(lines(log));
    }
    profile
}

fn shown(hits: &[aetherveil_logparse::diff::DiffHit]) -> Vec<String> {
    let mut shown: Vec<(u32, String)> =
        hits.iter().flat_map(|h| h.shown()).map(|l| (l.number, l.text.clone())).collect();
    shown.sort();
    shown.dedup();
    shown.into_iter().map(|(_, t)| t).collect()
}

#[test]
fn learning_takes_owned_lines_as_well_as_borrowed_ones() {
    let log = build("", PASSED);
    let read = lines(&log);
    let mut borrowed = PassingProfile::new();
    borrowed.learn(&read);
    let mut streamed = PassingProfile::new();
    streamed.learn(read.clone());
    assert_eq!(streamed.runs(), 1);
    for line in &read {
        assert_eq!(streamed.seen_share(&line.text), borrowed.seen_share(&line.text), "{}", line.text);
    }
    assert_eq!(streamed.seen_share("[INFO] Compiling 99 source files"), 1.0);
}

#[test]
fn downloads_and_verdicts_are_not_hits_but_the_error_and_its_known_frames_are() {
    let profile = profile_of(&[build("", PASSED), build("", PASSED)]);
    let failed = build(
        "Downloading from central: https://repo.example.org/demo/lib/2.0/lib-2.0.pom\n\
Downloaded from central: https://repo.example.org/demo/lib/2.0/lib-2.0.pom (2 kB at 40 kB/s)\n\
Progress (1): 12/40 kB\n\
[INFO] Running demo.LexerTest\n\
Tests run: 3, Failures: 0, Errors: 1, Skipped: 0 <<< FAILURE!\n\
tokens(demo.LexerTest)  Time elapsed: 0.1 sec  <<< ERROR!\n\
java.lang.IllegalStateException: expected in this test\n\
\tat demo.Parser.parse(Parser.java:41)\n\
\tat demo.ParserTest.rejects(ParserTest.java:17)\n\
\tat org.junit.runners.ParentRunner.run(ParentRunner.java:363)\n\
[INFO] Reports written\n",
        "[INFO] BUILD FAILURE\n[INFO] Total time: 3.9 s\nFinished: FAILURE\n",
    );
    let hits = diff(&profile, &lines(&failed), &DiffConfig::default());
    let shown = shown(&hits);
    assert!(shown.iter().any(|l| l.starts_with("tokens(demo.LexerTest)")), "{shown:#?}");
    for frame in ["\tat demo.Parser.parse", "\tat demo.ParserTest.rejects", "\tat org.junit.runners"] {
        assert!(shown.iter().any(|l| l.starts_with(frame)), "known frames after a new error are kept: {shown:#?}");
    }
    let in_hits: Vec<&str> = hits.iter().flat_map(|h| &h.lines).map(|l| l.text.as_str()).collect();
    for noise in ["Downloading", "Downloaded", "Progress", "[INFO] BUILD FAILURE", "Finished: FAILURE"] {
        assert!(!in_hits.iter().any(|l| l.starts_with(noise)), "{noise} is at most context: {in_hits:#?}");
    }
    assert!(!shown.iter().any(|l| l.starts_with("Download")), "{shown:#?}");
}

#[test]
fn new_lines_without_failure_vocabulary_or_only_warnings_are_dropped_far_from_the_end() {
    let profile = profile_of(&[build("", PASSED)]);
    let mut extra = String::from(
        "[INFO] Reactor Build Order:\n[INFO] demo-api\n[INFO] demo-cli\n\n\
[WARNING] Could not transfer metadata demo:lib/maven-metadata.xml from snapshots\n\
[WARNING] Failure to transfer demo:lib/maven-metadata.xml\n\n",
    );
    for i in 0..30 {
        extra.push_str(&format!("[INFO] Compiling {i} source files\n"));
    }
    extra.push_str("[ERROR] Parser.java:[41,7] cannot find symbol\n[INFO] Compiling 1 source files\n");
    let failed = lines(&build(&extra, "[INFO] BUILD FAILURE\n"));
    let hits = diff(&profile, &failed, &DiffConfig::default());
    let shown = shown(&hits);
    assert_eq!(hits.len(), 1, "{shown:#?}");
    assert_eq!(hits[0].line.text, "[ERROR] Parser.java:[41,7] cannot find symbol");
    assert!(!shown.iter().any(|l| l.contains("Reactor") || l.contains("[WARNING]")), "{shown:#?}");
}
