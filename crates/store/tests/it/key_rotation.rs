//! Key rotation on both engines.
//!
//! Master key: after `rewrap_tenant_keys` with a new active master key, the retired one is no
//! longer needed; nothing else is re-encrypted; it is audited once.
//!
//! Tenant data key: a new version is added, everything stays readable throughout (also by a
//! second process that cached the old keys), the background batches move every ciphertext
//! under the old version to the new one, and the old version is then destroyed.

use crate::harness::*;
use crate::raw::Raw;
use frontdesk_domain::*;
use frontdesk_store::crypto::{Keyring, MasterKey};
use frontdesk_store::testing::{TestDb, test_keyring};
use frontdesk_store::*;
use jiff::SignedDuration;
use std::sync::Arc;

engine_tests!(
    a_retired_master_key_can_go_once_every_clinic_is_rewrapped,
    a_tenant_key_rotation_reencrypts_in_the_background_and_destroys_the_old_version,
);

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

async fn a_tenant_key_rotation_reencrypts_in_the_background_and_destroys_the_old_version(
    db: &TestDb,
) {
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let ring = test_keyring();
    let store = db.open(ring.clone(), clock.clone()).await.unwrap();
    // Another process: it reads (and caches) the clinic's keys before the rotation.
    let other = db.open(ring.clone(), clock.clone()).await.unwrap();
    let (a, b) = seed_two(&*store).await;
    let patients = [a.patient, add_patient(&*store, &a, "+64211000101").await];
    assert!(other.patient(a.scope, a.patient).await.is_ok());
    store
        .set_channel_account(
            a.scope,
            Provider::Twilio,
            "+6495550111",
            &serde_json::json!({ "account_sid": "AC1" }),
            &ChannelSecrets::new().with("auth_token", "tw-token"),
        )
        .await
        .unwrap();
    let totp = store.begin_totp(a.scope, a.user).await.unwrap();
    let mut raw = Raw::open(db).await;
    let key_sql = "SELECT wrapped FROM patient_keys WHERE patient_id = $1";
    let old_wrapped = raw.blob(key_sql, &[a.patient.as_uuid()]).await;
    let tenant = [a.scope.tenant_id().as_uuid()];
    let count = |table: &str| format!("SELECT count(*) FROM {table} WHERE tenant_id = $1");
    let keys_before = raw.scalar(count("patient_keys"), &tenant).await as u64;
    let users = raw.scalar(count("users"), &tenant).await as u64;

    assert_eq!(
        store
            .rotate_tenant_key(a.scope, Actor::Operator)
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store.rotate_tenant_key(a.scope, Actor::Operator).await,
        Err(StoreError::Conflict(_))
    ));
    let status = store.tenant_key_status(a.scope).await.unwrap();
    assert_eq!(status.versions, vec![2, 1]);
    assert_eq!(
        status.sealing, 1,
        "not before every process knows version 2"
    );
    assert_eq!(status.patient_keys_left, keys_before);
    // Too early to re-encrypt: nothing moves.
    let early = store.reencrypt_tenant_batch(a.scope, 10).await.unwrap();
    assert!(
        early.wait_until.is_some() && early.reencrypted == 0,
        "{early:?}"
    );

    // Once version 2 seals, a patient added by this process opens in the other one too.
    clock.advance(SEAL_WITH_NEW_AFTER + SignedDuration::from_secs(1));
    assert_eq!(store.tenant_key_status(a.scope).await.unwrap().sealing, 2);
    let late = add_patient(&*store, &a, "+64211000102").await;
    assert!(other.patient(a.scope, late).await.is_ok());
    assert!(other.patient(a.scope, a.patient).await.is_ok());

    // The background batches: one patient key each, then the rest and the old version.
    clock.advance(REENCRYPT_AFTER);
    let mut moved = 0;
    let mut destroyed = Vec::new();
    for _ in 0..10 {
        let batch = store.reencrypt_tenant_batch(a.scope, 1).await.unwrap();
        assert!(batch.wait_until.is_none(), "{batch:?}");
        moved += batch.reencrypted;
        // Readable between batches, by both processes.
        for p in patients {
            assert!(store.patient(a.scope, p).await.is_ok());
            assert!(other.patient(a.scope, p).await.is_ok());
        }
        if !batch.destroyed.is_empty() {
            destroyed = batch.destroyed;
            break;
        }
    }
    assert_eq!(destroyed, vec![1]);
    // The patient keys of before, the staff's emails and names, one TOTP secret, the
    // channel secrets, the webhook endpoint's URL and secret, the language model API key (the
    // patient added after the switch was wrapped by version 2 already).
    assert_eq!(moved, keys_before + 2 * users + 1 + 1 + 2 + 1);
    let status = store.tenant_key_status(a.scope).await.unwrap();
    assert_eq!((status.versions, status.patient_keys_left), (vec![2], 0));
    assert_eq!(status.patient_keys_done, keys_before + 1);
    assert_eq!(
        store.reencrypt_tenant_batch(a.scope, 10).await.unwrap(),
        ReencryptBatch::default(),
        "nothing more to do"
    );
    assert_eq!(
        raw.scalar(
            "SELECT count(*) FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data'".into(),
            &[a.scope.tenant_id().as_uuid()]
        )
        .await,
        1,
        "the old version is gone"
    );

    // Everything reads with the new version alone, in a fresh process too.
    let fresh = db.open(ring.clone(), clock.clone()).await.unwrap();
    for s in [&store, &other, &fresh] {
        let p = s.patient(a.scope, a.patient).await.unwrap();
        assert_eq!(p.phone.as_ref(), Some(&a.phone));
        assert!(
            !s.messages(a.scope, a.conversation)
                .await
                .unwrap()
                .is_empty()
        );
        let account = s.channel_account(a.scope, Provider::Twilio).await.unwrap();
        assert_eq!(account.secrets.get("auth_token"), Some("tw-token"));
        let hooks = s.webhook_endpoints(a.scope).await.unwrap();
        assert!(hooks[0].url.starts_with("https://hooks.alpha.example/"));
        let llm = s.llm_runtime(a.scope, start()).await.unwrap().unwrap();
        assert_eq!(
            llm.api_key.as_deref().map(String::as_str),
            Some("sk-seed-alpha")
        );
        let users = s.list_users(a.scope).await.unwrap();
        assert!(users.iter().any(|u| u.email == a.user_email));
        assert_eq!(
            s.find_patient_by_phone(a.scope, &a.phone)
                .await
                .unwrap()
                .map(|p| p.id),
            Some(a.patient)
        );
    }
    assert!(!totp.is_empty());
    assert!(store.verify_audit_chain(a.scope).await.unwrap().is_intact());
    let audit = store.audit_entries(a.scope, 0, 1000).await.unwrap();
    let done: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "keys.tenant_reencrypted")
        .collect();
    assert_eq!(done.len(), 1);
    assert!(
        done[0].details.contains("\"destroyed\":[1]"),
        "{}",
        done[0].details
    );
    assert!(audit.iter().any(|e| e.action == "keys.tenant_rotated"));

    // A copy of the patient key wrapped by the old version no longer opens: it is shredded.
    raw.execute_blob(
        "UPDATE patient_keys SET wrapped = $1 WHERE patient_id = $2",
        &old_wrapped,
        &[a.patient.as_uuid()],
    )
    .await;
    assert!(fresh.patient(a.scope, a.patient).await.is_err());

    // The other clinic was not touched.
    let other_status = store.tenant_key_status(b.scope).await.unwrap();
    assert_eq!(other_status.versions, vec![1]);
    assert!(store.patient(b.scope, b.patient).await.is_ok());
}

async fn add_patient(store: &dyn Store, s: &Seeded, phone: &str) -> PatientId {
    store
        .create_patient(
            s.scope,
            &NewPatient {
                name: Some("Rota Tion".into()),
                phone: Some(E164Phone::parse(phone).unwrap()),
                email: None,
                language: None,
            },
        )
        .await
        .unwrap()
}
