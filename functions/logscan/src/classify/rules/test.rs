//! A test fails: cargo test, pytest, jest/vitest/mocha, go test, Maven Surefire/Failsafe, Gradle, benchmarks.

use super::Rule;
use crate::cause::Cause::Test as T;
use crate::classify::Severity::{High, Medium};

const TEST_STEPS: &[&str] = &["test", "check", "verify", "ci"];

pub const RULES: &[Rule] = &[
    // test result: FAILED. 41 passed; 1 failed; ... / error: test failed, to rerun pass `--lib`
    Rule::new(
        "rust.test_failed",
        T,
        High,
        0.9,
        &["test result: failed", "test failed, to rerun", "... failed"],
        &[r"^test result: FAILED", r"^error: test failed, to rerun pass", r"^test \S+ \.\.\. FAILED$"],
    )
    .steps(TEST_STEPS),
    // thread 'a::tests::b' panicked at src/a.rs:10:5:
    Rule::new("rust.test_panicked", T, Medium, 0.72, &["panicked at"], &[r"^thread '[^']+' panicked at"])
        .steps(TEST_STEPS),
    // FAILED tests/test_a.py::test_b - AssertionError / ==== 1 failed, 20 passed in 3.1s ====
    Rule::new(
        "pytest.failed",
        T,
        High,
        0.9,
        &["failed ", " failed"],
        &[r"^FAILED \S+::\S+", r"^=+ .*\b\d+ failed\b.* in [\d.]+s", r"^=+ FAILURES =+$"],
    )
    .steps(TEST_STEPS),
    Rule::new("pytest.assertion", T, Medium, 0.78, &["e  "], &[r"^E\s+(assert |AssertionError)"]).steps(TEST_STEPS),
    // Tests:       1 failed, 40 passed, 41 total / FAIL src/a.test.ts / Test Files  1 failed (9)
    Rule::new(
        "js.test_failed",
        T,
        High,
        0.9,
        &["tests:", "test files", "fail ", "failing", "● "],
        &[
            r"^Tests:\s+\d+ failed",
            r"^\s*Test Files\s+\d+ failed",
            r"^\s*FAIL\s+\S+\.(test|spec)\.[cm]?[jt]sx?",
            r"^\s*\d+ failing$",
            r"^\s*● .+ › ",
        ],
    )
    .steps(TEST_STEPS),
    // AssertionError: expected 2 to equal 3 / expect(received).toBe(expected)
    Rule::new(
        "js.assertion",
        T,
        Medium,
        0.75,
        &["assertionerror", "expect(", "toequal", "tobe("],
        &[r"AssertionError(\s\[\w+\])?: expected ", r"expect\(received\)\.\w+\(expected\)"],
    )
    .steps(TEST_STEPS),
    // --- FAIL: TestFoo (0.01s) / FAIL	github.com/a/b/pkg	0.123s
    Rule::new(
        "go.test_failed",
        T,
        High,
        0.9,
        &["--- fail:", "fail\t", "fail "],
        &[r"^\s*--- FAIL: \S+", r"^FAIL\s+\S+\s+[\d.]+s$"],
    )
    .steps(TEST_STEPS),
    // [ERROR] Tests run: 5, Failures: 1, Errors: 0 ... <<< FAILURE! / There are test failures.
    Rule::new(
        "java.surefire_failed",
        T,
        High,
        0.9,
        &["<<< failure!", "<<< error!", "there are test failures", "tests run:", "maven-surefire-plugin", "maven-failsafe-plugin"],
        &[
            r"<<< (FAILURE|ERROR)!",
            r"There are test failures",
            r"Tests run: \d+, Failures: [1-9]",
            r"Tests run: \d+, Failures: \d+, Errors: [1-9]",
            r"maven-(surefire|failsafe)-plugin:[\d.-]+:(test|integration-test|verify) .*(There are test failures|There was a timeout|failed)",
        ],
    )
    .unless(&["no space left", "outofmemoryerror", "crashed"]),
    Rule::new(
        "java.assertion",
        T,
        Medium,
        0.76,
        &["assertionfailederror", "assertionerror", "comparisonfailure"],
        &[r"(AssertionFailedError|java\.lang\.AssertionError|ComparisonFailure)\b"],
    ),
    // > Task :test FAILED / 3 tests completed, 1 failed / There were failing tests. / FooTest > bar() FAILED
    Rule::new(
        "gradle.test_failed",
        T,
        High,
        0.9,
        &["task :", "tests completed", "there were failing tests", "failed"],
        &[
            r"^> Task :(\S+:)?(test|integrationTest|check)\w* FAILED",
            r"\d+ tests? completed, \d+ failed",
            r"There were failing tests",
            r"^\S+ > .+ FAILED$",
        ],
    ),
    // Benchmark regressions gating a build (the study's P7).
    Rule::new(
        "bench.performance_regression",
        T,
        Medium,
        0.7,
        &["regress"],
        &[r"(?i)performance (has )?regress", r"(?i)regressed by [\d.]+\s?%"],
    ),
];
