//! Tenant keys, unwrapped once per process and cached (they are needed on every message).
//! Keys are zeroized when the last reference to them is dropped.
//!
//! A clinic's data key can be rotated (#8 item 5) while the clinic keeps working: the new
//! version is added, every process picks it up within [`KEY_CACHE_TTL`], it is used for new
//! ciphertexts from [`SEAL_WITH_NEW_AFTER`] on (by which time every process can open what it
//! seals), the worker re-encrypts what the old version protects, and only then is the old
//! version destroyed. Throughout, ciphertexts of either version open: [`TenantDataKeys`]
//! tries each live version, newest first.

use crate::crypto::{Aad, CryptoError, DataKey, Keyring};
use frontdesk_domain::TenantId;
use jiff::SignedDuration;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a process keeps a clinic's unwrapped keys before reading them again (so a key
/// version added by another process is known everywhere within this time).
pub const KEY_CACHE_TTL: SignedDuration = SignedDuration::from_secs(60);
/// A new data key version seals new data only once this much time has passed since it was
/// added: every process has read it by then, so none meets a ciphertext it cannot open.
pub const SEAL_WITH_NEW_AFTER: SignedDuration = SignedDuration::from_secs(120);
/// Re-encryption under a new version starts this long after it was added: every process
/// seals with the new version by then, so nothing new under the old one appears afterwards.
pub const REENCRYPT_AFTER: SignedDuration = SignedDuration::from_secs(180);

/// The live versions of a clinic's data key: one seals, every one opens.
pub(crate) struct TenantDataKeys {
    /// The version that seals.
    sealing: (i32, DataKey),
    /// Every other live version, newest first.
    others: Vec<(i32, DataKey)>,
}

impl TenantDataKeys {
    pub fn single(version: i32, key: DataKey) -> Self {
        Self {
            sealing: (version, key),
            others: Vec::new(),
        }
    }

    /// `versions` newest first; the newest one `sealable` seals, the others only open.
    pub fn new(versions: Vec<(i32, DataKey, bool)>) -> Option<Self> {
        let at = versions.iter().position(|(_, _, sealable)| *sealable)?;
        let mut sealing = None;
        let mut others = Vec::new();
        for (i, (v, k, _)) in versions.into_iter().enumerate() {
            if i == at {
                sealing = Some((v, k));
            } else {
                others.push((v, k));
            }
        }
        Some(Self {
            sealing: sealing?,
            others,
        })
    }

    /// The version new ciphertexts are sealed with.
    pub fn version(&self) -> i32 {
        self.sealing.0
    }

    fn all(&self) -> impl Iterator<Item = &(i32, DataKey)> {
        std::iter::once(&self.sealing).chain(self.others.iter())
    }

    pub fn seal(&self, aad: &Aad, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.sealing.1.seal(aad, plaintext)
    }
    pub fn seal_str(&self, aad: &Aad, s: &str) -> Result<Vec<u8>, CryptoError> {
        self.sealing.1.seal_str(aad, s)
    }
    pub fn wrap(&self, aad: &Aad, key: &DataKey) -> Result<Vec<u8>, CryptoError> {
        self.sealing.1.wrap(aad, key)
    }

    /// Opens with whichever live version sealed `blob`, and says which.
    pub fn open_versioned(
        &self,
        aad: &Aad,
        blob: &[u8],
    ) -> Result<(i32, zeroize::Zeroizing<Vec<u8>>), CryptoError> {
        for (v, k) in self.all() {
            if let Ok(plain) = k.open(aad, blob) {
                return Ok((*v, plain));
            }
        }
        Err(CryptoError::Open)
    }
    pub fn open(&self, aad: &Aad, blob: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        self.open_versioned(aad, blob).map(|(_, p)| p)
    }
    pub fn open_string(&self, aad: &Aad, blob: &[u8]) -> Result<String, CryptoError> {
        let bytes = self.open(aad, blob)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CryptoError::Open)
    }
    pub fn unwrap_key(&self, aad: &Aad, blob: &[u8]) -> Result<DataKey, CryptoError> {
        for (_, k) in self.all() {
            if let Ok(key) = k.unwrap_key(aad, blob) {
                return Ok(key);
            }
        }
        Err(CryptoError::Open)
    }
}

pub(crate) struct TenantKeys {
    pub data: TenantDataKeys,
    pub index: DataKey,
}

struct Cached {
    keys: Arc<TenantKeys>,
    /// Store-clock microseconds after which the keys are read again.
    until_us: i64,
}

pub(crate) struct KeyCache {
    ring: Keyring,
    cache: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<TenantId, Cached>,
    /// When expired entries were last dropped (µs, store clock).
    swept_us: i64,
}

impl KeyCache {
    pub fn new(ring: Keyring) -> Self {
        Self {
            ring,
            cache: Mutex::new(Entries::default()),
        }
    }
    pub fn ring(&self) -> &Keyring {
        &self.ring
    }
    /// The cached keys, unless they are due to be read again at `now_us`.
    pub fn get(&self, tenant: TenantId, now_us: i64) -> Option<Arc<TenantKeys>> {
        let c = self.cache.lock().ok()?;
        c.map
            .get(&tenant)
            .filter(|c| now_us < c.until_us)
            .map(|c| c.keys.clone())
    }
    /// Caches a clinic's keys until `until_us`. Once per [`KEY_CACHE_TTL`], expired entries
    /// are dropped (their keys wiped), so a clinic that no longer has traffic (e.g. purged)
    /// does not keep its keys in memory.
    pub fn insert(&self, tenant: TenantId, keys: Arc<TenantKeys>, now_us: i64, until_us: i64) {
        if let Ok(mut c) = self.cache.lock() {
            if now_us - c.swept_us >= KEY_CACHE_TTL.as_micros() as i64 {
                c.map.retain(|_, e| e.until_us > now_us);
                c.swept_us = now_us;
            }
            c.map.insert(tenant, Cached { keys, until_us });
        }
    }
    /// Forgets a clinic's keys (after they changed in this process, or its purge destroyed
    /// them). Other processes read them again within [`KEY_CACHE_TTL`].
    pub fn forget(&self, tenant: TenantId) {
        if let Ok(mut c) = self.cache.lock() {
            c.map.remove(&tenant);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> Aad<'static> {
        Aad {
            tenant: uuid::Uuid::nil(),
            table: "t",
            column: "c",
            row: "r",
        }
    }

    #[test]
    fn the_sealing_version_seals_and_every_live_version_opens() {
        let (v1, v2) = (DataKey::generate(), DataKey::generate());
        let old_ct = v1.seal(&a(), b"old").unwrap();
        // v2 added but not yet sealing: v1 still seals, both open.
        let staged =
            TenantDataKeys::new(vec![(2, v2.clone(), false), (1, v1.clone(), true)]).unwrap();
        assert_eq!(staged.version(), 1);
        let ct = staged.seal(&a(), b"x").unwrap();
        assert_eq!(v1.open(&a(), &ct).unwrap().as_slice(), b"x");
        let v2_ct = v2.seal(&a(), b"new").unwrap();
        assert_eq!(staged.open_versioned(&a(), &v2_ct).unwrap().0, 2);
        // v2 sealing.
        let live = TenantDataKeys::new(vec![(2, v2.clone(), true), (1, v1.clone(), true)]).unwrap();
        assert_eq!(live.version(), 2);
        let ct = live.seal(&a(), b"y").unwrap();
        assert!(v1.open(&a(), &ct).is_err());
        assert_eq!(live.open_versioned(&a(), &old_ct).unwrap().0, 1);
        // v1 destroyed: its ciphertexts no longer open.
        let after = TenantDataKeys::single(2, v2);
        assert!(after.open(&a(), &old_ct).is_err());
        assert!(after.unwrap_key(&a(), &old_ct).is_err());
        assert!(TenantDataKeys::new(vec![(1, v1, false)]).is_none());
    }
}
