//! Hints that a failing test is flaky. They never decide on their own: they turn a `test` cause into
//! `flaky_test` when they sit next to the test failure (see `super::super::resolve`).

use super::Rule;
use crate::cause::Cause::FlakyTest as F;
use crate::classify::Severity::Low;

pub const RULES: &[Rule] = &[
    // The test's own server or database was not up yet: dial tcp 127.0.0.1:5432: connect: connection refused
    Rule::new(
        "flaky.loopback_refused",
        F,
        Low,
        0.6,
        &["connection refused", "econnrefused"],
        &[
            r"(?i)(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\S*:? .*(connection refused|ECONNREFUSED)",
            r"(?i)ECONNREFUSED (127\.0\.0\.1|localhost|::1)",
        ],
    ),
    // A deadline in the test: tokio Elapsed(()), jest/mocha timeouts, context deadline exceeded.
    Rule::new(
        "flaky.test_timeout",
        F,
        Low,
        0.6,
        &["elapsed(())", "exceeded timeout of", "timeout of", "deadline exceeded", "timed out after", "timeouterror"],
        &[
            r"Elapsed\(\(\)\)",
            r"Exceeded timeout of \d+\s?ms for a (test|hook)",
            r"Timeout of \d+ms exceeded",
            r"context deadline exceeded",
            r"(?i)timed out after \d+",
            r"\bTimeoutError\b",
        ],
    ),
    // An upstream answering 5xx inside a test: expected: <200> but was: <503> / assert 503 == 200
    Rule::new(
        "flaky.upstream_5xx",
        F,
        Low,
        0.55,
        &["503", "502", "504"],
        &[r"\b50[234]\b.{0,24}\b200\b", r"\b200\b.{0,24}\b50[234]\b"],
    ),
    // Rerun plugins saying so: pytest-rerunfailures, Gradle test-retry, Surefire's Flakes.
    Rule::new(
        "flaky.marked",
        F,
        Low,
        0.7,
        &["rerun", "flaky", "flakes:"],
        &[r"\bRERUN\b", r"(?i)\bflaky\b", r"Flakes: [1-9]"],
    ),
];
