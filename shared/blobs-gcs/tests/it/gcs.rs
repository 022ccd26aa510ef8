//! Cloud Storage behaviour beyond the shared suite: checksums, conditional writes on the
//! resumable path, pagination, namespace boundaries and error messages.

use crate::{TestBucket, gcs_store};
use aetherveil_blobs_gcs::{GcsBlobStore, GcsConfig, Retries};
use aetherveil_store::StoreError;
use aetherveil_store::blob::BlobStore;
use aetherveil_store::testsuite::blobs::noise;
use std::time::Duration;

/// fake-gcs-server does not check the CRC32C an upload declares (it stores the object and
/// reports the checksum of what it received); the client compares that report with the checksum
/// it sent, so the write still fails. Real Cloud Storage refuses such an upload itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_crc32c_does_not_match_fails_naming_the_object() {
    let (store, bucket) = gcs_store().await;
    let bytes = b"payload that was damaged on its way".to_vec();
    let wrong = crc32c::crc32c(&bytes) ^ 0x0000_0001;
    let err = store.put_with_crc32c("raw-deliveries", "d/1", bytes.clone(), wrong, false).await.expect_err("refused");
    let message = err.to_string();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert!(message.contains("crc32c"), "{message}");
    assert!(message.contains(&format!("gs://{}/raw-deliveries/d/1", bucket.name)), "{message}");
    // The right checksum goes through.
    let right = crc32c::crc32c(&bytes);
    assert!(store.put_with_crc32c("raw-deliveries", "d/1", bytes.clone(), right, false).await.expect("put"));
    assert_eq!(store.get("raw-deliveries", "d/1").await.expect("get"), Some(bytes));
}

/// A 17 MiB object: past the client's default resumable threshold, still one request with ours,
/// so the create-if-absent condition is the service's to enforce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_objects_round_trip_and_stay_conditional() {
    let (store, _bucket) = gcs_store().await;
    let first = noise(17 * 1024 * 1024 + 3, 5);
    assert!(store.put("models", "big/v1", first.clone(), true).await.expect("put"));
    assert!(!store.put("models", "big/v1", noise(17 * 1024 * 1024, 6), true).await.expect("second put"));
    assert!(store.get("models", "big/v1").await.expect("get").expect("present") == first, "first writer kept");
}

/// Past 32 MiB the upload is resumable (several requests). Only the round trip is checked:
/// fake-gcs-server ignores `ifGenerationMatch` on resumable uploads, so the condition on this
/// path rests on Cloud Storage itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_past_the_resumable_threshold_round_trip() {
    let (store, _bucket) = gcs_store().await;
    let bytes = noise(33 * 1024 * 1024 + 7, 9);
    assert!(store.put("models", "huge", bytes.clone(), false).await.expect("put"));
    assert!(store.get("models", "huge").await.expect("get").expect("present") == bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_follows_every_page() {
    let (store, _bucket) = gcs_store().await;
    let mut keys: Vec<String> = (0..7).map(|i| format!("p/{i:02}")).collect();
    keys.push("q".into());
    for key in &keys {
        store.put("log-profiles", key, key.as_bytes().to_vec(), false).await.expect("put");
    }
    assert_eq!(store.list_paged("log-profiles", "", 2).await.expect("list"), keys);
    assert_eq!(store.list_paged("log-profiles", "p/", 3).await.expect("list"), keys[..7]);
    assert_eq!(store.list("log-profiles", "").await.expect("list"), keys);
}

/// `models/...` must not list `models-old/...`: the namespace is matched with its slash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_does_not_list_a_longer_namespace() {
    let (store, _bucket) = gcs_store().await;
    store.put("models", "a", b"1".to_vec(), false).await.expect("put");
    store.put("models-old", "a", b"2".to_vec(), false).await.expect("put");
    store.put("models.v2", "b", b"3".to_vec(), false).await.expect("put");
    assert_eq!(store.list("models", "").await.expect("list"), ["a"]);
    assert_eq!(store.list("models-old", "").await.expect("list"), ["a"]);
}

/// Every character the key alphabet allows survives the object name, the URL and the listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_with_every_allowed_character_round_trip() {
    let (store, _bucket) = gcs_store().await;
    let keys = ["A-Z_a-z.0-9", "x/.hidden/y", "deep/er/and/deeper/still/k...v", "-_./x-_"];
    for key in keys {
        assert!(store.put("raw-deliveries", key, key.as_bytes().to_vec(), true).await.expect(key), "{key}");
        assert_eq!(store.get("raw-deliveries", key).await.expect(key).as_deref(), Some(key.as_bytes()), "{key}");
    }
    let mut sorted: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    sorted.sort();
    assert_eq!(store.list("raw-deliveries", "").await.expect("list"), sorted);
    for key in keys {
        store.delete("raw-deliveries", key).await.expect(key);
    }
    assert!(store.list("raw-deliveries", "").await.expect("list").is_empty());
}

/// A bucket that does not exist: writes and listings fail with the bucket and object in the
/// message (reads say "absent": the service answers 404 for both a missing bucket and a missing
/// object).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_the_bucket_and_object() {
    let endpoint = TestBucket::create().await.endpoint.clone();
    let missing = format!("aetherveil-missing-{}", uuid::Uuid::new_v4().simple());
    let config = GcsConfig { bucket: missing.clone(), endpoint: Some(endpoint), emulator: true };
    let store = GcsBlobStore::new(config).await.expect("store");
    let put = store.put("models", "m/1", b"x".to_vec(), false).await.expect_err("no bucket").to_string();
    assert!(put.contains(&format!("gs://{missing}/models/m/1")), "{put}");
    let list = store.list("models", "m/").await.expect_err("no bucket").to_string();
    assert!(list.contains(&format!("gs://{missing}/models/m/")), "{list}");
    assert!(store.get("models", "m/1").await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_an_error_not_an_absence() {
    // Port 9 (discard) on loopback: nothing listens there on a test machine.
    let config = GcsConfig { bucket: "b".into(), endpoint: Some("http://127.0.0.1:9".into()), emulator: true };
    let retries = Retries { attempts: 2, first_backoff: Duration::from_millis(10), time_limit: Duration::from_secs(1) };
    let store = GcsBlobStore::with_retries(config, retries).await.expect("store");
    let (get, delete) = tokio::join!(store.get("models", "k"), store.delete("models", "k"));
    let get = get.expect_err("unreachable").to_string();
    assert!(get.contains("gs://b/models/k"), "{get}");
    let delete = delete.expect_err("unreachable").to_string();
    assert!(delete.contains("gs://b/models/k"), "{delete}");
}
