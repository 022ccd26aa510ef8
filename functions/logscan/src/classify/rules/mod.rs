//! Log-cause rules, one file per cause. Each file exports `RULES`; `super::registry` lists the files.
//!
//! A rule fires on a line when one of its needles occurs in it (ASCII case-insensitive, found by
//! one Aho-Corasick automaton over every rule's needles, so a line no rule cares about costs one
//! scan), none of its `unless` substrings occurs, the line's kind is the one it requires (if any),
//! and one of its patterns matches (no patterns: the needle is enough).

use aetherveil_logparse::LineKind;

use crate::cause::Cause;

use super::Severity;

pub mod cancelled;
pub mod compilation;
pub mod configuration;
pub mod dependency;
pub mod disk;
pub mod flaky_test;
pub mod infrastructure;
pub mod lint;
pub mod network;
pub mod permission;
pub mod rate_limit;
pub mod resources;
pub mod security;
pub mod test;
pub mod timeout;

/// One log-cause rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, `<tool or area>.<what>`, e.g. `rust.compile_error`.
    pub id: &'static str,
    pub cause: Cause,
    pub severity: Severity,
    /// How sure a firing makes us of the cause, in [0, 1]: specific messages high, generic ones low.
    pub confidence: f64,
    /// Literal substrings, ASCII case-insensitive; one must occur for the rule to be tried.
    pub needles: &'static [&'static str],
    /// Regexes (the `regex` crate's syntax); one must match. Empty: a needle is enough.
    pub patterns: &'static [&'static str],
    /// Substrings (ASCII case-insensitive) that veto the rule on a line, e.g. loopback addresses for
    /// network rules (a refused connection to 127.0.0.1 is the test's own server, not the network).
    pub unless: &'static [&'static str],
    /// Only lines of this kind (e.g. `##[error]` annotations).
    pub kind: Option<LineKind>,
    /// Words (lowercase) of step names where this rule is expected; a firing in such a step is a
    /// little more credible.
    pub step_hints: &'static [&'static str],
}

impl Rule {
    /// A rule with no vetoes, no kind condition and no step hints.
    pub const fn new(
        id: &'static str,
        cause: Cause,
        severity: Severity,
        confidence: f64,
        needles: &'static [&'static str],
        patterns: &'static [&'static str],
    ) -> Self {
        Rule { id, cause, severity, confidence, needles, patterns, unless: &[], kind: None, step_hints: &[] }
    }

    /// Vetoed on lines containing any of these.
    pub const fn unless(self, unless: &'static [&'static str]) -> Self {
        Rule { unless, ..self }
    }

    /// Only on lines of this kind.
    pub const fn only(self, kind: LineKind) -> Self {
        Rule { kind: Some(kind), ..self }
    }

    /// Expected in steps whose name contains one of these words.
    pub const fn steps(self, step_hints: &'static [&'static str]) -> Self {
        Rule { step_hints, ..self }
    }
}

/// Loopback addresses: a connection error to these is the job's own service, not the network.
pub(crate) const LOOPBACK: &[&str] = &["127.0.0.1", "localhost", "[::1]", "0.0.0.0"];
