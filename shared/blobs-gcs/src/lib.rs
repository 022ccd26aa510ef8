//! The Cloud Storage backend of the blob store: raw webhook deliveries, job-log profiles and model
//! artifacts as objects of one bucket, named `<namespace>/<key>`.
//!
//! Two clients share one set of credentials (Application Default Credentials in the cloud,
//! anonymous ones against fake-gcs-server):
//!
//! - writes and reads go through the official `google-cloud-storage` client ([`Storage`]) over
//!   the JSON API. Every write carries the CRC32C of the content, computed here before the first
//!   byte is sent, so Cloud Storage checks the bytes it received and refuses a corrupted upload;
//!   the client also compares the checksum the service reports with ours. A create-if-absent is
//!   `ifGenerationMatch=0`: the service decides, so two racing writers cannot both win.
//! - listing and deleting use the JSON API directly (the `json` module). The official crate
//!   offers those two calls only in `StorageControl`, which speaks gRPC; fake-gcs-server serves
//!   the JSON API only, and one code path that the tests exercise is worth more than a second,
//!   untested one.

mod json;

use aetherveil_store::blob::{BlobStore, validate};
use aetherveil_store::{Result, StoreError};
use async_trait::async_trait;
use google_cloud_auth::credentials::{Credentials, anonymous};
use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_storage::client::Storage;
use google_cloud_storage::error::WriteError;
use google_cloud_storage::retry_policy::RetryableErrors;
use serde::Deserialize;
use std::time::Duration;
use thiserror::Error;

/// Objects smaller than this go up in one request (a multipart upload, re-sent whole on a
/// retry); larger ones as resumable uploads. The client's default is 16 MiB; 32 MiB keeps every
/// webhook delivery (GitHub caps them at 25 MB) on the one-request path, which is also the path
/// whose `ifGenerationMatch` fake-gcs-server honours (it ignores it on resumable uploads, which
/// real Cloud Storage does not).
const RESUMABLE_THRESHOLD: usize = 32 * 1024 * 1024;

/// The public endpoint of the JSON API, used when [`GcsConfig::endpoint`] is unset.
pub const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

/// How both clients retry a failed request. Only transient failures are retried (connection
/// errors, timeouts, 408, 429, 5xx), and a write only because every write here is safe to repeat
/// (conditional, or the same bytes written again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// Tries per request, counting the first.
    pub attempts: u32,
    /// The first pause between tries; it doubles each time (with jitter), up to 10 s.
    pub first_backoff: Duration,
    /// No request keeps retrying past this, whatever `attempts` says. It also bounds the storage
    /// client's retry throttle, which, once most tries fail, keeps waiting without counting tries.
    pub time_limit: Duration,
}

impl Default for Retries {
    /// Five tries from 200 ms, at most 15 s: a dead endpoint fails a call within seconds instead
    /// of the storage client's default of five minutes.
    fn default() -> Self {
        Self { attempts: 5, first_backoff: Duration::from_millis(200), time_limit: Duration::from_secs(15) }
    }
}

/// Where the blobs live.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcsConfig {
    /// The bucket holding every namespace (created by Terraform, never by the service).
    pub bucket: String,
    /// The JSON API endpoint, e.g. `http://127.0.0.1:80` for fake-gcs-server; `None` is
    /// [`DEFAULT_ENDPOINT`].
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Talk to an emulator: anonymous credentials, and `endpoint` is required. Otherwise the
    /// credentials are Application Default Credentials (the Cloud Run service account).
    #[serde(default)]
    pub emulator: bool,
}

/// What can go wrong talking to Cloud Storage. Each message names the bucket and object.
#[derive(Debug, Error)]
pub enum GcsError {
    #[error("invalid cloud storage configuration: {0}")]
    Config(String),
    #[error("cannot start the cloud storage client for bucket {bucket}: {reason}")]
    Client { bucket: String, reason: String },
    #[error("the upload of gs://{bucket}/{object} failed its crc32c check: {reason}")]
    Checksum { bucket: String, object: String, reason: String },
    #[error("cannot write gs://{bucket}/{object}: {reason}")]
    Write { bucket: String, object: String, reason: String },
    #[error("cannot read gs://{bucket}/{object}: {reason}")]
    Read { bucket: String, object: String, reason: String },
    #[error("cannot delete gs://{bucket}/{object}: {reason}")]
    Delete { bucket: String, object: String, reason: String },
    #[error("cannot list gs://{bucket}/{prefix}*: {reason}")]
    List { bucket: String, prefix: String, reason: String },
}

impl From<GcsError> for StoreError {
    fn from(e: GcsError) -> Self {
        match e {
            GcsError::Config(_) => StoreError::Invalid(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Blobs in one Cloud Storage bucket. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct GcsBlobStore {
    bucket: String,
    /// `projects/_/buckets/<bucket>`, the form the storage client wants.
    bucket_path: String,
    storage: Storage,
    json: json::JsonApi,
}

impl GcsBlobStore {
    /// Builds the clients with the default [`Retries`]. No request is sent: a missing bucket
    /// shows on the first call.
    pub async fn new(config: GcsConfig) -> Result<Self, GcsError> {
        Self::with_retries(config, Retries::default()).await
    }

    /// Builds the clients with their own retry limits.
    pub async fn with_retries(config: GcsConfig, retries: Retries) -> Result<Self, GcsError> {
        let GcsConfig { bucket, endpoint, emulator } = config;
        if bucket.is_empty() {
            return Err(GcsError::Config("the bucket name is empty".into()));
        }
        if emulator && endpoint.is_none() {
            return Err(GcsError::Config(format!("bucket {bucket}: an emulator needs an explicit endpoint")));
        }
        let client_err = |reason: String| GcsError::Client { bucket: bucket.clone(), reason };
        ensure_crypto_provider();
        let credentials: Credentials = if emulator {
            anonymous::Builder::new().build()
        } else {
            google_cloud_auth::credentials::Builder::default()
                .build()
                .map_err(|e| client_err(format!("no application default credentials: {e}")))?
        };
        let endpoint = endpoint.unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let backoff = ExponentialBackoffBuilder::new()
            .with_initial_delay(retries.first_backoff)
            .with_maximum_delay(json::MAX_BACKOFF)
            .with_scaling(2.0)
            .build()
            .map_err(|e| client_err(format!("bad backoff policy: {e}")))?;
        let storage = Storage::builder()
            .with_endpoint(endpoint.clone())
            .with_credentials(credentials.clone())
            .with_retry_policy(RetryableErrors.with_attempt_limit(retries.attempts).with_time_limit(retries.time_limit))
            .with_backoff_policy(backoff)
            .with_resumable_upload_threshold(RESUMABLE_THRESHOLD)
            .build()
            .await
            .map_err(|e| client_err(e.to_string()))?;
        let json = json::JsonApi::new(&endpoint, credentials, retries).map_err(client_err)?;
        Ok(Self { bucket_path: format!("projects/_/buckets/{bucket}"), bucket, storage, json })
    }

    /// The bucket this store writes to, for logs and start-up messages.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Writes `bytes` with a CRC32C the caller already holds (for example the checksum of the
    /// source the bytes were copied from), so Cloud Storage checks the bytes it receives against
    /// that source rather than against a copy that may already be damaged. A mismatch is
    /// [`GcsError::Checksum`]. `if_absent` as in [`BlobStore::put`]; if the answer to a
    /// create-if-absent is lost and the retry meets the object the first try wrote, the result is
    /// `Ok(false)`, and the object holds these bytes either way.
    pub async fn put_with_crc32c(
        &self,
        namespace: &str,
        key: &str,
        bytes: Vec<u8>,
        crc32c: u32,
        if_absent: bool,
    ) -> Result<bool> {
        validate(namespace, key)?;
        let object = object_name(namespace, key);
        let mut write =
            self.storage.write_object(&self.bucket_path, &object, bytes::Bytes::from(bytes)).with_known_crc32c(crc32c);
        write = if if_absent {
            // Generation 0 means "no live object": the service refuses the write if one exists.
            write.set_if_generation_match(0_i64)
        } else {
            // Writing the same bytes twice leaves the same object, so a lost response may be retried.
            write.with_idempotency(true)
        };
        match write.send_unbuffered().await {
            Ok(_) => Ok(true),
            Err(e) if if_absent && is_precondition_failure(&e) => Ok(false),
            Err(e) => Err(self.write_error(object, &e).into()),
        }
    }

    /// Like [`BlobStore::list`], asking the service for at most `page_size` names per page (it
    /// caps pages at 1,000 whatever is asked); every page is followed.
    pub async fn list_paged(&self, namespace: &str, prefix: &str, page_size: u32) -> Result<Vec<String>> {
        self.list_keys(namespace, prefix, Some(page_size)).await
    }

    async fn list_keys(&self, namespace: &str, prefix: &str, page_size: Option<u32>) -> Result<Vec<String>> {
        validate(namespace, "x")?;
        let full_prefix = object_name(namespace, prefix);
        let names = self.json.list(&self.bucket, &full_prefix, page_size).await.map_err(|reason| {
            StoreError::from(GcsError::List { bucket: self.bucket.clone(), prefix: full_prefix.clone(), reason })
        })?;
        let strip = format!("{namespace}/");
        let mut keys: Vec<String> =
            names.into_iter().filter_map(|name| name.strip_prefix(&strip).map(str::to_owned)).collect();
        // The service lists in byte order already; sorting again is cheap and keeps the contract here.
        keys.sort();
        Ok(keys)
    }

    fn write_error(&self, object: String, e: &GaxError) -> GcsError {
        let bucket = self.bucket.clone();
        let reason = describe(e);
        if is_checksum_refusal(e) {
            GcsError::Checksum { bucket, object, reason }
        } else {
            GcsError::Write { bucket, object, reason }
        }
    }
}

/// Installs aws-lc-rs as rustls's process-wide crypto provider unless one is installed. The
/// storage client's gRPC half builds its TLS configuration from that provider, and rustls cannot
/// pick one by itself when two are compiled in (ring for reqwest 0.12, aws-lc-rs for the Google
/// crates): without this, building the client for an `https` endpoint panics.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none()
        && rustls::crypto::aws_lc_rs::default_provider().install_default().is_err()
    {
        tracing::debug!("another thread installed a rustls crypto provider first; using it");
    }
}

fn object_name(namespace: &str, key: &str) -> String {
    format!("{namespace}/{key}")
}

/// The object's name as `read_object` must be given it. google-cloud-storage 1.9 percent-encodes
/// the name into the URL path but leaves `%` as it is, so `acme%2Fapi` would reach the service as
/// `acme/api` and read as missing; escaping `%` here makes it arrive intact. (Writes carry the
/// name in the query, encoded properly.) The blob suite's keys with `%` check both.
fn read_name(object: &str) -> String {
    object.replace('%', "%25")
}

/// Whether `e`, or an error it wraps, is the service answering `http` / `code`. The client wraps
/// some service errors (a refused start of a resumable upload is an I/O error around the 412),
/// so the whole chain is searched.
fn service_said(e: &GaxError, http: u16, code: Code) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(g) = err.downcast_ref::<GaxError>()
            && (g.http_status_code() == Some(http) || g.status().is_some_and(|s| s.code == code))
        {
            return true;
        }
        current = err.source();
    }
    false
}

fn is_precondition_failure(e: &GaxError) -> bool {
    service_said(e, 412, Code::FailedPrecondition)
}

fn is_not_found(e: &GaxError) -> bool {
    service_said(e, 404, Code::NotFound)
}

/// A checksum problem either side: the service refused the upload (400 naming the CRC32C), or
/// the client found that the checksum the service reports differs from the one sent.
fn is_checksum_refusal(e: &GaxError) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if err.downcast_ref::<WriteError>().is_some_and(|w| matches!(w, WriteError::ChecksumMismatch { .. })) {
            return true;
        }
        if let Some(g) = err.downcast_ref::<GaxError>()
            && g.http_status_code() == Some(400)
        {
            let payload = g.http_payload().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
            if format!("{g} {payload}").to_ascii_lowercase().contains("crc32c") {
                return true;
            }
        }
        current = err.source();
    }
    false
}

/// The error and the errors it wraps, each once: the client's outer messages alone can hide
/// the service's answer.
fn describe(e: &GaxError) -> String {
    let mut text = e.to_string();
    let mut current = std::error::Error::source(e);
    while let Some(inner) = current {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        current = inner.source();
    }
    text
}

#[async_trait]
impl BlobStore for GcsBlobStore {
    async fn put(&self, namespace: &str, key: &str, bytes: Vec<u8>, if_absent: bool) -> Result<bool> {
        let crc = crc32c::crc32c(&bytes);
        self.put_with_crc32c(namespace, key, bytes, crc, if_absent).await
    }

    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        validate(namespace, key)?;
        let object = object_name(namespace, key);
        let read_err =
            |e: &GaxError| GcsError::Read { bucket: self.bucket.clone(), object: object.clone(), reason: describe(e) };
        let mut response = match self.storage.read_object(&self.bucket_path, read_name(&object)).send().await {
            Ok(r) => r,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(read_err(&e).into()),
        };
        let size = usize::try_from(response.object().size).unwrap_or(0);
        let mut bytes = Vec::with_capacity(size);
        // The client checks the CRC32C of the whole body against the service's when the stream ends.
        while let Some(chunk) = response.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| read_err(&e))?);
        }
        Ok(Some(bytes))
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<()> {
        validate(namespace, key)?;
        let object = object_name(namespace, key);
        self.json.delete(&self.bucket, &object).await.map_err(|reason| {
            StoreError::from(GcsError::Delete { bucket: self.bucket.clone(), object: object.clone(), reason })
        })
    }

    async fn list(&self, namespace: &str, prefix: &str) -> Result<Vec<String>> {
        self.list_keys(namespace, prefix, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_precondition_failure_is_found_inside_a_wrapping_error() {
        let refused = || GaxError::http(412, http::HeaderMap::new(), bytes::Bytes::from_static(b"{}"));
        assert!(is_precondition_failure(&refused()));
        assert!(is_precondition_failure(&GaxError::io(refused())));
        assert!(!is_not_found(&GaxError::io(refused())));
        assert!(!is_precondition_failure(&GaxError::io("connection reset")));
        let missing = GaxError::http(404, http::HeaderMap::new(), bytes::Bytes::new());
        assert!(is_not_found(&missing) && !is_precondition_failure(&missing));
    }

    #[test]
    fn a_refused_checksum_is_told_apart_from_other_bad_requests() {
        let body = br#"{"error":{"code":400,"message":"Provided CRC32C \"AAAAAQ==\" doesn't match calculated CRC32C \"mnG7TA==\"."}}"#;
        let crc = GaxError::http(400, http::HeaderMap::new(), bytes::Bytes::from_static(body));
        let other = GaxError::http(400, http::HeaderMap::new(), bytes::Bytes::from_static(b"bad name"));
        assert!(is_checksum_refusal(&crc), "{crc}");
        assert!(!is_checksum_refusal(&other));
    }

    /// What goes on the wire, seen by a one-shot HTTP server: the upload declares the CRC32C of
    /// the content (so Cloud Storage can refuse damaged bytes; fake-gcs-server does not check it)
    /// and a create-if-absent carries `ifGenerationMatch=0`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_upload_declares_its_crc32c_and_its_create_condition() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut seen = Vec::new();
            let mut buf = [0u8; 8192];
            // Read until the multipart body's closing delimiter.
            loop {
                let n = socket.read(&mut buf).await.expect("read");
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen);
                let boundary = text.split("boundary=").nth(1).and_then(|r| r.split("\r\n").next());
                if n == 0 || boundary.is_some_and(|b| text.contains(&format!("--{b}--"))) {
                    break;
                }
            }
            // "hello" has CRC32C 0x9a71bb4c, "mnG7TA==" in base64.
            let body = r#"{"name":"models/k","bucket":"b","size":"5","crc32c":"mnG7TA==","generation":"1"}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(format!("{head}{body}").as_bytes()).await.expect("write");
            String::from_utf8_lossy(&seen).into_owned()
        });
        let config = GcsConfig { bucket: "b".into(), endpoint: Some(endpoint), emulator: true };
        let store = GcsBlobStore::new(config).await.expect("store");
        assert!(store.put("models", "k", b"hello".to_vec(), true).await.expect("put"));
        let request = server.await.expect("server");
        let first_line = request.lines().next().unwrap_or_default();
        assert!(first_line.starts_with("POST /upload/storage/v1/b/b/o?"), "{first_line}");
        assert!(first_line.contains("uploadType=multipart"), "{first_line}");
        assert!(first_line.contains("ifGenerationMatch=0"), "{first_line}");
        assert!(request.contains(r#""crc32c":"mnG7TA==""#), "{request}");
    }

    /// Run alone (nextest gives each test its own process), this is the first client built in the
    /// process, as in a fresh Cloud Run instance.
    #[tokio::test]
    async fn a_client_for_an_https_endpoint_builds_without_a_preinstalled_crypto_provider() {
        let config = GcsConfig { bucket: "b".into(), endpoint: Some("https://127.0.0.1:9".into()), emulator: true };
        GcsBlobStore::new(config).await.expect("store");
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    #[tokio::test]
    async fn an_emulator_without_an_endpoint_is_a_configuration_error() {
        let config = GcsConfig { bucket: "b".into(), endpoint: None, emulator: true };
        let err = GcsBlobStore::new(config).await.expect_err("refused");
        assert!(matches!(err, GcsError::Config(_)), "{err}");
        assert!(matches!(StoreError::from(err), StoreError::Invalid(_)));
        let empty = GcsConfig { bucket: String::new(), endpoint: Some("http://127.0.0.1:80".into()), emulator: true };
        assert!(matches!(GcsBlobStore::new(empty).await, Err(GcsError::Config(_))));
    }

    #[test]
    fn the_config_refuses_unknown_fields() {
        let ok: GcsConfig = serde_json::from_str(r#"{"bucket": "b"}"#).expect("minimal");
        assert_eq!(ok, GcsConfig { bucket: "b".into(), endpoint: None, emulator: false });
        assert!(serde_json::from_str::<GcsConfig>(r#"{"bucket": "b", "endpiont": "x"}"#).is_err());
    }
}
