//! One line of a CI log, as every module of this crate sees it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What a line is, from GitHub Actions' workflow commands (`##[error]` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Ordinary output of a tool.
    #[default]
    Output,
    /// `##[error]`: an annotation the runner or an action raised as an error.
    Error,
    /// `##[warning]`.
    Warning,
    /// `##[notice]`.
    Notice,
    /// `##[debug]`.
    Debug,
    /// `##[command]`: the command line the runner is about to execute.
    Command,
    /// `##[group]`: a step or a collapsible section starts; its title is the text.
    Group,
    /// `##[endgroup]`.
    EndGroup,
}

/// A line of a log with its provenance, so that evidence can point back at the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// 1-based line number in the file it was read from.
    pub number: u32,
    /// The step the line belongs to (GitHub Actions step name, or the run-log file's step), if known.
    pub step: Option<Arc<str>>,
    pub kind: LineKind,
    /// The text with the timestamp, the workflow-command marker and ANSI escapes removed.
    pub text: String,
}
