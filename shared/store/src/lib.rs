//! The document store every function uses: collections of JSON documents with get, put,
//! conditional create, simple queries and atomic batches.
//!
//! One trait, [`Store`], with backends picked by configuration. This crate ships the embedded
//! backend, [`SqliteStore`]: one SQLite file in WAL mode with migrations. Writes go through a
//! single writer thread that commits concurrent requests together (group commit), so many
//! small durable writes share one transaction.
//!
//! Atomic batches ([`WriteBatch`]) carry preconditions and may also enqueue bus messages
//! (the transactional outbox) and raw blobs, so "persist, then publish" is one commit: an
//! acknowledged write and its event are never separated by a crash.
//!
//! Blobs outside the document store (Cloud Storage, or files) go through [`blob::BlobStore`].
//!
//! [`testsuite`] holds the behaviour every backend must show; run it with [`store_test_suite!`]
//! (documents) and [`blob_test_suite!`] (blob stores).

mod batch;
pub mod blob;
mod error;
pub mod outbox;
mod query;
pub mod sqlite;
pub mod testsuite;

pub use batch::{Message, Precondition, WriteBatch, WriteOp};
pub use error::{Result, StoreError};
pub use query::{Filter, Op, Order, Query};
pub use sqlite::{SqliteStore, Synchronous};

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// One stored document.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub id: String,
    /// Starts at 1 and grows by one on every write; the token for optimistic concurrency.
    pub version: u64,
    pub data: Value,
}

impl Doc {
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.data.clone())
            .map_err(|e| StoreError::Decode { id: self.id.clone(), reason: e.to_string() })
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, collection: &str, id: &str) -> Result<Option<Doc>>;

    async fn query(&self, collection: &str, query: Query) -> Result<Vec<Doc>>;

    /// Applies every operation of the batch atomically. If any `Absent`/`Version` precondition
    /// fails, nothing is written and [`StoreError::Conflict`] is returned. The result holds, per
    /// operation, whether it was applied (`put_if_newer` skips stale writes without failing).
    async fn commit(&self, batch: WriteBatch) -> Result<Vec<bool>>;

    async fn get_blob(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>>;

    /// Declares that `collection` is queried by `fields` (equality on leading fields, range or
    /// order on the last), so the backend can index it. Idempotent; queries work without it,
    /// only slower. (Firestore declares the same composite indexes in Terraform.)
    async fn ensure_index(&self, collection: &str, fields: &[&str]) -> Result<()>;

    /// Writes a document unconditionally.
    async fn put(&self, collection: &str, id: &str, data: Value) -> Result<()> {
        self.commit(WriteBatch::new().put(collection, id, data)).await?;
        Ok(())
    }

    /// Creates a document only if it does not exist yet. Returns false if it existed.
    async fn create(&self, collection: &str, id: &str, data: Value) -> Result<bool> {
        match self.commit(WriteBatch::new().create(collection, id, data)).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, collection: &str, id: &str) -> Result<()> {
        self.commit(WriteBatch::new().delete(collection, id)).await?;
        Ok(())
    }
}

/// Reads a typed document.
pub async fn get_as<T: DeserializeOwned>(store: &dyn Store, collection: &str, id: &str) -> Result<Option<T>> {
    store.get(collection, id).await?.map(|d| d.parse()).transpose()
}

/// Read-modify-write with optimistic concurrency: reads the document, applies `change`, and
/// writes it back only if nobody wrote in between; retries on conflict. `change` receives
/// `None` when the document does not exist and returns the new content.
pub async fn update<F>(store: &dyn Store, collection: &str, id: &str, mut change: F) -> Result<Value>
where
    F: FnMut(Option<&Value>) -> Value + Send,
{
    const MAX_TRIES: usize = 64;
    for _ in 0..MAX_TRIES {
        let current = store.get(collection, id).await?;
        let next = change(current.as_ref().map(|d| &d.data));
        let precondition = match &current {
            Some(d) => Precondition::Version(d.version),
            None => Precondition::Absent,
        };
        let batch = WriteBatch::new().put_with(collection, id, next.clone(), precondition);
        match store.commit(batch).await {
            Ok(_) => return Ok(next),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Contended { collection: collection.to_owned(), id: id.to_owned() })
}

/// Serializes a value for storage.
pub fn to_value<T: Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| StoreError::Encode(e.to_string()))
}
