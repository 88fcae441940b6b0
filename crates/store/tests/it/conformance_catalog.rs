//! Conformance of the tenant directory and the clinic's catalogue (profile, practitioners,
//! services, hours, FAQ), plus `Health`, on both engines.

use crate::harness::*;
use frontdesk_domain::*;
use frontdesk_store::testing::{Engine, TestDb, test_keyring};
use frontdesk_store::*;

engine_tests!(
    created_tenants_are_listed_by_slug_and_their_clinic_reads_back,
    duplicate_slug_is_a_conflict_and_the_first_clinic_is_untouched,
    invalid_profile_is_rejected_and_no_tenant_is_created,
    operator_scope_of_unknown_slug_is_not_found,
    updated_profile_replaces_the_old_one_and_an_invalid_one_is_rejected,
    practitioners_are_listed_in_creation_order,
    services_take_the_clinic_currency_at_creation_and_need_a_name_and_duration,
    practitioner_hours_round_trip_and_setting_them_again_replaces_them,
    hours_of_unknown_practitioner_are_not_found,
    faqs_round_trip_in_creation_order_and_empty_text_is_invalid,
    ping_answers_and_engine_names_the_engine,
    a_catalogue_change_made_through_another_instance_is_read_by_the_next_turn,
);

async fn created_tenants_are_listed_by_slug_and_their_clinic_reads_back(db: &TestDb) {
    let (store, _clock) = store_with_clock(db).await;
    assert!(store.list_tenants().await.unwrap().is_empty());
    let beta = store
        .create_tenant(&slug("beta-clinic"), &profile("Beta"))
        .await
        .unwrap();
    let alpha = store
        .create_tenant(&slug("alpha-clinic"), &profile("Alpha"))
        .await
        .unwrap();
    assert_ne!(alpha, beta);

    let listed: Vec<_> = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.slug.as_str().to_owned(), t.id, t.status, t.created_at))
        .collect();
    assert_eq!(
        listed,
        [
            (
                "alpha-clinic".to_owned(),
                alpha.tenant_id(),
                "active".to_owned(),
                start()
            ),
            (
                "beta-clinic".to_owned(),
                beta.tenant_id(),
                "active".to_owned(),
                start()
            ),
        ]
    );

    let clinic = store.clinic(alpha).await.unwrap();
    assert_eq!(
        (clinic.id, clinic.slug.as_str()),
        (alpha.tenant_id(), "alpha-clinic")
    );
    assert_eq!(clinic.profile, profile("Alpha"));
    assert_eq!(
        store.operator_scope(&slug("alpha-clinic")).await.unwrap(),
        alpha
    );
    assert_eq!(
        store.operator_scope(&slug("beta-clinic")).await.unwrap(),
        beta
    );

    let first = &all_audit(&*store, alpha).await[0];
    assert_eq!(
        (first.action.as_str(), first.actor_kind.as_str()),
        ("tenant.created", "operator")
    );
    assert_eq!(
        first.target_id.as_deref(),
        Some(alpha.tenant_id().to_string().as_str())
    );
}

async fn duplicate_slug_is_a_conflict_and_the_first_clinic_is_untouched(db: &TestDb) {
    let store = store(db).await;
    let first = store
        .create_tenant(&slug("alpha-clinic"), &profile("Alpha"))
        .await
        .unwrap();
    assert_err!(
        store
            .create_tenant(&slug("alpha-clinic"), &profile("Impostor"))
            .await,
        StoreError::Conflict(_)
    );

    let tenants = store.list_tenants().await.unwrap();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].id, first.tenant_id());
    assert_eq!(store.clinic(first).await.unwrap().profile.name, "Alpha");
    assert_eq!(
        all_audit(&*store, first).await.len(),
        1,
        "no audit entry from the failed attempt"
    );
}

async fn invalid_profile_is_rejected_and_no_tenant_is_created(db: &TestDb) {
    let store = store(db).await;
    let mut bad = Vec::new();
    for change in [
        (|p: &mut ClinicProfile| p.name = "  ".into()) as fn(&mut ClinicProfile),
        |p| p.timezone = "Mars/Olympus_Mons".into(),
        |p| p.country = "NZL".into(),
        |p| p.currency = "nzd".into(),
        |p| p.emergency_numbers.clear(),
        |p| p.languages.clear(),
    ] {
        let mut p = profile("Alpha");
        change(&mut p);
        bad.push(p);
    }
    for (i, p) in bad.iter().enumerate() {
        match store.create_tenant(&slug("alpha-clinic"), p).await {
            Err(StoreError::Invalid(_)) => {}
            other => panic!(
                "bad profile #{i}: expected Invalid, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    assert!(store.list_tenants().await.unwrap().is_empty());
    assert_err!(
        store.operator_scope(&slug("alpha-clinic")).await,
        StoreError::NotFound
    );
    // The slug was not taken by any of the failed attempts.
    store
        .create_tenant(&slug("alpha-clinic"), &profile("Alpha"))
        .await
        .unwrap();
}

async fn operator_scope_of_unknown_slug_is_not_found(db: &TestDb) {
    let store = store(db).await;
    new_tenant(&*store, "alpha-clinic").await;
    assert_err!(
        store.operator_scope(&slug("no-such-clinic")).await,
        StoreError::NotFound
    );
    assert_err!(
        store.operator_scope(&slug("alpha-clinic-2")).await,
        StoreError::NotFound
    );
}

async fn updated_profile_replaces_the_old_one_and_an_invalid_one_is_rejected(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let mut updated = profile("Alpha Renamed");
    updated.currency = "AUD".into();
    updated.hours = weekdays(7 * 60, 19 * 60);
    updated.phone = None;
    store.update_profile(a, &updated).await.unwrap();
    let clinic = store.clinic(a).await.unwrap();
    assert_eq!(clinic.profile, updated);
    assert_eq!(clinic.slug.as_str(), "alpha-clinic");
    assert_eq!(
        all_audit(&*store, a).await.last().unwrap().action,
        "clinic.profile_updated"
    );

    let mut invalid = updated.clone();
    invalid.timezone = "Nowhere/Land".into();
    assert_err!(
        store.update_profile(a, &invalid).await,
        StoreError::Invalid(_)
    );
    assert_eq!(store.clinic(a).await.unwrap().profile, updated);
}

async fn practitioners_are_listed_in_creation_order(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    assert!(store.list_practitioners(a).await.unwrap().is_empty());
    let mut expected = Vec::new();
    for (name, title) in [
        ("Aroha Ngata", "GP"),
        ("Ben Li", "Practice nurse"),
        ("Chloé Dupont", "Physiotherapist"),
    ] {
        let id = store.add_practitioner(a, name, title).await.unwrap();
        expected.push(Practitioner {
            id,
            name: name.into(),
            title: title.into(),
            active: true,
        });
    }
    assert_eq!(store.list_practitioners(a).await.unwrap(), expected);
}

async fn services_take_the_clinic_currency_at_creation_and_need_a_name_and_duration(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let consult = NewService {
        name: "Standard consult".into(),
        duration_min: 15,
        buffer_min: 5,
        price_minor: Some(6500),
    };
    let s1 = store.add_service(a, &consult).await.unwrap();
    let mut aud = profile("Alpha");
    aud.currency = "AUD".into();
    store.update_profile(a, &aud).await.unwrap();
    let long = NewService {
        name: "Long consult".into(),
        duration_min: 30,
        buffer_min: 0,
        price_minor: None,
    };
    let s2 = store.add_service(a, &long).await.unwrap();

    let expected = vec![
        Service {
            id: s1,
            name: consult.name.clone(),
            duration_min: 15,
            buffer_min: 5,
            price_minor: Some(6500),
            currency: "NZD".into(),
            active: true,
            practitioners: vec![],
        },
        Service {
            id: s2,
            name: long.name.clone(),
            duration_min: 30,
            buffer_min: 0,
            price_minor: None,
            currency: "AUD".into(),
            active: true,
            practitioners: vec![],
        },
    ];
    assert_eq!(store.list_services(a).await.unwrap(), expected);

    let no_name = NewService {
        name: "   ".into(),
        ..consult.clone()
    };
    assert_err!(store.add_service(a, &no_name).await, StoreError::Invalid(_));
    let no_duration = NewService {
        duration_min: 0,
        ..consult
    };
    assert_err!(
        store.add_service(a, &no_duration).await,
        StoreError::Invalid(_)
    );
    assert_eq!(store.list_services(a).await.unwrap(), expected);
}

async fn practitioner_hours_round_trip_and_setting_them_again_replaces_them(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let p = store
        .add_practitioner(a, "Aroha Ngata", "GP")
        .await
        .unwrap();
    assert_eq!(
        store.practitioner_hours(a, p).await.unwrap(),
        WeeklyHours::default()
    );

    let h = |open, close| Some(DayHours::new(open, close).unwrap());
    // Monday and Sunday set: both ends of the weekday mapping; a whole day; a closed day.
    let first = WeeklyHours([
        h(480, 1020),
        h(0, 1440),
        None,
        h(540, 780),
        h(480, 720),
        None,
        h(600, 660),
    ]);
    store.set_practitioner_hours(a, p, &first).await.unwrap();
    assert_eq!(store.practitioner_hours(a, p).await.unwrap(), first);

    let second = WeeklyHours([None, None, h(600, 660), None, None, h(540, 600), None]);
    store.set_practitioner_hours(a, p, &second).await.unwrap();
    assert_eq!(
        store.practitioner_hours(a, p).await.unwrap(),
        second,
        "replaced, not merged"
    );

    let other = store
        .add_practitioner(a, "Ben Li", "Practice nurse")
        .await
        .unwrap();
    assert_eq!(
        store.practitioner_hours(a, other).await.unwrap(),
        WeeklyHours::default()
    );
    store
        .set_practitioner_hours(a, p, &WeeklyHours::default())
        .await
        .unwrap();
    assert_eq!(
        store.practitioner_hours(a, p).await.unwrap(),
        WeeklyHours::default()
    );
}

async fn hours_of_unknown_practitioner_are_not_found(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let unknown = PractitionerId::new();
    assert_err!(
        store.practitioner_hours(a, unknown).await,
        StoreError::NotFound
    );
    let audit_before = all_audit(&*store, a).await.len();
    assert_err!(
        store
            .set_practitioner_hours(a, unknown, &weekdays(480, 1020))
            .await,
        StoreError::NotFound
    );
    assert_eq!(all_audit(&*store, a).await.len(), audit_before);
    assert_err!(
        store.practitioner_hours(a, unknown).await,
        StoreError::NotFound
    );
}

async fn faqs_round_trip_in_creation_order_and_empty_text_is_invalid(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    assert!(store.list_faqs(a).await.unwrap().is_empty());
    let mut expected = Vec::new();
    for (q, ans) in [
        ("Where can I park?", "Behind the building."),
        ("Do you bulk bill?", "Yes, for children — always."),
    ] {
        let id = store.add_faq(a, q, ans).await.unwrap();
        expected.push(Faq {
            id,
            question: q.into(),
            answer: ans.into(),
        });
    }
    assert_eq!(store.list_faqs(a).await.unwrap(), expected);

    for (q, ans) in [
        ("", "An answer"),
        ("A question?", ""),
        ("  ", "An answer"),
        ("A question?", "\n\t "),
    ] {
        assert_err!(store.add_faq(a, q, ans).await, StoreError::Invalid(_));
    }
    assert_eq!(store.list_faqs(a).await.unwrap(), expected);
}

async fn ping_answers_and_engine_names_the_engine(db: &TestDb) {
    let store = store(db).await;
    store.ping().await.unwrap();
    let expected = match db.engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    assert_eq!(store.engine(), expected);
}

engine_tests!(the_catalog_is_read_whole_and_only_for_its_own_tenant);

async fn the_catalog_is_read_whole_and_only_for_its_own_tenant(db: &TestDb) {
    let store = crate::harness::store(db).await;
    let a = crate::harness::new_tenant(store.as_ref(), "catalog-a").await;
    let b = crate::harness::new_tenant(store.as_ref(), "catalog-b").await;
    store
        .add_practitioner(a, "Aroha Ngata", "Physiotherapist")
        .await
        .unwrap();
    let svc = NewService {
        name: "Sports massage".into(),
        duration_min: 60,
        buffer_min: 0,
        price_minor: Some(11000),
    };
    store.add_service(a, &svc).await.unwrap();
    store.add_faq(a, "Is there parking?", "Yes.").await.unwrap();
    store
        .add_red_flag_rule(a, &["wound is leaking".to_owned()], Urgency::Urgent, "en")
        .await
        .unwrap();
    let cat = store.clinic_catalog(a).await.unwrap();
    assert_eq!(cat.clinic.slug.as_str(), "catalog-a");
    assert_eq!(
        cat.practitioners,
        store.list_practitioners(a).await.unwrap()
    );
    assert_eq!(cat.services, store.list_services(a).await.unwrap());
    assert_eq!(cat.faqs, store.list_faqs(a).await.unwrap());
    assert_eq!(cat.red_flag_rules, store.red_flag_rules(a).await.unwrap());
    assert_eq!(
        (
            cat.practitioners.len(),
            cat.services.len(),
            cat.faqs.len(),
            cat.red_flag_rules.len()
        ),
        (1, 1, 1, 1)
    );
    let other = store.clinic_catalog(b).await.unwrap();
    assert_eq!(other.clinic.slug.as_str(), "catalog-b");
    assert!(
        other.practitioners.is_empty()
            && other.services.is_empty()
            && other.faqs.is_empty()
            && other.red_flag_rules.is_empty()
    );
}

engine_tests!(who_provides_a_service_is_kept_and_enforced_when_booking);

async fn who_provides_a_service_is_kept_and_enforced_when_booking(db: &TestDb) {
    let store = crate::harness::store(db).await;
    let a = crate::harness::new_tenant(store.as_ref(), "providers-a").await;
    let b = crate::harness::new_tenant(store.as_ref(), "providers-b").await;
    let physio = store
        .add_practitioner(a, "Aroha Ngata", "Physiotherapist")
        .await
        .unwrap();
    let masseur = store
        .add_practitioner(a, "Mei Chen", "Massage therapist")
        .await
        .unwrap();
    let theirs = store
        .add_practitioner(b, "Someone Else", "GP")
        .await
        .unwrap();
    for p in [physio, masseur] {
        store
            .set_practitioner_hours(a, p, &weekdays(0, 24 * 60))
            .await
            .unwrap();
    }
    let svc = NewService {
        name: "Sports massage".into(),
        duration_min: 60,
        buffer_min: 0,
        price_minor: None,
    };
    let massage = store.add_service(a, &svc).await.unwrap();
    store
        .set_service_practitioners(a, massage, &[masseur])
        .await
        .unwrap();
    assert_eq!(
        store.list_services(a).await.unwrap()[0].practitioners,
        vec![masseur]
    );
    // Another clinic's practitioner or service: NotFound, and nothing changes.
    assert!(matches!(
        store.set_service_practitioners(a, massage, &[theirs]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.set_service_practitioners(b, massage, &[theirs]).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.list_services(a).await.unwrap()[0].practitioners,
        vec![masseur]
    );
    // Only a provider gets slots.
    let tomorrow = jiff::Zoned::now().date().tomorrow().unwrap();
    let search = |practitioner| SlotSearch {
        practitioner,
        service: massage,
        from: tomorrow,
        to: tomorrow,
        min_notice: jiff::SignedDuration::ZERO,
        day_start: None,
        day_end: None,
        limit: 5,
    };
    assert!(
        !store
            .free_slots(a, &search(masseur))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.free_slots(a, &search(physio)).await,
        Err(StoreError::NotFound)
    ));
    // Emptying the list lets anyone provide it again.
    store
        .set_service_practitioners(a, massage, &[])
        .await
        .unwrap();
    assert!(
        !store
            .free_slots(a, &search(physio))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Every store keeps the catalogues it read (checked against the clinic's version stamp): a
/// change made through another instance, by any write path, must still be seen by the very
/// next read, with no waiting for a copy to expire.
async fn a_catalogue_change_made_through_another_instance_is_read_by_the_next_turn(db: &TestDb) {
    let clock = std::sync::Arc::new(ManualClock::new(start()));
    let keyring = test_keyring();
    let here = db.open(keyring.clone(), clock.clone()).await.unwrap();
    let there = db.open(keyring, clock).await.unwrap();
    let scope = new_tenant(&*here, "cached-clinic").await;
    let first = here.clinic_catalog(scope).await.unwrap();
    assert!(first.faqs.is_empty() && first.red_flag_rules.is_empty() && !first.sends_codes);
    // Unchanged: the same catalogue again (from the copy).
    assert_eq!(
        here.clinic_catalog(scope).await.unwrap().clinic.profile,
        first.clinic.profile
    );

    there
        .add_red_flag_rule(
            scope,
            &["lips turning blue".to_owned()],
            Urgency::Emergency,
            "en",
        )
        .await
        .unwrap();
    let c = here.clinic_catalog(scope).await.unwrap();
    assert_eq!(
        c.red_flag_rules.len(),
        1,
        "a new red-flag rule applies at once"
    );
    assert_eq!(c.red_flag_rules[0].phrases, ["lips turning blue"]);

    there
        .add_faq(scope, "Do you have parking?", "Yes, behind the clinic.")
        .await
        .unwrap();
    assert_eq!(here.clinic_catalog(scope).await.unwrap().faqs.len(), 1);

    let mei = there
        .add_practitioner(scope, "Mei Tanaka", "Physiotherapist")
        .await
        .unwrap();
    let service = there
        .add_service(
            scope,
            &NewService {
                name: "Sports massage".into(),
                duration_min: 30,
                buffer_min: 0,
                price_minor: None,
            },
        )
        .await
        .unwrap();
    let c = here.clinic_catalog(scope).await.unwrap();
    assert_eq!(c.practitioners.len(), 1);
    assert_eq!(c.services.len(), 1);
    assert!(c.services[0].practitioners.is_empty());
    there
        .set_service_practitioners(scope, service, &[mei])
        .await
        .unwrap();
    assert_eq!(
        here.clinic_catalog(scope).await.unwrap().services[0].practitioners,
        [mei],
        "who gives a service is part of the catalogue"
    );

    let renamed = profile("Renamed");
    there.update_profile(scope, &renamed).await.unwrap();
    assert_eq!(
        here.clinic_catalog(scope)
            .await
            .unwrap()
            .clinic
            .profile
            .name,
        "Renamed"
    );
    there
        .set_ai_paused(scope, true, Actor::Operator)
        .await
        .unwrap();
    assert!(
        here.clinic_catalog(scope)
            .await
            .unwrap()
            .clinic
            .profile
            .ai_paused
    );

    there
        .set_channel_account(
            scope,
            Provider::Twilio,
            "+15550001111",
            &serde_json::json!({}),
            &ChannelSecrets::new().with("auth_token", "twilio-token"),
        )
        .await
        .unwrap();
    assert!(
        here.clinic_catalog(scope).await.unwrap().sends_codes,
        "a new SMS account lets web chat send codes at once"
    );
}
