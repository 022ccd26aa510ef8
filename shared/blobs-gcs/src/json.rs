//! The two Cloud Storage JSON API calls the official client offers only over gRPC
//! (`StorageControl`): listing objects by prefix, page after page, and deleting an object.
//! They authenticate with the same credentials as the storage client and retry what is safe to
//! retry (a listing reads; deleting twice leaves the object as deleted as once).

use crate::Retries;
use google_cloud_auth::credentials::{CacheableResource, Credentials};
use http::{Extensions, HeaderMap};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// The longest pause between two tries.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub(crate) struct JsonApi {
    http: reqwest::Client,
    /// The endpoint, e.g. `https://storage.googleapis.com`; paths are appended to it.
    base: Url,
    credentials: Credentials,
    retries: Retries,
}

#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    items: Vec<ListedObject>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListedObject {
    name: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

impl JsonApi {
    pub(crate) fn new(endpoint: &str, credentials: Credentials, retries: Retries) -> Result<Self, String> {
        let base = Url::parse(endpoint).map_err(|e| format!("bad endpoint {endpoint:?}: {e}"))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(format!("bad endpoint {endpoint:?}: not an http(s) URL"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build the http client: {e}"))?;
        Ok(Self { http, base, credentials, retries })
    }

    /// `<endpoint>/storage/v1/b/<bucket>/o[/<object>]`, the object name as one escaped segment.
    fn url(&self, bucket: &str, object: Option<&str>) -> Result<Url, String> {
        let mut url = self.base.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|()| format!("bad endpoint {}", self.base))?;
            segments.pop_if_empty().extend(["storage", "v1", "b", bucket, "o"]);
            if let Some(object) = object {
                segments.push(object);
            }
        }
        Ok(url)
    }

    async fn auth_headers(&self) -> Result<HeaderMap, String> {
        match self.credentials.headers(Extensions::new()).await {
            Ok(CacheableResource::New { data, .. }) => Ok(data),
            Ok(CacheableResource::NotModified) => Err("the credentials returned no headers".into()),
            Err(e) => Err(format!("cannot get credentials: {e}")),
        }
    }

    /// Sends the request, retrying connection failures, timeouts, 408, 429 and 5xx with
    /// exponential backoff within [`Retries`].
    async fn send(&self, method: Method, url: Url) -> Result<Response, String> {
        let started = Instant::now();
        let mut backoff = self.retries.first_backoff;
        let mut attempt = 1;
        loop {
            let headers = self.auth_headers().await?;
            let result = self.http.request(method.clone(), url.clone()).headers(headers).send().await;
            let retryable = match &result {
                Ok(r) => {
                    let s = r.status();
                    s == StatusCode::REQUEST_TIMEOUT || s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()
                }
                Err(e) => e.is_connect() || e.is_timeout(),
            };
            let out_of_time = started.elapsed() + backoff > self.retries.time_limit;
            if !retryable || attempt >= self.retries.attempts || out_of_time {
                return result.map_err(|e| format!("{method} failed after {attempt} tries: {e}"));
            }
            tracing::debug!(%method, path = url.path(), attempt, "cloud storage request failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    /// Every object name under `prefix`, following `nextPageToken` to the last page.
    pub(crate) async fn list(&self, bucket: &str, prefix: &str, page_size: Option<u32>) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = self.url(bucket, None)?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("prefix", prefix).append_pair("fields", "items(name),nextPageToken");
                if let Some(n) = page_size {
                    query.append_pair("maxResults", &n.to_string());
                }
                if let Some(t) = &token {
                    query.append_pair("pageToken", t);
                }
            }
            let response = self.send(Method::GET, url).await?;
            if !response.status().is_success() {
                return Err(failure(response).await);
            }
            let page: ListPage = response.json().await.map_err(|e| format!("unreadable listing: {e}"))?;
            names.extend(page.items.into_iter().map(|o| o.name));
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if token.as_ref() == Some(&next) => {
                    return Err(format!("the listing repeated page token {next:?}"));
                }
                Some(next) => token = Some(next),
                None => return Ok(names),
            }
        }
    }

    /// Deletes the live object; a missing one is not an error.
    pub(crate) async fn delete(&self, bucket: &str, object: &str) -> Result<(), String> {
        let response = self.send(Method::DELETE, self.url(bucket, Some(object))?).await?;
        match response.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            _ => Err(failure(response).await),
        }
    }
}

/// "HTTP 403: <the service's message>" from an error response.
async fn failure(response: Response) -> String {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&body)
        .map(|b| b.error.message)
        .unwrap_or_else(|_| body.chars().take(200).collect());
    format!("HTTP {}: {}", status.as_u16(), message.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use google_cloud_auth::credentials::anonymous;

    fn api(endpoint: &str) -> JsonApi {
        JsonApi::new(endpoint, anonymous::Builder::new().build(), Retries::default()).expect("api")
    }

    #[test]
    fn object_names_are_one_escaped_path_segment() {
        let url = api("http://127.0.0.1:80").url("bkt", Some("models/a b/c%d")).expect("url");
        assert_eq!(url.as_str(), "http://127.0.0.1/storage/v1/b/bkt/o/models%2Fa%20b%2Fc%25d");
    }

    #[test]
    fn an_endpoint_with_a_path_keeps_it() {
        let url = api("https://example.test/gcs/").url("bkt", None).expect("url");
        assert_eq!(url.as_str(), "https://example.test/gcs/storage/v1/b/bkt/o");
    }

    #[test]
    fn endpoints_that_are_not_http_urls_are_refused() {
        for bad in ["127.0.0.1:80", "ftp://x", "mailto:a@b"] {
            assert!(JsonApi::new(bad, anonymous::Builder::new().build(), Retries::default()).is_err(), "{bad}");
        }
    }
}
