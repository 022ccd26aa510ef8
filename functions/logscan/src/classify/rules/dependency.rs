//! Dependencies cannot be resolved: missing or conflicting versions, lock files out of date, a
//! toolchain version that does not exist or does not fit (the study's P3, P4 and W4).

use super::Rule;
use crate::cause::Cause::Dependency as D;
use crate::classify::Severity::{High, Medium};

pub const RULES: &[Rule] = &[
    // error: failed to select a version for `foo`. / no matching package named `foo` found
    Rule::new(
        "rust.version_conflict",
        D,
        High,
        0.9,
        &["failed to select a version", "no matching package named", "needs to be updated but --locked"],
        &[
            r"failed to select a version for",
            r"no matching package named `[^`]+` found",
            r"lock file .* needs to be updated but --locked was passed",
        ],
    ),
    // npm error code ERESOLVE / notarget No matching version found for x@^9 / ETARGET / lockfile out of sync
    Rule::new(
        "npm.resolve_failed",
        D,
        High,
        0.9,
        &[
            "eresolve",
            "etarget",
            "no matching version found",
            "could not resolve dependency",
            "can only install packages when your package.json",
        ],
        &[
            r"\bERESOLVE\b",
            r"\bETARGET\b",
            r"No matching version found for \S+",
            r"Could not resolve dependency:",
            r"can only install packages when your package\.json and package-lock\.json",
        ],
    ),
    // yarn: Couldn't find any versions for "x" that matches "^9" / pnpm: ERR_PNPM_NO_MATCHING_VERSION
    Rule::new(
        "js.yarn_pnpm_resolve",
        D,
        High,
        0.9,
        &["couldn't find any versions", "err_pnpm_", "your lockfile needs to be updated"],
        &[
            r#"Couldn't find any versions for ""#,
            r"ERR_PNPM_(NO_MATCHING_VERSION|OUTDATED_LOCKFILE|PEER_DEP_ISSUES|LOCKFILE_CONFIG_MISMATCH)",
            r"Your lockfile needs to be updated",
        ],
    ),
    // npm 404 for a package that does not exist (a typo or an unpublished private package).
    Rule::new(
        "npm.package_not_found",
        D,
        Medium,
        0.75,
        &["e404", "404 not found - get"],
        &[r"\bE404\b", r"404 Not Found - GET https?://\S+"],
    ),
    // pip: ResolutionImpossible / requires a different Python / Could not find a version that satisfies
    Rule::new(
        "python.resolution_impossible",
        D,
        High,
        0.9,
        &[
            "resolutionimpossible",
            "requires a different python",
            "the conflict is caused by",
            "solverproblemerror",
            "version solving failed",
        ],
        &[
            r"ResolutionImpossible",
            // `ERROR: Package 'x' requires a different Python`; pip's verbose "Link requires a
            // different Python (...)" only says that it skipped a wheel.
            r"Package '[^']+' requires a different Python",
            r"The conflict is caused by:",
            r"SolverProblemError",
            r"version solving failed",
        ],
    ),
    Rule::new(
        "python.no_matching_distribution",
        D,
        Medium,
        0.74,
        &["could not find a version that satisfies", "no matching distribution found"],
        &[],
    ),
    Rule::new(
        "python.module_not_found",
        D,
        Medium,
        0.68,
        &["modulenotfounderror"],
        &[r"ModuleNotFoundError: No module named"],
    ),
    // Maven: Could not resolve dependencies / Dependency convergence error / Could not find artifact
    Rule::new(
        "maven.dependency_resolution",
        D,
        Medium,
        0.74,
        &["could not resolve dependencies", "could not be resolved", "non-resolvable", "no plugin found for prefix"],
        &[
            r"Could not resolve dependencies for project",
            r"The following artifacts could not be resolved",
            r"Plugin \S+ or one of its dependencies could not be resolved",
            r"Non-resolvable (parent|import) POM",
            r"No plugin found for prefix",
        ],
    ),
    Rule::new(
        "maven.dependency_conflict",
        D,
        High,
        0.9,
        &[
            "dependency convergence error",
            "could not find artifact",
            "requireupperbounddeps",
            "upper bound dependencies",
        ],
        &[r"Dependency convergence error", r"Could not find artifact \S+ in \S+", r"(?i)require ?upper ?bound ?deps"],
    ),
    // Gradle: Could not resolve all files for configuration / Could not find a:b:1.0.
    Rule::new(
        "gradle.dependency_resolution",
        D,
        Medium,
        0.76,
        &["could not resolve all", "could not find ", "could not resolve ", "plugin [id:"],
        &[
            r"Could not resolve all (files|dependencies|artifacts) for configuration",
            r"Could not find [\w.-]+:[\w.-]+:[\w.-]+",
            r"Could not resolve [\w.-]+:[\w.-]+:[\w.-]+\.",
            r"Plugin \[id: '[^']+'.*\] was not found",
        ],
    ),
    // A JDK or Gradle version that does not fit (P4): class file versions, --release, Gradle/JVM mismatch.
    Rule::new(
        "jvm.version_mismatch",
        D,
        High,
        0.86,
        &[
            "major version",
            "class file",
            "invalid target release",
            "release version",
            "requires jvm",
            "requires java",
            "incompatible",
        ],
        &[
            r"Unsupported class file major version \d+",
            r"class file (has wrong version|version \d+)",
            r"invalid (target|source) release:? \d+",
            r"error: release version \d+ not supported",
            r"(?i)requires (a )?(JVM|Java) (version )?\d+",
            r"(?i)Gradle \S+ (is )?(not )?compatible with Java",
        ],
    ),
    // go: ambiguous import / unknown revision / missing go.sum entry / updates to go.mod needed
    Rule::new(
        "go.module_resolution",
        D,
        High,
        0.88,
        &[
            "ambiguous import",
            "unknown revision",
            "missing go.sum entry",
            "cannot find module providing",
            "no required module provides",
            "updates to go.mod needed",
            "go.mod requires go",
            "requires go >=",
        ],
        &[],
    ),
    // setup-* actions: the requested toolchain version does not exist.
    Rule::new(
        "setup.version_not_found",
        D,
        Medium,
        0.8,
        &[
            "could not find satisfied version",
            "was not found in the local cache",
            "not found for ",
            "unable to find",
            "no matching version",
        ],
        &[
            r"Could not find satisfied version for SemVer",
            r"Version \S+ with arch \S+ not found",
            r"Unable to find (Java|Node|Python|Go) (distribution|version)",
            r"Could not find a (JDK|JRE|java) version",
        ],
    ),
];
