//! Conformance of web chat sessions on both engines: a token opens only its own clinic's
//! conversation, and only until it expires; anything else is `Unauthorized`, and an unknown
//! clinic is `NotFound`.

use crate::harness::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    webchat_token_authenticates_its_own_conversation_and_anonymous_patient,
    webchat_token_of_another_clinic_is_unauthorized,
    garbage_webchat_token_is_unauthorized,
    webchat_on_unknown_slug_is_not_found,
    expired_webchat_token_is_unauthorized,
);

const TTL: SignedDuration = SignedDuration::from_mins(30);

async fn webchat_token_authenticates_its_own_conversation_and_anonymous_patient(db: &TestDb) {
    let (store, _clock) = store_with_clock(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let web = store
        .start_webchat(&slug("alpha-clinic"), TTL)
        .await
        .unwrap();
    assert_eq!(web.expires_at, start().checked_add(TTL).unwrap());
    assert!(web.token.starts_with("fdw_"));
    let other = store
        .start_webchat(&slug("alpha-clinic"), TTL)
        .await
        .unwrap();
    assert_ne!(*web.token, *other.token);

    let auth = store
        .authenticate_webchat(&slug("alpha-clinic"), &web.token)
        .await
        .unwrap();
    assert_eq!(auth.scope, a);
    assert_eq!(auth.conversation_id, web.conversation_id);
    let conversation = store.conversation(a, web.conversation_id).await.unwrap();
    assert_eq!(
        (conversation.patient_id, conversation.channel),
        (auth.patient_id, Channel::Webchat)
    );
    let patient = store.patient(a, auth.patient_id).await.unwrap();
    assert_eq!(
        (patient.name, patient.phone, patient.email),
        (None, None, None)
    );

    let auth_other = store
        .authenticate_webchat(&slug("alpha-clinic"), &other.token)
        .await
        .unwrap();
    assert_eq!(auth_other.conversation_id, other.conversation_id);
    assert_ne!(
        auth_other.patient_id, auth.patient_id,
        "each visitor is their own patient"
    );
}

async fn webchat_token_of_another_clinic_is_unauthorized(db: &TestDb) {
    let store = store(db).await;
    new_tenant(&*store, "alpha-clinic").await;
    new_tenant(&*store, "beta-clinic").await;
    let web_a = store
        .start_webchat(&slug("alpha-clinic"), TTL)
        .await
        .unwrap();
    assert_err!(
        store
            .authenticate_webchat(&slug("beta-clinic"), &web_a.token)
            .await,
        StoreError::Unauthorized
    );
    // Still valid where it belongs.
    store
        .authenticate_webchat(&slug("alpha-clinic"), &web_a.token)
        .await
        .unwrap();
}

async fn garbage_webchat_token_is_unauthorized(db: &TestDb) {
    let store = store(db).await;
    new_tenant(&*store, "alpha-clinic").await;
    let web = store
        .start_webchat(&slug("alpha-clinic"), TTL)
        .await
        .unwrap();
    let mut altered = web.token.to_string();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let truncated = &web.token[..web.token.len() - 1];
    let padded = format!("{} ", &*web.token);
    for garbage in [
        "",
        "fdw_",
        "not a token",
        "fdw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &altered,
        truncated,
        &padded,
    ] {
        match store
            .authenticate_webchat(&slug("alpha-clinic"), garbage)
            .await
        {
            Err(StoreError::Unauthorized) => {}
            other => panic!(
                "token {garbage:?}: expected Unauthorized, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    store
        .authenticate_webchat(&slug("alpha-clinic"), &web.token)
        .await
        .unwrap();
}

async fn webchat_on_unknown_slug_is_not_found(db: &TestDb) {
    let store = store(db).await;
    new_tenant(&*store, "alpha-clinic").await;
    let web = store
        .start_webchat(&slug("alpha-clinic"), TTL)
        .await
        .unwrap();
    assert_err!(
        store.start_webchat(&slug("no-such-clinic"), TTL).await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .authenticate_webchat(&slug("no-such-clinic"), &web.token)
            .await,
        StoreError::NotFound
    );
}

async fn expired_webchat_token_is_unauthorized(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    new_tenant(&*store, "alpha-clinic").await;
    let web = store
        .start_webchat(&slug("alpha-clinic"), TTL)
        .await
        .unwrap();
    clock.advance(TTL - SignedDuration::from_secs(1));
    store
        .authenticate_webchat(&slug("alpha-clinic"), &web.token)
        .await
        .unwrap();
    clock.advance(SignedDuration::from_secs(1));
    assert_err!(
        store
            .authenticate_webchat(&slug("alpha-clinic"), &web.token)
            .await,
        StoreError::Unauthorized
    );
    clock.advance(SignedDuration::from_hours(24));
    assert_err!(
        store
            .authenticate_webchat(&slug("alpha-clinic"), &web.token)
            .await,
        StoreError::Unauthorized
    );
}
