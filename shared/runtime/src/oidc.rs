//! Authenticating Pub/Sub push requests in the cloud.
//!
//! A push subscription with an OIDC token sends `Authorization: Bearer <JWT>`, signed by Google
//! (RS256), with `iss` `accounts.google.com`, `aud` the audience configured on the subscription,
//! and `email` the push service account. [`OidcVerifier`] checks all of that against Google's
//! published keys (a JWKS fetched over HTTPS and cached); [`require_push_token`] puts the check
//! in front of a router and answers 401 with the reason when it fails. It is opt-in: the
//! emulator sends no token, so nothing is checked unless a verifier is configured.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Google's signing keys for the ID tokens it issues (Pub/Sub push tokens among them).
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// The issuers Google writes in its ID tokens.
pub const GOOGLE_ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];
/// A JWKS is not refetched for an unknown key id more often than this (a flood of tokens with
/// made-up key ids must not become a flood of fetches).
const MIN_REFRESH: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What a push token must show.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The `aud` claim: the audience set on the push subscription (by default its push URL).
    pub audience: String,
    /// When set, the `email` claim must be this service account, and verified.
    pub email: Option<String>,
    /// Where the signing keys are published.
    pub jwks_url: String,
    /// Accepted `iss` values.
    pub issuers: Vec<String>,
    /// How long fetched keys are used before they are fetched again.
    pub cache_ttl: Duration,
    /// Clock skew tolerated on `exp`.
    pub leeway: Duration,
}

impl OidcConfig {
    /// Google's keys and issuers, for `audience`.
    pub fn google(audience: &str) -> Self {
        Self {
            audience: audience.to_owned(),
            email: None,
            jwks_url: GOOGLE_JWKS_URL.to_owned(),
            issuers: GOOGLE_ISSUERS.iter().map(|s| (*s).to_owned()).collect(),
            cache_ttl: Duration::from_secs(3600),
            leeway: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum OidcError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsupported token algorithm {0:?} (expected RS256)")]
    Algorithm(String),
    #[error("token signed by unknown key {0:?}")]
    UnknownKey(String),
    #[error("bad token signature")]
    Signature,
    #[error("token issuer {0:?} is not accepted")]
    Issuer(String),
    #[error("token audience is not {0:?}")]
    Audience(String),
    #[error("token expired")]
    Expired,
    #[error("token email is not the push service account")]
    Email,
    #[error("cannot fetch the signing keys: {0}")]
    Jwks(String),
    #[error("cannot build the http client for the signing keys: {0}")]
    Client(String),
}

impl OidcError {
    /// A failure of ours (keys unavailable) rather than of the request.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, OidcError::Jwks(_))
    }
}

/// The claims of a verified push token.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: Audience,
    pub exp: i64,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
}

/// `aud` is a string, or a list of strings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(a) => a == wanted,
            Audience::Many(all) => all.iter().any(|a| a == wanted),
        }
    }
}

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: Option<String>,
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

/// An RSA public key: big-endian modulus and exponent.
#[derive(Clone)]
struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

struct KeyCache {
    fetched: Instant,
    keys: HashMap<String, RsaKey>,
}

/// Verifies push tokens; keeps the fetched keys. Share one per process.
pub struct OidcVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    cache: tokio::sync::RwLock<Option<KeyCache>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier").field("config", &self.config).finish_non_exhaustive()
    }
}

impl OidcVerifier {
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        let http =
            reqwest::Client::builder().timeout(FETCH_TIMEOUT).build().map_err(|e| OidcError::Client(e.to_string()))?;
        Ok(Self { config, http, cache: tokio::sync::RwLock::new(None) })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The (service account, audience) a push subscription must put in its tokens for this
    /// verifier to accept them, when a service account is configured.
    pub fn push_identity(&self) -> Option<(String, String)> {
        self.config.email.clone().map(|email| (email, self.config.audience.clone()))
    }

    /// Verifies the `Authorization: Bearer` token of a request.
    pub async fn verify_headers(&self, headers: &HeaderMap) -> Result<Claims, OidcError> {
        let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(OidcError::Missing)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(OidcError::Missing)?;
        self.verify(token).await
    }

    /// Verifies a compact JWT: RS256 signature by a published key, issuer, audience, expiry
    /// and (when configured) the push account's email.
    pub async fn verify(&self, token: &str) -> Result<Claims, OidcError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(OidcError::Malformed("not three dot-separated parts"));
        };
        let decode =
            |part: &str, what: &'static str| URL_SAFE_NO_PAD.decode(part).map_err(|_| OidcError::Malformed(what));
        let header: JwtHeader = serde_json::from_slice(&decode(h, "header is not base64url")?)
            .map_err(|_| OidcError::Malformed("header is not JSON"))?;
        if header.alg != "RS256" {
            return Err(OidcError::Algorithm(header.alg));
        }
        let kid = header.kid.unwrap_or_default();
        let key = self.key(&kid).await?;
        let signature = decode(s, "signature is not base64url")?;
        let signed = &token[..h.len() + 1 + p.len()];
        ring::signature::RsaPublicKeyComponents { n: &key.n, e: &key.e }
            .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .map_err(|_| OidcError::Signature)?;
        let claims: Claims = serde_json::from_slice(&decode(p, "payload is not base64url")?)
            .map_err(|_| OidcError::Malformed("payload lacks iss, aud or exp"))?;
        if !self.config.issuers.contains(&claims.iss) {
            return Err(OidcError::Issuer(claims.iss));
        }
        if !claims.aud.contains(&self.config.audience) {
            return Err(OidcError::Audience(self.config.audience.clone()));
        }
        let now = chrono::Utc::now().timestamp();
        if claims.exp.saturating_add(self.config.leeway.as_secs() as i64) < now {
            return Err(OidcError::Expired);
        }
        if let Some(wanted) = &self.config.email {
            if claims.email.as_deref() != Some(wanted.as_str()) || claims.email_verified == Some(false) {
                return Err(OidcError::Email);
            }
        }
        Ok(claims)
    }

    /// The key `kid`, from the cache or a fresh fetch.
    async fn key(&self, kid: &str) -> Result<RsaKey, OidcError> {
        let stale_or_missing = {
            let cache = self.cache.read().await;
            match cache.as_ref() {
                Some(c) if c.fetched.elapsed() < self.config.cache_ttl => match c.keys.get(kid) {
                    Some(k) => return Ok(k.clone()),
                    // A rotation may have published a new key: refetch, but not too often.
                    None => c.fetched.elapsed() >= MIN_REFRESH,
                },
                _ => true,
            }
        };
        if stale_or_missing {
            let mut cache = self.cache.write().await;
            // Another request may have refreshed while this one waited for the lock.
            let fresh = cache.as_ref().is_some_and(|c| c.fetched.elapsed() < MIN_REFRESH);
            if !fresh {
                let keys = self.fetch().await?;
                *cache = Some(KeyCache { fetched: Instant::now(), keys });
            }
        }
        let cache = self.cache.read().await;
        cache.as_ref().and_then(|c| c.keys.get(kid).cloned()).ok_or_else(|| OidcError::UnknownKey(kid.to_owned()))
    }

    async fn fetch(&self) -> Result<HashMap<String, RsaKey>, OidcError> {
        let fail = |e: &dyn std::fmt::Display| OidcError::Jwks(e.to_string());
        let response = self.http.get(&self.config.jwks_url).send().await.map_err(|e| fail(&e))?;
        if !response.status().is_success() {
            return Err(OidcError::Jwks(format!("{} answered {}", self.config.jwks_url, response.status())));
        }
        let jwks: Jwks = response.json().await.map_err(|e| fail(&e))?;
        let mut keys = HashMap::new();
        for k in jwks.keys {
            if k.kty != "RSA" || k.alg.as_deref().is_some_and(|a| a != "RS256") {
                continue;
            }
            let (Some(n), Some(e)) = (k.n, k.e) else { continue };
            let (Ok(n), Ok(e)) =
                (URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')), URL_SAFE_NO_PAD.decode(e.trim_end_matches('=')))
            else {
                continue;
            };
            keys.insert(k.kid.unwrap_or_default(), RsaKey { n, e });
        }
        tracing::debug!(url = %self.config.jwks_url, keys = keys.len(), "fetched push token signing keys");
        Ok(keys)
    }
}

/// Puts `verifier` in front of every route of `router`: a request without a valid push token
/// gets 401 and the reason; when the keys cannot be fetched, 503 (Pub/Sub redelivers later).
pub fn require_push_token<S>(router: Router<S>, verifier: Arc<OidcVerifier>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(axum::middleware::from_fn_with_state(verifier, check))
}

async fn check(State(verifier): State<Arc<OidcVerifier>>, request: Request, next: Next) -> Response {
    match verifier.verify_headers(request.headers()).await {
        Ok(_) => next.run(request).await,
        Err(e) if e.is_unavailable() => {
            tracing::error!(error = %e, "cannot verify push tokens");
            (StatusCode::SERVICE_UNAVAILABLE, "cannot verify the push token now").into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "push request refused");
            (StatusCode::UNAUTHORIZED, format!("unauthorized: {e}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
    use axum::routing::{get, post};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use serde_json::{Value, json};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    const AUDIENCE: &str = "https://monitor-abc.a.run.app";
    const PUSH_ACCOUNT: &str = "push@aetherveil.iam.gserviceaccount.com";

    struct Signer {
        key: KeyPair,
        kid: String,
    }

    impl Signer {
        fn new(kid: &str) -> Self {
            Self { key: KeyPair::generate(KeySize::Rsa2048).expect("generate rsa key"), kid: kid.into() }
        }

        fn jwk(&self) -> Value {
            let public = self.key.public_key();
            json!({
                "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
                "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
            })
        }

        fn token_with_header(&self, header: Value, claims: &Value) -> String {
            let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
            let mut sig = vec![0; self.key.public_modulus_len()];
            let rng = aws_lc_rs::rand::SystemRandom::new();
            self.key.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig).expect("sign");
            format!("{input}.{}", B64.encode(sig))
        }

        fn token(&self, claims: &Value) -> String {
            self.token_with_header(json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}), claims)
        }
    }

    fn claims() -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": "https://accounts.google.com", "aud": AUDIENCE, "iat": now, "exp": now + 3600,
            "sub": "1234567890", "email": PUSH_ACCOUNT, "email_verified": true,
        })
    }

    /// Serves `keys` as a JWKS on loopback; counts the fetches.
    async fn jwks_server(keys: Vec<Value>) -> (String, Arc<AtomicUsize>) {
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let body = json!({ "keys": keys });
        let app = Router::new().route(
            "/certs",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move { axum::Json(body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve jwks") });
        (format!("http://{addr}/certs"), fetches)
    }

    fn verifier(jwks_url: &str, email: Option<&str>) -> OidcVerifier {
        let mut config = OidcConfig::google(AUDIENCE);
        config.jwks_url = jwks_url.to_owned();
        config.email = email.map(str::to_owned);
        OidcVerifier::new(config).expect("verifier")
    }

    #[tokio::test]
    async fn a_token_signed_by_a_published_key_is_accepted_and_the_keys_are_cached() {
        let signer = Signer::new("k1");
        let (url, fetches) = jwks_server(vec![signer.jwk()]).await;
        let v = verifier(&url, Some(PUSH_ACCOUNT));
        for _ in 0..3 {
            let claims = v.verify(&signer.token(&claims())).await.expect("valid token");
            assert_eq!(claims.email.as_deref(), Some(PUSH_ACCOUNT));
            assert_eq!(claims.aud, Audience::One(AUDIENCE.into()));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "the JWKS is fetched once and cached");
        let mut listed = claims();
        listed["aud"] = json!(["other", AUDIENCE]);
        listed["iss"] = json!("accounts.google.com");
        v.verify(&signer.token(&listed)).await.expect("an audience list holding ours, the bare issuer");
    }

    #[tokio::test]
    async fn each_broken_claim_is_refused_with_its_reason() {
        let signer = Signer::new("k1");
        let (url, _) = jwks_server(vec![signer.jwk()]).await;
        let v = verifier(&url, Some(PUSH_ACCOUNT));
        let with = |field: &str, value: Value| {
            let mut c = claims();
            c[field] = value;
            signer.token(&c)
        };
        assert_eq!(v.verify(&with("aud", json!("https://elsewhere"))).await, Err(OidcError::Audience(AUDIENCE.into())));
        assert_eq!(
            v.verify(&with("iss", json!("https://evil.example"))).await,
            Err(OidcError::Issuer("https://evil.example".into()))
        );
        let long_ago = chrono::Utc::now().timestamp() - 7200;
        assert_eq!(v.verify(&with("exp", json!(long_ago))).await, Err(OidcError::Expired));
        assert_eq!(v.verify(&with("email", json!("someone@else.example"))).await, Err(OidcError::Email));
        assert_eq!(v.verify(&with("email_verified", json!(false))).await, Err(OidcError::Email));
        let no_email_check = verifier(&url, None);
        no_email_check.verify(&with("email", json!("someone@else.example"))).await.expect("email not required");
    }

    #[tokio::test]
    async fn forged_and_malformed_tokens_are_refused() {
        let signer = Signer::new("k1");
        let (url, _) = jwks_server(vec![signer.jwk()]).await;
        let v = verifier(&url, None);
        // Same key id, another key: the signature does not verify.
        let forger = Signer::new("k1");
        assert_eq!(v.verify(&forger.token(&claims())).await, Err(OidcError::Signature));
        // A valid token whose payload was swapped after signing.
        let good = signer.token(&claims());
        let mut other = claims();
        other["aud"] = json!("https://elsewhere");
        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], B64.encode(other.to_string()), parts[2]);
        assert_eq!(v.verify(&tampered).await, Err(OidcError::Signature));
        let unknown = Signer::new("k2");
        assert_eq!(v.verify(&unknown.token(&claims())).await, Err(OidcError::UnknownKey("k2".into())));
        let hs256 = signer.token_with_header(json!({"alg": "HS256", "kid": "k1"}), &claims());
        assert_eq!(v.verify(&hs256).await, Err(OidcError::Algorithm("HS256".into())));
        let none = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), B64.encode(claims().to_string()));
        assert_eq!(v.verify(&none).await, Err(OidcError::Algorithm("none".into())));
        assert!(matches!(v.verify("not-a-jwt").await, Err(OidcError::Malformed(_))));
        assert_eq!(v.verify_headers(&HeaderMap::new()).await, Err(OidcError::Missing));
    }

    #[tokio::test]
    async fn unreachable_keys_are_our_failure_not_the_callers() {
        let signer = Signer::new("k1");
        let v = verifier("http://127.0.0.1:9/certs", None);
        let err = v.verify(&signer.token(&claims())).await.expect_err("no keys");
        assert!(err.is_unavailable(), "{err}");
    }

    async fn call(router: Router, token: Option<&str>) -> (StatusCode, String) {
        let mut request = axum::http::Request::post("/").header("content-type", "application/json");
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let data = base64::engine::general_purpose::STANDARD.encode("{}");
        let envelope = json!({"message": {"data": data, "messageId": "1"}}).to_string();
        let response =
            router.oneshot(request.body(axum::body::Body::from(envelope)).expect("request")).await.expect("call");
        let status = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_layer_lets_valid_pushes_through_and_refuses_the_rest_with_a_reason() {
        let signer = Signer::new("k1");
        let (url, _) = jwks_server(vec![signer.jwk()]).await;
        let verifier = Arc::new(verifier(&url, Some(PUSH_ACCOUNT)));
        let router = require_push_token(Router::new().route("/", post(|| async { StatusCode::NO_CONTENT })), verifier);
        assert_eq!(call(router.clone(), Some(&signer.token(&claims()))).await.0, StatusCode::NO_CONTENT);
        let (status, body) = call(router.clone(), None).await;
        assert_eq!((status, body.as_str()), (StatusCode::UNAUTHORIZED, "unauthorized: missing bearer token"));
        let mut wrong = claims();
        wrong["aud"] = json!("https://elsewhere");
        let (status, body) = call(router, Some(&signer.token(&wrong))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("audience"), "{body}");
    }

    #[tokio::test]
    async fn the_push_router_checks_tokens_only_when_configured() {
        struct Accept;
        #[async_trait::async_trait]
        impl aetherveil_bus::Handler for Accept {
            async fn handle(&self, _: &aetherveil_bus::Delivery) -> Result<(), aetherveil_bus::HandlerError> {
                Ok(())
            }
        }
        let metrics = Arc::new(crate::Metrics::default());
        let open = crate::cloudevent::push_router_with_auth(Arc::new(Accept), metrics.clone(), None);
        assert_eq!(call(open, None).await.0, StatusCode::NO_CONTENT, "no verifier: the emulator's case");
        let signer = Signer::new("k1");
        let (url, _) = jwks_server(vec![signer.jwk()]).await;
        let guarded =
            crate::cloudevent::push_router_with_auth(Arc::new(Accept), metrics, Some(Arc::new(verifier(&url, None))));
        assert_eq!(call(guarded.clone(), None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(guarded, Some(&signer.token(&claims()))).await.0, StatusCode::NO_CONTENT);
    }
}
