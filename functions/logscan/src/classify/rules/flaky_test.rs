//! Hints that a failing test is flaky. They never decide on their own: they turn a `test` cause into
//! `flaky_test` when they sit next to the test failure (see `Scan::contest` in `classify/mod.rs`).
//!
//! A pattern with a `\n` in it is matched against the previous line and this one joined by a newline
//! (test tools print expected and actual values on two lines). Only flaky hints may do that.

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
    // A deadline in the test: tokio Elapsed(()), jest/mocha timeouts, context deadline exceeded,
    // vitest's Error: Test timed out in 5000ms., Failed: Timeout (>10.0s) from pytest-timeout.,
    // org.awaitility.core.ConditionTimeoutException: Condition with ... was not fulfilled within 10 seconds.,
    // java.net.SocketTimeoutException: Read timed out
    Rule::new(
        "flaky.test_timeout",
        F,
        Low,
        0.6,
        &[
            "elapsed(())",
            "exceeded timeout of",
            "timeout of",
            "deadline exceeded",
            "timed out after",
            "timeouterror",
            "test timed out in",
            "timeout (>",
            "timeout >",
            "conditiontimeoutexception",
            "sockettimeoutexception",
        ],
        &[
            r"Elapsed\(\(\)\)",
            r"Exceeded timeout of \d+\s?ms for a (test|hook)",
            r"Timeout of \d+ms exceeded",
            r"context deadline exceeded",
            r"(?i)timed out after \d+",
            r"\bTimeoutError\b",
            r"\bTest timed out in \d+\s?ms\b",
            r"\bFailed: Timeout \(?>[\d.]+s\)?",
            r"\bConditionTimeoutException\b",
            r"\bjava\.net\.SocketTimeoutException\b",
        ],
    ),
    // An upstream answering 5xx inside a test: expected: <200> but was: <503> / assert 503 == 200,
    // and on two lines, jest's Expected: 200 / Received: 503 and Rust's assert_eq!   left: 503 /  right: 200
    Rule::new(
        "flaky.upstream_5xx",
        F,
        Low,
        0.55,
        &["503", "502", "504", "right: 200"],
        &[
            r"\b50[234]\b.{0,24}\b200\b",
            r"\b200\b.{0,24}\b50[234]\b",
            r"\bExpected: 200\n.*\bReceived: 50[234]\b",
            r"\bleft: 50[234]\n.*\bright: 200\b",
        ],
    ),
    // A timing assertion on a shared runner: operation took 345ms, budget is 200ms /
    // pytest's source line >       assert elapsed < 0.3
    Rule::new(
        "flaky.timing_budget",
        F,
        Low,
        0.55,
        &["took ", "elapsed", "latency"],
        &[
            r"(?i)\btook \d+(\.\d+)?\s?(ns|us|µs|ms|s)\b.{0,24}\b(budget|limit|threshold|deadline)\b",
            r"^>\s+assert\s+(\w+\.)?(elapsed|latency)\w*\s*<=?\s*[\d.]+",
        ],
    ),
    // A race: the Go race detector (WARNING: DATA RACE / testing.go:1399: race detected during execution
    // of test), ThreadSanitizer, or the test's own message: expected 9 events after flush, got 8 (ordering race?)
    Rule::new(
        "flaky.race",
        F,
        Low,
        0.6,
        &["data race", "race detected", "race condition", "ordering race", "timing race", "possible race"],
        &[
            r"WARNING: DATA RACE",
            r"race detected during execution of test",
            r"ThreadSanitizer: data race",
            r"(?i)\b(ordering|timing|possible) race\b",
            r"(?i)\brace condition\b",
        ],
    ),
    // Another process holds the port the test binds: java.net.BindException: Address already in use /
    // Error: listen EADDRINUSE: address already in use :::3000
    Rule::new(
        "flaky.port_in_use",
        F,
        Low,
        0.6,
        &["address already in use", "eaddrinuse"],
        &[r"(?i)\baddress already in use\b", r"\bEADDRINUSE\b"],
    ),
    // A Testcontainers dependency did not start in time: org.testcontainers.containers.ContainerLaunchException:
    // Container startup failed for image redis:7 / Timed out waiting for container port to open
    Rule::new(
        "flaky.test_container",
        F,
        Low,
        0.55,
        &["containerlaunchexception", "container startup failed", "waiting for container port"],
        &[
            r"\bContainerLaunchException\b",
            r"Container startup failed for image \S+",
            r"Timed out waiting for container port to open",
        ],
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
