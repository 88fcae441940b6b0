//! Blob storage for call recordings: opaque bytes (already encrypted by the caller before they
//! get here) under keys like `recordings/<tenant id>/<recording id>`.
//!
//! Two backends behind one object-safe trait, [`BlobStore`], chosen by configuration
//! (`recordings_storage`, see [`blob_store`]):
//!
//! - [`LocalBlobStore`] (default): files in a local directory, written atomically and durably
//!   (temp file, fsync, rename, fsync of the directory), directories 0700 and files 0600.
//! - [`S3BlobStore`]: any S3-compatible object store (AWS S3, MinIO, Ceph, Garage, …) over
//!   HTTPS with AWS Signature Version 4, path-style URLs by default.
//!
//! Keys are validated strictly ([`validate_key`]) by both backends, so that a key can neither
//! leave the directory nor change the meaning of an S3 URL. Errors carry no secrets, no object
//! contents and no URLs: a status code or a short reason at most.

mod s3;

pub use s3::{S3BlobStore, S3Settings};

use crate::config::{Config, ConfigError};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

/// The future returned by [`BlobStore`] methods: boxed and `Send`, so the trait stays
/// object safe (`Arc<dyn BlobStore>`) without the `async-trait` macro.
pub type BlobFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BlobError>> + Send + 'a>>;

/// Where recordings' bytes are kept. Callers `.await` the methods as if they were `async fn`:
/// `store.put(key, &bytes).await?`. Implementations return `Box::pin(async move { … })`.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` under `key`, replacing any earlier object; durable when it returns Ok.
    fn put<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BlobFuture<'a, ()>;
    /// The object's bytes; [`BlobError::NotFound`] when there is none.
    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Vec<u8>>;
    /// Removes the object; deleting a missing object is Ok (idempotent).
    fn delete<'a>(&'a self, key: &'a str) -> BlobFuture<'a, ()>;
    /// `local` or `s3`, for logs and metrics.
    fn kind(&self) -> &'static str;
}

/// Why a blob operation failed. Messages never include secrets, object contents, keys or URLs.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No object under this key.
    #[error("blob not found")]
    NotFound,
    /// The key breaks the rules of [`validate_key`].
    #[error("invalid blob key")]
    InvalidKey,
    /// Local file system error.
    #[error("blob store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The object store could not be reached or did not answer in time. The reason is a short
    /// fixed word: `timeout`, `connect`, `request`, `body` or `signing`.
    #[error("blob store request failed: {0}")]
    Http(&'static str),
    /// The object store answered with this non-success HTTP status.
    #[error("blob store answered HTTP {0}")]
    Status(u16),
    /// The store's settings are unusable (names the setting, never its value).
    #[error("blob store settings: {0}")]
    Settings(&'static str),
}

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// Checks a key: 1–512 bytes of ASCII letters, digits, `-`, `_`, `.` and `/`; no leading `/`,
/// no empty segment (`a//b`, trailing `/`), no segment starting with `.` (so no `.` or `..`
/// segments, and no clash with the local store's hidden temp files) and no `..` anywhere.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        && !key.contains("..")
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && !segment.starts_with('.'));
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey)
    }
}

/// The store chosen by `recordings_storage` (see [`Config::blob_store`]).
pub fn blob_store(cfg: &Config) -> Result<Arc<dyn BlobStore>, ConfigError> {
    cfg.blob_store()
}

/// Blobs as files under a root directory: `ROOT/recordings/<tenant>/<recording>`.
///
/// `put` writes a hidden temp file next to the final name (mode 0600), fsyncs it, renames it
/// over the final name and fsyncs the directory (and the parents of any directory it had to
/// create, mode 0700), so a crash leaves either the old object or the new one, never a torn
/// file. The root is created on the first `put` if missing; an existing root keeps its mode.
/// A `put` whose future is dropped midway still finishes in the background.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// A store rooted at `root`. Nothing is touched on disk until the first `put`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        Ok(key.split('/').fold(self.root.clone(), |p, seg| p.join(seg)))
    }
}

impl BlobStore for LocalBlobStore {
    fn put<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path_of(key)?;
            let bytes = bytes.to_vec();
            tokio::task::spawn_blocking(move || write_durably(&path, &bytes))
                .await
                .map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))?
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let path = self.path_of(key)?;
            tokio::fs::read(&path).await.map_err(not_found_or_io)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path_of(key)?;
            tokio::task::spawn_blocking(move || remove_durably(&path))
                .await
                .map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))?
        })
    }

    fn kind(&self) -> &'static str {
        "local"
    }
}

fn not_found_or_io(e: std::io::Error) -> BlobError {
    match e.kind() {
        // NotADirectory: a parent segment is a file, so there is no object under this key.
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => BlobError::NotFound,
        _ => BlobError::Io(e),
    }
}

/// The directory a file lives in (`.` for a bare relative name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a directory entry change (create, rename, unlink) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Creates `dir` and any missing parents with mode 0700, then fsyncs the parent of each
/// directory it created so the new entries survive a crash.
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut p = dir;
    while !p.as_os_str().is_empty() && !p.exists() {
        missing.push(p.to_owned());
        match p.parent() {
            Some(parent) => p = parent,
            None => break,
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    // Outermost last: fsync each new directory's parent.
    for created in &missing {
        sync_dir(parent_dir(created))?;
    }
    Ok(())
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), BlobError> {
    use std::io::Write;
    let dir = parent_dir(path);
    create_dirs(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or(BlobError::InvalidKey)?;
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::now_v7().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: the temp file may not exist (open failed) or be gone (rename done).
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(result?)
}

fn remove_durably(path: &Path) -> Result<(), BlobError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(sync_dir(parent_dir(path))?),
        Err(e) => match not_found_or_io(e) {
            BlobError::NotFound => Ok(()),
            other => Err(other),
        },
    }
}

#[cfg(test)]
mod tests;
