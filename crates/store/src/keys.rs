//! Tenant keys, unwrapped once per process and cached (they are needed on every message).
//! Keys are zeroized when the last reference to them is dropped.

use crate::crypto::{Aad, DataKey, Keyring};
use frontdesk_domain::TenantId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(crate) struct TenantKeys {
    pub data: DataKey,
    pub data_version: i32,
    pub index: DataKey,
}

pub(crate) struct KeyCache {
    ring: Keyring,
    cache: Mutex<HashMap<TenantId, Arc<TenantKeys>>>,
}

impl KeyCache {
    pub fn new(ring: Keyring) -> Self {
        Self {
            ring,
            cache: Mutex::new(HashMap::new()),
        }
    }
    pub fn ring(&self) -> &Keyring {
        &self.ring
    }
    pub fn get(&self, tenant: TenantId) -> Option<Arc<TenantKeys>> {
        self.cache.lock().ok().and_then(|c| c.get(&tenant).cloned())
    }
    pub fn insert(&self, tenant: TenantId, keys: Arc<TenantKeys>) {
        if let Ok(mut c) = self.cache.lock() {
            c.insert(tenant, keys);
        }
    }
    /// Forgets a clinic's keys (its purge destroyed them).
    pub fn remove(&self, tenant: TenantId) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(&tenant);
        }
    }
}

/// The row label binding a wrapped tenant key to its tenant, purpose and version.
pub(crate) fn tenant_key_row(purpose: &str, version: i32) -> String {
    format!("{purpose}/{version}")
}

pub(crate) fn aad<'a>(tenant: TenantId, table: &'a str, column: &'a str, row: &'a str) -> Aad<'a> {
    Aad {
        tenant: tenant.as_uuid(),
        table,
        column,
        row,
    }
}
