//! The one error type of the client.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// Everything a call to GitHub can end in, other than success.
///
/// Messages are lowercase and never contain the token or a signed redirect URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The [`Config`](crate::Config) was rejected (base URL, token or user agent).
    #[error("invalid github client configuration: {0}")]
    InvalidConfig(String),

    /// A repository argument was not `owner/name`. Checked before anything is sent, so a
    /// caller-supplied name can never steer the token to another API path.
    #[error("invalid repository {0:?}: expected owner/name")]
    InvalidRepo(String),

    /// 404. GitHub also answers 404 for private resources the token cannot see.
    #[error("not found (or not visible to this token)")]
    NotFound,

    /// 401: the token is missing, expired or revoked.
    #[error("unauthorized: github rejected the token")]
    Unauthorized,

    /// 403 that is not a rate limit (missing permission, resource not accessible by integration, ...).
    #[error("forbidden: {message}")]
    Forbidden { message: String },

    /// A primary or secondary rate limit whose wait exceeded `Config::max_wait`, so the client gave up
    /// without sleeping. `reset_at` comes from `x-ratelimit-reset`, `retry_after` from `retry-after`
    /// (or GitHub's documented one-minute minimum for secondary limits).
    #[error("rate limited by github{}", describe_limit(.reset_at, .retry_after))]
    RateLimited { reset_at: Option<DateTime<Utc>>, retry_after: Option<Duration> },

    /// Any other 4xx (and unexpected 3xx), with GitHub's `message` (plus the `errors` details of a 422).
    #[error("github answered {status}: {message}")]
    Status { status: u16, message: String },

    /// 5xx, after the retries the method allowed.
    #[error("github server error {status}")]
    Server { status: u16 },

    /// Connection refused, timeout, reset, TLS failure... after the retries the method allowed.
    /// The URL is stripped when it was a redirect target (signed blob URLs are credentials).
    #[error("transport error: {0}")]
    Transport(#[source] reqwest::Error),

    /// A 2xx body that is not the JSON shape we expect.
    #[error("cannot decode github response to {request}: {source}")]
    Decode {
        request: String,
        #[source]
        source: serde_json::Error,
    },

    /// A downloaded body exceeded the caller's limit (a job log larger than the configured maximum).
    #[error("the response is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },

    /// Writing a downloaded body to disk failed.
    #[error("cannot write the download: {0}")]
    Io(#[source] std::io::Error),

    /// Pagination did not end: the `next` link repeated, pointed outside the API origin, or the page cap was hit.
    #[error("pagination failed for {request}: {reason}")]
    Pagination { request: String, reason: String },
}

impl Error {
    /// HTTP status behind the error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::NotFound => Some(404),
            Error::Unauthorized => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::Status { status, .. } | Error::Server { status } => Some(*status),
            _ => None,
        }
    }
}

fn describe_limit(reset_at: &Option<DateTime<Utc>>, retry_after: &Option<Duration>) -> String {
    match (reset_at, retry_after) {
        (_, Some(after)) => format!(": retry after {} s", after.as_secs()),
        (Some(reset), None) => format!(": quota resets at {}", reset.to_rfc3339()),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn messages_are_lowercase_and_informative() {
        let reset = Utc.timestamp_opt(1_700_000_000, 0).single();
        let limited = Error::RateLimited { reset_at: reset, retry_after: None };
        assert_eq!(limited.to_string(), "rate limited by github: quota resets at 2023-11-14T22:13:20+00:00");
        let after = Error::RateLimited { reset_at: None, retry_after: Some(Duration::from_secs(60)) };
        assert_eq!(after.to_string(), "rate limited by github: retry after 60 s");
        let status = Error::Status { status: 422, message: "Validation Failed".into() };
        assert_eq!(status.to_string(), "github answered 422: Validation Failed");
        assert_eq!(status.status(), Some(422));
        assert_eq!(Error::NotFound.status(), Some(404));
    }
}
