//! Rate-limit snapshots and request counters.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The primary rate limit as GitHub last reported it (`x-ratelimit-*` headers of the latest API response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// `x-ratelimit-limit`: requests allowed per window.
    pub limit: Option<u64>,
    /// `x-ratelimit-remaining`.
    pub remaining: u64,
    /// `x-ratelimit-used`.
    pub used: Option<u64>,
    /// `x-ratelimit-reset`: when the window resets.
    pub reset_at: DateTime<Utc>,
    /// `x-ratelimit-resource`: the bucket (`core` for everything this client calls).
    pub resource: Option<String>,
}

impl RateLimit {
    /// Reads the headers; `None` unless both `remaining` and `reset` are present and numeric.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let remaining = header_u64(headers, "x-ratelimit-remaining")?;
        let reset = header_u64(headers, "x-ratelimit-reset")?;
        let reset_at = DateTime::from_timestamp(i64::try_from(reset).ok()?, 0)?;
        Some(Self {
            limit: header_u64(headers, "x-ratelimit-limit"),
            remaining,
            used: header_u64(headers, "x-ratelimit-used"),
            reset_at,
            resource: header_str(headers, "x-ratelimit-resource").map(str::to_owned),
        })
    }

    /// How long until the window resets, if the quota is spent and the reset lies ahead.
    pub fn exhausted_for(&self, now: DateTime<Utc>) -> Option<Duration> {
        if self.remaining > 0 {
            return None;
        }
        (self.reset_at - now).to_std().ok().filter(|d| !d.is_zero())
    }
}

pub(crate) fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

pub(crate) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name)?.parse().ok()
}

/// What the client has done since it was built; shared by all clones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests sent, counting every attempt and every redirect hop.
    pub requests_total: u64,
    /// Attempts repeated after a 5xx or a transport error.
    pub retries_total: u64,
    /// Sleeps for a rate limit (primary reset, `retry-after`, secondary minimum, or an exhausted snapshot).
    pub rate_limit_waits_total: u64,
    /// Time spent in those sleeps.
    pub rate_limit_waited: Duration,
    /// Calls that ended in [`Error::RateLimited`](crate::Error::RateLimited) because the wait was too long.
    pub rate_limited_total: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    waits: AtomicU64,
    waited_micros: AtomicU64,
    rate_limited: AtomicU64,
}

impl Counters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn wait(&self, how_long: Duration) {
        self.waits.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(how_long.as_micros()).unwrap_or(u64::MAX);
        self.waited_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            requests_total: self.requests.load(Ordering::Relaxed),
            retries_total: self.retries.load(Ordering::Relaxed),
            rate_limit_waits_total: self.waits.load(Ordering::Relaxed),
            rate_limit_waited: Duration::from_micros(self.waited_micros.load(Ordering::Relaxed)),
            rate_limited_total: self.rate_limited.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("valid header"));
        }
        map
    }

    #[test]
    fn parses_the_documented_headers() {
        let h = headers(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "4987"),
            ("x-ratelimit-used", "13"),
            ("x-ratelimit-reset", "1700000000"),
            ("x-ratelimit-resource", "core"),
        ]);
        let rl = RateLimit::from_headers(&h).expect("snapshot");
        assert_eq!(rl.limit, Some(5000));
        assert_eq!(rl.remaining, 4987);
        assert_eq!(rl.used, Some(13));
        assert_eq!(rl.reset_at.timestamp(), 1_700_000_000);
        assert_eq!(rl.resource.as_deref(), Some("core"));
    }

    #[test]
    fn partial_or_garbled_headers_give_no_snapshot() {
        assert!(RateLimit::from_headers(&headers(&[("x-ratelimit-remaining", "1")])).is_none());
        assert!(
            RateLimit::from_headers(&headers(&[("x-ratelimit-remaining", "x"), ("x-ratelimit-reset", "1")])).is_none()
        );
    }

    #[test]
    fn exhausted_only_when_nothing_remains_and_reset_is_ahead() {
        let now = Utc::now();
        let mut rl = RateLimit {
            limit: None,
            remaining: 0,
            used: None,
            reset_at: now + chrono::Duration::seconds(5),
            resource: None,
        };
        assert_eq!(rl.exhausted_for(now), Some(Duration::from_secs(5)));
        rl.remaining = 1;
        assert_eq!(rl.exhausted_for(now), None);
        rl.remaining = 0;
        rl.reset_at = now - chrono::Duration::seconds(1);
        assert_eq!(rl.exhausted_for(now), None);
    }
}
