//! Which tests failed, by name, from the line each test runner prints for a failed test:
//!
//! | runner        | line                                                             | name                       |
//! |---------------|------------------------------------------------------------------|----------------------------|
//! | cargo test    | `test parser::tests::reads_utf8 ... FAILED`                      | `parser::tests::reads_utf8`|
//! | pytest        | `FAILED tests/test_io.py::test_reads - AssertionError`           | `tests/test_io.py::test_reads` |
//! | go test       | `--- FAIL: TestReads (0.01s)`                                    | `TestReads`                |
//! | jest          | `● Parser › reads utf8`                                          | `Parser › reads utf8`      |
//! | vitest        | `× Parser > reads utf8 12ms`                                     | `Parser > reads utf8`      |
//! | maven         | `[ERROR] com.acme.ParserTest.readsUtf8 -- Time elapsed: … <<< FAILURE!` | `com.acme.ParserTest.readsUtf8` |
//!
//! Flakiness belongs to tests, not jobs: a job with one flaky test can also break for real, in
//! another test. The names let logscan tell the two apart (see `Logscan::apply_flaky_history`).

use regex::Regex;
use std::sync::LazyLock;

/// Names kept per log; a run that fails more tests than this is not flaky anyway.
const MAX_NAMES: usize = 32;

static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^test (\S+) \.\.\. FAILED$",
        r"^FAILED (\S+::\S+)",
        r"^\s*--- FAIL: (\S+)",
        r"^\s*● (.+? › .+?)\s*$",
        r"^\s*× (.+? > .+?)(?:\s+\d+\s*ms)?\s*$",
        r"^\[ERROR\] (\S+\.\S+) -- Time elapsed: .*<<< (?:FAILURE|ERROR)!",
    ]
    .iter()
    .map(|p| Regex::new(p).unwrap_or_else(|e| panic!("failing-test pattern {p:?}: {e}")))
    .collect()
});

/// Collects the names of failed tests, in order of first appearance, without repeats.
#[derive(Debug, Default)]
pub struct FailingTests {
    names: Vec<String>,
}

impl FailingTests {
    pub fn push(&mut self, text: &str) {
        if self.names.len() >= MAX_NAMES || !might_name_a_test(text) {
            return;
        }
        for pattern in PATTERNS.iter() {
            if let Some(name) = pattern.captures(text).and_then(|c| c.get(1)) {
                let name = name.as_str().trim();
                if !self.names.iter().any(|n| n == name) {
                    self.names.push(name.to_owned());
                }
                return;
            }
        }
    }

    pub fn finish(self) -> Vec<String> {
        self.names
    }
}

/// A cheap filter before the regexes: every pattern's line holds one of these.
fn might_name_a_test(text: &str) -> bool {
    text.contains("FAIL") || text.contains('●') || text.contains('×') || text.contains("<<< ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(lines: &[&str]) -> Vec<String> {
        let mut f = FailingTests::default();
        for l in lines {
            f.push(l);
        }
        f.finish()
    }

    #[test]
    fn each_runner_names_its_failed_tests() {
        assert_eq!(
            names(&["test io::tests::reads ... ok", "test io::tests::writes ... FAILED", "failures:"]),
            ["io::tests::writes"]
        );
        assert_eq!(
            names(&["FAILED tests/test_io.py::test_reads - AssertionError: 1 != 2"]),
            ["tests/test_io.py::test_reads"]
        );
        assert_eq!(names(&["    --- FAIL: TestReads/utf8 (0.01s)", "FAIL"]), ["TestReads/utf8"]);
        assert_eq!(names(&["  ● Parser › reads utf8", "  ● Test suite failed to run"]), ["Parser › reads utf8"]);
        assert_eq!(names(&["   × Parser > reads utf8 1234ms"]), ["Parser > reads utf8"]);
        assert_eq!(
            names(&["[ERROR] com.acme.ParserTest.readsUtf8 -- Time elapsed: 0.2 s <<< FAILURE!"]),
            ["com.acme.ParserTest.readsUtf8"]
        );
    }

    #[test]
    fn repeats_and_summaries_are_not_new_names() {
        let lines = [
            "test a::b ... FAILED",
            "---- a::b stdout ----",
            "test result: FAILED. 3 passed; 1 failed",
            "test a::b ... FAILED",
            "FAIL\tgithub.com/acme/x\t0.2s",
        ];
        assert_eq!(names(&lines), ["a::b"]);
    }
}
