//! What to do with one response: pure functions, so the retry and rate-limit policy is tested
//! without a network. `client.rs` applies the decision (sleep, retry, give up).

use crate::Error;
use crate::rate_limit::{RateLimit, header_u64};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// GitHub: "If you receive a secondary rate limit without a retry-after header, wait at least one minute".
pub(crate) const SECONDARY_MINIMUM: Duration = Duration::from_secs(60);

/// When a primary limit's reset already lies in the past (clock skew), wait this long rather than spin.
pub(crate) const RESET_IN_PAST_WAIT: Duration = Duration::from_secs(1);

/// What to do about a final response (after redirects) that is not a success.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Not worth repeating.
    Fail(Error),
    /// A rate limit: sleep `wait` and resend (any method: GitHub did not act on the request), or return
    /// `error` if the wait is longer than allowed.
    RateLimited { wait: Duration, error: Error },
    /// A failure that a later attempt may not see. `post_safe`: the request certainly was not acted on,
    /// so it may be repeated even when it is not idempotent. `after`: a server-provided minimum delay.
    Retry { error: Error, post_safe: bool, after: Option<Duration> },
}

/// `None` for a 2xx. `secondary_hits`: rate limits already met during this call, so repeated secondary
/// limits back off exponentially, as GitHub asks.
pub(crate) fn classify_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    api_origin: bool,
    now: DateTime<Utc>,
    secondary_hits: u32,
) -> Option<Decision> {
    (!status.is_success()).then(|| classify_failure(status, headers, body, api_origin, now, secondary_hits))
}

fn classify_failure(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    api_origin: bool,
    now: DateTime<Utc>,
    secondary_hits: u32,
) -> Decision {
    let code = status.as_u16();
    if !api_origin {
        // A redirect target (log storage). Its bodies are not GitHub's and may echo the signed URL.
        return match code {
            500 | 502 | 503 | 504 => {
                Decision::Retry { error: Error::Server { status: code }, post_safe: false, after: None }
            }
            404 => Decision::Fail(Error::NotFound),
            _ => Decision::Fail(Error::Status { status: code, message: "log storage refused the download".into() }),
        };
    }
    let message = github_message(body).unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_lowercase());
    let retry_after = header_u64(headers, "retry-after").map(Duration::from_secs);
    match code {
        401 => Decision::Fail(Error::Unauthorized),
        404 => Decision::Fail(Error::NotFound),
        403 | 429 => {
            let snapshot = RateLimit::from_headers(headers);
            if let Some(after) = retry_after {
                let error = Error::RateLimited { reset_at: snapshot.map(|s| s.reset_at), retry_after: Some(after) };
                return Decision::RateLimited { wait: after, error };
            }
            if let Some(rl) = snapshot.filter(|s| s.remaining == 0) {
                let wait = rl.exhausted_for(now).unwrap_or(RESET_IN_PAST_WAIT);
                return Decision::RateLimited {
                    wait,
                    error: Error::RateLimited { reset_at: Some(rl.reset_at), retry_after: None },
                };
            }
            let lower = message.to_lowercase();
            if code == 429 || lower.contains("rate limit") || lower.contains("abuse detection") {
                let wait = SECONDARY_MINIMUM.saturating_mul(1 << secondary_hits.min(5));
                return Decision::RateLimited {
                    wait,
                    error: Error::RateLimited { reset_at: None, retry_after: Some(wait) },
                };
            }
            Decision::Fail(Error::Forbidden { message })
        }
        500 => Decision::Retry { error: Error::Server { status: code }, post_safe: false, after: retry_after },
        // A gateway answered: the request most likely never reached the application.
        502..=504 => Decision::Retry { error: Error::Server { status: code }, post_safe: true, after: retry_after },
        // 501 Not Implemented, 505, ...: another attempt will not change the answer.
        501 | 505..=599 => Decision::Fail(Error::Server { status: code }),
        _ => Decision::Fail(Error::Status { status: code, message }),
    }
}

/// A transport error is worth retrying unless the request could not even be built. Returns
/// `Some(post_safe)`: connect errors (refused, DNS, connect timeout, TLS handshake) mean nothing
/// reached GitHub; a timeout or reset after sending may have been acted on.
pub(crate) fn classify_transport(err: &reqwest::Error) -> Option<bool> {
    if err.is_builder() || err.is_redirect() {
        return None;
    }
    Some(err.is_connect())
}

/// GitHub's error body: `{"message": "...", "documentation_url": "...", "errors": [...]}`. The
/// `errors` of a 422 are appended, since "Validation Failed" alone says little.
pub(crate) fn github_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut message = value.get("message")?.as_str()?.to_owned();
    let details: Vec<String> = value
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errors| errors.iter().filter_map(describe_validation_error).collect())
        .unwrap_or_default();
    if !details.is_empty() {
        message = format!("{message} ({})", details.join("; "));
    }
    Some(message)
}

fn describe_validation_error(error: &serde_json::Value) -> Option<String> {
    if let Some(text) = error.as_str() {
        return Some(text.to_owned());
    }
    if let Some(text) = error.get("message").and_then(|m| m.as_str()) {
        return Some(text.to_owned());
    }
    let field = |name: &str| error.get(name).and_then(|v| v.as_str());
    match (field("resource"), field("field"), field("code")) {
        (Some(resource), Some(name), Some(code)) => Some(format!("{resource}.{name} {code}")),
        (_, Some(name), Some(code)) => Some(format!("{name} {code}")),
        (_, _, Some(code)) => Some(code.to_owned()),
        _ => None,
    }
}

/// Exponential backoff with "equal jitter": half the exponential delay, plus up to the other half at
/// random. `retry` counts from 0.
pub(crate) fn backoff_delay(retry: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exponential = base.saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX)).min(cap);
    let half = exponential / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// A number in [0, 1) from a splitmix64 sequence seeded by the clock: enough to spread retries of
/// concurrent clients, with no extra dependency.
pub(crate) fn jitter() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut z = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// `Link: <url>; rel="next", <url>; rel="last"` → the `next` URL.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all("link") {
        let Ok(mut rest) = value.to_str() else { continue };
        while let Some(open) = rest.find('<') {
            let close = open + rest[open..].find('>')?;
            let url = &rest[open + 1..close];
            let params_end = rest[close..].find(",").map_or(rest.len(), |i| close + i);
            let is_next = rest[close + 1..params_end].split(';').any(|param| {
                let Some((name, value)) = param.split_once('=') else { return false };
                name.trim().eq_ignore_ascii_case("rel")
                    && value.trim().trim_matches('"').split_whitespace().any(|rel| rel.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return Some(url.to_owned());
            }
            rest = &rest[params_end..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("valid header"));
        }
        map
    }

    fn failure(decision: Decision) -> Error {
        match decision {
            Decision::Fail(error) => error,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn classify(status: u16, pairs: &[(&'static str, String)], body: &str) -> Decision {
        let status = StatusCode::from_u16(status).expect("status");
        classify_failure(status, &headers(pairs), body.as_bytes(), true, Utc::now(), 0)
    }

    #[test]
    fn successes_need_no_decision() {
        let ok = classify_response(StatusCode::CREATED, &HeaderMap::new(), b"", true, Utc::now(), 0);
        assert!(ok.is_none());
    }

    #[test]
    fn retry_after_wins_over_everything() {
        let d = classify(429, &[("retry-after", "7".into()), ("x-ratelimit-remaining", "0".into())], "{}");
        assert!(matches!(d, Decision::RateLimited { wait, .. } if wait == Duration::from_secs(7)), "{d:?}");
    }

    #[test]
    fn exhausted_primary_waits_until_reset() {
        let reset = (Utc::now().timestamp() + 30).to_string();
        let d = classify(403, &[("x-ratelimit-remaining", "0".into()), ("x-ratelimit-reset", reset)], "{}");
        match d {
            Decision::RateLimited { wait, error: Error::RateLimited { reset_at: Some(_), retry_after: None } } => {
                assert!(wait > Duration::from_secs(28) && wait <= Duration::from_secs(30), "{wait:?}");
            }
            other => panic!("{other:?}"),
        }
        let past = (Utc::now().timestamp() - 30).to_string();
        let d = classify(403, &[("x-ratelimit-remaining", "0".into()), ("x-ratelimit-reset", past)], "{}");
        assert!(matches!(d, Decision::RateLimited { wait, .. } if wait == RESET_IN_PAST_WAIT), "{d:?}");
    }

    #[test]
    fn secondary_limit_message_waits_a_minute_and_backs_off() {
        let body = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes."}"#;
        let d = classify(403, &[("x-ratelimit-remaining", "4000".into())], body);
        assert!(matches!(d, Decision::RateLimited { wait, .. } if wait == SECONDARY_MINIMUM), "{d:?}");
        let status = StatusCode::FORBIDDEN;
        let again = classify_failure(status, &HeaderMap::new(), body.as_bytes(), true, Utc::now(), 1);
        assert!(matches!(again, Decision::RateLimited { wait, .. } if wait == 2 * SECONDARY_MINIMUM), "{again:?}");
        let bare_429 = classify(429, &[], "");
        assert!(matches!(bare_429, Decision::RateLimited { .. }), "{bare_429:?}");
    }

    #[test]
    fn plain_403_is_forbidden_with_message() {
        let error = failure(classify(403, &[], r#"{"message":"Resource not accessible by integration"}"#));
        assert!(matches!(&error, Error::Forbidden { message } if message == "Resource not accessible by integration"));
    }

    #[test]
    fn server_errors_retry_and_only_gateways_are_post_safe() {
        assert!(matches!(classify(500, &[], ""), Decision::Retry { post_safe: false, .. }));
        for code in [502, 503, 504] {
            assert!(matches!(classify(code, &[], ""), Decision::Retry { post_safe: true, .. }));
        }
        assert!(matches!(classify(501, &[], ""), Decision::Fail(Error::Server { status: 501 })));
        let d = classify(503, &[("retry-after", "2".into())], "");
        assert!(matches!(d, Decision::Retry { after: Some(a), .. } if a == Duration::from_secs(2)));
    }

    #[test]
    fn client_errors_map_to_variants() {
        assert!(matches!(classify(401, &[], ""), Decision::Fail(Error::Unauthorized)));
        assert!(matches!(classify(404, &[], r#"{"message":"Not Found"}"#), Decision::Fail(Error::NotFound)));
        let body = serde_json::json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}, "title is too long"],
            "documentation_url": "https://docs.github.com/rest",
        });
        let error = failure(classify(422, &[], &body.to_string()));
        let expected = "Validation Failed (Issue.title missing_field; title is too long)";
        assert!(matches!(&error, Error::Status { status: 422, message } if message == expected), "{error:?}");
        let error = failure(classify(409, &[], "not json"));
        assert!(matches!(&error, Error::Status { status: 409, message } if message == "conflict"), "{error:?}");
    }

    #[test]
    fn redirect_targets_are_not_read_as_github() {
        let status = StatusCode::FORBIDDEN;
        let error = failure(classify_failure(status, &HeaderMap::new(), b"<Error>sig=1</Error>", false, Utc::now(), 0));
        assert!(matches!(&error, Error::Status { status: 403, message } if !message.contains("sig")), "{error:?}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(200);
        let cap = Duration::from_secs(5);
        assert_eq!(backoff_delay(0, base, cap, 0.0), Duration::from_millis(100));
        assert_eq!(backoff_delay(0, base, cap, 1.0), Duration::from_millis(200));
        assert_eq!(backoff_delay(3, base, cap, 0.0), Duration::from_millis(800));
        assert_eq!(backoff_delay(40, base, cap, 1.0), cap);
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }

    #[test]
    fn finds_the_next_link() {
        let page = |n: u32| format!("https://api.github.com/repositories/1/actions/runs/5/jobs?per_page=100&page={n}");
        let link = format!(r#"<{}>; rel="prev", <{}>; rel="next", <{}>; rel="last""#, page(1), page(3), page(9));
        let h = headers(&[("link", link)]);
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/actions/runs/5/jobs?per_page=100&page=3")
        );
        let last_page =
            headers(&[("link", r#"<https://x/?page=1>; rel="first", <https://x/?page=2>; rel="prev""#.into())]);
        assert_eq!(next_link(&last_page), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
