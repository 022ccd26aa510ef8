//! What a single line says about a failure: its base score and the reason for it. One vocabulary
//! for every tool and CI system.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::line::{LineKind, LogLine};

/// Why a line scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Nothing: a context line of the chunk.
    #[default]
    Context,
    /// An `##[error]` annotation.
    Annotation,
    /// A tool's own failure format (`error[E0425]`, `--- FAIL`, `npm ERR!`, pytest `E   `, ...).
    Tool,
    /// Failure vocabulary (error, failed, exception, cannot, expected, ...).
    Vocabulary,
    /// A warning.
    Warning,
    /// The step's failing exit (`Process completed with exit code 1.`): it says that the step
    /// failed, not why.
    ExitCode,
    /// Boilerplate printed around every failure of a tool (`npm ERR! A complete log of this run`).
    Boilerplate,
}

/// A pattern, its score and the reason it gives.
struct Rule {
    pattern: Regex,
    score: f64,
    reason: Reason,
}

/// Cheap test first: a line without any of these cannot score.
static TRIGGER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i-u:err|fail|fatal|exception|panic|traceback|expect|assert|cannot|can't|could ?not|couldn't|unable|",
        r"not found|no such|undefined|unexpected|denied|refused|timed out|timeout|killed|segmentation|abort|",
        r"not ok|warn|deprecat|overfull|exit|\*\*\*|^E {2,}|^\s*\d+\) |invalid|missing|broken|",
        r"unsatisfi|conflict|violation|mismatch|differ|unknown|illegal|rejected|no module|unresolved)|✖|✗|×|✘"
    ))
    .ok()
});

/// `(pattern, score, reason)`, in order: the first matching rule decides.
const RULE_SPECS: &[(&str, f64, Reason)] = {
    use Reason::{Boilerplate, ExitCode, Tool, Vocabulary, Warning};
    &[
        // Exit markers: the step failed, the reason is elsewhere.
        (r"^(##\[error\])?Process completed with exit code [1-9]", 0.5, ExitCode),
        (r#"^The command ".*" (exited|failed) with [1-9]"#, 0.8, ExitCode),
        (r"(?i-u)^(Done\. )?Your build (exited|has been stopped)", 0.2, Boilerplate),
        (
            concat!(
                r"^npm ERR! (code|errno|syscall|path|A complete log|This is probably|Exit status|Tell the author|",
                r"You can get|Failed at the|Please include|npm (bugs|owner)|Make sure you have|\S+@\S+ \S+ script|",
                r"not with npm|Additional logging|$)"
            ),
            0.2,
            Boilerplate,
        ),
        (
            r"(?i-u)\b(no|0|zero) (errors?|failures?|failed|failing)\b|\b(errors?|failures?|failed)[:=] ?0\b",
            0.0,
            Vocabulary,
        ),
        // Tool formats.
        (r"error\[E\d{4}\]|^\s*error(\[\w+\])?:|\berror TS\d+|:\d+(:\d+)?:? *(fatal )?error\b", 3.0, Tool),
        (r"^E {2,}\S|Traceback \(most recent call last\)|panicked at|<<< (FAILURE|ERROR)!", 3.0, Tool),
        (r"(^|\s)(--- )?FAIL(ED|URE)?\b|^FAILURE:|BUILD FAIL|^not ok\b|CMake Error|[✖✗✘×] ", 3.0, Tool),
        (r"\[(ERROR|error|FATAL|fatal)\]|^npm ERR!|^ERROR\b|^Error\b|make(\[\d+\])?: \*\*\*", 2.5, Tool),
        (r"\b[A-Z]\w*(Error|Exception|Failure)\b|(?i-u)\bfatal\b", 2.5, Tool),
        // Vocabulary.
        (r"(?i-u)\b(error|errors|failed|failure|failures|failing)\b", 2.0, Vocabulary),
        (
            concat!(
                r"(?i-u)\b(cannot|can't|could ?not|couldn't|unable to|not found|no such|undefined|unexpected|denied|",
                r"refused|timed out|timeout|killed|segmentation fault|aborted|not ok|invalid|missing|broken|",
                r"unsatisfi\w*|conflict\w*|violation|mismatch|differ|unknown|illegal|rejected|no module|unresolved)\b"
            ),
            1.5,
            Vocabulary,
        ),
        (r"(?i-u)\b(warn|warning|deprecated)\b|^Overfull", 0.8, Warning),
    ]
};

/// [`RULE_SPECS`] compiled (a test checks that none is dropped).
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    RULE_SPECS
        .iter()
        .filter_map(|&(pattern, score, reason)| Regex::new(pattern).ok().map(|pattern| Rule { pattern, score, reason }))
        .collect()
});

/// Continuations of a failure report: stack frames, indented detail, compiler carets.
static CONTINUATION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"^(\s+\S|at |File "|from |Caused by|\.\.\. \d+ more|#\d+ |-->|\||= |\^|\s*\d+ \|)"#).ok()
});

/// A line's base score and why. The first matching rule decides, in the order of [`RULES`]
/// (exit markers and boilerplate before the vocabulary they contain).
pub fn line_score(line: &LogLine) -> (f64, Reason) {
    match line.kind {
        LineKind::Error => {
            let (score, reason) = text_score(&line.text);
            if matches!(reason, Reason::ExitCode | Reason::Boilerplate) {
                return (score, reason);
            }
            return (score.max(3.5), Reason::Annotation);
        }
        LineKind::Warning => return (0.8, Reason::Warning),
        LineKind::Output => {}
        LineKind::Notice | LineKind::Debug | LineKind::Command | LineKind::Group | LineKind::EndGroup => {
            return (0.0, Reason::Context);
        }
    }
    text_score(&line.text)
}

fn text_score(text: &str) -> (f64, Reason) {
    let trimmed = text.trim_start();
    if trimmed.starts_with("travis_") || trimmed.starts_with("$ ") {
        return (0.0, Reason::Context);
    }
    if !TRIGGER.as_ref().is_some_and(|t| t.is_match(text)) {
        return (0.0, Reason::Context);
    }
    RULES.iter().find(|r| r.pattern.is_match(text)).map_or((0.0, Reason::Context), |r| (r.score, r.reason))
}

/// Whether a line continues the report above it (indented, a stack frame, a caret line).
pub fn is_continuation(text: &str, previous_blank: bool) -> bool {
    if previous_blank && !text.starts_with(char::is_whitespace) {
        return false;
    }
    CONTINUATION.as_ref().is_some_and(|c| c.is_match(text))
}

/// A CI system's line saying that a command or step exited non-zero: Travis' `The command "make"
/// exited with 2.` (also `failed and exited with 2`, `failed 3 times.`, and the last line of a
/// multi-line command, `" exited with 1.`), GitHub Actions' `Process completed with exit code 1.`.
static FAILING_EXIT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"^(##\[error\])?Process completed with exit code [1-9]|^The command ".*" (exited|failed and exited|failed) with [1-9]|"#,
        r#"^The command ".*" failed \d+ times|^" (exited|failed and exited|failed) with [1-9]"#
    ))
    .ok()
});

/// Lines a tool prints after its failure report, to say that something failed but not what:
/// make's `*** [target] Error 2`, test-run totals, `BUILD FAILED`, rake's `rake aborted!`, the
/// exceptions build tools raise when tests failed, mocha's progress bar total (`✖ 98/100 passing`),
/// XCTest's `Executed 3 tests, with 1 failure`. Matched against the lower-cased line.
const WRAP_UP_PATTERN: [&str; 10] = [
    r"^(\S+: )?make(\[\d+\])?: \*\*\*|recipe for target .* failed|^rake aborted!|",
    r"testsfailedexception|tests? unsuccessful|^\[error\] total time|^\[error\] failed tests:|",
    r"^\[error\] failed: total|\*\*\* \d+ tests? failed \*\*\*|^(\[info\] )?tests: succeeded|",
    r"one or more tests failed|\bbuild failed\b|^failure: build failed|build failure|",
    r"there (were|was) (\d+ )?test failures|^tests run: \d+, failures|\d+ examples?, \d+ failures?|",
    r"^(failed|ok)\s+\(failures=|^=+ .*\b\d+ failed\b|^failures!$|^errors!$|^fail$|^fail\s+\S+\s+[\d.]+s$|",
    r"exit(ed)? (status|code) \d+|^npm err! test failed|^error command failed|errors occurred!?$|",
    r"compilation terminated|^error: could not compile|^error: aborting due to|^\d+ errors? generated|",
    r"^(test result|test suite|tests?): failed\b|^\d+ (tests?|specs?|scenarios?)\b.*\bfail|\b\d+ failing$|",
    r"\b\d+/\d+ passing\b|^executed \d+ tests?, with \d+ failures?",
];
static WRAP_UP: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(&WRAP_UP_PATTERN.concat()).ok());

/// A command the CI system echoes before running it (Travis `$ make test`): a new command's output
/// follows.
pub fn is_command_echo(text: &str) -> bool {
    text.starts_with("$ ")
}

/// The CI system's own bookkeeping (Travis' fold and timer markers, echoed commands): never part
/// of a chunk.
pub fn is_ci_structure(text: &str) -> bool {
    text.starts_with("travis_") || is_command_echo(text) || text.starts_with("Done. Your build exited")
}

/// Travis' `travis_retry` saying that a command failed and runs again:
/// `The command "npm install" failed. Retrying, 2 of 3.`
pub fn is_retry(text: &str) -> bool {
    let text = text.trim();
    text.starts_with("The command \"") && text.contains("\" failed. Retrying, ")
}

/// A test runner's header for one test's failure report, after which the report's lines need
/// not look like a report (source, locals): pytest's `____ test_name ____`, TAP's `not ok 3 name`
/// (its YAML diagnostics follow), PHP `run-tests.php`'s `========DIFF========`.
pub fn is_report_header(text: &str) -> bool {
    let t = text.trim_end();
    let pytest = t.len() > 8 && t.starts_with("___") && t.ends_with("___");
    let tap = t.strip_prefix("not ok ").is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    (pytest && t.contains(|c: char| c != '_' && c != ' ')) || tap || is_php_diff_header(t)
}

/// PHP's `run-tests.php` opens the diff of a test's expected and actual output with
/// `========DIFF========` (a verdict line follows the diff).
fn is_php_diff_header(text: &str) -> bool {
    text.trim() == "========DIFF========"
}

/// What a test runner's verdict line says of the report printed just above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The test failed: the report is a failure's.
    Failed,
    /// An expected failure (or a skip): the report is no failure.
    Expected,
}

/// A verdict line of PHP's `run-tests.php` closing a test's `====DIFF====` report:
/// `FAIL title [path/test.phpt]`, `XFAIL title [path/test.phpt]  XFAIL REASON: ...`.
pub fn test_verdict(text: &str) -> Option<Verdict> {
    let (word, rest) = text.split_once(' ')?;
    if !rest.contains(".phpt]") {
        return None;
    }
    match word {
        "FAIL" | "BORK" | "LEAK" => Some(Verdict::Failed),
        "XFAIL" | "SKIP" | "PASS" | "XLEAK" => Some(Verdict::Expected),
        _ => None,
    }
}

/// A separator that ends a test runner's per-test report: pytest's `---- Captured stdout ----`,
/// `==== short test summary ====`; TAP's end of diagnostics `  ...`, next result `ok 4` or comment.
pub fn is_report_separator(text: &str) -> bool {
    let t = text.trim_end();
    let rule = ((t.starts_with("---") && t.ends_with("---")) || (t.starts_with("===") && t.ends_with("===")))
        && t.contains(|c: char| c.is_alphanumeric())
        && t.contains(' ');
    rule || t.trim_start() == "..." || t.starts_with("ok ") || t.starts_with("# ")
}

/// Whether the line says a command or step exited non-zero (see [`FAILING_EXIT`]).
pub fn is_failing_exit(text: &str) -> bool {
    let text = text.trim();
    let candidate = text.starts_with("The command") || text.starts_with('"') || text.contains("Process completed");
    candidate && FAILING_EXIT.as_ref().is_some_and(|r| r.is_match(text))
}

/// Lines that report a success (`--- PASS: TestX`, `ok  pkg`, `[+] test`, `✓ test`): whatever
/// words they contain, they are not the failure.
static PASSING: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(--- PASS|=== RUN|PASS\b|ok\s|\[\+\]|✓|✔|\[\s*(OK|PASS|PASSED)\s*\])|\.\.\. ?(ok|passed)$| PASSED\b")
        .ok()
});

/// Whether the line reports a success (see [`PASSING`]).
pub fn is_passing(text: &str) -> bool {
    PASSING.as_ref().is_some_and(|r| r.is_match(text.trim()))
}

/// Whether the line says it is a warning (`[warn]`, `[WARNING]`, `warning:`, `WARN`, apt's `W:`),
/// whatever else it mentions.
pub fn is_warning(text: &str) -> bool {
    let t = text.trim_start();
    let lower = |n: usize| t.get(..n).map(str::to_ascii_lowercase);
    ["[warn]", "[warning]", "warning:", "warn:", "warn ", "w: "].iter().any(|p| lower(p.len()).as_deref() == Some(p))
}

/// Whether the line wraps up a failure reported above it (see [`WRAP_UP`]).
pub fn is_wrap_up(text: &str) -> bool {
    WRAP_UP.as_ref().is_some_and(|r| r.is_match(&text.trim().to_ascii_lowercase()))
}

/// Failure reports of test runners and tools that the general vocabulary misses or underrates:
/// minitest's `Failure:`/`Error:` headers, Pester's `[-] test`, pytest's `____ test_x ____`
/// section headers, TAP's `not ok 3 no errors` (whatever its title says), mocha's and rspec's
/// numbered failures (`  1) suite`), `No Rakefile found`.
static REPORT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^\s*(\d+\) )?(Failure|Error|Failures|Errors):$|^not ok \d|^\s*\[-\] \S|^_{3,} .+ _{3,}$|^\s*\d+\) \S|",
        r"^([Nn]o \S+ found|\S+: (command )?not found)\b|^\s*\d+\) ?$"
    ))
    .ok()
});

/// Progress lines of package managers and build tools (`Downloaded quick-error v1.2`,
/// `Compiling error-chain`, `Collecting`, `Requirement already satisfied`, SwiftLint's
/// `Linting 'Error.swift' (10/48)`): crate, package or file
/// names may contain failure words, the line never reports a failure.
static PROGRESS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^\s*(Downloaded|Downloading|Compiling|Checking|Fresh|Installing|Installed|Updating|Fetching|Fetched|",
        r"Unpacking|Setting up|Selecting|Preparing|Collecting|Requirement already satisfied|Using|Get:\d+|Hit:\d+|",
        r"Successfully (installed|built)|Building wheel|Created wheel|Stored in|Processing|Resolving|Linking|",
        r"Documenting|Adding|Locking|Removing|Building|Built|Loading|Pulling|Extracting|Pull complete|Waiting|",
        r"Receiving objects|Resolving deltas|remote: )\b|^\s*Linting '[^']+' \(\d+/\d+\)"
    ))
    .ok()
});

/// Records of an application's own logger (`Apr 12 14:46:57.837 ERROR ...`, `2019-07-05 07:41:12
/// [error] ...`, `ERROR flashlight: ...`): a program under test logs errors all the time; a test
/// runner's or a tool's report says what failed.
static LOG_RECORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^\[?(\d{4}-\d\d-\d\d[ T]|\d{4}/\d\d/\d\d |[A-Z][a-z]{2} +\d+ |\d\d:\d\d:\d\d)|",
        r"^(ERROR|WARN|WARNING|INFO|DEBUG|TRACE|CRITICAL|FATAL) +[\w.\-]+: "
    ))
    .ok()
});

/// Highest score of a line of an application's log.
const LOG_RECORD_SCORE: f64 = 1.5;

/// A line's score for the explainer: [`line_score`] corrected with what the explainer knows of
/// reports (a failing-exit marker, a passing test, a warning, a wrap-up, a test runner's failure
/// header, a progress line).
pub fn chunk_score(line: &LogLine) -> (f64, Reason) {
    let text = line.text.as_str();
    if is_ci_structure(text) {
        return (0.0, Reason::Context);
    }
    if is_failing_exit(text) {
        return (0.8, Reason::ExitCode);
    }
    let (base, reason) = line_score(line);
    if line.kind != LineKind::Output || reason == Reason::ExitCode {
        return (base, reason);
    }
    if base > 0.0 && (is_passing(text) || PROGRESS.as_ref().is_some_and(|r| r.is_match(text))) {
        return (0.0, Reason::Context);
    }
    if base > WARNING_SCORE && is_warning(text) {
        return (WARNING_SCORE, Reason::Warning);
    }
    if base > 0.0 && is_wrap_up(text) {
        return (WRAP_UP_SCORE, Reason::Boilerplate);
    }
    if base > LOG_RECORD_SCORE && LOG_RECORD.as_ref().is_some_and(|r| r.is_match(text)) {
        return (LOG_RECORD_SCORE, reason);
    }
    if base == 0.0 && reason == Reason::Context && mentions_assertion(text) {
        return (ASSERTION_SCORE, Reason::Vocabulary);
    }
    if base > PROGRESS_FAILURE_SCORE && TEST_PROGRESS.as_ref().is_some_and(|r| r.is_match(text)) {
        return (PROGRESS_FAILURE_SCORE, Reason::Vocabulary);
    }
    if is_summary_item(text) {
        return (SUMMARY_SCORE, Reason::Tool);
    }
    if is_php_diff_header(text) {
        // It opens a report, and is no part of it.
        return (3.0, Reason::Boilerplate);
    }
    if base < 3.0 && REPORT.as_ref().is_some_and(|r| r.is_match(text)) {
        return (3.0, Reason::Tool);
    }
    (base, reason)
}

/// xcpretty's end-of-run summary of XCTest failures: the suite, then each failure as
/// `  testName, message`, its `  /path/File.swift:12` and the code around it. The summary is what
/// the tool offers as the report (its `✗` lines during the run only name the test).
static XCTEST_SUMMARY: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^  test\w+, \S").ok());

/// An assertion's report (`Expected: 1`, `actual: 2`, `assert_eq!`). [`line_score`] keeps its own,
/// narrower vocabulary (the diff relies on it).
static ASSERTION: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?i-u)\b(expected|actual|assert\w*)\b").ok());

/// Whether the line speaks of an assertion (see [`ASSERTION`]); a cheap byte test first.
fn mentions_assertion(text: &str) -> bool {
    let candidate = text.as_bytes().windows(4).any(|w| {
        let w = [w[0] | 0x20, w[1] | 0x20, w[2] | 0x20, w[3] | 0x20];
        &w == b"xpec" || &w == b"ctua" || &w == b"sser"
    });
    candidate && ASSERTION.as_ref().is_some_and(|r| r.is_match(text))
}

/// Score of an assertion's report line.
const ASSERTION_SCORE: f64 = 1.5;

/// A test runner's progress line for a failed test, which names the test but not why it failed;
/// the runner reports why further on: pytest's verbose `tests/test_a.py::test_b FAILED`.
static TEST_PROGRESS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^\S+\.py::\S+( <- \S+)? (FAILED|ERROR)\b").ok());

/// Score of a progress line that names a failed test.
const PROGRESS_FAILURE_SCORE: f64 = 1.5;

/// Whether the line is an item of a tool's end-of-run failure summary (see [`XCTEST_SUMMARY`]).
pub fn is_summary_item(text: &str) -> bool {
    text.starts_with("  test") && XCTEST_SUMMARY.as_ref().is_some_and(|r| r.is_match(text))
}

/// Score of a line of a tool's end-of-run failure summary, above its progress lines.
const SUMMARY_SCORE: f64 = 3.5;

/// Highest score of a line that says it is a warning.
const WARNING_SCORE: f64 = 0.8;
/// Score of a line that wraps up a failure reported elsewhere.
pub const WRAP_UP_SCORE: f64 = 0.6;

/// Ruby's backtrace frames (`/path/file.rb:15:in `eval'`).
static RUBY_FRAME: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\S+:\d+:in `").ok());

/// [`is_continuation`], also behind sbt's and similar tools' level prefix (`[info]   at x`), and
/// the frames of backtraces printed without indentation.
pub fn continues_report(text: &str, previous_blank: bool) -> bool {
    let unprefixed = ["[info] ", "[error] ", "[warn] ", "[debug] "].iter().find_map(|p| text.strip_prefix(p));
    is_continuation(unprefixed.unwrap_or(text), previous_blank) || RUBY_FRAME.as_ref().is_some_and(|r| r.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert!(TRIGGER.is_some());
        assert!(CONTINUATION.is_some());
        assert!(FAILING_EXIT.is_some());
        assert!(WRAP_UP.is_some());
        assert!(PASSING.is_some());
        assert!(REPORT.is_some());
        assert!(PROGRESS.is_some());
        assert!(RUBY_FRAME.is_some());
        assert!(LOG_RECORD.is_some());
        assert!(XCTEST_SUMMARY.is_some());
        assert!(TEST_PROGRESS.is_some());
        assert!(ASSERTION.is_some());
        assert_eq!(RULES.len(), RULE_SPECS.len(), "a line-score pattern does not compile");
    }
}
