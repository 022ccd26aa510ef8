//! The Firestore backend of [`aetherveil_store::Store`], for the cloud shape.
//!
//! Layout: each [`Doc`] is one Firestore document in the collection of the same name, its id
//! escaped where Firestore would refuse it ([`codec::escape_name`]). The document has three
//! fields: `d`, the JSON data (see [`codec`] for how JSON maps onto Firestore values and back);
//! `v`, the version (1 on creation, +1 per write); and `o`, the order key of the last
//! [`WriteOp::PutIfNewer`] (absent after a plain put).
//!
//! [`Store::commit`] is one read-write transaction: it reads every document the batch touches,
//! checks the preconditions against what it read, writes the blobs (only once every precondition
//! holds, so a refused batch leaves no blob behind), then commits the documents. A transaction
//! that Firestore aborts because of contention is retried from the start, a bounded number of
//! times. [`WriteOp::Publish`] creates the message's [`aetherveil_store::outbox`] document in the
//! same transaction, unless a document with that message id is already there.
//!
//! Blobs live outside Firestore, in the [`BlobStore`] given to [`FirestoreStore::connect`]
//! (Cloud Storage in the cloud). A blob whose transaction then fails stays as a harmless orphan;
//! a document never points at a blob that was not written first.

mod auth;
pub mod codec;
mod query;

use aetherveil_store::blob::BlobStore;
use aetherveil_store::outbox;
use aetherveil_store::{Doc, Precondition, Query, Result, Store, StoreError, WriteBatch, WriteOp};
use async_trait::async_trait;
use firestore::gcloud_sdk::google::firestore::v1::firestore_client::FirestoreClient;
use firestore::gcloud_sdk::google::firestore::v1::{
    BatchGetDocumentsRequest, BeginTransactionRequest, CommitRequest, Document, GetDocumentRequest, RollbackRequest,
    RunQueryRequest, TransactionOptions, Value, Write, batch_get_documents_request, batch_get_documents_response,
    run_query_request, transaction_options, value::ValueType, write,
};
use firestore::gcloud_sdk::tonic::{Code, Status};
use firestore::gcloud_sdk::{GoogleApi, GoogleAuthMiddleware, RequestTimeouts};
use firestore::{FirestoreDb, FirestoreDbOptions};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The production Firestore API.
const PRODUCTION_ENDPOINT: &str = "https://firestore.googleapis.com";
/// Field holding the JSON data of a document.
const DATA: &str = "d";
/// Field holding the version of a document.
const VERSION: &str = "v";
/// Field holding the order key of the last `PutIfNewer`.
const ORDER: &str = "o";
/// Attempts of one `commit` before it gives up with [`StoreError::Contended`].
const MAX_ATTEMPTS: u32 = 24;
/// The longest a call waits for Firestore to start answering, or for the next result of a
/// stream; past it the call fails with DEADLINE_EXCEEDED ("did not answer in time").
const CALL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Stripes of the in-process write locks (see [`FirestoreStore::lock_documents`]).
const LOCK_STRIPES: usize = 64;

/// Where the Firestore database is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirestoreConfig {
    pub project_id: String,
    /// The database within the project; `(default)` unless the project has several.
    #[serde(default = "default_database_id")]
    pub database_id: String,
    /// The API URL; the production service when absent. Required with `emulator` (for example
    /// `http://127.0.0.1:8086`); a bare `host:port` is taken as plain HTTP.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Talk to the local emulator: anonymous credentials (`Authorization: Bearer owner`) instead
    /// of Application Default Credentials.
    #[serde(default)]
    pub emulator: bool,
}

fn default_database_id() -> String {
    "(default)".to_owned()
}

impl FirestoreConfig {
    /// The emulator at `endpoint` (`host:port` or a URL), for `project_id`.
    pub fn emulator(project_id: &str, endpoint: &str) -> Self {
        Self {
            project_id: project_id.to_owned(),
            database_id: default_database_id(),
            endpoint: Some(endpoint.to_owned()),
            emulator: true,
        }
    }

    fn url(&self) -> Result<String> {
        match &self.endpoint {
            Some(e) if e.contains("://") => Ok(e.trim_end_matches('/').to_owned()),
            Some(e) => Ok(format!("http://{}", e.trim_end_matches('/'))),
            None if self.emulator => Err(StoreError::Invalid(
                "the firestore emulator needs an endpoint, such as http://127.0.0.1:8086".into(),
            )),
            None => Ok(PRODUCTION_ENDPOINT.to_owned()),
        }
    }
}

/// A [`Store`] on a Firestore database (Native mode), with blobs in a separate [`BlobStore`].
#[derive(Clone)]
pub struct FirestoreStore {
    client: GoogleApi<FirestoreClient<GoogleAuthMiddleware>>,
    /// `projects/{p}/databases/{d}`.
    database: String,
    /// The API URL, for error messages.
    endpoint: String,
    blobs: Arc<dyn BlobStore>,
    /// In-process write locks, by hash of document name.
    stripes: Arc<[tokio::sync::Mutex<()>]>,
    /// Written into each outbox document (see [`outbox::ORIGIN_FIELD`]).
    outbox_origin: Option<String>,
}

impl std::fmt::Debug for FirestoreStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirestoreStore").field("database", &self.database).field("endpoint", &self.endpoint).finish()
    }
}

/// What the transaction read of one document.
#[derive(Debug, Clone, PartialEq)]
struct Current {
    version: u64,
    order: Option<String>,
}

/// The state a batch leaves one document in.
#[derive(Debug, Clone)]
enum Final {
    Written { version: u64, order: Option<String>, data: serde_json::Value },
    Deleted,
}

/// Why one transaction attempt ended without committing.
enum AttemptError {
    /// Firestore aborted the transaction (contention): start again.
    Aborted,
    Failed(StoreError),
}

impl FirestoreStore {
    /// Connects to the database `config` names. With `emulator`, no credentials are looked up;
    /// otherwise Application Default Credentials are used (the service account on Cloud Run).
    /// Fails with [`StoreError::Open`] naming the endpoint when it cannot be reached.
    pub async fn connect(config: &FirestoreConfig, blobs: Arc<dyn BlobStore>) -> Result<Self> {
        if config.project_id.is_empty() || config.database_id.is_empty() {
            return Err(StoreError::Invalid("firestore needs a project id and a database id".into()));
        }
        let endpoint = config.url()?;
        ensure_crypto_provider();
        let options = FirestoreDbOptions {
            google_project_id: config.project_id.clone(),
            database_id: config.database_id.clone(),
            // Read only by the firestore crate's own API; this store calls the gRPC client itself.
            max_retries: 0,
            firebase_api_url: Some(endpoint.clone()),
            request_timeout: None,
        };
        let open_error = |e: firestore::errors::FirestoreError| StoreError::Open {
            path: endpoint.clone(),
            reason: format!("cannot connect to firestore: {e}"),
        };
        let db = if config.emulator {
            FirestoreDb::with_options_auth(options, auth::emulator_credentials()).await.map_err(open_error)?
        } else {
            FirestoreDb::with_options(options).await.map_err(open_error)?
        };
        Ok(Self {
            client: db.client().clone().with_request_timeouts(RequestTimeouts::new().with_idle(CALL_IDLE_TIMEOUT)),
            database: format!("projects/{}/databases/{}", config.project_id, config.database_id),
            endpoint,
            blobs,
            stripes: (0..LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            outbox_origin: None,
        })
    }

    /// Marks the outbox documents this store writes as `origin`'s, for a relay with that origin.
    pub fn with_outbox_origin(mut self, origin: impl Into<String>) -> Self {
        self.outbox_origin = Some(origin.into());
        self
    }

    /// Takes the in-process locks of every document `batch` writes, in a fixed order.
    ///
    /// Firestore's read-write transactions lock what they read; two transactions that read the
    /// same document and then both write it wait on each other until one is aborted (after a
    /// lock timeout of seconds on the emulator). Writers through one store (and its clones, which
    /// share the locks) queue here instead, so only writers through different stores, such as
    /// different Cloud Run instances, ever contend inside Firestore. A process should share one
    /// store rather than connect several.
    async fn lock_documents(&self, batch: &WriteBatch) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let mut stripes: Vec<usize> = batch
            .ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Put { collection, id, .. }
                | WriteOp::PutIfNewer { collection, id, .. }
                | WriteOp::Delete { collection, id } => Some(self.doc_name(collection, id)),
                WriteOp::Publish(m) => Some(self.doc_name(outbox::COLLECTION, &m.id)),
                WriteOp::Blob { .. } => None,
            })
            .map(|name| (hasher.hash_one(name) % self.stripes.len() as u64) as usize)
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            guards.push(self.stripes[stripe].lock().await);
        }
        guards
    }

    fn rpc(&self) -> FirestoreClient<GoogleAuthMiddleware> {
        self.client.get()
    }

    fn doc_name(&self, collection: &str, id: &str) -> String {
        format!("{}/documents/{}/{}", self.database, collection, codec::escape_name(id))
    }

    fn status_error(&self, status: &Status) -> StoreError {
        status_to_error(&self.endpoint, status)
    }

    /// Turns a failed call inside a transaction into the end of that attempt.
    fn attempt_error(&self, status: Status) -> AttemptError {
        if status.code() == Code::Aborted {
            AttemptError::Aborted
        } else {
            AttemptError::Failed(self.status_error(&status))
        }
    }

    /// One attempt of a commit: begins a transaction (naming the aborted one it retries, if any,
    /// which keeps its place in Firestore's lock queue) and runs the batch in it. `retry_of` is
    /// set to the new transaction, for the next attempt.
    async fn try_commit(
        &self,
        batch: &WriteBatch,
        retry_of: &mut Vec<u8>,
    ) -> std::result::Result<Vec<bool>, AttemptError> {
        let begin = BeginTransactionRequest {
            database: self.database.clone(),
            options: Some(TransactionOptions {
                mode: Some(transaction_options::Mode::ReadWrite(transaction_options::ReadWrite {
                    retry_transaction: std::mem::take(retry_of),
                    // The database's mode: pessimistic on Firestore Native.
                    concurrency_mode: 0,
                })),
            }),
            request_options: None,
        };
        let txn =
            self.rpc().begin_transaction(begin).await.map_err(|s| self.attempt_error(s))?.into_inner().transaction;
        *retry_of = txn.clone();
        let result = self.run_transaction(batch, &txn).await;
        if matches!(result, Err(AttemptError::Failed(_))) {
            self.rollback(&txn).await;
        }
        result
    }

    async fn rollback(&self, txn: &[u8]) {
        let request =
            RollbackRequest { database: self.database.clone(), transaction: txn.to_vec(), request_options: None };
        if let Err(status) = self.rpc().rollback(request).await {
            tracing::warn!(endpoint = %self.endpoint, error = %status, "firestore rollback failed; the transaction expires by itself");
        }
    }

    /// Reads, checks, writes blobs and commits, inside transaction `txn`.
    async fn run_transaction(&self, batch: &WriteBatch, txn: &[u8]) -> std::result::Result<Vec<bool>, AttemptError> {
        let fail = |s: Status| self.attempt_error(s);
        // Every document the batch touches, keyed by its Firestore name.
        let mut names: Vec<String> = Vec::new();
        for op in &batch.ops {
            let name = match op {
                WriteOp::Put { collection, id, .. }
                | WriteOp::PutIfNewer { collection, id, .. }
                | WriteOp::Delete { collection, id } => self.doc_name(collection, id),
                WriteOp::Publish(m) => self.doc_name(outbox::COLLECTION, &m.id),
                WriteOp::Blob { .. } => continue,
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut state: HashMap<String, Option<Current>> = HashMap::new();
        if !names.is_empty() {
            let request = BatchGetDocumentsRequest {
                database: self.database.clone(),
                documents: names.clone(),
                mask: None,
                request_options: None,
                consistency_selector: Some(batch_get_documents_request::ConsistencySelector::Transaction(txn.to_vec())),
            };
            let mut stream = self.rpc().batch_get_documents(request).await.map_err(fail)?.into_inner();
            while let Some(response) = stream.message().await.map_err(fail)? {
                match response.result {
                    Some(batch_get_documents_response::Result::Found(doc)) => {
                        let current = Current { version: version_of(&doc), order: order_of(&doc) };
                        state.insert(doc.name, Some(current));
                    }
                    Some(batch_get_documents_response::Result::Missing(name)) => {
                        state.insert(name, None);
                    }
                    None => {}
                }
            }
        }
        if let Some(unread) = names.iter().find(|n| !state.contains_key(*n)) {
            return Err(AttemptError::Failed(StoreError::Database(format!(
                "firestore at {} did not return {unread} in a batch read",
                self.endpoint
            ))));
        }

        // Apply the operations in order to what was read.
        let mut finals: BTreeMap<String, Final> = BTreeMap::new();
        let mut applied = Vec::with_capacity(batch.ops.len());
        for op in &batch.ops {
            let ok = match op {
                WriteOp::Put { collection, id, data, precondition } => {
                    let name = self.doc_name(collection, id);
                    let current = state.get(&name).cloned().flatten();
                    let holds = match precondition {
                        Precondition::None => true,
                        Precondition::Absent => current.is_none(),
                        Precondition::Version(v) => current.as_ref().is_some_and(|c| c.version == *v),
                    };
                    if !holds {
                        return Err(AttemptError::Failed(StoreError::Conflict {
                            collection: collection.clone(),
                            id: id.clone(),
                        }));
                    }
                    let version = current.map_or(1, |c| c.version + 1);
                    state.insert(name.clone(), Some(Current { version, order: None }));
                    finals.insert(name, Final::Written { version, order: None, data: data.clone() });
                    true
                }
                WriteOp::PutIfNewer { collection, id, data, order } => {
                    let name = self.doc_name(collection, id);
                    let current = state.get(&name).cloned().flatten();
                    let newer = match &current {
                        None => true,
                        Some(Current { order: None, .. }) => true,
                        Some(Current { order: Some(stored), .. }) => stored < order,
                    };
                    if newer {
                        let version = current.map_or(1, |c| c.version + 1);
                        state.insert(name.clone(), Some(Current { version, order: Some(order.clone()) }));
                        finals.insert(name, Final::Written { version, order: Some(order.clone()), data: data.clone() });
                    }
                    newer
                }
                WriteOp::Delete { collection, id } => {
                    let name = self.doc_name(collection, id);
                    let existed = state.get(&name).is_some_and(Option::is_some);
                    state.insert(name.clone(), None);
                    finals.insert(name, Final::Deleted);
                    existed
                }
                WriteOp::Publish(message) => {
                    let name = self.doc_name(outbox::COLLECTION, &message.id);
                    let absent = state.get(&name).is_none_or(Option::is_none);
                    if absent {
                        state.insert(name.clone(), Some(Current { version: 1, order: None }));
                        finals.insert(
                            name,
                            Final::Written {
                                version: 1,
                                order: None,
                                data: outbox::to_doc(message, self.outbox_origin.as_deref()),
                            },
                        );
                    }
                    absent
                }
                WriteOp::Blob { .. } => true,
            };
            applied.push(ok);
        }

        // Every precondition holds: the blobs go first, so no committed document can point at a
        // blob that is not there.
        for op in &batch.ops {
            if let WriteOp::Blob { namespace, key, bytes } = op {
                self.blobs.put(namespace, key, bytes.clone(), false).await.map_err(AttemptError::Failed)?;
            }
        }

        let writes = finals
            .into_iter()
            .map(|(name, f)| match f {
                Final::Written { version, order, data } => Write {
                    update_mask: None,
                    update_transforms: Vec::new(),
                    current_document: None,
                    operation: Some(write::Operation::Update(stored_document(name, version, order, &data))),
                },
                Final::Deleted => Write {
                    update_mask: None,
                    update_transforms: Vec::new(),
                    current_document: None,
                    operation: Some(write::Operation::Delete(name)),
                },
            })
            .collect::<Vec<_>>();
        let commit =
            CommitRequest { database: self.database.clone(), writes, transaction: txn.to_vec(), request_options: None };
        self.rpc().commit(commit).await.map_err(fail)?;
        Ok(applied)
    }
}

/// Installs aws-lc-rs as rustls's process-wide crypto provider unless one is installed (as the
/// Cloud Storage blob store does). The workspace compiles rustls with two providers (ring for
/// reqwest 0.12, aws-lc-rs for the Google crates), so rustls cannot pick one by itself, and the
/// gRPC channel to an `https` endpoint would panic while building its TLS configuration.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none()
        && rustls::crypto::aws_lc_rs::default_provider().install_default().is_err()
    {
        tracing::debug!("another thread installed a rustls crypto provider first; using it");
    }
}

/// The document written for a [`Doc`].
fn stored_document(name: String, version: u64, order: Option<String>, data: &serde_json::Value) -> Document {
    let mut fields = HashMap::from([
        (DATA.to_owned(), codec::to_firestore(data)),
        (VERSION.to_owned(), Value { value_type: Some(ValueType::IntegerValue(version as i64)) }),
    ]);
    if let Some(order) = order {
        fields.insert(ORDER.to_owned(), Value { value_type: Some(ValueType::StringValue(order)) });
    }
    Document { name, fields, create_time: None, update_time: None }
}

fn version_of(doc: &Document) -> u64 {
    match doc.fields.get(VERSION).and_then(|v| v.value_type.as_ref()) {
        Some(ValueType::IntegerValue(v)) => (*v).max(0) as u64,
        _ => 0,
    }
}

fn order_of(doc: &Document) -> Option<String> {
    match doc.fields.get(ORDER).and_then(|v| v.value_type.as_ref()) {
        Some(ValueType::StringValue(o)) => Some(o.clone()),
        _ => None,
    }
}

/// The [`Doc`] a stored Firestore document holds.
fn to_doc(doc: &Document) -> Result<Doc> {
    let stored_id = doc.name.rsplit('/').next().unwrap_or_default();
    let id = codec::unescape_name(stored_id)?;
    let data = doc
        .fields
        .get(DATA)
        .ok_or_else(|| StoreError::Decode { id: id.clone(), reason: format!("document has no `{DATA}` field") })?;
    let data = codec::from_firestore(data, &id)?;
    Ok(Doc { version: version_of(doc), id, data })
}

/// A [`StoreError`] for a failed Firestore call, naming the endpoint where that helps.
fn status_to_error(endpoint: &str, status: &Status) -> StoreError {
    let message = status.message();
    match status.code() {
        Code::Unavailable => StoreError::Database(format!("firestore at {endpoint} is unreachable: {message}")),
        Code::DeadlineExceeded => StoreError::Database(format!("firestore at {endpoint} did not answer in time")),
        Code::Unauthenticated | Code::PermissionDenied => {
            StoreError::Database(format!("firestore at {endpoint} refused the credentials: {message}"))
        }
        Code::InvalidArgument => StoreError::Invalid(format!("firestore refused the request: {message}")),
        Code::FailedPrecondition => StoreError::Database(format!(
            "firestore failed a precondition (a query may need a composite index declared in terraform): {message}"
        )),
        code => StoreError::Database(format!("firestore at {endpoint} answered {code:?}: {message}")),
    }
}

/// Collection names: the same alphabet as the SQLite store accepts.
fn check_collection(collection: &str) -> Result<()> {
    if !collection.is_empty() && collection.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!("bad collection name {collection:?}")))
    }
}

fn check_batch(batch: &WriteBatch) -> Result<()> {
    for op in &batch.ops {
        match op {
            WriteOp::Put { collection, id, .. }
            | WriteOp::PutIfNewer { collection, id, .. }
            | WriteOp::Delete { collection, id } => {
                check_collection(collection)?;
                if id.is_empty() {
                    return Err(StoreError::Invalid(format!("empty document id in {collection}")));
                }
            }
            WriteOp::Publish(m) if m.id.is_empty() || m.topic.is_empty() => {
                return Err(StoreError::Invalid("a message needs an id and a topic".into()));
            }
            WriteOp::Blob { namespace, key, .. } => aetherveil_store::blob::validate(namespace, key)?,
            WriteOp::Publish(_) => {}
        }
    }
    Ok(())
}

/// A pause before attempt `attempt` (1-based) of a contended transaction: exponential from 10 ms,
/// capped at 1 s, with jitter so that contending writers spread out.
fn backoff(attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let base = 10u64.saturating_mul(1 << attempt.min(7)).min(1000);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    Duration::from_millis(base / 2 + hasher.finish() % (base / 2 + 1))
}

#[async_trait]
impl Store for FirestoreStore {
    async fn get(&self, collection: &str, id: &str) -> Result<Option<Doc>> {
        check_collection(collection)?;
        if id.is_empty() {
            return Err(StoreError::Invalid(format!("empty document id in {collection}")));
        }
        let request = GetDocumentRequest {
            name: self.doc_name(collection, id),
            mask: None,
            consistency_selector: None,
            request_options: None,
        };
        match self.rpc().get_document(request).await {
            Ok(response) => to_doc(&response.into_inner()).map(Some),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(self.status_error(&status)),
        }
    }

    async fn query(&self, collection: &str, query: Query) -> Result<Vec<Doc>> {
        check_collection(collection)?;
        let structured = query::structured(collection, &query)?;
        let request = RunQueryRequest {
            parent: format!("{}/documents", self.database),
            explain_options: None,
            request_options: None,
            query_type: Some(run_query_request::QueryType::StructuredQuery(structured)),
            consistency_selector: None,
        };
        let mut stream = self.rpc().run_query(request).await.map_err(|s| self.status_error(&s))?.into_inner();
        let mut docs = Vec::new();
        while let Some(response) = stream.message().await.map_err(|s| self.status_error(&s))? {
            if let Some(doc) = response.document {
                docs.push(to_doc(&doc)?);
            }
        }
        Ok(docs)
    }

    async fn commit(&self, batch: WriteBatch) -> Result<Vec<bool>> {
        check_batch(&batch)?;
        if batch.ops.iter().all(|op| matches!(op, WriteOp::Blob { .. })) {
            for op in &batch.ops {
                if let WriteOp::Blob { namespace, key, bytes } = op {
                    self.blobs.put(namespace, key, bytes.clone(), false).await?;
                }
            }
            return Ok(vec![true; batch.ops.len()]);
        }
        let _locks = self.lock_documents(&batch).await;
        let mut retry_of = Vec::new();
        for attempt in 1..=MAX_ATTEMPTS {
            match self.try_commit(&batch, &mut retry_of).await {
                Ok(applied) => return Ok(applied),
                Err(AttemptError::Failed(e)) => return Err(e),
                Err(AttemptError::Aborted) => {
                    tracing::debug!(attempt, "firestore transaction aborted by contention; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
        let (collection, id) = batch
            .ops
            .iter()
            .find_map(|op| match op {
                WriteOp::Put { collection, id, .. }
                | WriteOp::PutIfNewer { collection, id, .. }
                | WriteOp::Delete { collection, id } => Some((collection.clone(), id.clone())),
                WriteOp::Publish(m) => Some((outbox::COLLECTION.to_owned(), m.id.clone())),
                WriteOp::Blob { .. } => None,
            })
            .unwrap_or_default();
        Err(StoreError::Contended { collection, id })
    }

    async fn get_blob(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.blobs.get(namespace, key).await
    }

    /// Checks the declaration and does nothing else: Firestore's composite indexes are declared
    /// in Terraform (`terraform/firestore.tf`), not created by the application at start-up.
    async fn ensure_index(&self, collection: &str, fields: &[&str]) -> Result<()> {
        check_collection(collection)?;
        if fields.is_empty() || !fields.iter().all(|f| query::valid_field(f)) {
            return Err(StoreError::Invalid(format!("bad index {collection}({fields:?})")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_with_defaults_and_refuses_unknown_fields() {
        let config: FirestoreConfig = serde_json::from_str(r#"{"project_id": "p"}"#).expect("parse");
        assert_eq!(config.database_id, "(default)");
        assert_eq!(config.url().expect("url"), PRODUCTION_ENDPOINT);
        assert!(serde_json::from_str::<FirestoreConfig>(r#"{"project_id": "p", "projet": 1}"#).is_err());
        assert_eq!(FirestoreConfig::emulator("p", "127.0.0.1:8086").url().expect("url"), "http://127.0.0.1:8086");
        let no_endpoint = FirestoreConfig { endpoint: None, ..FirestoreConfig::emulator("p", "x") };
        assert!(matches!(no_endpoint.url(), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn unreachable_and_refused_calls_name_the_endpoint() {
        let e = status_to_error("http://127.0.0.1:1", &Status::unavailable("connection refused"));
        assert!(e.to_string().contains("http://127.0.0.1:1"), "{e}");
        let e = status_to_error("http://x", &Status::invalid_argument("bad"));
        assert!(matches!(e, StoreError::Invalid(_)));
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) <= Duration::from_millis(20));
        assert!(backoff(30) >= Duration::from_millis(500) && backoff(30) <= Duration::from_secs(1));
    }

    #[test]
    fn collection_names_are_checked() {
        assert!(check_collection("healing_history").is_ok());
        assert!(check_collection("runs' OR 1=1 --").is_err());
        assert!(check_collection("a/b").is_err());
    }
}
