//! The embedded backend: one SQLite file in WAL mode.
//!
//! Writes are serialized through one writer thread that takes every request waiting in its
//! queue, runs each inside its own savepoint and commits them together (group commit). A request
//! is answered only after the commit that holds it, so an acknowledged write is in the WAL file:
//! with `synchronous = normal` it survives a crash or `kill -9` of the process; with
//! `synchronous = full` it also survives power loss, at the cost of an fsync per commit.
//! The writer has two queues ([`Lane`]): handles from [`SqliteStore::background`] wait behind the
//! foreground, so event handlers catching up on a backlog do not delay acknowledgements.
//! Reads use a small pool of connections and never block the writer. A `get` (a point read of a
//! few cached pages) runs on the calling thread when a pooled connection is idle; other reads run
//! on blocking threads.

use crate::batch::{Message, Precondition, WriteBatch, WriteOp};
use crate::error::{Result, StoreError};
use crate::query::{Op, Order, Query, valid_field};
use crate::{Doc, Store};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter, types::Value as SqlValue};
use serde_json::Value;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, watch};

/// The largest number of requests one group commit takes.
const MAX_GROUP: usize = 512;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;
/// Reads running at once (see `Inner::reading`).
const MAX_READS: usize = 4;

/// Each entry upgrades the schema by one version (`PRAGMA user_version`).
const MIGRATIONS: &[&str] = &[
    // 1: documents, blobs, and the bus outbox with per-subscription cursors and retries.
    // Secondary indexes are declared by the application (`Store::ensure_index`), per collection.
    "CREATE TABLE docs (
        coll TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        ord TEXT,
        data TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (coll, id)
    );
    CREATE TABLE blobs (
        ns TEXT NOT NULL,
        key TEXT NOT NULL,
        data BLOB NOT NULL,
        codec INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (ns, key)
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        key TEXT,
        attributes TEXT NOT NULL,
        data BLOB NOT NULL,
        published_at INTEGER NOT NULL
    );
    CREATE INDEX outbox_topic ON outbox (topic, seq);
    CREATE TABLE bus_cursors (
        subscription TEXT PRIMARY KEY,
        topic TEXT NOT NULL,
        seq INTEGER NOT NULL
    );
    CREATE TABLE bus_retries (
        subscription TEXT NOT NULL,
        seq INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        next_at INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        PRIMARY KEY (subscription, seq)
    );",
];

/// How hard SQLite pushes commits to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Durable against process crashes (the WAL is written before the commit returns).
    #[default]
    Normal,
    /// Also durable against power loss (fsync per commit).
    Full,
}

type Completion = Box<dyn FnOnce(Option<&StoreError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

/// Which queue a handle's writes wait in. The writer serves the foreground first, so the writes
/// someone is waiting on (acknowledging a webhook delivery, an API call) go ahead of work that
/// can wait (functions reacting to events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Foreground,
    Background,
}

/// Background writes in a group while foreground writes are waiting: at least one, and one for
/// every `BACKGROUND_SHARE` foreground writes, so background work slows down under a burst of
/// deliveries but never stops.
const BACKGROUND_SHARE: usize = 8;
/// Foreground writes come in waves (callers answered by one commit send their next writes a
/// moment later): the foreground counts as active until it has been quiet this long.
const FOREGROUND_ACTIVE: Duration = Duration::from_millis(5);

/// The writer's two queues.
#[derive(Default)]
struct Queues {
    foreground: VecDeque<Job>,
    background: VecDeque<Job>,
    /// When the writer last took foreground writes.
    foreground_at: Option<Instant>,
    /// The writer is waiting for work (so a push must wake it).
    waiting: bool,
    closed: bool,
}

#[derive(Default)]
struct WriteQueue {
    queues: Mutex<Queues>,
    ready: Condvar,
}

impl WriteQueue {
    fn push(&self, lane: Lane, job: Job) -> Result<()> {
        let mut q = self.queues.lock().map_err(|_| StoreError::Closed)?;
        if q.closed {
            return Err(StoreError::Closed);
        }
        match lane {
            Lane::Foreground => q.foreground.push_back(job),
            Lane::Background => q.background.push_back(job),
        }
        let waiting = q.waiting;
        drop(q);
        if waiting {
            self.ready.notify_one();
        }
        Ok(())
    }

    fn close(&self) {
        if let Ok(mut q) = self.queues.lock() {
            q.closed = true;
        }
        self.ready.notify_one();
    }

    /// Waits for the next group: foreground writes first, with a share of background ones riding
    /// along. While foreground writes keep coming, background writes wait for them: a group of
    /// background writes alone would make the next wave of foreground writes wait behind its
    /// commit. Once the foreground has been quiet for `FOREGROUND_ACTIVE`, background writes go
    /// in groups of their own. `None` once closed and drained.
    fn next_group(&self) -> Option<Vec<Job>> {
        let mut q = self.queues.lock().ok()?;
        loop {
            if !q.foreground.is_empty() {
                break;
            }
            let quiet_for = q.foreground_at.map_or(FOREGROUND_ACTIVE, |at| at.elapsed());
            if !q.background.is_empty() && (quiet_for >= FOREGROUND_ACTIVE || q.closed) {
                break;
            }
            if q.closed && q.background.is_empty() {
                return None;
            }
            q.waiting = true;
            q = if q.background.is_empty() {
                self.ready.wait(q).ok()?
            } else {
                self.ready.wait_timeout(q, FOREGROUND_ACTIVE - quiet_for).ok()?.0
            };
            q.waiting = false;
        }
        let fg = q.foreground.len().min(MAX_GROUP);
        let share = if fg > 0 { (fg / BACKGROUND_SHARE).max(1) } else { MAX_GROUP };
        let bg = q.background.len().min(share);
        if fg > 0 {
            q.foreground_at = Some(Instant::now());
        }
        let mut group = Vec::with_capacity(fg + bg);
        group.extend(q.foreground.drain(..fg));
        group.extend(q.background.drain(..bg));
        Some(group)
    }
}

struct Inner {
    path: PathBuf,
    writes: Arc<WriteQueue>,
    readers: Mutex<Vec<Connection>>,
    /// Reads running at once. Each runs on a blocking thread; unbounded, a burst of event
    /// handlers would start dozens, and the writer thread would wait behind them for a CPU.
    reading: tokio::sync::Semaphore,
    synchronous: Synchronous,
    outbox_tx: watch::Sender<u64>,
}

impl Inner {
    /// Returns a read connection to the pool, unless enough are idle already.
    fn give_back(&self, conn: Connection) {
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
    }
}

impl Drop for Inner {
    /// The last handle is gone: the writer commits what is queued and stops.
    fn drop(&mut self) {
        self.writes.close();
    }
}

/// SQLite-backed [`Store`]. Cheap to clone; clones share the database, the writer and the lane.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    lane: Lane,
}

pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn open_connection(path: &Path, synchronous: Synchronous) -> Result<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| StoreError::Open { path: path.display().to_string(), reason: e.to_string() })?;
    let sync = match synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 335544320;"
    ))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Invalid(format!(
            "the database schema is version {current}, newer than this binary knows ({}); upgrade aetherveil",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied store migration");
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and starts the writer thread.
    pub fn open(path: impl AsRef<Path>, synchronous: Synchronous) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Open { path: dir.display().to_string(), reason: e.to_string() })?;
        }
        let mut conn = open_connection(&path, synchronous)?;
        migrate(&mut conn)?;
        // Checkpoints (copying the WAL back into the database, with their fsyncs) run on their own
        // thread and connection; the writer only finishes the last few frames now and then.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        let checkpoints = open_connection(&path, synchronous)?;
        let db_file = std::fs::File::open(&path)
            .map_err(|e| StoreError::Open { path: path.display().to_string(), reason: e.to_string() })?;
        let (outbox_tx, _) = watch::channel(0u64);
        let inner = Arc::new(Inner {
            path: path.clone(),
            writes: Arc::new(WriteQueue::default()),
            readers: Mutex::new(Vec::new()),
            reading: tokio::sync::Semaphore::new(MAX_READS),
            synchronous,
            outbox_tx,
        });
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let catch_up = Arc::new(AtomicBool::new(false));
        let asked = catch_up.clone();
        let spawn_err =
            |e: std::io::Error| StoreError::Open { path: path.display().to_string(), reason: e.to_string() };
        let queue = inner.writes.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                writer_loop(conn, &queue, asked);
                drop(stop_tx);
            })
            .map_err(spawn_err)?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoints, db_file, stop_rx, catch_up))
            .map_err(spawn_err)?;
        Ok(Self { inner, lane: Lane::Foreground })
    }

    /// A handle on the same database whose writes wait in the background lane: for work that
    /// reacts to events, so that it yields to foreground writes (see [`Lane`]).
    pub fn background(&self) -> Self {
        Self { inner: self.inner.clone(), lane: Lane::Background }
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` inside the next group commit and answers once that commit is durable.
    /// If `f` fails, its own changes are rolled back and the others in the group still commit.
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit_error| {
                let answer = match commit_error {
                    Some(e) => Err(StoreError::Database(format!("commit failed: {e}"))),
                    None => result,
                };
                if tx.send(answer).is_err() {
                    tracing::trace!("writer caller went away before its commit finished");
                }
            });
            (ok, completion)
        });
        self.inner.writes.push(self.lane, job)?;
        rx.await.map_err(|_| StoreError::Abandoned)?
    }

    /// Runs `f` on a pooled read connection.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let _permit = self.inner.reading.acquire().await.map_err(|_| StoreError::Closed)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().map_err(|_| StoreError::Closed)?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&inner.path, inner.synchronous)?,
            };
            let result = f(&conn);
            inner.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Database(format!("read task failed: {e}")))?
    }

    /// Runs a point read (a few pages of one index) on the calling thread, with an idle pooled
    /// connection; `None` if none is idle. Cheaper than [`SqliteStore::read`]'s hop to a blocking
    /// thread, which costs more than the read itself when the pages are cached.
    fn read_point<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Option<Result<R>> {
        let conn = self.inner.readers.try_lock().ok()?.pop()?;
        let result = f(&conn);
        self.inner.give_back(conn);
        Some(result)
    }

    /// Ticks after every commit that published messages; the local bus waits on it.
    pub fn outbox_watch(&self) -> watch::Receiver<u64> {
        self.inner.outbox_tx.subscribe()
    }

    /// Stops accepting writes; the writer thread ends once queued writes are committed.
    pub fn close(&self) {
        self.inner.writes.close();
    }
}

/// How often the checkpointer copies committed WAL frames into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

/// WAL frames (4 KiB pages, so 256 MiB) past which the writer itself finishes a checkpoint between
/// two commits, so the WAL starts over from its beginning instead of growing without bound. That
/// final step pauses commits for about 10 ms, so it should be rare: at 2,000 deliveries/s it comes
/// every few seconds. (The WAL file keeps this size on disk and is reused.)
const RESTART_AFTER_FRAMES: i64 = 65536;
/// The most frames the writer is asked to copy itself (1 MiB, a pause of a millisecond or two).
const CATCH_UP_FRAMES: i64 = 256;

/// The background checkpointer: PASSIVE checkpoints copy committed frames into the database
/// without blocking the writer or readers. Under a steady stream of commits they never quite catch
/// up, so once the WAL is long and nearly all copied it asks the writer to finish (`catch_up`).
fn checkpoint_loop(conn: Connection, db_file: std::fs::File, stop: mpsc::Receiver<()>, catch_up: Arc<AtomicBool>) {
    loop {
        let stopping = !matches!(stop.recv_timeout(CHECKPOINT_EVERY), Err(mpsc::RecvTimeoutError::Timeout));
        // At shutdown, leave a tidy file behind: everything in the database, an empty WAL.
        let mode = if stopping { "TRUNCATE" } else { "PASSIVE" };
        match conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        }) {
            // Ask the writer to finish only when little is left to copy, so its pause is short.
            Ok((log, done)) if log >= RESTART_AFTER_FRAMES && log - done <= CATCH_UP_FRAMES => {
                catch_up.store(true, Ordering::Relaxed)
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, mode, "checkpoint failed; the WAL keeps growing until one succeeds"),
        }
        // SQLite syncs the database file only when a checkpoint completes, by then with every page
        // copied since the last one dirty. Syncing here as we go keeps that final sync (done by the
        // writer, between two commits) short.
        if let Err(e) = db_file.sync_data() {
            tracing::warn!(error = %e, "database file sync failed");
        }
        if stopping {
            return;
        }
    }
}

fn writer_loop(conn: Connection, queue: &WriteQueue, catch_up: Arc<AtomicBool>) {
    while let Some(jobs) = queue.next_group() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Dropping the jobs answers every caller with `Abandoned`; nothing was written.
            tracing::error!(error = %e, writes = jobs.len(), "cannot begin a write transaction");
            continue;
        }
        let mut completions = Vec::with_capacity(jobs.len());
        for job in jobs {
            // Without its savepoint a failing job could not be undone alone: do not run it
            // (dropping it answers its caller with `Abandoned`).
            if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                tracing::error!(error = %e, "cannot open a savepoint; write abandoned");
                continue;
            }
            let (ok, completion) = job(&conn);
            let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
            if let Err(e) = conn.execute_batch(end) {
                tracing::error!(error = %e, "savepoint cleanup failed");
            }
            completions.push(completion);
        }
        let commit = conn.execute_batch("COMMIT").map_err(StoreError::from);
        if commit.is_err() && conn.execute_batch("ROLLBACK").is_err() {
            tracing::error!("rollback after a failed commit failed too");
        }
        let err = commit.err();
        for completion in completions {
            completion(err.as_ref());
        }
        // The background checkpointer has copied nearly everything; copying the rest here,
        // between two commits, lets the next commit restart the WAL from its beginning.
        if catch_up.swap(false, Ordering::Relaxed) {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "writer checkpoint failed");
            }
        }
    }
    tracing::debug!("sqlite writer stopped");
}

fn conflict(collection: &str, id: &str) -> StoreError {
    StoreError::Conflict { collection: collection.to_owned(), id: id.to_owned() }
}

/// An operation with its documents already serialized and its blob already compressed, so that
/// the writer thread (the one serial stage of every write) spends its time on SQLite alone.
#[derive(Debug)]
pub enum EncodedOp {
    Put { collection: String, id: String, text: String, precondition: Precondition },
    PutIfNewer { collection: String, id: String, text: String, order: String },
    Delete { collection: String, id: String },
    Blob { namespace: String, key: String, codec: i64, stored: Vec<u8> },
    Publish { message: Message, attributes: String },
}

impl EncodedOp {
    pub fn new(op: WriteOp) -> Result<Self> {
        Ok(match op {
            WriteOp::Put { collection, id, data, precondition } => {
                Self::Put { collection, id, text: data.to_string(), precondition }
            }
            WriteOp::PutIfNewer { collection, id, data, order } => {
                Self::PutIfNewer { collection, id, text: data.to_string(), order }
            }
            WriteOp::Delete { collection, id } => Self::Delete { collection, id },
            WriteOp::Blob { namespace, key, bytes } => {
                let (codec, stored) = encode_blob(bytes);
                Self::Blob { namespace, key, codec, stored }
            }
            WriteOp::Publish(message) => {
                let attributes =
                    serde_json::to_string(&message.attributes).map_err(|e| StoreError::Encode(e.to_string()))?;
                Self::Publish { message, attributes }
            }
        })
    }
}

/// Applies one operation inside the current transaction; `Ok(false)` means skipped (stale).
pub fn apply_op(conn: &Connection, op: &EncodedOp, now: i64) -> Result<bool> {
    Ok(match op {
        EncodedOp::Put { collection, id, text, precondition } => {
            match precondition {
                Precondition::None => {
                    conn.prepare_cached(
                        "INSERT INTO docs (coll, id, version, ord, data, updated_at) VALUES (?1, ?2, 1, NULL, ?3, ?4)
                         ON CONFLICT (coll, id) DO UPDATE SET version = version + 1, ord = NULL,
                         data = excluded.data, updated_at = excluded.updated_at",
                    )?
                    .execute(params![collection, id, text, now])?;
                }
                Precondition::Absent => {
                    let n = conn
                        .prepare_cached(
                            "INSERT INTO docs (coll, id, version, ord, data, updated_at) VALUES (?1, ?2, 1, NULL, ?3, ?4)
                             ON CONFLICT (coll, id) DO NOTHING",
                        )?
                        .execute(params![collection, id, text, now])?;
                    if n == 0 {
                        return Err(conflict(collection, id));
                    }
                }
                Precondition::Version(v) => {
                    let n = conn
                        .prepare_cached(
                            "UPDATE docs SET version = version + 1, ord = NULL, data = ?3, updated_at = ?4
                             WHERE coll = ?1 AND id = ?2 AND version = ?5",
                        )?
                        .execute(params![collection, id, text, now, *v as i64])?;
                    if n == 0 {
                        return Err(conflict(collection, id));
                    }
                }
            }
            true
        }
        EncodedOp::PutIfNewer { collection, id, text, order } => {
            let n = conn
                .prepare_cached(
                    "INSERT INTO docs (coll, id, version, ord, data, updated_at) VALUES (?1, ?2, 1, ?3, ?4, ?5)
                     ON CONFLICT (coll, id) DO UPDATE SET version = version + 1, ord = excluded.ord,
                     data = excluded.data, updated_at = excluded.updated_at
                     WHERE docs.ord IS NULL OR docs.ord < excluded.ord",
                )?
                .execute(params![collection, id, order, text, now])?;
            n > 0
        }
        EncodedOp::Delete { collection, id } => {
            conn.prepare_cached("DELETE FROM docs WHERE coll = ?1 AND id = ?2")?.execute(params![collection, id])? > 0
        }
        EncodedOp::Blob { namespace, key, codec, stored } => {
            conn.prepare_cached(
                "INSERT INTO blobs (ns, key, data, codec, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (ns, key) DO UPDATE SET data = excluded.data, codec = excluded.codec",
            )?
            .execute(params![namespace, key, stored, codec, now])?;
            true
        }
        EncodedOp::Publish { message, attributes } => insert_outbox(conn, message, attributes, now)?,
    })
}

/// Appends a message to the outbox; a message id already there is not appended again.
fn insert_outbox(conn: &Connection, message: &Message, attributes: &str, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO outbox (id, topic, key, attributes, data, published_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![message.id, message.topic, message.key, attributes, message.data, now])?;
    Ok(n > 0)
}

/// Blob codecs: raw bytes, or LZ4 (block format, size-prepended). Raw webhook bodies are JSON and
/// shrink about fourfold, which is a quarter of the pages to write, twice (WAL and checkpoint).
const CODEC_RAW: i64 = 0;
const CODEC_LZ4: i64 = 1;

fn encode_blob(bytes: Vec<u8>) -> (i64, Vec<u8>) {
    let compressed = lz4_flex::block::compress_prepend_size(&bytes);
    if compressed.len() < bytes.len() { (CODEC_LZ4, compressed) } else { (CODEC_RAW, bytes) }
}

fn decode_blob(codec: i64, stored: Vec<u8>) -> Result<Vec<u8>> {
    match codec {
        CODEC_RAW => Ok(stored),
        CODEC_LZ4 => lz4_flex::block::decompress_size_prepended(&stored)
            .map_err(|e| StoreError::Database(format!("corrupt compressed blob: {e}"))),
        other => Err(StoreError::Database(format!("unknown blob codec {other}"))),
    }
}

fn validate(batch: &WriteBatch) -> Result<()> {
    for op in &batch.ops {
        let (what, name) = match op {
            WriteOp::Put { collection, id, .. }
            | WriteOp::PutIfNewer { collection, id, .. }
            | WriteOp::Delete { collection, id } => (collection, id),
            WriteOp::Blob { namespace, key, .. } => (namespace, key),
            WriteOp::Publish(m) => (&m.topic, &m.id),
        };
        if what.is_empty() || name.is_empty() {
            return Err(StoreError::Invalid("empty collection or id".into()));
        }
    }
    Ok(())
}

fn bind_json(value: &Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

fn row_to_doc(id: String, version: i64, data: String) -> Result<Doc> {
    let data = serde_json::from_str(&data).map_err(|e| StoreError::Decode { id: id.clone(), reason: e.to_string() })?;
    Ok(Doc { id, version: version as u64, data })
}

/// Collection names are spliced into SQL (so that per-collection partial indexes apply).
fn valid_collection(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn json_path(field: &str) -> String {
    format!("json_extract(data, '$.{field}')")
}

fn build_query(collection: &str, query: &Query) -> Result<(String, Vec<SqlValue>)> {
    if !valid_collection(collection) {
        return Err(StoreError::Invalid(format!("bad collection name {collection:?}")));
    }
    let mut sql = format!("SELECT id, version, data FROM docs WHERE coll = '{collection}'");
    let mut args = Vec::new();
    for f in &query.filters {
        if !valid_field(&f.field) {
            return Err(StoreError::Invalid(format!("bad field name {:?}", f.field)));
        }
        let path = json_path(&f.field);
        if f.value.is_null() {
            match f.op {
                Op::Eq => sql.push_str(&format!(" AND {path} IS NULL")),
                _ => return Err(StoreError::Invalid("null only compares with Eq".into())),
            }
            continue;
        }
        let op = match f.op {
            Op::Eq => "=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        };
        sql.push_str(&format!(" AND {path} {op} ?"));
        args.push(bind_json(&f.value));
    }
    match &query.order_by {
        Some((field, order)) => {
            if !valid_field(field) {
                return Err(StoreError::Invalid(format!("bad field name {field:?}")));
            }
            let dir = if *order == Order::Asc { "ASC" } else { "DESC" };
            sql.push_str(&format!(" ORDER BY {} {dir}", json_path(field)));
        }
        None => sql.push_str(" ORDER BY id"),
    }
    if let Some(limit) = query.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    Ok((sql, args))
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, collection: &str, id: &str) -> Result<Option<Doc>> {
        fn get(conn: &Connection, collection: &str, id: String) -> Result<Option<Doc>> {
            let row = conn
                .prepare_cached("SELECT version, data FROM docs WHERE coll = ?1 AND id = ?2")?
                .query_row(params![collection, id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .optional()?;
            row.map(|(version, data)| row_to_doc(id, version, data)).transpose()
        }
        if let Some(result) = self.read_point(|conn| get(conn, collection, id.to_owned())) {
            return result;
        }
        let (collection, id) = (collection.to_owned(), id.to_owned());
        self.read(move |conn| get(conn, &collection, id)).await
    }

    async fn query(&self, collection: &str, query: Query) -> Result<Vec<Doc>> {
        let (sql, args) = build_query(collection, &query)?;
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
            })?;
            let mut docs = Vec::new();
            for row in rows {
                let (id, version, data) = row?;
                docs.push(row_to_doc(id, version, data)?);
            }
            Ok(docs)
        })
        .await
    }

    async fn commit(&self, batch: WriteBatch) -> Result<Vec<bool>> {
        validate(&batch)?;
        let publishes = batch.ops.iter().any(|op| matches!(op, WriteOp::Publish(_)));
        let ops = batch.ops.into_iter().map(EncodedOp::new).collect::<Result<Vec<_>>>()?;
        let applied = self
            .write(move |conn| {
                let now = now_millis();
                ops.iter().map(|op| apply_op(conn, op, now)).collect::<Result<Vec<bool>>>()
            })
            .await?;
        if publishes {
            self.inner.outbox_tx.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(applied)
    }

    async fn ensure_index(&self, collection: &str, fields: &[&str]) -> Result<()> {
        if !valid_collection(collection) || fields.is_empty() || !fields.iter().all(|f| valid_field(f)) {
            return Err(StoreError::Invalid(format!("bad index {collection}({fields:?})")));
        }
        let name = format!("ix_{collection}__{}", fields.join("__").replace('.', "_"));
        let columns = fields.iter().map(|f| json_path(f)).collect::<Vec<_>>().join(", ");
        let sql = format!("CREATE INDEX IF NOT EXISTS \"{name}\" ON docs ({columns}) WHERE coll = '{collection}'");
        self.write(move |conn| Ok(conn.execute_batch(&sql)?)).await
    }

    async fn get_blob(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let (namespace, key) = (namespace.to_owned(), key.to_owned());
        self.read(move |conn| {
            let row = conn
                .prepare_cached("SELECT codec, data FROM blobs WHERE ns = ?1 AND key = ?2")?
                .query_row(params![namespace, key], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .optional()?;
            row.map(|(codec, data)| decode_blob(codec, data)).transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_reject_injection_in_field_names() {
        let q = Query::new().eq("repo') OR 1=1 --", "x");
        assert!(matches!(build_query("runs", &q), Err(StoreError::Invalid(_))));
    }

    /// A job that appends `label` to `ran` when the writer runs it.
    fn labelled(label: &'static str, ran: &Arc<Mutex<Vec<&'static str>>>) -> Job {
        let ran = ran.clone();
        Box::new(move |_conn| {
            ran.lock().expect("lock").push(label);
            (true, Box::new(|_| {}))
        })
    }

    fn run_group(queue: &WriteQueue, conn: &Connection) -> usize {
        let group = queue.next_group().expect("a group");
        let n = group.len();
        for job in group {
            let (_ok, completion) = job(conn);
            completion(None);
        }
        n
    }

    #[test]
    fn foreground_writes_go_ahead_of_a_background_backlog_which_still_progresses() {
        let conn = Connection::open_in_memory().expect("memory db");
        let queue = WriteQueue::default();
        let ran = Arc::new(Mutex::new(Vec::new()));
        for _ in 0..100 {
            queue.push(Lane::Background, labelled("bg", &ran)).expect("push");
        }
        for _ in 0..16 {
            queue.push(Lane::Foreground, labelled("fg", &ran)).expect("push");
        }
        // Every foreground write, then a share of the backlog (one per BACKGROUND_SHARE).
        assert_eq!(run_group(&queue, &conn), 16 + 16 / BACKGROUND_SHARE);
        let first: Vec<_> = ran.lock().expect("lock").drain(..).collect();
        assert_eq!(first.iter().filter(|l| **l == "fg").count(), 16);
        assert!(first[..16].iter().all(|l| *l == "fg"), "{first:?}");
        // The rest waits until the foreground has been quiet for a while, then goes in one group.
        let waited = Instant::now();
        assert_eq!(run_group(&queue, &conn), 100 - 16 / BACKGROUND_SHARE);
        assert!(waited.elapsed() >= FOREGROUND_ACTIVE / 2, "background writes waited for the foreground to settle");
        queue.close();
        assert!(queue.next_group().is_none(), "closed and drained");
        assert!(matches!(queue.push(Lane::Foreground, labelled("late", &ran)), Err(StoreError::Closed)));
    }

    #[tokio::test]
    async fn background_handles_share_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("db.sqlite"), Synchronous::Normal).expect("open");
        let background = store.background();
        background.put("c", "a", serde_json::json!({"x": 1})).await.expect("background put");
        let doc = store.get("c", "a").await.expect("get").expect("present");
        assert_eq!(doc.data["x"], 1);
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_does_not_rerun_migrations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        {
            let store = SqliteStore::open(&path, Synchronous::Normal).expect("open");
            store.put("c", "a", serde_json::json!({"x": 1})).await.expect("put");
            store.close();
        }
        let store = SqliteStore::open(&path, Synchronous::Normal).expect("reopen");
        let doc = store.get("c", "a").await.expect("get").expect("present");
        assert_eq!(doc.data["x"], 1);
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch("PRAGMA user_version = 999").expect("set");
        }
        let err = SqliteStore::open(&path, Synchronous::Normal).err().expect("refused");
        assert!(err.to_string().contains("newer than this binary"), "{err}");
    }
}
