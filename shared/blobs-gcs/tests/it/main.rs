//! The shared blob suite and the Cloud Storage specifics, against fake-gcs-server.
//!
//! The emulator is found through `STORAGE_EMULATOR_HOST` (e.g. `http://127.0.0.1:80`; port 80
//! because the storage client sends a Host header without the port):
//!
//! ```text
//! scripts/emulators.sh start gcs && eval "$(scripts/emulators.sh env)"
//! ```
//!
//! Every test gets its own bucket, created through fake-gcs-server's JSON API and emptied and
//! removed when the test ends. Without the emulator the tests fail and say what is missing:
//! the shared suite's macro has no way to skip a case, so these tests never pass by skipping.

mod gcs;

use aetherveil_blobs_gcs::{GcsBlobStore, GcsConfig};
use aetherveil_store::blob::BlobStore;
use std::sync::Arc;

/// The emulator's endpoint from `STORAGE_EMULATOR_HOST`; panics with what to do when it is unset.
fn endpoint() -> String {
    match std::env::var("STORAGE_EMULATOR_HOST") {
        Ok(v) if !v.trim().is_empty() => v.trim().trim_end_matches('/').to_owned(),
        _ => panic!(
            "STORAGE_EMULATOR_HOST is not set: these tests need fake-gcs-server on port 80 \
             (scripts/emulators.sh start gcs; eval \"$(scripts/emulators.sh env)\")"
        ),
    }
}

/// A bucket that exists for one test. Dropping it deletes its objects and the bucket itself.
pub(crate) struct TestBucket {
    pub name: String,
    pub endpoint: String,
    http: reqwest::Client,
}

impl TestBucket {
    pub async fn create() -> Self {
        let endpoint = endpoint();
        let name = format!("aetherveil-it-{}", uuid::Uuid::new_v4().simple());
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{endpoint}/storage/v1/b?project=aetherveil-test"))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("fake-gcs-server at {endpoint} (STORAGE_EMULATOR_HOST) does not answer: {e}"));
        assert!(response.status().is_success(), "creating bucket {name}: {}", response.status());
        Self { name, endpoint, http }
    }

    pub fn config(&self) -> GcsConfig {
        GcsConfig { bucket: self.name.clone(), endpoint: Some(self.endpoint.clone()), emulator: true }
    }

    async fn remove(http: reqwest::Client, endpoint: String, bucket: String) -> Result<(), String> {
        let listing: serde_json::Value = http
            .get(format!("{endpoint}/storage/v1/b/{bucket}/o"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let names = listing["items"].as_array().into_iter().flatten().filter_map(|o| o["name"].as_str());
        for name in names {
            let mut url =
                reqwest::Url::parse(&format!("{endpoint}/storage/v1/b/{bucket}/o")).map_err(|e| e.to_string())?;
            url.path_segments_mut().map_err(|()| "bad endpoint".to_owned())?.push(name);
            http.delete(url).send().await.map_err(|e| e.to_string())?;
        }
        http.delete(format!("{endpoint}/storage/v1/b/{bucket}")).send().await.map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        let cleanup = Self::remove(self.http.clone(), self.endpoint.clone(), self.name.clone());
        // Tests run on the multi-threaded runtime, where a worker may block on a future.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                if let Err(e) = tokio::task::block_in_place(|| handle.block_on(cleanup)) {
                    eprintln!("could not remove test bucket {}: {e}", self.name);
                }
            }
            _ => eprintln!("test bucket {} left behind: not on a multi-threaded runtime", self.name),
        }
    }
}

/// A store on a fresh bucket, with the guard that removes the bucket.
pub(crate) async fn gcs_store() -> (GcsBlobStore, TestBucket) {
    let bucket = TestBucket::create().await;
    let store = GcsBlobStore::new(bucket.config()).await.expect("store");
    (store, bucket)
}

async fn blob_store() -> (Arc<dyn BlobStore>, TestBucket) {
    let (store, bucket) = gcs_store().await;
    (Arc::new(store), bucket)
}

aetherveil_store::blob_test_suite!(blob_store);
