//! `StoreError`: what a store operation can answer besides success. Messages never carry
//! personal data or SQL detail; the underlying cause is kept for the log only.

use crate::crypto::CryptoError;
use frontdesk_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row in this tenant (also what another tenant's id looks like: no oracle).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken, e.g. a slug already in use.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The same inbound delivery was already stored (idempotent redelivery).
    #[error("duplicate delivery")]
    Duplicate,
    /// A credential (e.g. a web chat token) is missing, unknown or expired.
    #[error("unauthorized")]
    Unauthorized,
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The database cannot be reached (callers answer 503 so providers retry).
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Stored data that cannot be read back as expected (corruption, bad migration).
    #[error("corrupt stored data: {0}")]
    Corrupt(&'static str),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict("already exists")
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            // PostgreSQL exclusion constraint: an overlapping booking won a race.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23P01") => {
                StoreError::Conflict("that time is no longer free")
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            _ => StoreError::Database(e),
        }
    }
}

impl StoreError {
    /// PostgreSQL aborted the transaction to break a deadlock (`40P01`) or a serialization
    /// conflict (`40001`): nothing of it was written, and running it again is safe. Racing
    /// bookings can deadlock on the diary's exclusion constraint; they are retried.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("40P01" | "40001")))
    }
}

/// How many times an operation PostgreSQL aborted as a deadlock victim is tried in all.
/// Many bookings racing for one time can deadlock in chains on the exclusion constraint;
/// each retry waits a little longer, with jitter, so the racers fall out of step.
pub(crate) const TRANSIENT_ATTEMPTS: u32 = 12;

/// The pause before try `attempt + 1` of an operation that was a deadlock victim: 1 to 10
/// ms times the attempt, at random.
pub(crate) async fn transient_backoff(attempt: u32) {
    let ms = u64::from(attempt) * (1 + rand::random::<u64>() % 10);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
