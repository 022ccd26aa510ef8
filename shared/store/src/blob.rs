//! Blob storage: raw deliveries, job-log profiles and model artifacts, kept outside the document
//! store when the backend is a cloud one (Cloud Storage next to Firestore). [`BlobStore`] is the
//! trait; [`FsBlobStore`] keeps each object as one file under a directory, written to a temporary
//! name, synced and renamed into place, so a crash leaves either the old object or the new one.
//!
//! Namespaces are short names (`raw-deliveries`, `models`); keys may contain `/`. Both are
//! restricted to a safe alphabet so a key can never escape its namespace.
//!
//! [`crate::testsuite::blobs`] holds the behaviour every backend must show; run it with
//! [`crate::blob_test_suite!`].

use crate::{Result, StoreError};
use async_trait::async_trait;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Writes `bytes` at `namespace`/`key`. With `if_absent`, an existing object is left untouched
    /// and `Ok(false)` is returned; otherwise the object is replaced and `Ok(true)` returned.
    async fn put(&self, namespace: &str, key: &str, bytes: Vec<u8>, if_absent: bool) -> Result<bool>;

    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>>;

    /// Deleting a missing object is not an error.
    async fn delete(&self, namespace: &str, key: &str) -> Result<()>;

    /// The keys under `prefix` in `namespace`, sorted.
    async fn list(&self, namespace: &str, prefix: &str) -> Result<Vec<String>>;
}

/// Checks a namespace and key: non-empty `/`-separated segments of `[A-Za-z0-9._~%+=@:,-]` (keys
/// carry escaped repository names such as `acme%2Fapi~CI~test`), no `.` or `..` segment, at most
/// 1,024 bytes together (Cloud Storage's object-name limit).
pub fn validate(namespace: &str, key: &str) -> Result<()> {
    fn segment_ok(s: &str) -> bool {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b".~_%+=@:,-".contains(&b))
    }
    if namespace.contains('/') || !segment_ok(namespace) {
        return Err(StoreError::Invalid(format!("bad blob namespace {namespace:?}")));
    }
    if !key.split('/').all(segment_ok) {
        return Err(StoreError::Invalid(format!("bad blob key {key:?} in {namespace}")));
    }
    if namespace.len() + 1 + key.len() > 1024 {
        return Err(StoreError::Invalid(format!("blob name {namespace}/{key:.40}... is over 1024 bytes")));
    }
    Ok(())
}

/// Blobs as files: `<root>/<namespace>/<key>`.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl FsBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, namespace: &str, key: &str) -> Result<PathBuf> {
        validate(namespace, key)?;
        Ok(self.root.join(namespace).join(key))
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Database(format!("cannot {what} {}: {e}", path.display()))
}

fn write_file(path: &Path, bytes: &[u8], if_absent: bool) -> Result<bool> {
    let dir = path.parent().ok_or_else(|| StoreError::Invalid(format!("no parent for {}", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| io_err("create", dir, e))?;
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), TMP_SEQ.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| io_err("create", &tmp, e))?;
        f.write_all(bytes).map_err(|e| io_err("write", &tmp, e))?;
        f.sync_all().map_err(|e| io_err("sync", &tmp, e))?;
        if if_absent {
            // A hard link fails if the target exists: create-if-absent without a race.
            match std::fs::hard_link(&tmp, path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(io_err("link", path, e)),
            }
        } else {
            std::fs::rename(&tmp, path).map_err(|e| io_err("rename", path, e))?;
            Ok(true)
        }
    })();
    // After a rename the temporary name is gone; after a link (or a failure) it is removed here.
    if tmp.exists() {
        std::fs::remove_file(&tmp).map_err(|e| io_err("remove", &tmp, e))?;
    }
    result
}

fn list_dir(base: &Path, dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_err("list", dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            continue;
        }
        if entry.file_type().map_err(|e| io_err("stat", &path, e))?.is_dir() {
            list_dir(base, &path, prefix, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            let key = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            if key.starts_with(prefix) {
                out.push(key);
            }
        }
    }
    Ok(())
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, namespace: &str, key: &str, bytes: Vec<u8>, if_absent: bool) -> Result<bool> {
        let path = self.path(namespace, key)?;
        tokio::task::spawn_blocking(move || write_file(&path, &bytes, if_absent))
            .await
            .map_err(|e| StoreError::Database(format!("blob write task failed: {e}")))?
    }

    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(namespace, key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => Ok(None),
            Err(e) => Err(io_err("read", &path, e)),
        }
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<()> {
        let path = self.path(namespace, key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => Ok(()),
            Err(e) => Err(io_err("delete", &path, e)),
        }
    }

    async fn list(&self, namespace: &str, prefix: &str) -> Result<Vec<String>> {
        validate(namespace, "x")?;
        let base = self.root.join(namespace);
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            list_dir(&base, &base, &prefix, &mut out)?;
            out.sort();
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Database(format!("blob list task failed: {e}")))?
    }
}
