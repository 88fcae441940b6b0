//! Calendar feeds on both engines: a feed made for one practitioner or the whole clinic,
//! its token opened only while live and only whole (wrong secret, revoked, malformed or a
//! terminated clinic: `Unauthorized`, without saying which), audited by prefix only, its use
//! noted at most hourly, and its appointments read without opening any patient data.

use crate::appointments::{WED_10, booking, diary, ts};
use crate::harness::*;
use frontdesk_domain::Clock;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    a_feed_is_made_opened_and_revoked_and_audited_without_its_token,
    a_feed_token_opens_only_whole_live_and_in_an_active_clinic,
    feed_appointments_are_the_live_ones_in_the_window_of_one_practitioner_or_all,
    another_clinics_feeds_and_practitioners_are_not_found,
);

async fn a_feed_is_made_opened_and_revoked_and_audited_without_its_token(db: &TestDb) {
    let d = diary(db, 0).await;
    let store = &*d.store;
    let mine = store
        .create_calendar_feed(d.scope, Some(d.practitioner), Actor::Operator)
        .await
        .unwrap();
    let all = store
        .create_calendar_feed(d.scope, None, Actor::Operator)
        .await
        .unwrap();
    assert!(mine.token.starts_with(&mine.info.prefix));
    assert!(!format!("{mine:?}").contains(&mine.token[mine.info.prefix.len()..]));
    assert_eq!(mine.info.practitioner, Some(d.practitioner));
    assert_eq!(all.info.practitioner, None);
    assert_eq!(mine.info.last_used_at, None);

    let opened = store.open_calendar_feed(&mine.token).await.unwrap();
    assert_eq!(opened.scope, d.scope);
    assert_eq!(opened.feed, mine.info.id);
    assert_eq!(opened.practitioner, Some(d.practitioner));
    let listed = store.calendar_feeds(d.scope).await.unwrap();
    assert_eq!(listed.len(), 2);
    let row = listed.iter().find(|f| f.id == mine.info.id).unwrap();
    assert_eq!(row.last_used_at, Some(d.clock.now()));

    // Used again within the hour: not written again; after it: written.
    d.clock.advance(SignedDuration::from_mins(30));
    store.open_calendar_feed(&mine.token).await.unwrap();
    let used = |feeds: Vec<CalendarFeedInfo>| {
        feeds
            .into_iter()
            .find(|f| f.id == mine.info.id)
            .unwrap()
            .last_used_at
    };
    let first_use = d.clock.now() - SignedDuration::from_mins(30);
    assert_eq!(
        used(store.calendar_feeds(d.scope).await.unwrap()),
        Some(first_use)
    );
    d.clock.advance(SignedDuration::from_mins(31));
    store.open_calendar_feed(&mine.token).await.unwrap();
    assert_eq!(
        used(store.calendar_feeds(d.scope).await.unwrap()),
        Some(d.clock.now())
    );

    assert!(
        store
            .revoke_calendar_feed(d.scope, mine.info.id, Actor::Operator)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_calendar_feed(d.scope, mine.info.id, Actor::Operator)
            .await
            .unwrap(),
        "a second revoke changes nothing"
    );
    assert_err!(
        store.open_calendar_feed(&mine.token).await,
        StoreError::Unauthorized
    );
    store.open_calendar_feed(&all.token).await.unwrap();

    let audit = all_audit(store, d.scope).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("calendar_feed."))
        .collect();
    assert_eq!(
        actions,
        [
            "calendar_feed.created",
            "calendar_feed.created",
            "calendar_feed.revoked"
        ]
    );
    for e in &audit {
        assert!(!e.details.contains(&mine.token[..]), "never the token");
        assert!(!e.details.contains(&all.token[..]), "never the token");
    }
    assert!(audit.iter().any(|e| e.details.contains(&mine.info.prefix)));
    assert!(store.verify_audit_chain(d.scope).await.unwrap().is_intact());
}

async fn a_feed_token_opens_only_whole_live_and_in_an_active_clinic(db: &TestDb) {
    let d = diary(db, 0).await;
    let store = &*d.store;
    let feed = store
        .create_calendar_feed(d.scope, None, Actor::Operator)
        .await
        .unwrap();
    let token = feed.token.to_string();
    // The right prefix with another secret of the right form.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        forged.as_str(),
        &token[..token.len() - 1],
        &feed.info.prefix,
        "",
        "fdcal_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "../../etc/passwd",
    ] {
        assert_err!(
            store.open_calendar_feed(bad).await,
            StoreError::Unauthorized
        );
    }
    // An API key of the same clinic is not a feed token.
    let key = store
        .create_api_key(
            d.scope,
            &NewApiKey {
                name: "pms".into(),
                scopes: frontdesk_domain::ApiScopes::parse("schedule:read").unwrap(),
                rate_per_minute: 60,
            },
            Actor::Operator,
        )
        .await
        .unwrap();
    assert_err!(
        store.open_calendar_feed(&key.key).await,
        StoreError::Unauthorized
    );
    store.open_calendar_feed(&token).await.unwrap();
    store
        .terminate_tenant(d.scope, Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        store.open_calendar_feed(&token).await,
        StoreError::Unauthorized
    );
}

async fn feed_appointments_are_the_live_ones_in_the_window_of_one_practitioner_or_all(db: &TestDb) {
    let d = diary(db, 3).await;
    let store = &*d.store;
    let other = store
        .add_practitioner(d.scope, "Hemi Walker", "Osteopath")
        .await
        .unwrap();
    store
        .set_practitioner_hours(d.scope, other, &weekdays(9 * 60, 17 * 60))
        .await
        .unwrap();
    store
        .set_service_practitioners(d.scope, d.service, &[d.practitioner, other])
        .await
        .unwrap();
    let a = store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "a"))
        .await
        .unwrap();
    let cancelled = store
        .book_appointment(d.scope, &booking(&d, 1, "2026-11-24T23:00:00Z", "b"))
        .await
        .unwrap();
    store
        .cancel_appointment(d.scope, cancelled.id, Actor::Agent)
        .await
        .unwrap();
    let theirs = store
        .book_appointment(
            d.scope,
            &NewAppointment {
                practitioner: other,
                ..booking(&d, 2, WED_10, "c")
            },
        )
        .await
        .unwrap();
    let later = store
        .book_appointment(d.scope, &booking(&d, 1, "2026-12-01T21:00:00Z", "d"))
        .await
        .unwrap();
    let window = (ts("2026-11-24T00:00:00Z"), ts("2026-11-26T00:00:00Z"));
    let ids = |v: Vec<Appointment>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .appointments_between(d.scope, Some(d.practitioner), window.0, window.1)
            .await
            .unwrap()),
        [a.id]
    );
    let mut both = ids(store
        .appointments_between(d.scope, None, window.0, window.1)
        .await
        .unwrap());
    both.sort_by_key(|i| i.to_string());
    let mut expected = vec![a.id, theirs.id];
    expected.sort_by_key(|i| i.to_string());
    assert_eq!(both, expected);
    assert_eq!(
        ids(store
            .appointments_between(d.scope, None, window.0, ts("2026-12-31T00:00:00Z"))
            .await
            .unwrap())
        .len(),
        3
    );
    assert!(
        ids(store
            .appointments_between(d.scope, None, window.0, ts("2026-12-31T00:00:00Z"))
            .await
            .unwrap())
        .contains(&later.id)
    );
    // The erasure of a patient removes their appointments from every feed.
    store
        .erase_patient(d.scope, d.patients[0], Actor::Operator)
        .await
        .unwrap();
    assert!(
        store
            .appointments_between(d.scope, Some(d.practitioner), window.0, window.1)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn another_clinics_feeds_and_practitioners_are_not_found(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let b = seed(&*store, "clinic-b", "beta", "+64 21 555 0202").await;
    assert_err!(
        store
            .create_calendar_feed(a.scope, Some(b.practitioner), Actor::Operator)
            .await,
        StoreError::NotFound
    );
    let bs = store
        .create_calendar_feed(b.scope, Some(b.practitioner), Actor::Operator)
        .await
        .unwrap();
    assert!(store.calendar_feeds(a.scope).await.unwrap().is_empty());
    assert_err!(
        store
            .revoke_calendar_feed(a.scope, bs.info.id, Actor::Operator)
            .await,
        StoreError::NotFound
    );
    // B's token opens B's feed, never A's.
    assert_eq!(
        store.open_calendar_feed(&bs.token).await.unwrap().scope,
        b.scope
    );
    assert!(
        store
            .appointments_between(
                a.scope,
                Some(b.practitioner),
                ts("2026-01-01T00:00:00Z"),
                ts("2027-12-31T00:00:00Z")
            )
            .await
            .unwrap()
            .is_empty()
    );
}
