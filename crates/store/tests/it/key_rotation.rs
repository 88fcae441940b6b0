//! Master key rotation on both engines: after `rewrap_tenant_keys` with a new active master
//! key, the retired one is no longer needed; nothing else is re-encrypted; it is audited once.

use crate::harness::*;
use frontdesk_domain::*;
use frontdesk_store::crypto::{Keyring, MasterKey};
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use std::sync::Arc;

engine_tests!(a_retired_master_key_can_go_once_every_clinic_is_rewrapped,);

async fn a_retired_master_key_can_go_once_every_clinic_is_rewrapped(db: &TestDb) {
    let (old, new) = (MasterKey::generate("old"), MasterKey::generate("new"));
    let clock = || Arc::new(SystemClock) as Arc<dyn Clock>;
    let first = db
        .open(Keyring::new(old.clone(), vec![]), clock())
        .await
        .unwrap();
    let (a, b) = seed_two(&*first).await;
    drop(first);

    // The new key alone cannot open the clinics' data yet.
    let only_new = db
        .open(Keyring::new(new.clone(), vec![]), clock())
        .await
        .unwrap();
    assert!(only_new.patient(a.scope, a.patient).await.is_err());
    drop(only_new);

    let both = db
        .open(Keyring::new(new.clone(), vec![old.clone()]), clock())
        .await
        .unwrap();
    for s in [&a, &b] {
        assert_eq!(
            both.rewrap_tenant_keys(s.scope, Actor::Operator)
                .await
                .unwrap(),
            2,
            "the data key and the index key"
        );
        assert_eq!(
            both.rewrap_tenant_keys(s.scope, Actor::Operator)
                .await
                .unwrap(),
            0
        );
    }
    let audit = both.audit_entries(a.scope, 0, 1000).await.unwrap();
    let e: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "keys.rewrapped")
        .collect();
    assert_eq!(e.len(), 1);
    assert!(e[0].details.contains("\"to\":\"new\"") && e[0].details.contains("old"));
    drop(both);

    // Now the old key can go: everything opens with the new one, patient keys unchanged.
    let after = db.open(Keyring::new(new, vec![]), clock()).await.unwrap();
    for s in [&a, &b] {
        let p = after.patient(s.scope, s.patient).await.unwrap();
        assert_eq!(p.phone.as_ref(), Some(&s.phone));
        assert!(
            !after
                .messages(s.scope, s.conversation)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            after
                .find_patient_by_phone(s.scope, &s.phone)
                .await
                .unwrap()
                .map(|p| p.id),
            Some(s.patient),
            "the blind index key is the same key, re-wrapped"
        );
        assert!(after.verify_audit_chain(s.scope).await.unwrap().is_intact());
    }
}
