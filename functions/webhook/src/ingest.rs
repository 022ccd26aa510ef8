//! The ingest log behind `webhook.intake = "log"`: an append-only file of verified deliveries,
//! acknowledged once their bytes are written, and applied to the store in large batches by the
//! [`Applier`](crate::Applier).
//!
//! Why: a store commit per delivery costs the embedded store's single writer about 40 µs of CPU,
//! which caps a 2-core machine near 12,000 acknowledged deliveries/s. Appending to a file costs a
//! memory copy, and one `write` serves every delivery that arrived while the previous one ran.
//!
//! Durability is the store's: with `store.synchronous = "normal"` an acknowledged delivery is in
//! the operating system's page cache and survives a crash or `kill -9` of the process; with
//! `"full"` each write is followed by an `fdatasync`, so it also survives power loss.
//!
//! Layout, under `<data_dir>/ingest/`:
//! - segments named by the log position they start at (`00000000000000000000.log`), each a
//!   sequence of records `[len: u32 LE][crc32c of payload: u32 LE][payload]`; a segment is closed
//!   at a write boundary once it passes 64 MiB, so no record spans two;
//! - `applied`: the position up to which every record is in the store. Segments wholly before it
//!   are deleted.
//!
//! At start-up every record after `applied` is checked; a torn tail (a write cut short by a crash,
//! never acknowledged) is cut off. The deliveries found are pending again, and the applier applies
//! them; a record applied before the crash, whose position was not saved yet, is recognised in
//! the store by its raw key and skipped.
//!
//! The log also deduplicates: a delivery id is *pending* from its append until the applier has
//! committed it, and a redelivery meanwhile appends a small redelivery record instead.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use tokio::sync::{oneshot, watch};

/// A segment is closed once it is this large.
const SEGMENT_BYTES: u64 = 64 << 20;
/// `len` and `crc32c` before each payload.
const HEADER: usize = 8;
const FORMAT: u8 = 1;
const APPLIED_FILE: &str = "applied";
const SEGMENT_SUFFIX: &str = ".log";

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("ingest log {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("ingest log segment {path} is corrupt at byte {offset}: {reason}")]
    Corrupt { path: PathBuf, offset: u64, reason: String },
    #[error("cannot write the ingest log: {0}")]
    Write(String),
    #[error("the ingest log holds {0} bytes not yet applied (webhook.log_max_bytes)")]
    Full(u64),
    #[error("the ingest log is closed")]
    Closed,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io { path: path.to_owned(), source }
}

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A delivery seen for the first time, with its body.
    Delivery = 1,
    /// A delivery id seen again (no body kept): the applier counts it on the stored record.
    Redelivery = 2,
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: Kind,
    pub delivery_id: String,
    pub event: String,
    pub received_at: DateTime<Utc>,
    pub body: Vec<u8>,
    /// The log position just after this record.
    pub end: u64,
}

impl Record {
    fn encode_into(buf: &mut Vec<u8>, kind: Kind, id: &str, event: &str, at: DateTime<Utc>, body: &[u8]) {
        let start = buf.len();
        buf.extend_from_slice(&[0; HEADER]);
        buf.push(FORMAT);
        buf.push(kind as u8);
        buf.extend_from_slice(&at.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
        for s in [id, event] {
            // Delivery ids are at most 128 bytes; event names are header values GitHub chose.
            let s = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
            buf.extend_from_slice(&(s.len() as u16).to_le_bytes());
            buf.extend_from_slice(s);
        }
        buf.extend_from_slice(body);
        let payload = &buf[start + HEADER..];
        let len = payload.len() as u32;
        let crc = crc32c::crc32c(payload);
        buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        buf[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
    }

    fn decode(payload: &[u8], end: u64) -> Result<Self, String> {
        let mut p = payload;
        let mut take = |n: usize| -> Result<&[u8], String> {
            if p.len() < n {
                return Err("record shorter than its fields".to_owned());
            }
            let (head, rest) = p.split_at(n);
            p = rest;
            Ok(head)
        };
        let head = take(2)?;
        if head[0] != FORMAT {
            return Err(format!("unknown record format {}", head[0]));
        }
        let kind = match head[1] {
            1 => Kind::Delivery,
            2 => Kind::Redelivery,
            k => return Err(format!("unknown record kind {k}")),
        };
        let nanos = i64::from_le_bytes(take(8)?.try_into().map_err(|_| "bad time")?);
        let mut text = || -> Result<String, String> {
            let n = u16::from_le_bytes(take(2)?.try_into().map_err(|_| "bad length")?);
            String::from_utf8(take(usize::from(n))?.to_vec()).map_err(|_| "field is not UTF-8".to_owned())
        };
        let delivery_id = text()?;
        let event = text()?;
        Ok(Self { kind, delivery_id, event, received_at: DateTime::from_timestamp_nanos(nanos), body: p.to_vec(), end })
    }
}

/// Splits complete records off the front of `buf`, which starts at log position `pos`. Returns
/// the records and the bytes used; a record cut off by the end of `buf` is left. A bad record is
/// an `Err` with its offset in `buf`.
fn parse(buf: &[u8], pos: u64, max: usize) -> (Vec<Record>, usize, Option<(usize, String)>) {
    let mut records = Vec::new();
    let mut at = 0;
    while records.len() < max && buf.len() - at >= HEADER {
        let len = u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        let crc = u32::from_le_bytes([buf[at + 4], buf[at + 5], buf[at + 6], buf[at + 7]]);
        if buf.len() - at - HEADER < len {
            break;
        }
        let payload = &buf[at + HEADER..at + HEADER + len];
        if crc32c::crc32c(payload) != crc {
            return (records, at, Some((at, "checksum mismatch".to_owned())));
        }
        let end = pos + (at + HEADER + len) as u64;
        match Record::decode(payload, end) {
            Ok(r) => records.push(r),
            Err(reason) => return (records, at, Some((at, reason))),
        }
        at += HEADER + len;
    }
    (records, at, None)
}

/// The first bytes of a record at the front of `buf`: the size of the whole record, if its
/// header is there.
fn record_size(buf: &[u8]) -> Option<usize> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    Some(HEADER + len)
}

/// A delivery acknowledged into the log and not yet in the store.
#[derive(Debug, Clone)]
pub struct Pending {
    pub event: String,
    pub received_at: DateTime<Utc>,
    pub body_bytes: usize,
    pub redeliveries: u64,
}

impl Pending {
    fn new(event: &str, received_at: DateTime<Utc>, body_bytes: usize) -> Self {
        Self { event: event.to_owned(), received_at, body_bytes, redeliveries: 0 }
    }
}

/// What [`IngestLog::append`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The delivery is new: its record is in the log.
    Fresh,
    /// The delivery id was pending: a redelivery record is in the log.
    Duplicate,
}

struct State {
    /// Encoded records waiting for the writer.
    buf: Vec<u8>,
    waiters: Vec<oneshot::Sender<Result<(), String>>>,
    /// Deliveries in the log and not yet applied, by id.
    pending: HashMap<String, Pending>,
    /// The writer is waiting for work (so an append must wake it).
    idle: bool,
    closed: bool,
}

struct Shared {
    dir: PathBuf,
    sync: bool,
    max_unapplied: u64,
    state: Mutex<State>,
    ready: Condvar,
    /// The end of what is written: records before it may be read and applied.
    written: watch::Sender<u64>,
    applied: AtomicU64,
    /// The start positions of the segments, oldest first.
    segments: Mutex<Vec<u64>>,
}

/// The ingest log; clones share it.
#[derive(Clone)]
pub struct IngestLog {
    shared: Arc<Shared>,
}

fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}{SEGMENT_SUFFIX}"))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl IngestLog {
    /// Opens (or creates) the log in `dir`, checks every record not yet applied, cuts a torn tail
    /// and starts the writer thread. `sync`: `fdatasync` after each write.
    pub fn open(dir: impl Into<PathBuf>, sync: bool, max_unapplied: u64) -> Result<Self, IngestError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let applied_path = dir.join(APPLIED_FILE);
        let applied = match std::fs::read_to_string(&applied_path) {
            Ok(text) => text.trim().parse::<u64>().map_err(|e| IngestError::Corrupt {
                path: applied_path.clone(),
                offset: 0,
                reason: format!("not a position: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(&applied_path)(e)),
        };
        let mut starts = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let name = entry.map_err(io(&dir))?.file_name();
            let name = name.to_string_lossy();
            if let Some(start) = name.strip_suffix(SEGMENT_SUFFIX).and_then(|s| s.parse::<u64>().ok()) {
                starts.push(start);
            }
        }
        starts.sort_unstable();
        // Segments wholly applied (a later one starts at or before `applied`) were about to go.
        while starts.len() > 1 && starts[1] <= applied {
            let path = segment_path(&dir, starts.remove(0));
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        let mut pending = HashMap::new();
        let mut end = applied;
        if starts.is_empty() {
            starts.push(applied);
        }
        let last = starts.len() - 1;
        for (i, &start) in starts.iter().enumerate() {
            let path = segment_path(&dir, start);
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(io(&path)(e)),
            };
            let from = applied.saturating_sub(start).min(bytes.len() as u64) as usize;
            let (records, used, bad) = parse(&bytes[from..], start + from as u64, usize::MAX);
            let good = from + used;
            if good < bytes.len() {
                let reason = bad.map_or_else(|| "a record cut short".to_owned(), |(_, r)| r);
                if i != last {
                    return Err(IngestError::Corrupt { path, offset: good as u64, reason });
                }
                // Written by a write that never completed, so never acknowledged.
                tracing::warn!(path = %path.display(), offset = good, reason, "cutting the ingest log's torn tail");
                let file = OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
                file.set_len(good as u64).map_err(io(&path))?;
                file.sync_all().map_err(io(&path))?;
            }
            for r in records {
                track(&mut pending, r.kind, &r.delivery_id, &r.event, r.received_at, r.body.len());
            }
            end = start + good as u64;
        }
        let tail = starts[last];
        let path = segment_path(&dir, tail);
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        if !pending.is_empty() {
            tracing::info!(
                deliveries = pending.len(),
                "the ingest log has deliveries to apply from before the restart"
            );
        }
        let (written, _) = watch::channel(end);
        let shared = Arc::new(Shared {
            dir,
            sync,
            max_unapplied,
            state: Mutex::new(State { buf: Vec::new(), waiters: Vec::new(), pending, idle: false, closed: false }),
            ready: Condvar::new(),
            written,
            applied: AtomicU64::new(applied.min(end)),
            segments: Mutex::new(starts),
        });
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("ingest-log".into())
            .spawn(move || writer.write_loop(file, tail, end))
            .map_err(io(Path::new("writer thread")))?;
        Ok(Self { shared })
    }

    /// Appends a delivery, or a redelivery record if its id is pending, and waits until it is
    /// written.
    pub async fn append(
        &self,
        delivery_id: &str,
        event: &str,
        received_at: DateTime<Utc>,
        body: &[u8],
    ) -> Result<Appended, IngestError> {
        let (appended, written) = self.submit(|s| {
            if s.pending.contains_key(delivery_id) {
                s.push(Kind::Redelivery, delivery_id, event, received_at, &[]);
                return Ok(Appended::Duplicate);
            }
            let unapplied = *self.shared.written.borrow() - self.applied() + s.buf.len() as u64;
            if unapplied + body.len() as u64 > self.shared.max_unapplied {
                return Err(IngestError::Full(unapplied));
            }
            s.push(Kind::Delivery, delivery_id, event, received_at, body);
            Ok(Appended::Fresh)
        })?;
        let result = written.await;
        if result.is_err() && appended == Appended::Fresh {
            // Not acknowledged: the sender will deliver it again.
            lock(&self.shared.state).pending.remove(delivery_id);
        }
        result.map(|()| appended)
    }

    /// Appends a redelivery of a delivery already in the store.
    pub async fn append_redelivery(
        &self,
        delivery_id: &str,
        event: &str,
        at: DateTime<Utc>,
    ) -> Result<(), IngestError> {
        let ((), written) = self.submit(|s| {
            s.push(Kind::Redelivery, delivery_id, event, at, &[]);
            Ok(())
        })?;
        written.await
    }

    /// Runs `queue` (which pushes records) under the lock, wakes the writer, and returns what
    /// `queue` returned with a future that ends once the records are written.
    fn submit<T>(
        &self,
        queue: impl FnOnce(&mut State) -> Result<T, IngestError>,
    ) -> Result<(T, impl Future<Output = Result<(), IngestError>>), IngestError> {
        let (tx, rx) = oneshot::channel();
        let mut s = lock(&self.shared.state);
        if s.closed {
            return Err(IngestError::Closed);
        }
        let queued = queue(&mut s)?;
        s.waiters.push(tx);
        if s.idle {
            self.shared.ready.notify_one();
        }
        drop(s);
        let written = async { rx.await.map_err(|_| IngestError::Closed)?.map_err(IngestError::Write) };
        Ok((queued, written))
    }

    /// The delivery, if it is acknowledged and not yet applied.
    pub fn pending(&self, delivery_id: &str) -> Option<Pending> {
        lock(&self.shared.state).pending.get(delivery_id).cloned()
    }

    pub fn is_pending(&self, delivery_id: &str) -> bool {
        lock(&self.shared.state).pending.contains_key(delivery_id)
    }

    /// Deliveries acknowledged and not yet applied.
    pub fn pending_count(&self) -> usize {
        lock(&self.shared.state).pending.len()
    }

    /// The position up to which every record is applied.
    pub fn applied(&self) -> u64 {
        self.shared.applied.load(Ordering::Acquire)
    }

    /// Follows the end of what is written.
    pub fn written(&self) -> watch::Receiver<u64> {
        self.shared.written.subscribe()
    }

    /// Reads up to `max` records from `from` (a record boundary), stopping at `to`.
    pub fn read(&self, from: u64, to: u64, max: usize) -> Result<Vec<Record>, IngestError> {
        /// Bytes read at once, unless one record is larger.
        const CHUNK: u64 = 8 << 20;
        let start = {
            let segments = lock(&self.shared.segments);
            segments.iter().copied().rfind(|&s| s <= from).unwrap_or(0)
        };
        let path = segment_path(&self.shared.dir, start);
        let mut file = File::open(&path).map_err(io(&path))?;
        file.seek(SeekFrom::Start(from - start)).map_err(io(&path))?;
        let mut buf = Vec::new();
        (&mut file).take((to - from).min(CHUNK)).read_to_end(&mut buf).map_err(io(&path))?;
        if let Some(size) = record_size(&buf).filter(|&n| n > buf.len()) {
            // One record larger than a chunk (bodies go up to 25 MiB).
            (&mut file).take((size - buf.len()) as u64).read_to_end(&mut buf).map_err(io(&path))?;
        }
        let (records, used, bad) = parse(&buf, from, max);
        match bad {
            Some((offset, reason)) if records.is_empty() => {
                Err(IngestError::Corrupt { path, offset: from - start + offset as u64, reason })
            }
            _ if records.is_empty() && used == 0 && from < to => Err(IngestError::Corrupt {
                path,
                offset: from - start,
                reason: "no whole record where one was written".to_owned(),
            }),
            _ => Ok(records),
        }
    }

    /// Everything before `position` is in the store: forgets the applied deliveries, saves the
    /// position and deletes the segments before it.
    pub fn mark_applied(&self, position: u64, delivery_ids: &[&str]) -> Result<(), IngestError> {
        // In slices, so an appender never waits long for the lock behind the (idle-priority)
        // applier.
        for slice in delivery_ids.chunks(64) {
            let mut s = lock(&self.shared.state);
            for id in slice {
                s.pending.remove(*id);
            }
        }
        self.shared.applied.store(position, Ordering::Release);
        let dir = &self.shared.dir;
        let tmp = dir.join(format!("{APPLIED_FILE}.tmp"));
        std::fs::write(&tmp, position.to_string()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, dir.join(APPLIED_FILE)).map_err(io(&tmp))?;
        let done: Vec<u64> = {
            let mut segments = lock(&self.shared.segments);
            let keep_from = segments.iter().rposition(|&s| s <= position).unwrap_or(0);
            segments.drain(..keep_from).collect()
        };
        for start in done {
            let path = segment_path(dir, start);
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        Ok(())
    }

    /// Writes what is buffered and stops the writer; later appends fail.
    pub fn close(&self) {
        lock(&self.shared.state).closed = true;
        self.shared.ready.notify_one();
    }
}

/// A record's effect on the pending deliveries: a delivery becomes pending, a redelivery of a
/// pending one is counted.
fn track(pending: &mut HashMap<String, Pending>, kind: Kind, id: &str, event: &str, at: DateTime<Utc>, bytes: usize) {
    match kind {
        Kind::Delivery => {
            pending.insert(id.to_owned(), Pending::new(event, at, bytes));
        }
        Kind::Redelivery => {
            if let Some(p) = pending.get_mut(id) {
                p.redeliveries += 1;
            }
        }
    }
}

impl State {
    /// Encodes a record for the writer and tracks it in the pending deliveries.
    fn push(&mut self, kind: Kind, id: &str, event: &str, at: DateTime<Utc>, body: &[u8]) {
        Record::encode_into(&mut self.buf, kind, id, event, at, body);
        track(&mut self.pending, kind, id, event, at, body.len());
    }
}

impl Shared {
    /// The writer thread: writes everything buffered in one `write`, then answers its appenders.
    fn write_loop(&self, mut file: File, mut segment: u64, mut end: u64) {
        let mut spare = Vec::new();
        loop {
            let (buf, waiters) = {
                let mut s = lock(&self.state);
                while s.buf.is_empty() && !s.closed {
                    s.idle = true;
                    s = self.ready.wait(s).unwrap_or_else(std::sync::PoisonError::into_inner);
                    s.idle = false;
                }
                if s.buf.is_empty() {
                    return; // closed and drained
                }
                (std::mem::replace(&mut s.buf, std::mem::take(&mut spare)), std::mem::take(&mut s.waiters))
            };
            let path = segment_path(&self.dir, segment);
            let result = file.write_all(&buf).and_then(|()| if self.sync { file.sync_data() } else { Ok(()) });
            let answer = match result {
                Ok(()) => {
                    end += buf.len() as u64;
                    self.written.send_replace(end);
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "cannot write the ingest log");
                    // Cut what part of the write landed: those deliveries are answered 503.
                    if let Err(e) = file.set_len(end - segment) {
                        tracing::error!(path = %path.display(), error = %e, "cannot cut a failed write off the ingest log");
                    }
                    Err(e.to_string())
                }
            };
            for w in waiters {
                // An appender that went away (its request was cancelled) needs no answer.
                if w.send(answer.clone()).is_err() {
                    tracing::debug!("an ingest log appender left before its answer");
                }
            }
            if end - segment >= SEGMENT_BYTES {
                match self.rotate(end) {
                    Ok(next) => {
                        file = next;
                        segment = end;
                    }
                    Err(e) => tracing::error!(error = %e, "cannot start a new ingest log segment; writing on"),
                }
            }
            spare = buf;
            spare.clear();
        }
    }

    fn rotate(&self, start: u64) -> Result<File, IngestError> {
        let path = segment_path(&self.dir, start);
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        if self.sync {
            File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))?;
        }
        lock(&self.segments).push(start);
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 7).unwrap_or_default()
    }

    #[test]
    fn records_round_trip() {
        let mut buf = Vec::new();
        Record::encode_into(&mut buf, Kind::Delivery, "d-1", "workflow_run", at(0), b"{\"a\":1}");
        Record::encode_into(&mut buf, Kind::Redelivery, "d-1", "workflow_run", at(1), b"");
        let (records, used, bad) = parse(&buf, 100, usize::MAX);
        assert!(bad.is_none());
        assert_eq!(used, buf.len());
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].kind, records[0].delivery_id.as_str()), (Kind::Delivery, "d-1"));
        assert_eq!(records[0].body, b"{\"a\":1}");
        assert_eq!(records[0].received_at, at(0));
        assert_eq!(records[1].kind, Kind::Redelivery);
        assert_eq!(records[1].end, 100 + buf.len() as u64);
    }

    #[test]
    fn a_cut_record_is_left_and_a_flipped_bit_is_found() {
        let mut buf = Vec::new();
        Record::encode_into(&mut buf, Kind::Delivery, "a", "push", at(0), b"{}");
        let first = buf.len();
        Record::encode_into(&mut buf, Kind::Delivery, "b", "push", at(1), b"{}");
        let (records, used, bad) = parse(&buf[..buf.len() - 1], 0, usize::MAX);
        assert_eq!((records.len(), used, bad.is_none()), (1, first, true));
        let mut flipped = buf.clone();
        flipped[first + HEADER + 3] ^= 1;
        let (records, used, bad) = parse(&flipped, 0, usize::MAX);
        assert_eq!((records.len(), used), (1, first));
        assert_eq!(bad.map(|(at, _)| at), Some(first));
    }
}
