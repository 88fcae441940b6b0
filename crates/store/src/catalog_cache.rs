//! What this process last read of each clinic's rarely-changing data, with the version stamp
//! it was read at (#6, #9).
//!
//! - **The catalogue.** The receptionist reads a clinic's catalogue (profile, practitioners,
//!   services, FAQs, red-flag rules, whether an SMS account exists) on every turn: seven
//!   statements. Each store keeps the last copy per clinic and, on every turn, reads only the
//!   clinic's `catalog_version` (one statement; migration 0030).
//! - **The channel accounts.** Every webhook routes to a clinic and checks the provider's
//!   signature with that clinic's account secrets: the route, a read transaction, the account
//!   and its decryption. Each store keeps the opened account per (clinic, provider); the routing
//!   statement also returns the clinic's `channels_version` (migration 0031), so a webhook costs
//!   one statement. The secrets are held decrypted, as the clinic's data key already is (see
//!   `crate::keys`), and only for active clinics (routing checks the status first).
//!
//! Database triggers bump the stamps in the same transaction as any change to those tables, so
//! no write path can forget them, and a change made through any instance is seen by every
//! instance's next read: there is no time-to-live and no window in which an old red-flag rule
//! or a revoked secret still applies.

use crate::channel::{ChannelAccount, Provider};
use crate::model::ClinicCatalog;
use frontdesk_domain::TenantId;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Entries kept at most; past it the cache starts again empty (a host with more live clinics
/// than this reads some of them twice, nothing worse).
const MAX_ENTRIES: usize = 4096;

/// A value per key, valid only at the stamp it was read at.
pub(crate) struct Versioned<K, V> {
    entries: Mutex<HashMap<K, (i64, V)>>,
}

impl<K, V> Default for Versioned<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

/// Each clinic's catalogue.
pub(crate) type CatalogCache = Versioned<TenantId, ClinicCatalog>;
/// Each clinic's account per provider, secrets opened.
pub(crate) type ChannelCache = Versioned<(TenantId, Provider), ChannelAccount>;

impl<K: Eq + Hash, V: Clone> Versioned<K, V> {
    /// The value if the copy held was read at `version`.
    pub(crate) fn get(&self, key: &K, version: i64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((v, value)) if *v == version => Some(value.clone()),
            _ => None,
        }
    }

    /// Keeps `value`, read at `version` or later (the stamp is read before the value, so a
    /// change committed in between makes the stamp older than the copy, and the next read
    /// fetches it again; never the other way round).
    pub(crate) fn put(&self, key: K, version: i64, value: &V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (version, value.clone()));
    }
}
