//! The workflow or the project is misconfigured (the study's P2, W2, W6 and W8): an invalid workflow
//! file, an action that cannot be resolved, a missing input or file, version-control state.

use super::Rule;
use crate::cause::Cause::Configuration as C;
use crate::classify::Severity::{High, Medium};

pub const RULES: &[Rule] = &[
    // Invalid workflow file: .github/workflows/ci.yml#L12 / The workflow is not valid. / Unrecognized named-value
    Rule::new(
        "workflow.invalid",
        C,
        High,
        0.95,
        &[
            "invalid workflow file",
            "the workflow is not valid",
            "unrecognized named-value",
            "the template is not valid",
            "is not a valid event name",
            "required property is missing",
            "unexpected value '",
            "unexpected symbol:",
        ],
        &[],
    ),
    // Unable to resolve action `actions/setup-nod@v4`, repository not found / Can't find 'action.yml' ...
    Rule::new(
        "workflow.action_unresolved",
        C,
        High,
        0.95,
        &[
            "unable to resolve action",
            "can't find 'action.yml'",
            "an action could not be found",
            "unable to resolve version",
        ],
        &[],
    ),
    // ##[error]Input required and not supplied: token
    Rule::new("action.input_missing", C, High, 0.88, &["input required and not supplied"], &[]),
    // A command or a file the job expects is not there.
    Rule::new(
        "job.missing_file_or_command",
        C,
        Medium,
        0.66,
        &[
            "command not found",
            "no such file or directory",
            "unable to locate executable",
            "missing script:",
            "cannot find main module",
            "could not find `cargo.toml`",
            "no such command",
            "file or directory not found",
            "failed to read dockerfile",
            "unable to prepare context",
            "lock file is not found",
            "could not find or load main class",
            "unknown lifecycle phase",
            "non-parseable pom",
            "java_home",
        ],
        &[
            r": command not found$",
            r"^(/\S+: )?(line \d+: )?\S+: No such file or directory$",
            r"Unable to locate executable file",
            r"Missing script: ",
            r"cannot find main module",
            r"could not find `Cargo\.toml`",
            r"no such command: ",
            r"ERROR: file or directory not found: ",
            r"failed to read dockerfile",
            r"unable to prepare context",
            r"(?i)dependencies lock file is not found",
            r"Could not find or load main class",
            r"Unknown lifecycle phase",
            r"Non-parseable POM",
            r"JAVA_HOME (environment variable )?is not (defined|set)|invalid JAVA_HOME|JAVA_HOME should point",
        ],
    )
    .unless(&["no space left", "permission denied"]),
    // Version control state: merge conflicts, tags that exist, rejected pushes, nothing to commit.
    Rule::new(
        "git.vcs_state",
        C,
        Medium,
        0.8,
        &[
            "merge conflict",
            "automatic merge failed",
            "already exists",
            "[rejected]",
            "updates were rejected",
            "nothing to commit",
        ],
        &[
            r"CONFLICT \(\S+\): Merge conflict in",
            r"Automatic merge failed",
            r"tag '[^']+' already exists|already_exists.*tag_name|Validation Failed.*already_exists",
            r"! \[rejected\]",
            r"Updates were rejected because",
            r"^nothing to commit, working tree clean$",
        ],
    ),
    // Gradle scripts: Could not find method x() for arguments / Could not get unknown property
    Rule::new(
        "gradle.script_error",
        C,
        Medium,
        0.8,
        &[
            "could not find method",
            "could not get unknown property",
            "a problem occurred evaluating",
            "a problem occurred configuring",
        ],
        &[],
    ),
    // A secret the job needs is not set, GPG material is invalid, a tool's config is rejected.
    Rule::new(
        "job.secret_or_config_missing",
        C,
        Medium,
        0.78,
        &[
            "no valid openpgp data found",
            "unknown package manager",
            "unable to locate build via github actions api",
            "is not supported",
            "invalid configuration",
        ],
        &[
            r"no valid OpenPGP data found",
            r"(?i)unknown package manager",
            r"Unable to locate build via Github Actions API",
            r"(?i)caching for '.*' is not supported",
            r"(?i)invalid configuration",
        ],
    ),
];
