//! Runs the Google Cloud Workflows definitions of `workflows/` on the local platform, so the same
//! YAML is deployed to Cloud Workflows and executed by `aetherveil serve` (scheduled jobs) and
//! `aetherveil workflow run`.
//!
//! # Path of a workflow
//!
//! ```text
//! workflows/<name>.yaml ──serde_norway──▶ JSON value ──parse.rs──▶ Workflow (checked: every key,
//!     call and function inside the subset, every `next` and subworkflow call resolvable; an
//!     unsupported construct is refused with its line, found again by locate.rs)
//! Executor::run(workflow, args) ──exec.rs──▶ main(args): steps in order
//!     assign · call http.get|post|put|patch|delete (reqwest) · call sys.log|sys.sleep · call <subworkflow>
//!     switch · for (in | range) · try + retry (http.default_retry…, or a predicate subworkflow) + except
//!     raise · return · next (a step, end, break, continue) · ${expressions} (expr.rs)
//! ```
//!
//! # Service URLs
//!
//! A workflow reads the base URL of the service it calls from `sys.get_env("AETHERVEIL_URL_<SERVICE>")`:
//! `AETHERVEIL_URL_API` (the platform's HTTP API) and `AETHERVEIL_URL_TRAINER` (the trainer
//! function). On Google Cloud these are the workflow's user environment variables, set by
//! Terraform to each Cloud Run service's URL; locally every `AETHERVEIL_URL_*` not set otherwise
//! is the address of the one `aetherveil serve` process ([`Executor::base_url`]).
//!
//! HTTP errors follow Cloud Workflows: a non-2xx answer raises
//! `{"message", "code", "headers", "body", "tags": ["HttpError"]}`; no answer raises a
//! `ConnectionError`/`ConnectionFailedError` or `TimeoutError`. `auth` is accepted and ignored
//! locally.

pub mod exec;
pub mod expr;
pub mod locate;
pub mod parse;

pub use exec::{Executor, HttpCall, Sleeper, TokioSleeper, Trace};
pub use parse::Workflow;

use serde_json::Value;
use thiserror::Error;

/// Where in a workflow file something is: its line (when it can be found) and its path of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: Option<usize>,
    pub path: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line} ({})", self.path),
            None => write!(f, "{}", self.path),
        }
    }
}

#[derive(Debug, Error)]
pub enum WorkflowError {
    #[error("not valid YAML: {message}")]
    Yaml { message: String },
    /// A key, call, function or operator outside the subset this executor implements.
    #[error("{at}: unsupported {construct}")]
    Unsupported { at: Location, construct: String },
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
    /// An exception nothing caught: a `raise`, an HTTP error, an expression error.
    #[error("{at}: uncaught exception: {value}")]
    Raised { value: Value, at: Location },
    #[error("the run took more than {limit} steps")]
    StepLimit { limit: u64 },
}

impl WorkflowError {
    /// The line the error points at, if it points at one.
    pub fn line(&self) -> Option<usize> {
        match self {
            WorkflowError::Unsupported { at, .. }
            | WorkflowError::Invalid { at, .. }
            | WorkflowError::Raised { at, .. } => at.line,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
