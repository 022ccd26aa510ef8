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

fn rule(pattern: &str, score: f64, reason: Reason) -> Option<Rule> {
    Regex::new(pattern).ok().map(|pattern| Rule { pattern, score, reason })
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

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    use Reason::{Boilerplate, ExitCode, Tool, Vocabulary, Warning};
    [
        // Exit markers: the step failed, the reason is elsewhere.
        rule(r"^(##\[error\])?Process completed with exit code [1-9]", 0.5, ExitCode),
        rule(r#"^The command ".*" (exited|failed) with [1-9]"#, 0.8, ExitCode),
        rule(r"(?i-u)^(Done\. )?Your build (exited|has been stopped)", 0.2, Boilerplate),
        rule(
            concat!(
                r"^npm ERR! (code|errno|syscall|path|A complete log|This is probably|Exit status|Tell the author|",
                r"You can get|Failed at the|Please include|npm (bugs|owner)|Make sure you have|\S+@\S+ \S+ script|",
                r"not with npm|Additional logging|$)"
            ),
            0.2,
            Boilerplate,
        ),
        rule(
            r"(?i-u)\b(no|0|zero) (errors?|failures?|failed|failing)\b|\b(errors?|failures?|failed)[:=] ?0\b",
            0.0,
            Vocabulary,
        ),
        // Tool formats.
        rule(r"error\[E\d{4}\]|^\s*error(\[\w+\])?:|\berror TS\d+|:\d+(:\d+)?:? *(fatal )?error\b", 3.0, Tool),
        rule(r"^E {2,}\S|Traceback \(most recent call last\)|panicked at|<<< (FAILURE|ERROR)!", 3.0, Tool),
        rule(r"(^|\s)(--- )?FAIL(ED|URE)?\b|^FAILURE:|BUILD FAIL|^not ok\b|CMake Error|[✖✗✘×] ", 3.0, Tool),
        rule(r"\[(ERROR|error|FATAL|fatal)\]|^npm ERR!|^ERROR\b|^Error\b|make(\[\d+\])?: \*\*\*", 2.5, Tool),
        rule(r"\b[A-Z]\w*(Error|Exception|Failure)\b|(?i-u)\bfatal\b", 2.5, Tool),
        // Vocabulary.
        rule(r"(?i-u)\b(error|errors|failed|failure|failures|failing)\b", 2.0, Vocabulary),
        rule(
            concat!(
                r"(?i-u)\b(cannot|can't|could ?not|couldn't|unable to|not found|no such|undefined|unexpected|denied|",
                r"refused|timed out|timeout|killed|segmentation fault|aborted|not ok|invalid|missing|broken|",
                r"unsatisfi\w*|conflict\w*|violation|mismatch|differ|unknown|illegal|rejected|no module|unresolved)\b"
            ),
            1.5,
            Vocabulary,
        ),
        rule(r"(?i-u)\b(expected|actual|assert\w*)\b|^\s*\d+\) \S", 1.5, Vocabulary),
        rule(r"(?i-u)\b(warn|warning|deprecated)\b|^Overfull", 0.8, Warning),
    ]
    .into_iter()
    .flatten()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert!(TRIGGER.is_some());
        assert!(CONTINUATION.is_some());
        assert_eq!(RULES.len(), 13);
    }
}
