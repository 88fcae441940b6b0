//! Group commit for SQLite's one writer connection.
//!
//! With `synchronous = FULL` every `COMMIT` is an `fsync` of the WAL, and the disk, not the
//! CPU, bounds how many transactions a second SQLite can make durable. Group commit shares one
//! `fsync` between every write that was queued while the previous one ran:
//!
//! * the writer connection holds one outer transaction (a *batch*, `BEGIN IMMEDIATE`);
//! * each store operation runs inside its own `SAVEPOINT` in that batch, so an operation that
//!   fails (or is cancelled) is rolled back alone, exactly as if it had its own transaction;
//! * when an operation "commits" it releases its savepoint, hands the connection on, and then
//!   **waits until the batch is durably committed** before it returns: nothing is
//!   acknowledged before it is on disk, as before;
//! * the batch is committed by a task spawned when the batch opened. It queues for the
//!   connection (a fair, first-come-first-served lock), so every operation that was already
//!   waiting when the batch opened runs in the batch first; later arrivals form the next one.
//!   A lone operation is committed at once: no timer, no added latency.
//!
//! If the batch's `COMMIT` fails, every operation in it gets the error (nothing half-written:
//! the whole batch is rolled back). An error that makes SQLite abandon the outer transaction
//! itself (disk full, I/O error) is detected when the failed operation's savepoint is rolled
//! back, and fails the batch the same way.
//!
//! Every step that changes the connection's transaction state runs in a spawned task that
//! owns the connection lock, so a caller that is cancelled midway (a client hanging up)
//! cannot leave a transaction open or a savepoint dangling.
//!
//! Each statement is a round trip to sqlx's connection thread and back to a tokio task, and
//! under load that hop, not SQLite, is most of the time an operation holds the writer. So the
//! transaction-control statements are folded together: a batch opens with `BEGIN IMMEDIATE;
//! SAVEPOINT fd_op` in one round trip, and a committed operation's savepoint is not released
//! on its own: the next operation releases it as it sets its own (`RELEASE fd_op; SAVEPOINT
//! fd_op`, one round trip), or the batch's `COMMIT` ends it. A committed operation therefore
//! costs no round trip at all, and the outcome is the same: its changes are kept unless the
//! whole batch fails, and every operation waits for the batch either way.

use crate::{Result, StoreError};
use sqlx::SqliteConnection;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

/// How one batch ended: `None` while it is open, then `Ok` or the reason it failed.
type Outcome = Option<std::result::Result<(), Arc<str>>>;

struct Batch {
    id: u64,
    done: watch::Sender<Outcome>,
}

struct Writer {
    /// `None` once the store is closed.
    conn: Option<SqliteConnection>,
    batch: Option<Batch>,
    next_id: u64,
    /// Operations begun in the current batch, and totals (for tests and the benchmarks).
    batch_ops: u64,
    stats: GroupStats,
    /// When the current holder of the connection took it (for `GroupStats::busy`).
    held_since: Option<Instant>,
    /// The savepoint of a committed operation is still set (released by the next operation
    /// or ended by the batch's `COMMIT`).
    unreleased: bool,
}

impl Writer {
    fn hold(&mut self) {
        self.held_since = Some(Instant::now());
    }
    fn unhold(&mut self) {
        if let Some(t) = self.held_since.take() {
            self.stats.busy += t.elapsed();
        }
    }
}

/// How many operations the writer has run and in how many durable commits.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    pub operations: u64,
    pub commits: u64,
    pub largest_batch: u64,
    /// Time the writer connection was held by operations and commits: the share of wall time
    /// it is busy says how close the single writer is to being the bottleneck.
    pub busy: Duration,
}

/// The writer connection with its group-commit state.
#[derive(Clone)]
pub struct GroupWriter {
    inner: Arc<Mutex<Writer>>,
}

fn closed() -> StoreError {
    StoreError::Unavailable(sqlx::Error::PoolClosed)
}

fn batch_failed(reason: &str) -> StoreError {
    StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(format!(
        "group commit failed: {reason}"
    ))))
}

async fn exec(
    conn: &mut SqliteConnection,
    sql: &'static str,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(conn).await.map(|_| ())
}

impl GroupWriter {
    pub fn new(conn: SqliteConnection) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Writer {
                conn: Some(conn),
                batch: None,
                next_id: 1,
                batch_ops: 0,
                stats: GroupStats::default(),
                held_since: None,
                unreleased: false,
            })),
        }
    }

    /// Starts one operation: waits for the connection, joins the open batch (or opens one)
    /// and sets the operation's savepoint.
    pub async fn begin(&self) -> Result<WriteTx> {
        let guard = self.inner.clone().lock_owned().await;
        let inner = self.inner.clone();
        // Spawned so that a cancelled caller cannot interrupt the state change halfway; if
        // the caller is gone when it finishes, the guard is simply dropped.
        tokio::spawn(async move {
            let mut guard = guard;
            let w = &mut *guard;
            w.hold();
            let conn = w.conn.as_mut().ok_or_else(closed)?;
            if w.batch.is_none() {
                if let Err(e) = exec(conn, "BEGIN IMMEDIATE; SAVEPOINT fd_op").await {
                    // If `BEGIN` went through and `SAVEPOINT` did not, end it: no batch here.
                    let _ = exec(conn, "ROLLBACK").await;
                    w.unhold();
                    return Err(e.into());
                }
                let id = w.next_id;
                w.next_id += 1;
                let (done, _) = watch::channel(None);
                w.batch = Some(Batch { id, done });
                w.batch_ops = 0;
                tokio::spawn(commit_batch(inner, id));
            } else if w.unreleased {
                if let Err(e) = exec(conn, "RELEASE fd_op; SAVEPOINT fd_op").await {
                    // The previous operation's savepoint could not be released: its batch is
                    // in an unknown state, so it fails whole and nobody is told it succeeded.
                    fail_batch(w, "a savepoint could not be released").await;
                    w.unhold();
                    return Err(e.into());
                }
            } else if let Err(e) = exec(conn, "SAVEPOINT fd_op").await {
                w.unhold();
                return Err(e.into());
            }
            w.unreleased = false;
            w.batch_ops += 1;
            w.stats.operations += 1;
            let done = w
                .batch
                .as_ref()
                .map(|b| b.done.subscribe())
                .ok_or(StoreError::Corrupt("write batch vanished"))?;
            Ok(WriteTx {
                guard: Some(guard),
                done,
            })
        })
        .await
        .map_err(|_| batch_failed("writer task ended"))?
    }

    /// Operations and commits so far.
    pub async fn stats(&self) -> GroupStats {
        self.inner.lock().await.stats
    }

    pub async fn close(&self) {
        let mut w = self.inner.lock().await;
        if let Some(batch) = w.batch.take() {
            let _ = batch.done.send(Some(Err("the store was closed".into())));
        }
        if let Some(conn) = w.conn.take() {
            use sqlx::Connection;
            let _ = conn.close().await;
        }
    }
}

/// Commits batch `id` once every operation queued before it has had its turn.
async fn commit_batch(inner: Arc<Mutex<Writer>>, id: u64) {
    let mut guard = inner.lock_owned().await;
    let w = &mut *guard;
    w.hold();
    if w.batch.as_ref().map(|b| b.id) != Some(id) {
        w.unhold();
        return; // already failed and closed by an operation's rollback
    }
    let Some(batch) = w.batch.take() else {
        w.unhold();
        return;
    };
    // `COMMIT` ends the last operation's savepoint along with the batch.
    w.unreleased = false;
    let outcome = match w.conn.as_mut() {
        None => Err("the store was closed".into()),
        Some(conn) => match exec(conn, "COMMIT").await {
            Ok(()) => {
                w.stats.commits += 1;
                w.stats.largest_batch = w.stats.largest_batch.max(w.batch_ops);
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "SQLite group commit failed; the batch is rolled back");
                let _ = exec(conn, "ROLLBACK").await;
                Err(Arc::<str>::from(e.to_string()))
            }
        },
    };
    w.unhold();
    let _ = batch.done.send(Some(outcome));
}

/// Rolls an unfinished operation back to its savepoint. If the savepoint is gone, SQLite has
/// abandoned the whole batch (or the release was interrupted): the batch is failed and rolled
/// back so that no operation in it is told it succeeded.
async fn rollback_op(mut guard: OwnedMutexGuard<Writer>) {
    let w = &mut *guard;
    let Some(conn) = w.conn.as_mut() else { return };
    let alive = exec(conn, "ROLLBACK TO fd_op; RELEASE fd_op").await.is_ok();
    if !alive {
        tracing::error!("SQLite abandoned a write batch; every operation in it fails");
        fail_batch(w, "the transaction was abandoned by SQLite").await;
    }
    w.unhold();
}

/// Rolls the whole open batch back and tells every operation in it.
async fn fail_batch(w: &mut Writer, reason: &str) {
    w.unreleased = false;
    if let Some(conn) = w.conn.as_mut() {
        let _ = exec(conn, "ROLLBACK").await;
    }
    if let Some(batch) = w.batch.take() {
        let _ = batch.done.send(Some(Err(reason.into())));
    }
}

/// One store operation's write transaction (a savepoint in the current batch). Dereferences to
/// the connection for queries. [`WriteTx::commit`] returns once the batch is on disk; dropping
/// it without committing rolls the operation back.
pub struct WriteTx {
    guard: Option<OwnedMutexGuard<Writer>>,
    done: watch::Receiver<Outcome>,
}

impl WriteTx {
    pub async fn commit(mut self) -> Result<()> {
        let Some(guard) = self.guard.take() else {
            return Err(closed());
        };
        // No statement here (nothing to cancel halfway): the savepoint stays set and is
        // released by the next operation or ended by the batch's `COMMIT`.
        let mut guard = guard;
        if guard.conn.is_none() {
            return Err(closed());
        }
        guard.unreleased = true;
        guard.unhold();
        drop(guard);
        match self.done.wait_for(Option::is_some).await {
            Ok(outcome) => match outcome.as_ref() {
                Some(Ok(())) => Ok(()),
                Some(Err(reason)) => Err(batch_failed(reason)),
                None => Err(batch_failed("no outcome")),
            },
            Err(_) => Err(batch_failed("the batch was dropped")),
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(rollback_op(guard));
                }
                // No runtime left (shutting down): closing the connection rolls back.
                Err(_) => drop(guard),
            }
        }
    }
}

// The guard is taken only by `commit(self)` and by `Drop`, after which the value is never
// dereferenced again, and a `WriteTx` is only made with a connection (closing needs the lock
// the `WriteTx` holds): these `expect`s state an invariant, they cannot fire.
impl Deref for WriteTx {
    type Target = SqliteConnection;
    #[allow(clippy::expect_used)]
    fn deref(&self) -> &SqliteConnection {
        self.guard
            .as_ref()
            .and_then(|g| g.conn.as_ref())
            .expect("a live write transaction has its connection")
    }
}

impl DerefMut for WriteTx {
    #[allow(clippy::expect_used)]
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.guard
            .as_mut()
            .and_then(|g| g.conn.as_mut())
            .expect("a live write transaction has its connection")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::ConnectOptions;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use std::time::Duration;

    async fn writer(dir: &tempfile::TempDir) -> (GroupWriter, SqliteConnectOptions) {
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("g.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let mut conn = opts.clone().connect().await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        (GroupWriter::new(conn), opts)
    }

    async fn insert(w: &GroupWriter, id: i64) -> Result<()> {
        let mut tx = w.begin().await?;
        sqlx::query("INSERT INTO t (id, v) VALUES ($1, 'x')")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    async fn count(opts: &SqliteConnectOptions) -> i64 {
        // A separate connection: only what was durably committed is visible to it.
        let mut c = opts.clone().connect().await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut c)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let (w, opts) = writer(&dir).await;
        let mut tasks = Vec::new();
        for id in 0..200 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move { insert(&w, id).await }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(
            count(&opts).await,
            200,
            "every acknowledged write is committed"
        );
        let stats = w.stats().await;
        assert_eq!(stats.operations, 200);
        assert!(
            stats.commits < 200 && stats.largest_batch > 1,
            "queued writes were grouped: {stats:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_operation_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (w, opts) = writer(&dir).await;
        insert(&w, 1).await.unwrap();
        let mut tasks = Vec::new();
        for id in [2, 1, 3, 1, 4] {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                // Two statements: the first succeeds, the second breaks the primary key for
                // id 1, so the operation must vanish whole (no row 1001 either).
                let mut tx = w.begin().await?;
                sqlx::query("INSERT INTO t (id, v) VALUES ($1, 'first')")
                    .bind(id + 1000)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO t (id, v) VALUES ($1, 'x')")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }));
        }
        let mut failed = 0;
        for t in tasks {
            if t.await.unwrap().is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 2);
        assert_eq!(count(&opts).await, 1 + 3 * 2);
        let mut c = opts.clone().connect().await.unwrap();
        let stray: i64 = sqlx::query_scalar("SELECT count(*) FROM t WHERE id = 1001")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(
            stray, 0,
            "the failed operation's first statement was rolled back"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_or_dropped_operation_leaves_nothing_and_blocks_nobody() {
        let dir = tempfile::tempdir().unwrap();
        let (w, opts) = writer(&dir).await;
        // Dropped without commit.
        {
            let mut tx = w.begin().await.unwrap();
            sqlx::query("INSERT INTO t (id, v) VALUES (10, 'dropped')")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        // Cancelled at every await point of an operation in turn.
        for budget_us in [0u64, 50, 200, 1_000, 5_000] {
            let w2 = w.clone();
            let _ = tokio::time::timeout(Duration::from_micros(budget_us), async move {
                insert(&w2, 20 + budget_us as i64).await
            })
            .await;
        }
        insert(&w, 1).await.unwrap();
        let mut c = opts.clone().connect().await.unwrap();
        let dropped: i64 = sqlx::query_scalar("SELECT count(*) FROM t WHERE id = 10")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(dropped, 0);
        let one: i64 = sqlx::query_scalar("SELECT count(*) FROM t WHERE id = 1")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(one, 1, "the writer still works after cancellations");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_fails_later_writes_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let (w, _) = writer(&dir).await;
        insert(&w, 1).await.unwrap();
        w.close().await;
        assert!(matches!(
            insert(&w, 2).await,
            Err(StoreError::Unavailable(_))
        ));
    }
}
