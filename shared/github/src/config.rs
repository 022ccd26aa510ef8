//! Client configuration.

use crate::Error;
use reqwest::Url;
use std::fmt;
use std::time::Duration;

/// `https://api.github.com`: the default base URL for github.com.
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// The REST API version every request asks for (`X-GitHub-Api-Version`).
pub const API_VERSION: &str = "2022-11-28";

/// How the client talks to GitHub. Build with [`Config::new`] and adjust the public fields.
///
/// `Debug` never prints the token.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// `https://api.github.com`, `https://HOST/api/v3` for GitHub Enterprise Server, or a simulator on
    /// loopback. Must be http or https; a trailing slash is tolerated.
    pub base_url: String,
    /// Personal access token or GitHub App installation token, sent as `Authorization: Bearer <token>`
    /// to the API origin only. Empty means anonymous (60 requests an hour on github.com).
    pub token: String,
    /// `User-Agent` (GitHub rejects requests without one).
    pub user_agent: String,
    /// Per HTTP request, including reading the body. Default 30 s.
    pub timeout: Duration,
    /// Establishing the TCP/TLS connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Retries after a 5xx or a transport error (see the crate docs for which methods retry what). Default 4.
    pub max_retries: u32,
    /// First backoff delay; doubles on each retry, with jitter. Default 200 ms.
    pub backoff_base: Duration,
    /// Largest backoff delay. Default 5 s.
    pub backoff_cap: Duration,
    /// Longest the client sleeps for one rate-limit wait (primary reset, `retry-after`, secondary
    /// minimum). A longer wait returns [`Error::RateLimited`] at once. Default 60 s.
    pub max_wait: Duration,
}

impl Config {
    /// Defaults for everything but the base URL and the token.
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token: token.into(),
            user_agent: concat!("aetherveil/", env!("CARGO_PKG_VERSION")).to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 4,
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(5),
            max_wait: Duration::from_secs(60),
        }
    }

    /// Parses and checks the base URL: http(s), a host, no query or fragment, no credentials.
    /// Returns it without a trailing slash, ready for `{base}/repos/...`.
    pub(crate) fn validated_base(&self) -> Result<Url, Error> {
        let invalid = |why: &str| Error::InvalidConfig(format!("base_url {:?}: {why}", self.base_url));
        let url = Url::parse(self.base_url.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("missing host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("must not have a query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("must not embed credentials; use the token"));
        }
        let mut url = url;
        let trimmed = url.path().trim_end_matches('/').to_owned();
        url.set_path(&trimmed);
        if self.timeout.is_zero() {
            return Err(Error::InvalidConfig("timeout must be positive".into()));
        }
        Ok(url)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("token", &if self.token.is_empty() { "<none>" } else { "<redacted>" })
            .field("user_agent", &self.user_agent)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_cap", &self.backoff_cap)
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> Result<String, Error> {
        Config::new(url, "t").validated_base().map(|u| u.to_string())
    }

    #[test]
    fn base_urls_are_normalised() -> Result<(), Error> {
        assert_eq!(base("https://api.github.com")?, "https://api.github.com/");
        assert_eq!(base("https://api.github.com/")?, "https://api.github.com/");
        assert_eq!(base("https://ghe.example.com/api/v3/")?, "https://ghe.example.com/api/v3");
        assert_eq!(base("http://127.0.0.1:8080")?, "http://127.0.0.1:8080/");
        Ok(())
    }

    #[test]
    fn bad_base_urls_are_rejected() {
        for bad in ["ftp://x", "api.github.com", "", "https://x/?a=b", "https://u:p@x", "file:///etc"] {
            assert!(matches!(base(bad), Err(Error::InvalidConfig(_))), "{bad} accepted");
        }
    }

    #[test]
    fn debug_redacts_the_token() {
        let shown = format!("{:?}", Config::new(GITHUB_API_URL, "ghp_secret"));
        assert!(!shown.contains("ghp_secret"));
        assert!(shown.contains("<redacted>"));
    }
}
