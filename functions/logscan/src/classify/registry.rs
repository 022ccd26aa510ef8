//! The explicit list of log-cause rules, and its compiled form (one Aho-Corasick automaton over every
//! rule's needles, then each rule's regexes).

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

use super::rules::{self, Rule};

/// Every rule file, in the order findings are listed. Adding a rule file means adding it here.
pub const REGISTRY: &[&[Rule]] = &[
    rules::infrastructure::RULES,
    rules::timeout::RULES,
    rules::cancelled::RULES,
    rules::disk::RULES,
    rules::resources::RULES,
    rules::rate_limit::RULES,
    rules::network::RULES,
    rules::permission::RULES,
    rules::security::RULES,
    rules::dependency::RULES,
    rules::compilation::RULES,
    rules::lint::RULES,
    rules::test::RULES,
    rules::flaky_test::RULES,
    rules::configuration::RULES,
];

/// Words that make a line "error-ish" for the model's features even when no rule needle is in it.
pub(crate) const ERRORISH: &[&str] = &[
    "error",
    "fail",
    "fatal",
    "exception",
    "denied",
    "killed",
    "panic",
    "refused",
    "timeout",
    "timed out",
    "cannot",
    "unable",
];

/// Every rule, flattened.
pub fn all_rules() -> impl Iterator<Item = &'static Rule> {
    REGISTRY.iter().flat_map(|file| file.iter())
}

/// The rules ready to run.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub rules: Vec<CompiledRule>,
    /// Over every rule's needles, then [`ERRORISH`].
    pub needles: AhoCorasick,
    /// For each needle pattern of `needles`: the rule it belongs to, or `None` for an error-ish word.
    pub needle_rule: Vec<Option<usize>>,
}

#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub rule: &'static Rule,
    /// Each pattern, and whether it spans the previous line and this one (a `\n` in its source:
    /// test tools print expected and actual values on two lines).
    pub patterns: Vec<(Regex, bool)>,
    /// `unless`, lowercased.
    pub unless: Vec<String>,
}

/// The registry failed to compile; only a wrong pattern in a rule file can cause it (a test compiles it).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    #[error("rule {id}: invalid pattern {pattern:?}: {message}")]
    Pattern { id: &'static str, pattern: &'static str, message: String },
    #[error("rule {id} has no needle")]
    NoNeedle { id: &'static str },
    #[error("needle automaton: {0}")]
    Needles(String),
}

/// The registry, compiled once per process.
pub(crate) static COMPILED: LazyLock<Result<Compiled, RegistryError>> = LazyLock::new(compile);

/// Compiles the registry (see [`COMPILED`]); public to the crate's tests through [`check`].
fn compile() -> Result<Compiled, RegistryError> {
    let mut rules = Vec::new();
    let mut needles: Vec<&'static str> = Vec::new();
    let mut needle_rule = Vec::new();
    for (index, rule) in all_rules().enumerate() {
        if rule.needles.is_empty() {
            return Err(RegistryError::NoNeedle { id: rule.id });
        }
        let patterns = rule
            .patterns
            .iter()
            .map(|&p| {
                let regex = Regex::new(p).map_err(|e| RegistryError::Pattern {
                    id: rule.id,
                    pattern: p,
                    message: e.to_string(),
                })?;
                Ok((regex, p.contains(r"\n")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for &n in rule.needles {
            needles.push(n);
            needle_rule.push(Some(index));
        }
        rules.push(CompiledRule {
            rule,
            patterns,
            unless: rule.unless.iter().map(|u| u.to_ascii_lowercase()).collect(),
        });
    }
    for &w in ERRORISH {
        needles.push(w);
        needle_rule.push(None);
    }
    let needles = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(&needles)
        .map_err(|e| RegistryError::Needles(e.to_string()))?;
    Ok(Compiled { rules, needles, needle_rule })
}

/// Whether the registry compiles, and how many rules it has.
pub fn check() -> Result<usize, RegistryError> {
    match &*COMPILED {
        Ok(c) => Ok(c.rules.len()),
        Err(e) => Err(e.clone()),
    }
}
