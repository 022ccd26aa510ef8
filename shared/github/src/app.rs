//! GitHub App authentication: a short-lived JWT signed with the App's private key (RS256) buys an
//! installation token (`POST /app/installations/{id}/access_tokens`), valid for an hour. Each
//! installation gets its own client; tokens are cached and refreshed five minutes before they
//! expire, so callers just ask [`Installations::client`] every time.

use crate::{Config, Error, GitHub};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;
use std::collections::HashMap;
use tokio::sync::Mutex;

/// A token is replaced this long before it expires.
const REFRESH_MARGIN: Duration = Duration::minutes(5);
/// The shortest wait between two refreshes (and the wait after a failed one).
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// An App's id and private key. The key never appears in `Debug` output or logs.
pub struct AppCredentials {
    app_id: u64,
    key: RsaKeyPair,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials").field("app_id", &self.app_id).field("key", &"<redacted>").finish()
    }
}

impl AppCredentials {
    /// From the App id and the private key GitHub hands out (PEM, PKCS#1 `RSA PRIVATE KEY` or
    /// PKCS#8 `PRIVATE KEY`).
    pub fn from_pem(app_id: u64, pem: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidConfig(format!("github app private key: {why}"));
        let pkcs1 = pem.contains("-----BEGIN RSA PRIVATE KEY-----");
        let body: String = pem.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body).map_err(|_| bad("not PEM (base64 between BEGIN/END lines)"))?;
        let key = if pkcs1 { RsaKeyPair::from_der(&der) } else { RsaKeyPair::from_pkcs8(&der) }
            .map_err(|e| bad(&format!("not an RSA key ring accepts ({e})")))?;
        Ok(Self { app_id, key })
    }

    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// The App's JWT at `now`: issued a minute in the past (clock drift), valid nine minutes (GitHub
    /// allows ten).
    pub fn jwt(&self, now: DateTime<Utc>) -> Result<String, Error> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iat": (now - Duration::seconds(60)).timestamp(),
            "exp": (now + Duration::seconds(540)).timestamp(),
            "iss": self.app_id.to_string(),
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let message = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message.as_bytes(), &mut signature)
            .map_err(|_| Error::InvalidConfig("github app private key: signing failed".into()))?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The public half (DER `RSAPublicKey`), for checking signatures in tests and fakes.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.public().as_ref().to_vec()
    }
}

#[derive(Deserialize)]
struct AccessToken {
    token: String,
    expires_at: DateTime<Utc>,
}

/// One client per installation, with its token kept fresh.
pub struct Installations {
    credentials: AppCredentials,
    /// The base configuration (URL, retries, timeouts); its token is ignored.
    config: Config,
    cache: Mutex<HashMap<u64, (GitHub, DateTime<Utc>)>>,
}

impl std::fmt::Debug for Installations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Installations").field("credentials", &self.credentials).finish_non_exhaustive()
    }
}

impl Installations {
    pub fn new(credentials: AppCredentials, config: Config) -> Self {
        Self { credentials, config, cache: Mutex::new(HashMap::new()) }
    }

    /// A client acting as the App's installation `installation_id`: cached while its token has more
    /// than five minutes left, otherwise a new token is requested first.
    pub async fn client(&self, installation_id: u64) -> Result<GitHub, Error> {
        let mut cache = self.cache.lock().await;
        let now = Utc::now();
        if let Some((client, expires_at)) = cache.get(&installation_id) {
            if *expires_at - REFRESH_MARGIN > now {
                return Ok(client.clone());
            }
        }
        let token = self.access_token(installation_id).await?;
        let client = GitHub::new(Config { token: token.token, ..self.config.clone() })?;
        cache.insert(installation_id, (client.clone(), token.expires_at));
        Ok(client)
    }

    /// Keeps `github` acting as installation `installation_id`, for a process whose functions
    /// share one client (an App installed once, on one organisation): sets a token now (an error
    /// if GitHub refuses it), then a new one five minutes before each expires, in the background.
    /// A refresh that fails is tried again every 30 seconds, and said in the log.
    pub async fn keep_fresh(
        self: std::sync::Arc<Self>,
        github: GitHub,
        installation_id: u64,
    ) -> Result<tokio::task::JoinHandle<()>, Error> {
        let mut expires_at = self.set_token(&github, installation_id).await?;
        Ok(tokio::spawn(async move {
            loop {
                let due = (expires_at - REFRESH_MARGIN - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(due.max(RETRY_EVERY)).await;
                match self.set_token(&github, installation_id).await {
                    Ok(next) => expires_at = next,
                    Err(e) => {
                        tracing::warn!(installation_id, error = %e, "cannot refresh the github app installation token; trying again");
                        expires_at = Utc::now() + REFRESH_MARGIN;
                    }
                }
            }
        }))
    }

    async fn set_token(&self, github: &GitHub, installation_id: u64) -> Result<DateTime<Utc>, Error> {
        let token = self.access_token(installation_id).await?;
        github.set_token(&token.token)?;
        Ok(token.expires_at)
    }

    /// A new installation token, bought with the App's JWT.
    async fn access_token(&self, installation_id: u64) -> Result<AccessToken, Error> {
        let app = GitHub::new(Config { token: self.credentials.jwt(Utc::now())?, ..self.config.clone() })?;
        let url = reqwest::Url::parse(&format!("{}/app/installations/{installation_id}/access_tokens", app.base_url()))
            .map_err(|e| Error::InvalidConfig(format!("cannot build a request url: {e}")))?;
        let token: AccessToken = app.send_json(Method::POST, url, &serde_json::json!({})).await?;
        tracing::info!(installation_id, expires_at = %token.expires_at, "github app installation token obtained");
        Ok(token)
    }
}
