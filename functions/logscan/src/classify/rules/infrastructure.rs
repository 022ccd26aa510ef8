//! The runner went away or GitHub's side failed: nothing in the code can cause or fix these.

use super::Rule;
use crate::cause::Cause::Infrastructure as I;
use crate::classify::Severity::Critical;

pub const RULES: &[Rule] = &[
    // ##[error]The runner has received a shutdown signal. This can happen when the runner service is stopped, ...
    // ##[error]The hosted runner encountered an error while running your job. (Error Type: Disconnect).
    // The self-hosted runner: build-3 lost communication with the server. ...
    Rule::new(
        "runner.lost",
        I,
        Critical,
        0.97,
        &[
            "the runner has received a shutdown signal",
            "runner encountered an error while running your job",
            "lost communication with the server",
            "the runner has lost communication",
            "runner did not respond",
            "was not acquired by runner",
            "an error occurred while provisioning",
            "github actions has encountered an internal error",
            "received request to deprovision",
        ],
        &[],
    ),
];
