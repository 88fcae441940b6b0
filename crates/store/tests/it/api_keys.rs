//! API keys on both engines: made and shown once, checked in constant time, counted against a
//! rate shared by every instance, revoked (one or all), rotated with an overlap, confined to
//! their clinic, and named in the access report.

use crate::harness::*;
use frontdesk_domain::{ApiScope, ApiScopes, Clock};
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    a_key_is_made_checked_and_audited_without_its_secret,
    a_key_over_its_rate_is_refused_until_its_window_turns,
    revoked_wrong_and_malformed_keys_are_refused_alike,
    revoking_every_key_ends_only_the_usable_ones_of_that_clinic,
    a_rotated_key_works_until_its_overlap_ends,
    a_rotation_without_overlap_ends_the_old_key_at_once,
    another_clinics_keys_are_not_found,
    a_terminated_clinics_keys_stop_working,
    bad_key_settings_are_refused_with_the_field_named,
    the_access_report_names_the_patients_an_api_key_touched,
    a_message_sent_by_a_key_goes_out_once_per_idempotency_key,
);

fn allowed(check: ApiKeyCheck) -> ApiPrincipal {
    match check {
        ApiKeyCheck::Allowed(p) => p,
        other => panic!("expected Allowed, got {other:?}"),
    }
}

fn new_key(name: &str, scopes: &str, rate: u32) -> NewApiKey {
    NewApiKey {
        name: name.into(),
        scopes: ApiScopes::parse(scopes).unwrap(),
        rate_per_minute: rate,
    }
}

async fn a_key_is_made_checked_and_audited_without_its_secret(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let issued = store
        .create_api_key(
            a.scope,
            &new_key("  PMS sync  ", "appointments:read patients:read", 60),
            Actor::Staff(a.user),
        )
        .await
        .unwrap();
    assert!(issued.key.starts_with(&format!("{}_", issued.info.prefix)));
    assert_eq!(issued.info.name, "PMS sync", "the name is trimmed");
    assert_eq!(issued.info.created_by, format!("staff:{}", a.user));
    assert_eq!(issued.info.state(clock.now()), ApiKeyState::Active);
    assert_eq!(issued.info.last_used_at, None);

    clock.advance(SignedDuration::from_secs(5));
    let p = allowed(store.check_api_key(&issued.key).await.unwrap());
    assert_eq!(p.scope.tenant_id(), a.scope.tenant_id());
    assert_eq!(p.key, issued.info.id);
    assert_eq!(p.prefix, issued.info.prefix);
    assert!(p.scopes.contains(ApiScope::PatientsRead));
    assert!(!p.scopes.contains(ApiScope::AppointmentsWrite));

    let listed = store.api_keys(a.scope).await.unwrap();
    assert_eq!(listed.len(), 2, "the seeded key and this one");
    assert_eq!(listed[0].id, issued.info.id, "newest first");
    assert_eq!(listed[0].last_used_at, Some(clock.now()), "use recorded");
    let by_prefix = store
        .api_key_by_prefix(a.scope, &issued.info.prefix)
        .await
        .unwrap();
    assert_eq!(by_prefix, listed[0]);

    let audit = all_audit(&*store, a.scope).await;
    let made: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "api_key.created")
        .collect();
    assert_eq!(made.len(), 2);
    let secret = &issued.key[17..]; // after `fdk_`, the 12-character prefix and `_`
    for e in &audit {
        assert!(!e.details.contains(secret), "secret in {}", e.action);
    }
    assert!(made[1].details.contains(&issued.info.prefix));
    assert_eq!(
        made[1].target_id.as_deref(),
        Some(&*issued.info.id.to_string())
    );
}

async fn a_key_over_its_rate_is_refused_until_its_window_turns(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let issued = store
        .create_api_key(
            a.scope,
            &new_key("burst", "schedule:read", 3),
            Actor::Operator,
        )
        .await
        .unwrap();
    for _ in 0..3 {
        allowed(store.check_api_key(&issued.key).await.unwrap());
    }
    clock.advance(SignedDuration::from_secs(20));
    match store.check_api_key(&issued.key).await.unwrap() {
        ApiKeyCheck::RateLimited { retry_after_secs } => assert_eq!(retry_after_secs, 40),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    // Another key of the same clinic has its own window.
    allowed(store.check_api_key(&a.api_key_secret).await.unwrap());
    clock.advance(SignedDuration::from_secs(40));
    allowed(store.check_api_key(&issued.key).await.unwrap());
    allowed(store.check_api_key(&issued.key).await.unwrap());
}

async fn revoked_wrong_and_malformed_keys_are_refused_alike(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let info = store
        .api_key_by_prefix(
            a.scope,
            frontdesk_store::api_key::prefix_of(&a.api_key_secret).unwrap(),
        )
        .await
        .unwrap();
    // The right prefix with another secret.
    let mut forged = a.api_key_secret.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        forged.as_str(),
        "",
        "fdk_",
        "Bearer x",
        "fdk_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ] {
        assert_err!(store.check_api_key(bad).await, StoreError::Unauthorized);
    }
    allowed(store.check_api_key(&a.api_key_secret).await.unwrap());
    assert!(
        store
            .revoke_api_key(a.scope, info.id, Actor::Staff(a.user))
            .await
            .unwrap()
    );
    assert_err!(
        store.check_api_key(&a.api_key_secret).await,
        StoreError::Unauthorized
    );
    assert!(
        !store
            .revoke_api_key(a.scope, info.id, Actor::Staff(a.user))
            .await
            .unwrap(),
        "a second revoke changes nothing"
    );
    let revocations = all_audit(&*store, a.scope)
        .await
        .into_iter()
        .filter(|e| e.action == "api_key.revoked")
        .count();
    assert_eq!(revocations, 1);
}

async fn revoking_every_key_ends_only_the_usable_ones_of_that_clinic(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let second = store
        .create_api_key(
            a.scope,
            &new_key("second", "schedule:read", 60),
            Actor::Operator,
        )
        .await
        .unwrap();
    let third = store
        .create_api_key(
            a.scope,
            &new_key("third", "schedule:read", 60),
            Actor::Operator,
        )
        .await
        .unwrap();
    store
        .revoke_api_key(a.scope, third.info.id, Actor::Operator)
        .await
        .unwrap();
    assert_eq!(
        store
            .revoke_all_api_keys(a.scope, Actor::Operator)
            .await
            .unwrap(),
        2
    );
    for key in [&a.api_key_secret, &*second.key, &*third.key] {
        assert_err!(store.check_api_key(key).await, StoreError::Unauthorized);
    }
    allowed(store.check_api_key(&b.api_key_secret).await.unwrap());
    let audit = all_audit(&*store, a.scope).await;
    let all = audit
        .iter()
        .find(|e| e.action == "api_key.all_revoked")
        .unwrap();
    assert!(all.details.contains("\"keys\":2"), "{}", all.details);
}

async fn a_rotated_key_works_until_its_overlap_ends(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let next = store
        .rotate_api_key(a.scope, a.api_key, 24, Actor::Staff(a.user))
        .await
        .unwrap();
    assert_ne!(next.info.prefix, "");
    assert_ne!(*next.key, a.api_key_secret);
    let keys = store.api_keys(a.scope).await.unwrap();
    let old = keys.iter().find(|k| k.id == a.api_key).unwrap();
    let new = keys.iter().find(|k| k.id == next.info.id).unwrap();
    assert_eq!(old.replaced_by, Some(next.info.id));
    let end = clock.now() + SignedDuration::from_hours(24);
    assert_eq!(old.state(clock.now()), ApiKeyState::Overlap(end));
    assert_eq!(
        (&new.name, &new.scopes, new.rate_per_minute),
        (&old.name, &old.scopes, old.rate_per_minute),
        "the successor keeps name, scopes and rate"
    );

    // Both work during the overlap, each for the same clinic.
    assert_eq!(
        allowed(store.check_api_key(&a.api_key_secret).await.unwrap()).key,
        a.api_key
    );
    assert_eq!(
        allowed(store.check_api_key(&next.key).await.unwrap()).key,
        next.info.id
    );
    assert_err!(
        store
            .rotate_api_key(a.scope, a.api_key, 24, Actor::Staff(a.user))
            .await,
        StoreError::Conflict(_)
    );

    clock.advance(SignedDuration::from_hours(24));
    assert_err!(
        store.check_api_key(&a.api_key_secret).await,
        StoreError::Unauthorized
    );
    allowed(store.check_api_key(&next.key).await.unwrap());
    let old = store.api_key_by_prefix(a.scope, &old.prefix).await.unwrap();
    assert_eq!(old.state(clock.now()), ApiKeyState::Expired);

    let audit = all_audit(&*store, a.scope).await;
    let rotated = audit
        .iter()
        .find(|e| e.action == "api_key.rotated")
        .unwrap();
    assert_eq!(rotated.actor_id.as_deref(), Some(&*a.user.to_string()));
    assert!(rotated.details.contains(&next.info.prefix));
    assert!(rotated.details.contains("\"overlap_hours\":24"));
    assert!(!rotated.details.contains(&next.key[17..]), "no secret");
}

async fn a_rotation_without_overlap_ends_the_old_key_at_once(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let next = store
        .rotate_api_key(a.scope, a.api_key, 0, Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        store.check_api_key(&a.api_key_secret).await,
        StoreError::Unauthorized
    );
    allowed(store.check_api_key(&next.key).await.unwrap());
    // The successor can itself be rotated; a revoked key cannot.
    let third = store
        .rotate_api_key(a.scope, next.info.id, 1, Actor::Operator)
        .await
        .unwrap();
    store
        .revoke_api_key(a.scope, third.info.id, Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        store
            .rotate_api_key(a.scope, third.info.id, 1, Actor::Operator)
            .await,
        StoreError::Conflict(_)
    );
}

async fn another_clinics_keys_are_not_found(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let a_prefix = frontdesk_store::api_key::prefix_of(&a.api_key_secret).unwrap();
    assert_err!(
        store.api_key_by_prefix(b.scope, a_prefix).await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .revoke_api_key(b.scope, a.api_key, Actor::Staff(b.user))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .rotate_api_key(b.scope, a.api_key, 1, Actor::Staff(b.user))
            .await,
        StoreError::NotFound
    );
    assert!(
        store
            .api_keys(b.scope)
            .await
            .unwrap()
            .iter()
            .all(|k| k.id != a.api_key)
    );
    let p = allowed(store.check_api_key(&a.api_key_secret).await.unwrap());
    assert_eq!(
        p.scope.tenant_id(),
        a.scope.tenant_id(),
        "a key acts only for its clinic"
    );
}

async fn a_terminated_clinics_keys_stop_working(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    store
        .terminate_tenant(a.scope, Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        store.check_api_key(&a.api_key_secret).await,
        StoreError::Unauthorized
    );
    allowed(store.check_api_key(&b.api_key_secret).await.unwrap());
}

async fn bad_key_settings_are_refused_with_the_field_named(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let cases = [
        (new_key("   ", "schedule:read", 60), "name"),
        (new_key(&"x".repeat(81), "schedule:read", 60), "name"),
        (new_key("tab\there", "schedule:read", 60), "name"),
        (new_key("zero", "schedule:read", 0), "rate_per_minute"),
        (new_key("huge", "schedule:read", 6001), "rate_per_minute"),
    ];
    for (key, field) in cases {
        match store.create_api_key(a.scope, &key, Actor::Operator).await {
            Err(StoreError::Invalid(e)) => assert!(e.to_string().contains(field), "{e}"),
            other => panic!("expected Invalid({field}), got {other:?}"),
        }
    }
    assert_err!(
        store
            .rotate_api_key(a.scope, a.api_key, 721, Actor::Operator)
            .await,
        StoreError::Invalid(_)
    );
    assert_eq!(
        store.api_keys(a.scope).await.unwrap().len(),
        1,
        "nothing half-made"
    );
}

async fn the_access_report_names_the_patients_an_api_key_touched(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let from = clock.now();
    clock.advance(SignedDuration::from_secs(1));
    store
        .append_audit(
            a.scope,
            &AuditEvent::new(Actor::ApiKey(a.api_key), "patient.viewed")
                .target("patient", a.patient),
        )
        .await
        .unwrap();
    store
        .append_audit(
            a.scope,
            &AuditEvent::new(Actor::Staff(a.user), "conversation.viewed")
                .target("conversation", a.conversation),
        )
        .await
        .unwrap();
    clock.advance(SignedDuration::from_secs(1));
    let report = store
        .access_report(
            a.scope,
            &a.api_key.to_string(),
            from,
            clock.now() + SignedDuration::from_secs(1),
        )
        .await
        .unwrap();
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].patient, Some(a.patient));
    assert_eq!(report[0].actions, ["patient.viewed"]);
    let entry = all_audit(&*store, a.scope)
        .await
        .into_iter()
        .find(|e| e.action == "patient.viewed")
        .unwrap();
    assert_eq!(entry.actor_kind, "api_key");
}

async fn a_message_sent_by_a_key_goes_out_once_per_idempotency_key(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let before = store.messages(a.scope, a.conversation).await.unwrap().len();
    let sent = store
        .api_send_message(
            a.scope,
            a.conversation,
            a.api_key,
            "req-1",
            "Your results are ready.",
        )
        .await
        .unwrap();
    assert!(!sent.replayed);
    let again = store
        .api_send_message(
            a.scope,
            a.conversation,
            a.api_key,
            "req-1",
            "Your results are ready.",
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        ApiSent {
            message: sent.message,
            replayed: true
        }
    );
    let messages = store.messages(a.scope, a.conversation).await.unwrap();
    assert_eq!(messages.len(), before + 1, "sent once");
    let m = messages.iter().find(|m| m.id == sent.message).unwrap();
    assert_eq!(
        (m.sender, m.direction, m.body.as_str()),
        (
            Sender::Staff,
            Direction::Outbound,
            "Your results are ready."
        )
    );
    let queued: Vec<_> = store
        .outbox_entries(a.scope, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.message == Some(sent.message))
        .collect();
    assert_eq!(queued.len(), 1, "one send through the outbox");
    // The same key with another text, or another conversation, is refused.
    assert_err!(
        store
            .api_send_message(
                a.scope,
                a.conversation,
                a.api_key,
                "req-1",
                "Something else"
            )
            .await,
        StoreError::Conflict(IDEMPOTENCY_KEY_REUSED)
    );
    // Another key may use the same idempotency key: keys are kept per API key.
    let other = store
        .create_api_key(
            a.scope,
            &new_key("other", "messages:write", 60),
            Actor::Operator,
        )
        .await
        .unwrap();
    let theirs = store
        .api_send_message(
            a.scope,
            a.conversation,
            other.info.id,
            "req-1",
            "From the other system.",
        )
        .await
        .unwrap();
    assert!(!theirs.replayed && theirs.message != sent.message);
    // Another clinic's conversation is not found; a held conversation is not talked over.
    assert_err!(
        store
            .api_send_message(a.scope, b.conversation, a.api_key, "req-2", "hi")
            .await,
        StoreError::NotFound
    );
    store
        .take_over(
            a.scope,
            a.conversation,
            a.user,
            SignedDuration::from_mins(10),
        )
        .await
        .unwrap();
    assert_err!(
        store
            .api_send_message(a.scope, a.conversation, a.api_key, "req-3", "hi")
            .await,
        StoreError::Conflict(HELD_BY_STAFF)
    );
    assert_err!(
        store
            .api_send_message(a.scope, a.conversation, a.api_key, "req-4", "   ")
            .await,
        StoreError::Invalid(_)
    );
    let audit = all_audit(&*store, a.scope).await;
    let sent_by_key: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "message.api_sent")
        .collect();
    assert_eq!(sent_by_key.len(), 2);
    assert!(
        sent_by_key
            .iter()
            .all(|e| e.actor_kind == "api_key" && !e.details.contains("results"))
    );
}
