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

/// A Travis-style log: `$ command` sections, timers and the `The command "..." exited with N.`
/// markers. `body` is the output of the failing command.
fn travis(before: &str, command: &str, body: &str, after: &str) -> String {
    format!(
        "travis_fold:start:install\ntravis_time:start:01\n$ ./install.sh\n{before}\ntravis_time:end:01\n\
         travis_fold:end:install\n\nThe command \"./install.sh\" exited with 0.\ntravis_time:start:02\n\
         $ {command}\n{body}\ntravis_time:end:02\n\nThe command \"{command}\" exited with 1.\n\
         travis_time:start:03\n$ ./after_failure.sh\n{after}\ntravis_time:end:03\n\nDone. Your build exited with 1.\n"
    )
}

#[test]
fn the_chunk_comes_from_the_failing_command_not_from_louder_sections() {
    let log = travis(
        "ERROR: mirror unreachable, retrying\nTraceback (most recent call last):\n  File \"fetch.py\", line 3\nIOError: boom",
        "lint-docs guide/*.txt",
        "checking 12 files\nguide/intro.txt:48: line is 96 characters long",
        "Error: could not upload the coverage report\nFatalException: token missing",
    );
    let chunk = texts(&log);
    // Nothing in the failing command's output scores: its last lines are the chunk.
    assert_eq!(chunk, ["checking 12 files", "guide/intro.txt:48: line is 96 characters long"]);
}

#[test]
fn the_first_report_wins_over_the_totals_and_the_build_tools_wrap_up() {
    let body = "[info] suite A\n[info] - parses *** FAILED ***\n[info]   3 did not equal 4 (ParserSpec.scala:12)\n\
                [info] - prints\n[info] Run completed in 2 seconds.\n[info] Tests: succeeded 1, failed 1, canceled 0\n\
                [info] *** 1 TEST FAILED ***\n[error] Failed: Total 2, Failed 1, Errors 0, Passed 1\n[error] Failed tests:\n\
                [error] \tParserSpec\n[error] (core / Test / test) sbt.TestsFailedException: Tests unsuccessful\n\
                [error] Total time: 9 s";
    let chunk = texts(&travis("ok", "sbt test", body, ""));
    assert_eq!(chunk, ["[info] - parses *** FAILED ***", "[info]   3 did not equal 4 (ParserSpec.scala:12)"]);
}

#[test]
fn a_wrap_up_line_gives_way_to_the_plain_message_after_it() {
    let body = "rake aborted!\nNo Taskfile found (looking for: Taskfile, taskfile.rb)\n\
                /opt/gems/bin/task_hooks:9:in `eval'\n/opt/gems/bin/task_hooks:9:in `<main>'\n\
                (See full trace by running task with --trace)";
    let chunk = texts(&travis("ok", "rake", body, ""));
    assert_eq!(chunk[0], "No Taskfile found (looking for: Taskfile, taskfile.rb)", "{chunk:?}");
    assert!(chunk.contains(&"/opt/gems/bin/task_hooks:9:in `<main>'".to_owned()), "{chunk:?}");
    assert!(!chunk.iter().any(|l| l.starts_with("rake aborted")));
}

#[test]
fn passing_tests_and_progress_lines_do_not_score_whatever_their_names() {
    let mut body =
        String::from("   Downloaded error-chain v0.12.0\n   Compiling failure v0.1.8\n=== RUN   TestNames\n");
    for name in ["errors", "errorx", "failsafe", "fatalist", "panicky"] {
        body.push_str(&format!("    --- PASS: TestNames/{name} (0.00s)\n"));
    }
    body.push_str("--- FAIL: TestOrder (0.01s)\n    order_test.go:31: expected 'b' before 'c'\nFAIL\nexit status 1\n");
    body.push_str("FAIL\texample.com/pkg\t0.02s");
    let chunk = texts(&travis("ok", "go test -v ./...", &body, ""));
    assert_eq!(chunk, ["--- FAIL: TestOrder (0.01s)", "    order_test.go:31: expected 'b' before 'c'"]);
}

#[test]
fn an_applications_own_error_logs_lose_to_the_test_runners_report() {
    let mut body = String::new();
    for i in 0..5 {
        body.push_str(&format!(
            "Apr 12 14:46:5{i}.837 ERROR proxy: conf.go:21 Could not write settings file: no such file\n"
        ));
        body.push_str("ERROR proxy: conf.go:21   at example.com/proxy.save (conf.go:21)\n");
        body.push_str("Apr 12 14:46:59.100 DEBUG proxy: dial.go:8 Dialing backup\n");
        body.push_str("Apr 12 14:46:59.200 DEBUG proxy: dial.go:9 Dialed backup\n");
        body.push_str("Apr 12 14:46:59.300 DEBUG proxy: dial.go:10 Closing backup\n");
    }
    body.push_str("--- FAIL: TestFailover (2.62s)\n    failover_test.go:40: Expected backup to be used\n");
    body.push_str("FAIL\nFAIL\texample.com/proxy\t3.1s");
    let chunk = texts(&travis("ok", "go test ./proxy", &body, ""));
    assert_eq!(chunk, ["--- FAIL: TestFailover (2.62s)", "    failover_test.go:40: Expected backup to be used"]);
}

#[test]
fn a_multi_line_exit_marker_is_not_output_and_still_marks_the_failure() {
    let log = "travis_time:start:01\n$ bash -c \"\n  if [ -n \\\"$X\\\" ]; then make lint; fi\n\"\n\
               src/a.c:3:1: error: unknown type name 'sizet'\ntravis_time:end:01\n\nThe command \"bash -c \"\n\
               \x20 echo failed error fatal; exit 1\n\" exited with 1.\n\nDone. Your build exited with 1.\n";
    let chunk = texts(log);
    assert_eq!(chunk, ["src/a.c:3:1: error: unknown type name 'sizet'"]);
}

#[test]
fn the_line_naming_the_file_above_an_indented_report_is_part_of_it() {
    let body = "\nstyles/main.css\n 13:2  ✖  Expected double colon   selector-pseudo-element-colon-notation\n\
                \x2021:9  ✖  Unexpected unit          length-zero-no-unit\n";
    let chunk = texts(&travis("ok", "stylelint styles/", body, ""));
    assert_eq!(chunk[0], "styles/main.css");
    assert_eq!(chunk.len(), 3, "{chunk:?}");
}

#[test]
fn tap_failures_count_even_when_their_title_says_no_errors() {
    let body = "TAP version 13\nok 1 config loads\nnot ok 2 no errors\n  ---\n    operator: notOk\n    expected: false\n\
                \x20   actual:   1\n  ...\nnot ok 3 no warnings\n  ---\n    operator: deepEqual\n  ...\n\n1..3\n# tests 3\n# fail  2";
    let chunk = texts(&travis("ok", "npm test", body, ""));
    assert_eq!(chunk[0], "not ok 2 no errors", "{chunk:?}");
}

#[test]
fn a_tap_report_is_its_not_ok_line_and_diagnostics_and_the_first_one_wins() {
    let body = "TAP version 13\nok 1 loads\nnot ok 2 sorts\n  ---\n    operator: equal\n    expected: 2\n    actual:   3\n\
                \x20 ...\nok 3 prints\nok 4 parses\nnot ok 5 renders without errors\n  ---\n    operator: deepEqual\n\
                \x20   expected: []\n    actual: [ { message: 'Unexpected token', severity: 2 } ]\n    stack: |-\n\
                \x20     Error: renders without errors\n          at Test.assert (tape/lib/test.js:225:54)\n  ...\n\n1..5";
    let chunk = texts(&travis("ok", "npm test", body, ""));
    assert_eq!(
        chunk,
        ["not ok 2 sorts", "  ---", "    operator: equal", "    expected: 2", "    actual:   3"],
        "the first failure, up to the end of its diagnostics"
    );
}

#[test]
fn a_retried_commands_failure_is_the_chunk_even_when_a_later_command_fails() {
    let log = "travis_time:start:01\n$ npm install\nnpm WARN deprecated left-pad@1.0.0\n\
               Error: Cannot find module 'left-pad'\n    at Function.Module._resolveFilename (module.js:325:15)\n\
               \x20   at require (internal/module.js:12:17)\n\nThe command \"npm install\" failed. Retrying, 2 of 3.\n\
               \n$ npm install\nadded 12 packages\ntravis_time:end:01\n\nThe command \"npm install\" exited with 0.\n\
               travis_time:start:02\n$ ./ci/build.sh\nE: Failed to fetch http://mirror.example/dists/Packages  404  Not Found\n\
               Traceback (most recent call last):\n  File \"./ci/build.sh\", line 3, in <module>\nOSError: apt-get failed\n\
               travis_time:end:02\n\nThe command \"./ci/build.sh\" exited with 1.\n\nDone. Your build exited with 1.\n";
    let chunk = texts(log);
    assert!(chunk.contains(&"Error: Cannot find module 'left-pad'".to_owned()), "{chunk:?}");
    assert!(chunk.iter().all(|l| !l.contains("Traceback") && !l.contains("Retrying")), "{chunk:?}");
}

#[test]
fn mochas_numbered_failures_win_over_its_progress_bar_total() {
    let body = "  [▬▬▬▬▬▬▬▬▬▬] ✖ 98/100 passing (3s)\n\n  98 passing (3s)\n  2 failing\n\n  1) \n\
                \x20      parser\n         keeps comments:\n     AssertionError: expected 1 to equal 2\n\
                \x20     at Context.<anonymous> (test/parser.ts:12:20)\n\n  2) \n       parser\n\
                \x20        keeps blank lines:\n     AssertionError: expected 3 to equal 4\n\
                \x20     at Context.<anonymous> (test/parser.ts:30:20)\n";
    let chunk = texts(&travis("ok", "npm test", body, ""));
    assert_eq!(chunk[0], "  1) ", "{chunk:?}");
    assert!(chunk.contains(&"     AssertionError: expected 1 to equal 2".to_owned()), "{chunk:?}");
    assert!(chunk.iter().all(|l| !l.contains("passing")), "{chunk:?}");
}

#[test]
fn xcprettys_failure_summary_wins_over_its_progress_marks() {
    let body = "ParserTests\n    ✓ testParsesEmpty (0.001 seconds)\n    ✗ testParsesNested, XCTAssertEqual failed\n\
                \x20   ✓ testParsesFlat (0.002 seconds)\n\n\n\
                ParserTests\n\n  testParsesNested, XCTAssertEqual failed: (\"1\") is not equal to (\"2\")\n\n\
                \x20 /Users/ci/App/Tests/ParserTests.swift:42\n\n  ```\n        let tree = parse(\"[[1]]\")\n\
                \x20       XCTAssertEqual(tree.depth, 2)\n  ```\n\n\n\n\t Executed 3 tests, with 1 failure (0 unexpected) in 0.1 seconds\n";
    let chunk = texts(&travis("ok", "set -o pipefail && xcodebuild test | xcpretty", body, ""));
    assert_eq!(chunk[0], "ParserTests", "the suite line above the summary: {chunk:?}");
    assert_eq!(chunk[1], "  testParsesNested, XCTAssertEqual failed: (\"1\") is not equal to (\"2\")");
    assert!(chunk.contains(&"  /Users/ci/App/Tests/ParserTests.swift:42".to_owned()), "{chunk:?}");
    assert!(chunk.iter().all(|l| !l.contains('✗') && !l.contains("Executed")), "{chunk:?}");
}

#[test]
fn a_pytest_report_runs_from_its_header_to_the_next_separator_and_the_first_wins() {
    let mut body = String::from("============ test session starts ============\n");
    for name in ["alpha", "beta", "gamma"] {
        body.push_str(&format!("tests/test_api.py::test_{name} FAILED\n"));
    }
    body.push_str("tests/test_api.py::test_delta PASSED\n\n================ FAILURES ================\n");
    for (name, host) in [("alpha", "a.test"), ("beta", "b.test"), ("gamma", "c.test")] {
        body.push_str(&format!(
            "_______________ test_{name} _______________\n\nclient = <Client object at 0x7f00>\n\n\
             \x20   def test_{name}(client):\n>       r = client.get(\"http://{host}/\")\n\n\
             tests/test_api.py:9: \n_ _ _ _ _ _ _ _ _ _ _ _\nself = <Adapter object at 0x7f01>\n\
             timeout = None\n\n>   raise ConnectionError(e)\nE   ConnectionError: cannot reach {host}\n\n\
             lib/adapters.py:487: ConnectionError\n------------- Captured stdout call -------------\n\
             connecting to {host}\n"
        ));
    }
    body.push_str("========= 3 failed, 1 passed in 2.1 seconds =========");
    let chunk = texts(&travis("ok", "pytest -v tests", &body, ""));
    assert_eq!(chunk.first().map(String::as_str), Some("_______________ test_alpha _______________"), "{chunk:?}");
    assert_eq!(chunk.last().map(String::as_str), Some("lib/adapters.py:487: ConnectionError"), "{chunk:?}");
    assert!(chunk.contains(&"client = <Client object at 0x7f00>".to_owned()), "{chunk:?}");
}

#[test]
fn php_run_tests_diffs_of_expected_failures_are_no_failure() {
    let mut body = String::new();
    for i in 0..3 {
        body.push_str(&format!(
            "TEST {i}/900 [2/2 concurrent test workers running]\n========DIFF========\n\
             001+ Fatal error: Uncaught Error: Call to undefined method Foo::bar() in /src/tests/xfail{i}.php:3\n\
             001- OK\n========DONE========\n\
             XFAIL Calls on a parent [tests/xfail{i}.phpt]   XFAIL REASON: known bug\n"
        ));
    }
    body.push_str(
        "TEST 5/900 [2/2 concurrent test workers running]\n========DIFF========\n\
         002+     Parameter #1 [ <optional> $flags ]\n002-     Parameter #1 [ <optional> $mode ]\n\
         ========DONE========\nFAIL Reflection of the constructor [ext/spl/tests/ctor.phpt] \n\
         TEST 6/900 [2/2 concurrent test workers running]\n",
    );
    let chunk = texts(&travis("ok", "make test", &body, ""));
    assert_eq!(
        chunk,
        [
            "002+     Parameter #1 [ <optional> $flags ]",
            "002-     Parameter #1 [ <optional> $mode ]",
            "========DONE========",
            "FAIL Reflection of the constructor [ext/spl/tests/ctor.phpt] ",
        ]
    );
}

#[test]
fn expected_and_actual_lines_keep_a_report_going() {
    let body = "Describing Runner\n[-] runs every file -> Expected and actual values differ!\n\n\
                Expected: 'dir/file1.Tests.ps1'\n\nActual  : 'file1.Tests.ps1'\n\nat Verify-Equal, Verify-Equal.ps1:16\n\n\
                Tests Passed: 4, Failed: 1";
    let chunk = texts(&travis("ok", "pwsh ./test.ps1", body, ""));
    assert_eq!(chunk[0], "[-] runs every file -> Expected and actual values differ!");
    assert!(chunk.contains(&"Actual  : 'file1.Tests.ps1'".to_owned()), "{chunk:?}");
}

#[test]
fn among_many_alike_reports_the_first_stays_when_the_block_list_is_full() {
    let mut body = String::new();
    for i in 0..400 {
        body.push_str(&format!("case {i} starting\nsome/file.c:{i}: error: bad value in case {i}\nnext\nnext\nnext\n"));
    }
    let chunk = texts(&travis("ok", "make check", &body, ""));
    assert_eq!(chunk.first().map(String::as_str), Some("some/file.c:0: error: bad value in case 0"), "{chunk:?}");
}

#[test]
fn a_linters_progress_over_files_named_error_is_no_failure() {
    let body = "Linting Swift files in current working directory\nLinting 'Error.swift' (1/3)\n\
                Linting 'Failure.swift' (2/3)\n\
                /src/App/Sync.swift:156:13: warning: Redundant Discardable Let Violation (redundant_discardable_let)\n\
                Linting 'Sync.swift' (3/3)\nDone linting! Found 1 violation, 0 serious in 3 files.";
    let chunk = texts(&travis("ok", "swiftlint --strict", body, ""));
    assert!(chunk[0].contains("Redundant Discardable Let Violation"), "{chunk:?}");
    assert!(chunk.iter().all(|l| !l.contains("Error.swift") && !l.contains("Failure.swift")), "{chunk:?}");
}
