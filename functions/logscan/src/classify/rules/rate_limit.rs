//! An API or registry refuses for too many requests (the study's W7): GitHub's primary and secondary
//! rate limits, Docker Hub's pull limit, 429 from package registries.

use super::Rule;
use crate::cause::Cause::RateLimit as R;
use crate::classify::Severity::{High, Medium};

pub const RULES: &[Rule] = &[
    Rule::new(
        "github.rate_limit",
        R,
        High,
        0.95,
        &["rate limit exceeded", "secondary rate limit", "x-ratelimit-remaining: 0"],
        &[r"(?i)API rate limit exceeded", r"(?i)secondary rate limit", r"(?i)x-ratelimit-remaining: 0\b"],
    ),
    // toomanyrequests: You have reached your pull rate limit. / 429 Too Many Requests
    Rule::new(
        "registry.too_many_requests",
        R,
        High,
        0.92,
        &["toomanyrequests", "too many requests", "pull rate limit", "429"],
        &[
            r"toomanyrequests",
            r"(?i)too many requests",
            r"(?i)reached your pull rate limit",
            r"(?i)(HTTP error|status code:?|got|returned error:|HTTP/[\d.]+|response code) 429\b",
            r"\b429 \(Too Many Requests\)",
            r"too many 429 error responses",
        ],
    ),
    Rule::new(
        "generic.rate_limited",
        R,
        Medium,
        0.7,
        &["rate limit", "ratelimit", "rate-limit"],
        &[r"(?i)\brate[- ]?limit(ed|ing)?\b"],
    ),
];
