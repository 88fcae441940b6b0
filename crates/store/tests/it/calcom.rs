//! Cal.com as a clinic's calendar on both engines: settings with write-only sealed secrets,
//! event type maps kept to their clinic, bookings mirrored once (by request key or uid,
//! without the built-in opening-hours checks), and webhook events reflected idempotently,
//! an outside booking kept as a busy time without inventing a patient.

use crate::appointments::{WED_10, diary, search, ts};
use crate::harness::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    settings_keep_their_secrets_sealed_write_only_and_audited_without_them,
    event_types_map_only_this_clinics_practitioners_and_services,
    a_mirrored_booking_is_made_once_and_moves_and_cancels_by_its_uid,
    an_outside_calcom_booking_is_a_busy_time_without_a_patient,
);

/// Maps (or unmaps) the diary's practitioner and service.
async fn map(d: &crate::appointments::Diary, event_type: Option<i64>) -> Result<()> {
    d.store
        .map_calcom_event_type(
            d.scope,
            d.practitioner,
            d.service,
            event_type,
            Actor::Operator,
        )
        .await
}

/// How many audit entries of the diary's clinic have each action.
async fn audited<const N: usize>(d: &crate::appointments::Diary, actions: [&str; N]) -> [usize; N] {
    let audit = d.store.audit_entries(d.scope, 0, 1000).await.unwrap();
    actions.map(|a| audit.iter().filter(|e| e.action == a).count())
}

fn secret(s: &str) -> CalcomSecretChange {
    CalcomSecretChange::Set(s.to_owned().into())
}

async fn settings_keep_their_secrets_sealed_write_only_and_audited_without_them(db: &TestDb) {
    let d = diary(db, 0).await;
    let store = &*d.store;
    assert!(store.calcom_settings(d.scope).await.unwrap().is_none());
    assert!(store.calcom_runtime(d.scope).await.unwrap().is_none());
    let saved = store
        .set_calcom_settings(
            d.scope,
            " https://cal.example/ ",
            true,
            secret("cal_live_k1"),
            secret("whsec_1"),
            Actor::Operator,
        )
        .await
        .unwrap();
    assert!(saved.enabled);
    assert_eq!(saved.base_url, "https://cal.example");
    assert!(saved.api_key_set_at.is_some() && saved.webhook_secret_set_at.is_some());
    let rt = store.calcom_runtime(d.scope).await.unwrap().unwrap();
    assert_eq!(
        rt.api_key.as_deref().map(String::as_str),
        Some("cal_live_k1")
    );
    assert_eq!(
        rt.webhook_secret.as_deref().map(String::as_str),
        Some("whsec_1")
    );
    assert!(!format!("{rt:?}").contains("cal_live_k1"));
    // Keep keeps, Clear clears; a bad secret or URL changes nothing.
    let kept = store
        .set_calcom_settings(
            d.scope,
            "https://cal.example",
            true,
            CalcomSecretChange::Keep,
            CalcomSecretChange::Clear,
            Actor::Operator,
        )
        .await
        .unwrap();
    assert!(kept.api_key_set_at.is_some() && kept.webhook_secret_set_at.is_none());
    for (url, key) in [
        ("", secret("k")),
        ("https://x", secret(" ")),
        ("https://x", secret("a\nb")),
    ] {
        let e = store
            .set_calcom_settings(
                d.scope,
                url,
                true,
                key,
                CalcomSecretChange::Keep,
                Actor::Operator,
            )
            .await;
        assert!(matches!(e, Err(StoreError::Invalid(_))), "{url}");
    }
    assert!(
        store
            .disable_calcom(d.scope, Actor::Operator)
            .await
            .unwrap()
    );
    assert!(
        !store
            .disable_calcom(d.scope, Actor::Operator)
            .await
            .unwrap()
    );
    assert!(
        !store
            .calcom_runtime(d.scope)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    let audit = store.audit_entries(d.scope, 0, 100).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("calcom."))
        .collect();
    assert_eq!(
        actions,
        [
            "calcom.settings_changed",
            "calcom.credentials_set",
            "calcom.credentials_set",
            "calcom.settings_changed",
            "calcom.credentials_set",
            "calcom.settings_changed",
        ]
    );
    assert!(
        !audit
            .iter()
            .any(|e| e.details.contains("cal_live_k1") || e.details.contains("whsec_1"))
    );
    // The webhook key is found by slug only while Cal.com is on with a secret.
    let slug = frontdesk_domain::TenantSlug::parse("diary-clinic").unwrap();
    assert!(matches!(
        store.calcom_webhook_key(&slug).await,
        Err(StoreError::NotFound)
    ));
    store
        .set_calcom_settings(
            d.scope,
            "https://cal.example",
            true,
            CalcomSecretChange::Keep,
            secret("whsec_2"),
            Actor::Operator,
        )
        .await
        .unwrap();
    let key = store.calcom_webhook_key(&slug).await.unwrap();
    assert_eq!(key.secret.as_str(), "whsec_2");
    assert_eq!(key.verified_scope(), d.scope);
    // Sealed with the clinic's data key: re-sealed by a rotation, opened once the old
    // version is destroyed.
    store
        .rotate_tenant_key(d.scope, Actor::Operator)
        .await
        .unwrap();
    d.clock
        .advance(SEAL_WITH_NEW_AFTER + REENCRYPT_AFTER + SignedDuration::from_secs(1));
    let mut destroyed = false;
    for _ in 0..10 {
        let batch = store.reencrypt_tenant_batch(d.scope, 10).await.unwrap();
        if !batch.destroyed.is_empty() {
            destroyed = true;
            break;
        }
    }
    assert!(destroyed);
    let rt = store.calcom_runtime(d.scope).await.unwrap().unwrap();
    assert_eq!(
        rt.api_key.as_deref().map(String::as_str),
        Some("cal_live_k1")
    );
    assert_eq!(
        rt.webhook_secret.as_deref().map(String::as_str),
        Some("whsec_2")
    );
}

async fn event_types_map_only_this_clinics_practitioners_and_services(db: &TestDb) {
    let d = diary(db, 0).await;
    let store = &*d.store;
    map(&d, Some(42)).await.unwrap();
    map(&d, Some(43)).await.unwrap();
    assert!(matches!(
        map(&d, Some(0)).await,
        Err(StoreError::Invalid(_))
    ));
    store
        .set_calcom_settings(
            d.scope,
            "https://api.cal.com",
            true,
            secret("k"),
            CalcomSecretChange::Keep,
            Actor::Operator,
        )
        .await
        .unwrap();
    let rt = store.calcom_runtime(d.scope).await.unwrap().unwrap();
    assert_eq!(rt.event_type(d.practitioner, d.service), Some(43));
    // Another clinic: its ids are not found here, and it sees none of ours.
    let other = new_tenant(store, "other-clinic").await;
    assert!(matches!(
        store
            .map_calcom_event_type(other, d.practitioner, d.service, Some(42), Actor::Operator)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(store.calcom_settings(other).await.unwrap().is_none());
    map(&d, None).await.unwrap();
    let s = store.calcom_settings(d.scope).await.unwrap().unwrap();
    assert!(s.event_types.is_empty());
}

async fn a_mirrored_booking_is_made_once_and_moves_and_cancels_by_its_uid(db: &TestDb) {
    let d = diary(db, 1).await;
    let store = &*d.store;
    let req = CalcomRequest {
        key: "conv:1".into(),
        patient: d.patients[0],
        practitioner: d.practitioner,
        service: d.service,
    };
    // 07:00 local: outside the built-in hours, but Cal.com decided.
    let early = ts("2026-11-24T18:00:00Z");
    let b = CalcomBooking {
        uid: "bk_1".into(),
        start: early,
        end: early + SignedDuration::from_mins(45),
    };
    let a = store
        .mirror_calcom_booking(d.scope, &req, &b, Actor::Agent)
        .await
        .unwrap();
    assert_eq!(
        (a.starts_at, a.ends_at, a.status),
        (b.start, b.end, AppointmentStatus::Booked)
    );
    let again = store
        .mirror_calcom_booking(d.scope, &req, &b, Actor::Agent)
        .await
        .unwrap();
    assert_eq!(again.id, a.id);
    let by_key = store
        .appointment_by_request_key(d.scope, "conv:1")
        .await
        .unwrap();
    assert_eq!(by_key.map(|x| x.id), Some(a.id));
    assert!(
        store
            .appointment_by_request_key(d.scope, "conv:2")
            .await
            .unwrap()
            .is_none()
    );
    // The webhook of the same booking changes nothing.
    let created = CalcomEvent {
        change: CalcomChange::Created,
        uid: "bk_1".into(),
        event_type_id: Some(42),
        start: b.start,
        end: b.end,
        request: Some(req.clone()),
    };
    assert_eq!(
        store.reflect_calcom_event(d.scope, &created).await.unwrap(),
        CalcomReflected::Unchanged
    );
    // Another clinic's patient (or ids) in a request: not found, nothing stored.
    let other = new_tenant(store, "other-clinic").await;
    assert!(matches!(
        store
            .mirror_calcom_booking(
                other,
                &req,
                &CalcomBooking {
                    uid: "bk_x".into(),
                    ..b.clone()
                },
                Actor::Agent
            )
            .await,
        Err(StoreError::NotFound)
    ));
    // Moved: the old one cancelled, the new one mirrored with the new uid, once.
    let later = ts(WED_10);
    let nb = CalcomBooking {
        uid: "bk_2".into(),
        start: later,
        end: later + SignedDuration::from_mins(45),
    };
    let req2 = CalcomRequest {
        key: "conv:move:1".into(),
        ..req.clone()
    };
    let moved = store
        .mirror_calcom_move(d.scope, a.id, &req2, &nb, Actor::Agent)
        .await
        .unwrap();
    assert_eq!(
        store
            .mirror_calcom_move(d.scope, a.id, &req2, &nb, Actor::Agent)
            .await
            .unwrap()
            .id,
        moved.id
    );
    assert_eq!(
        store.appointment(d.scope, a.id).await.unwrap().status,
        AppointmentStatus::Cancelled
    );
    assert_eq!(
        store
            .appointment_calcom_uid(d.scope, moved.id)
            .await
            .unwrap()
            .as_deref(),
        Some("bk_2")
    );
    // Cancelled on Cal.com: reflected once.
    let cancelled = CalcomEvent {
        change: CalcomChange::Cancelled,
        uid: "bk_2".into(),
        event_type_id: None,
        start: nb.start,
        end: nb.end,
        request: None,
    };
    assert_eq!(
        store
            .reflect_calcom_event(d.scope, &cancelled)
            .await
            .unwrap(),
        CalcomReflected::Appointment(moved.id)
    );
    assert_eq!(
        store
            .reflect_calcom_event(d.scope, &cancelled)
            .await
            .unwrap(),
        CalcomReflected::Unchanged
    );
    assert_eq!(
        store.appointment(d.scope, moved.id).await.unwrap().status,
        AppointmentStatus::Cancelled
    );
    // The same uid in another clinic is another booking: nothing of ours is touched.
    assert_eq!(
        store.reflect_calcom_event(other, &cancelled).await.unwrap(),
        CalcomReflected::Unchanged
    );
    assert_eq!(
        audited(
            &d,
            [
                "appointment.booked",
                "appointment.rescheduled",
                "appointment.cancelled"
            ]
        )
        .await,
        [1, 1, 1]
    );
}

async fn an_outside_calcom_booking_is_a_busy_time_without_a_patient(db: &TestDb) {
    let d = diary(db, 0).await;
    let store = &*d.store;
    map(&d, Some(42)).await.unwrap();
    let day = ts(WED_10)
        .to_zoned(jiff::tz::TimeZone::get("Pacific/Auckland").unwrap())
        .date();
    let free_before = store
        .free_slots(d.scope, &search(&d, day, day))
        .await
        .unwrap();
    assert!(free_before.iter().any(|s| s.start == ts(WED_10)));
    let start = ts(WED_10);
    let ev = CalcomEvent {
        change: CalcomChange::Created,
        uid: "bk_walkin".into(),
        event_type_id: Some(42),
        start,
        end: start + SignedDuration::from_hours(1),
        request: None,
    };
    assert_eq!(
        store.reflect_calcom_event(d.scope, &ev).await.unwrap(),
        CalcomReflected::Busy
    );
    assert_eq!(
        store.reflect_calcom_event(d.scope, &ev).await.unwrap(),
        CalcomReflected::Unchanged
    );
    let free = store
        .free_slots(d.scope, &search(&d, day, day))
        .await
        .unwrap();
    assert!(
        !free.iter().any(|s| s.start == start),
        "the time shows as taken"
    );
    assert!(
        store
            .diary(
                d.scope,
                start - SignedDuration::from_hours(1),
                start + SignedDuration::from_hours(2)
            )
            .await
            .unwrap()
            .is_empty()
    );
    // Moved on Cal.com, then cancelled: the busy time follows, then goes.
    let later = start + SignedDuration::from_hours(2);
    let moved = CalcomEvent {
        change: CalcomChange::Rescheduled {
            from_uid: "bk_walkin".into(),
        },
        uid: "bk_walkin2".into(),
        start: later,
        end: later + SignedDuration::from_hours(1),
        ..ev.clone()
    };
    assert_eq!(
        store.reflect_calcom_event(d.scope, &moved).await.unwrap(),
        CalcomReflected::Busy
    );
    let free = store
        .free_slots(d.scope, &search(&d, day, day))
        .await
        .unwrap();
    assert!(free.iter().any(|s| s.start == start) && !free.iter().any(|s| s.start == later));
    let gone = CalcomEvent {
        change: CalcomChange::Cancelled,
        uid: "bk_walkin2".into(),
        ..ev.clone()
    };
    assert_eq!(
        store.reflect_calcom_event(d.scope, &gone).await.unwrap(),
        CalcomReflected::Busy
    );
    assert_eq!(
        store
            .free_slots(d.scope, &search(&d, day, day))
            .await
            .unwrap(),
        free_before
    );
    // An event type this clinic never mapped: ignored.
    let unknown = CalcomEvent {
        uid: "bk_else".into(),
        event_type_id: Some(999),
        ..ev
    };
    assert_eq!(
        store.reflect_calcom_event(d.scope, &unknown).await.unwrap(),
        CalcomReflected::Ignored
    );
    assert_eq!(
        audited(
            &d,
            [
                "calcom.busy_added",
                "calcom.busy_moved",
                "calcom.busy_removed"
            ]
        )
        .await,
        [1, 1, 1]
    );
}
