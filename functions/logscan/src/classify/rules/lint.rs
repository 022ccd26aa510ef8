//! A linter or formatter check fails (the study's P5): clippy, rustfmt, eslint, prettier, black, ruff,
//! flake8, mypy, golangci-lint, checkstyle, spotless, ktlint, hadolint, shellcheck, javadoc, coverage gates.

use super::Rule;
use crate::cause::Cause::Lint as L;
use crate::classify::Severity::Medium;

const LINT_STEPS: &[&str] = &["lint", "clippy", "fmt", "format", "style", "check"];

pub const RULES: &[Rule] = &[
    // = help: for further information visit https://rust-lang.github.io/rust-clippy/... / #[deny(clippy::x)]
    Rule::new("rust.clippy", L, Medium, 0.88, &["clippy::", "rust-clippy"], &[]).steps(LINT_STEPS),
    // Diff in /home/runner/work/a/a/src/lib.rs at line 12: (cargo fmt --check)
    Rule::new("rust.rustfmt", L, Medium, 0.9, &["diff in "], &[r"^Diff in \S+\.rs at line \d+:", r"^Diff in \S+\.rs:\d+:"])
        .steps(LINT_STEPS),
    // eslint: "  12:5  error  'x' is defined but never used  no-unused-vars" and "✖ 3 problems (3 errors, 0 warnings)"
    Rule::new(
        "js.eslint",
        L,
        Medium,
        0.86,
        &["  error  ", "✖ "],
        &[r"^\s*\d+:\d+\s+error\s+.+\s{2,}[@\w/-]+$", r"✖ \d+ problems? \(\d+ errors?"],
    )
    .steps(LINT_STEPS),
    // prettier --check: [warn] Code style issues found in 2 files. Run Prettier with --write to fix.
    Rule::new("js.prettier", L, Medium, 0.9, &["code style issues", "forgot to run prettier"], &[]).steps(LINT_STEPS),
    // black: would reformat a.py / Oh no! ... 2 files would be reformatted; isort: ERROR: a.py Imports are incorrectly sorted
    Rule::new(
        "python.formatter",
        L,
        Medium,
        0.9,
        &["would reformat", "would be reformatted", "imports are incorrectly sorted", "would fix"],
        &[],
    )
    .steps(LINT_STEPS),
    // flake8/ruff: a.py:3:1: F401 'os' imported but unused / Found 3 errors. ; mypy: a.py:3: error: ... [arg-type]
    Rule::new(
        "python.linter",
        L,
        Medium,
        0.84,
        &[".py:", "found "],
        &[
            r"\.py:\d+:\d+: [A-Z]{1,3}\d{3,4}\b",
            r"^Found \d+ errors?\b.*(fixable|\.)$",
        ],
    )
    .steps(LINT_STEPS),
    // golangci-lint: pkg/a.go:12:5: ineffectual assignment to x (ineffassign)
    Rule::new(
        "go.golangci_lint",
        L,
        Medium,
        0.86,
        &[".go:", "golangci"],
        &[
            r"\.go:\d+(:\d+)?: .+ \((ineffassign|staticcheck|errcheck|govet|gosimple|unused|revive|gofmt|goimports|gocritic|misspell|lll|stylecheck|gosec|unparam|prealloc|dupl|nakedret|typecheck|bodyclose|noctx|exhaustive)\)$",
            r"level=error msg=.*golangci",
        ],
    )
    .steps(LINT_STEPS),
    // Checkstyle, Spotless, PMD, SpotBugs, ktlint, detekt (Maven and Gradle).
    Rule::new(
        "jvm.style_check",
        L,
        Medium,
        0.9,
        &["checkstyle", "spotless", "format violations", "pmd", "spotbugs", "ktlint", "detekt"],
        &[
            r"(?i)You have [1-9]\d* Checkstyle violations?",
            r"(?i)There (is|are) [1-9]\d* errors? reported by Checkstyle",
            r"\[ant:checkstyle\]",
            r"The following files had format violations",
            r"(?i)spotless\S*:\S*check .*(failed|violations)",
            r"(?i)Execution failed for task ':(\S+:)?(spotless\w*Check|checkstyle\w*|ktlint\w*|detekt\w*|pmd\w*|spotbugs\w*)'",
            r"maven-(checkstyle|pmd)-plugin:\S+:(check|pmd-check) .*(violation|failed)",
            r"(?i)PMD Failure|SpotBugs Failure|BugInstance size is [1-9]",
        ],
    )
    .steps(LINT_STEPS),
    // Dockerfile:4 DL3006 warning: Always tag the version of an image explicitly / SC2086 (shellcheck)
    Rule::new(
        "shell.hadolint_shellcheck",
        L,
        Medium,
        0.84,
        &["dl3", "dl4", "sc1", "sc2", "sc3"],
        &[r"\S*Dockerfile\S*:\d+ DL\d{4} ", r"\bSC\d{4}\b.*\((error|warning|info|style)\)|\(?(error|warning|info|style)\)?:? .*\bSC\d{4}\b|^In \S+ line \d+:$"],
    )
    .steps(LINT_STEPS),
    // javadoc: error: @param name not found / Coverage checks have not been met (jacoco) / coverage below threshold
    Rule::new(
        "quality.javadoc_coverage",
        L,
        Medium,
        0.8,
        &["javadoc", "coverage checks have not been met", "coverage", "error: @"],
        &[
            r"\.java:\d+: error: (@\w+|bad use of|malformed HTML|unknown tag)",
            r"(?i)javadoc: error",
            r"Coverage checks have not been met",
            r"(?i)coverage .*(below|is less than|under) (the )?(threshold|minimum|required)",
        ],
    ),
    // actionlint / yamllint / markdownlint findings.
    Rule::new(
        "workflow.actionlint",
        L,
        Medium,
        0.82,
        &["actionlint", "yamllint", "markdownlint", "[syntax-check]", "[expression]", "[shellcheck]"],
        &[r"\.ya?ml:\d+:\d+: .+ \[[\w-]+\]$", r"(?i)(actionlint|yamllint|markdownlint).*(error|failed)"],
    )
    .steps(LINT_STEPS),
];
