//! How both engines' connection pools hand out connections.
//!
//! sqlx pings every connection as it goes back into the pool, and by default pings it again
//! as it is taken out: one more round trip to the database (PostgreSQL) or to the connection's
//! thread (SQLite) before every transaction, on every request's path. A connection that was
//! checked on its way in moments ago is alive as far as a ping can tell, so it is only checked
//! again on the way out once it has been idle for [`PING_IDLE_AFTER`] (a database restarted in
//! the meantime, a connection dropped by a firewall): a failed check discards it and the pool
//! hands out another or opens a new one. A connection that breaks between the two checks fails
//! that one transaction, which reports the error (a webhook answers 503 and the provider
//! retries) and is discarded when it is returned.

use sqlx::pool::{PoolConnectionMetadata, PoolOptions};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A connection idle in the pool at least this long is pinged before it is handed out.
pub const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The pool options both engines start from: at most `max_connections` (at least one), and
/// the ping before use only for connections idle at least [`PING_IDLE_AFTER`].
pub(crate) fn options<DB: sqlx::Database>(max_connections: u32) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(max_connections.max(1))
        .test_before_acquire(false)
        .before_acquire(ping_if_idle::<DB::Connection>)
}

type Checked<'c> = Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + 'c>>;

fn ping_if_idle<C: sqlx::Connection>(conn: &mut C, meta: PoolConnectionMetadata) -> Checked<'_> {
    Box::pin(async move {
        if needs_ping(&meta) {
            conn.ping().await?;
        }
        Ok(true)
    })
}

fn needs_ping(meta: &PoolConnectionMetadata) -> bool {
    meta.idle_for >= PING_IDLE_AFTER
}
