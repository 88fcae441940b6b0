//! SQLite's WAL checkpoints, off the commit path.
//!
//! In WAL mode every commit appends to the `-wal` file, and a *checkpoint* copies those pages
//! back into the database file and syncs it. By default SQLite checkpoints inside the commit
//! that takes the WAL past 1,000 pages: that one commit (and with group commit, every
//! operation of its batch, and every write queued behind it) waits while about 4 MB are
//! copied and the database file is synced, once every hundred or so turns.
//!
//! Here the writer connection only checkpoints itself as a safety net, past
//! [`WRITER_AUTOCHECKPOINT_PAGES`]; a task with its own connection runs a `PASSIVE`
//! checkpoint every [`EVERY`]. A passive checkpoint never waits for readers or the writer
//! (it copies what it can, the rest next time), and the writer keeps appending meanwhile; once
//! everything was copied the next write starts the WAL again from its beginning, so the file
//! stays small. Under an unbroken stream of writes a passive checkpoint never catches up with
//! the last frame, and the WAL grows until the writer's own checkpoint (past
//! [`WRITER_AUTOCHECKPOINT_PAGES`]) finds nearly everything already copied and lets it start
//! again: a short one. Durability is unchanged: a commit is durable when its WAL frames are synced,
//! as before (`synchronous = FULL`).

use sqlx::SqliteConnection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the background task checkpoints.
pub(crate) const EVERY: Duration = Duration::from_millis(200);
/// The writer checkpoints itself only if the WAL grows past this many pages (32 MB of 4 KiB
/// pages): the background task has stopped or cannot keep up.
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 8_000;

/// What the background task has done, for tests and the benchmarks.
#[derive(Debug, Default)]
pub struct CheckpointStats {
    /// Checkpoints that copied at least one page.
    pub checkpoints: AtomicU64,
    /// Checkpoints that failed (logged; the next one tries again).
    pub failures: AtomicU64,
}

/// The background checkpoint task; stopped when dropped.
pub(crate) struct Checkpointer {
    task: tokio::task::JoinHandle<()>,
    stats: Arc<CheckpointStats>,
}

impl Checkpointer {
    pub(crate) fn start(mut conn: SqliteConnection) -> Self {
        let stats = Arc::new(CheckpointStats::default());
        let counted = stats.clone();
        let task = tokio::spawn(async move {
            // Frames of the WAL already copied, as of the last checkpoint: the WAL's frame
            // count only grows until the writer starts it again from the beginning.
            let mut copied: i64 = 0;
            loop {
                tokio::time::sleep(EVERY).await;
                // (busy, frames in the WAL, frames of it copied into the database)
                match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&mut conn)
                    .await
                {
                    Ok((_, _, done)) => {
                        if done > 0 && done != copied {
                            counted.checkpoints.fetch_add(1, Ordering::Relaxed);
                        }
                        copied = done;
                    }
                    Err(e) => {
                        counted.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "SQLite background checkpoint failed; retrying");
                    }
                }
            }
        });
        Self { task, stats }
    }

    pub(crate) fn stats(&self) -> &CheckpointStats {
        &self.stats
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::ConnectOptions;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

    fn opts(dir: &tempfile::TempDir) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(dir.path().join("c.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
    }

    /// The WAL index header's frame count (`mxFrame`) and how many of those frames are copied
    /// into the database file (`nBackfill`), read without checkpointing.
    fn wal_frames(dir: &tempfile::TempDir) -> (u64, u64) {
        let shm = std::fs::read(dir.path().join("c.db-shm")).unwrap();
        let u32_at = |at: usize| u64::from(u32::from_ne_bytes(shm[at..at + 4].try_into().unwrap()));
        // WalIndexHdr: mxFrame at byte 16; WalCkptInfo (after two 48-byte headers): nBackfill.
        (u32_at(16), u32_at(96))
    }

    /// 2,500 rows of a page each, each its own commit: far past SQLite's default of 1,000
    /// pages, when a commit would have checkpointed.
    async fn write(writer: &mut SqliteConnection, from: i64) {
        for id in from..from + 2_500 {
            sqlx::query("INSERT INTO t (id, v) VALUES ($1, zeroblob(3000))")
                .bind(id)
                .execute(&mut *writer)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn the_writer_leaves_checkpoints_to_the_background_task() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = opts(&dir)
            .pragma(
                "wal_autocheckpoint",
                WRITER_AUTOCHECKPOINT_PAGES.to_string(),
            )
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
            .execute(&mut writer)
            .await
            .unwrap();
        write(&mut writer, 0).await;
        let (frames, copied) = wal_frames(&dir);
        assert!(
            frames >= 2_500 && copied == 0,
            "the writer's own commits did not checkpoint ({copied} of {frames} frames copied)"
        );
        let checkpointer = Checkpointer::start(opts(&dir).connect().await.unwrap());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while wal_frames(&dir).1 < frames {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the background task copies the WAL"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(checkpointer.stats().checkpoints.load(Ordering::Relaxed) >= 1);
        // Everything copied: the next write starts the WAL again from its beginning, so the
        // file does not grow while the writer has pauses (under a continuous stream of writes
        // it grows to WRITER_AUTOCHECKPOINT_PAGES, where the writer's own checkpoint, with
        // little left to copy, lets it start again).
        sqlx::query("INSERT INTO t (id, v) VALUES (-1, 'x')")
            .execute(&mut writer)
            .await
            .unwrap();
        let (frames, _) = wal_frames(&dir);
        assert!(frames < 10, "the WAL started again ({frames} frames)");
        assert_eq!(checkpointer.stats().failures.load(Ordering::Relaxed), 0);
    }
}
