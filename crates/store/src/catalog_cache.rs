//! Each clinic's catalogue as this process last read it, with the version stamp it was read
//! at (#6).
//!
//! The receptionist reads a clinic's catalogue (profile, practitioners, services, FAQs,
//! red-flag rules, whether an SMS account exists) on every turn: seven statements. It rarely
//! changes, so each store keeps the last copy per clinic and, on every turn, reads only the
//! clinic's `catalog_version` (one statement). Database triggers bump the stamp in the same
//! transaction as any change to those tables (migration 0030), so no write path can forget
//! it, and a change made through any instance is seen by every instance's next turn: there is
//! no time-to-live and no window in which an old red-flag rule still applies.

use crate::model::ClinicCatalog;
use frontdesk_domain::TenantId;
use std::collections::HashMap;
use std::sync::Mutex;

/// Catalogues kept at most; past it the cache starts again empty (a host with more live
/// clinics than this reads some catalogues twice, nothing worse).
const MAX_CLINICS: usize = 4096;

#[derive(Default)]
pub(crate) struct CatalogCache {
    entries: Mutex<HashMap<TenantId, (i64, ClinicCatalog)>>,
}

impl CatalogCache {
    /// The clinic's catalogue if the copy held was read at `version`.
    pub(crate) fn get(&self, tenant: TenantId, version: i64) -> Option<ClinicCatalog> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&tenant) {
            Some((v, catalog)) if *v == version => Some(catalog.clone()),
            _ => None,
        }
    }

    /// Keeps `catalog`, read at `version` or later (the stamp is read before the catalogue,
    /// so a change committed in between makes the stamp older than the copy, and the next
    /// turn reads it again; never the other way round).
    pub(crate) fn put(&self, tenant: TenantId, version: i64, catalog: &ClinicCatalog) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CLINICS && !entries.contains_key(&tenant) {
            entries.clear();
        }
        entries.insert(tenant, (version, catalog.clone()));
    }
}
