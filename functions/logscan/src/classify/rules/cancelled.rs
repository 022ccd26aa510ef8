//! The job was cancelled: by a user, by a newer run in the same concurrency group, or by fail-fast.

use super::Rule;
use crate::cause::Cause::Cancelled as C;
use crate::classify::Severity::Low;

pub const RULES: &[Rule] = &[
    // ##[error]The operation was canceled. / Canceling since a higher priority waiting request for 'ci-main' exists
    Rule::new(
        "runner.cancelled",
        C,
        Low,
        0.9,
        &[
            "the operation was canceled",
            "the operation was cancelled",
            "canceling since a higher priority",
            "the run was canceled by",
        ],
        &[],
    ),
];
