//! Storage for frontdesk: the [`Store`] traits (split by capability), one implementation
//! shared by the SQLite and PostgreSQL engines, per-engine migrations, envelope encryption
//! and the tenant scope that guards every read and write of clinic data.
//!
//! [`open`] chooses the engine from the URL scheme of `database_url`.

pub mod anomaly;
pub mod api_key;
mod audit;
pub mod calcom;
pub mod calendar;
mod catalog_cache;
pub mod certificate;
pub mod channel;
pub mod coordination;
pub mod crypto;
mod error;
mod group_commit;
mod keys;
pub mod llm;
pub mod model;
mod open;
pub mod payments;
mod pool;
mod postgres;
mod scope;
mod sql;
mod sqlite;
pub mod testing;
pub mod totp;
mod traits;
pub mod webhooks;

pub use anomaly::*;
pub use calcom::*;
pub use calendar::*;
pub use certificate::*;
pub use channel::*;
pub use coordination::*;
pub use error::{Result, StoreError};
pub use keys::{KEY_CACHE_TTL, REENCRYPT_AFTER, SEAL_WITH_NEW_AFTER};
pub use llm::*;
pub use model::*;
pub use open::{DatabaseConfig, MigrationReport, Opened, migrate, open, sqlite_snapshot};
pub use payments::*;
pub use pool::PING_IDLE_AFTER;
pub use postgres::PgStore;
pub use scope::TenantScope;
pub use sqlite::SqliteStore;
pub use traits::*;
pub use webhooks::*;

pub(crate) fn to_us(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_us(us: i64) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_microsecond(us).map_err(|_| StoreError::Corrupt("timestamp out of range"))
}
