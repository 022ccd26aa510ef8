//! A token or credential lacks a permission, or authentication fails (the study's W5 and part of W2).

use super::Rule;
use crate::cause::Cause::Permission as P;
use crate::classify::Severity::High;

pub const RULES: &[Rule] = &[
    // HTTP 403 "Resource not accessible by integration" (GITHUB_TOKEN permissions), Bad credentials.
    Rule::new(
        "github.token_permission",
        P,
        High,
        0.95,
        &[
            "resource not accessible by",
            "bad credentials",
            "requires authentication",
            "must have admin rights",
            "write access to repository not granted",
        ],
        &[],
    ),
    // remote: Permission to a/b.git denied to github-actions[bot]. / The requested URL returned error: 403
    Rule::new(
        "git.auth_failed",
        P,
        High,
        0.92,
        &[
            "permission to",
            "returned error: 403",
            "returned error: 401",
            "authentication failed",
            "could not read username",
            "permission denied (publickey)",
            "repository not found",
            "failed to authenticate",
            "no authentication methods succeeded",
        ],
        &[
            r"Permission to \S+ denied to",
            r"The requested URL returned error: 40[13]",
            r"(?i)authentication failed for",
            r"could not read Username for",
            r"Permission denied \(publickey\)",
            r"remote: Repository not found",
            r"failed to authenticate when downloading repository",
            r"no authentication methods succeeded",
        ],
    ),
    // Registries: npm E401/E403/ENEEDAUTH, pip "HTTP error 403", Maven "status code: 401", docker "denied:".
    Rule::new(
        "registry.auth_failed",
        P,
        High,
        0.9,
        &[
            "e401",
            "e403",
            "eneedauth",
            "401 unauthorized",
            "403 forbidden",
            "unauthorized:",
            "denied:",
            "http error 40",
            "client error: forbidden",
            "client error: unauthorized",
            "status code: 40",
            "authentication required",
            "forbidden -",
            "unauthorized -",
            "403 403",
            "401 401",
        ],
        &[
            r"\bE40[13]\b",
            r"\bENEEDAUTH\b",
            r"\b40[13] (Unauthorized|Forbidden)\b",
            r"\bunauthorized: ",
            r"\bdenied: ",
            r"HTTP error 40[13]\b",
            r"40[13] Client Error: (Forbidden|Unauthorized)",
            r"status code:? 40[13]\b",
            r"(?i)authentication required",
        ],
    )
    .unless(&["127.0.0.1", "localhost"]),
    // Cloud credentials missing or refused (AWS, GCP, Azure actions).
    Rule::new(
        "cloud.credentials",
        P,
        High,
        0.88,
        &[
            "credentials could not be loaded",
            "could not load credentials",
            "unable to locate credentials",
            "the security token included in the request is invalid",
            "permission denied on resource",
            "does not have permission",
            "accessdenied",
            "access denied",
        ],
        &[
            r"(?i)credentials could not be loaded",
            r"Could not load credentials from any providers",
            r"Unable to locate credentials",
            r"The security token included in the request is invalid",
            r"(?i)permission denied on resource",
            r"(?i)does not have (the )?permission",
            r"\bAccessDenied\b",
            r"(?i)access denied",
        ],
    ),
    // EACCES on files: a script without the executable bit, a cache directory owned by root.
    Rule::new(
        "fs.permission_denied",
        P,
        High,
        0.7,
        &["eacces", "permission denied"],
        &[r"EACCES: permission denied", r": Permission denied$"],
    ),
];
