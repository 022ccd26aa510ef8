//! GitHub App authentication: the JWT GitHub expects, installation tokens used for API calls,
//! cached per installation and refreshed before they expire.

use crate::server::{FakeGitHub, REPO, RUN_ID, SHORT_LIVED_INSTALLATION};
use aetherveil_github::{AppCredentials, Config, Error, Installations};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

/// A key generated for these tests only (`openssl genrsa -traditional 2048`).
const KEY: &str = include_str!("../fixtures/app-key.pem");
const APP_ID: u64 = 4242;

fn credentials() -> AppCredentials {
    AppCredentials::from_pem(APP_ID, KEY).expect("the test key loads")
}

fn installations(server: &FakeGitHub) -> Installations {
    let mut config = crate::fast_config(&server.base_url);
    config.token = String::new();
    Installations::new(credentials(), config)
}

#[test]
fn the_jwt_is_rs256_signed_with_the_apps_claims() {
    let creds = credentials();
    let now = chrono::Utc::now();
    let jwt = creds.jwt(now).expect("jwt");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
    assert_eq!(header["alg"], "RS256");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    assert_eq!(claims["iss"], APP_ID.to_string());
    let (iat, exp) = (claims["iat"].as_i64().expect("iat"), claims["exp"].as_i64().expect("exp"));
    assert!(iat < now.timestamp() && exp > now.timestamp() && exp - iat <= 600, "{claims}");
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64");
    let public = creds.public_key_der();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the signature verifies with the App's public key");
    assert!(!format!("{creds:?}").contains("BEGIN"), "the key never shows in Debug");
}

#[test]
fn a_bad_key_is_a_clear_configuration_error() {
    let err =
        AppCredentials::from_pem(1, "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----")
            .expect_err("not a key");
    assert!(matches!(&err, Error::InvalidConfig(m) if m.contains("private key")), "{err}");
    assert!(AppCredentials::from_pem(1, "hello").is_err());
}

#[tokio::test]
async fn an_installation_client_uses_its_token_and_is_cached() {
    let server = FakeGitHub::start().await.expect("fake");
    let apps = installations(&server);
    let gh = apps.client(7).await.expect("client");
    gh.get_run(REPO, RUN_ID).await.expect("a call with the installation token");
    apps.client(7).await.expect("cached").get_run(REPO, RUN_ID).await.expect("call");

    let exchanges = server.requests_to(Method::POST, "/app/installations/7/access_tokens");
    assert_eq!(exchanges.len(), 1, "one token for two clients of the same installation");
    let auth = exchanges[0].header("authorization").expect("the App's JWT");
    assert!(auth.starts_with("Bearer ") && auth.matches('.').count() == 2, "{auth}");
    let calls = server.requests_to(Method::GET, &format!("/repos/{REPO}/actions/runs/{RUN_ID}"));
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.header("authorization").is_some_and(|a| a.starts_with("Bearer ghs_7_"))));
}

#[tokio::test]
async fn a_token_close_to_expiry_is_refreshed() {
    let server = FakeGitHub::start().await.expect("fake");
    let apps = installations(&server);
    apps.client(SHORT_LIVED_INSTALLATION).await.expect("client");
    apps.client(SHORT_LIVED_INSTALLATION).await.expect("client");
    let path = format!("/app/installations/{SHORT_LIVED_INSTALLATION}/access_tokens");
    assert_eq!(server.requests_to(Method::POST, &path).len(), 2, "a token with 2 minutes left is replaced");
}

#[tokio::test]
async fn a_refused_token_exchange_is_an_error_not_a_panic() {
    let server = FakeGitHub::start().await.expect("fake");
    let mut config = Config::new(&server.base_url, "");
    config.max_retries = 0;
    let apps = Installations::new(credentials(), config);
    server.fault(crate::server::Fault::new(Method::POST, "/app/installations/9/access_tokens", 401));
    let err = apps.client(9).await.expect_err("refused");
    assert!(matches!(err, Error::Unauthorized), "{err:?}");
}

#[tokio::test]
async fn a_shared_client_is_kept_acting_as_the_installation() {
    let server = FakeGitHub::start().await.expect("fake");
    let apps = std::sync::Arc::new(installations(&server));
    let gh = aetherveil_github::GitHub::new(Config::new(&server.base_url, "")).expect("client");
    assert!(!gh.has_credentials());
    let refresher = apps.clone().keep_fresh(gh.clone(), 7).await.expect("a first token");
    assert!(gh.has_credentials());
    gh.get_run(REPO, RUN_ID).await.expect("a call with the installation token");
    let calls = server.requests_to(Method::GET, &format!("/repos/{REPO}/actions/runs/{RUN_ID}"));
    assert!(calls.iter().all(|c| c.header("authorization").is_some_and(|a| a.starts_with("Bearer ghs_7_"))));
    refresher.abort();

    // GitHub refuses the App: start-up gets the error, not a client without credentials.
    let mut config = Config::new(&server.base_url, "");
    config.max_retries = 0;
    let refused = std::sync::Arc::new(Installations::new(credentials(), config));
    server.fault(crate::server::Fault::new(Method::POST, "/app/installations/9/access_tokens", 401));
    let other = aetherveil_github::GitHub::new(Config::new(&server.base_url, "")).expect("client");
    let err = refused.keep_fresh(other.clone(), 9).await.expect_err("refused");
    assert!(matches!(err, Error::Unauthorized), "{err:?}");
    assert!(!other.has_credentials());
}
