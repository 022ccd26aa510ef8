//! The job or a step ran into its time limit (`timeout-minutes`).

use super::Rule;
use crate::cause::Cause::Timeout as T;
use crate::classify::Severity::High;

pub const RULES: &[Rule] = &[
    // ##[error]The job running on runner GitHub Actions 2 has exceeded the maximum execution time of 360 minutes.
    // ##[error]The action 'Run tests' has timed out after 30 minutes.
    Rule::new(
        "runner.timeout",
        T,
        High,
        0.97,
        &["exceeded the maximum execution time", "has timed out after"],
        &[
            r"has exceeded the maximum execution time of \d+ minutes",
            r"The action '.*' has timed out after \d+ minutes",
        ],
    ),
];
