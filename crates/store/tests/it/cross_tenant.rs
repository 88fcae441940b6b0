//! Cross-tenant isolation through the store API, on both engines: every scoped operation
//! asked with tenant B's scope and tenant A's ids answers exactly as for an id that does not
//! exist (`NotFound`, `None` or an empty list) and never returns or changes A's data.
//! PostgreSQL runs these twice: as the app role (both walls) and as the owner (the
//! application's filters alone, since RLS does not apply to a superuser).

use crate::harness::*;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;

engine_tests!(
    patient_of_another_tenant_is_not_found,
    practitioner_of_another_tenant_has_no_hours_to_read_or_replace,
    conversation_of_another_tenant_is_not_found_and_cannot_be_written,
    conversation_cannot_be_started_for_a_patient_of_another_tenant,
    phone_and_email_lookups_never_find_another_tenants_people,
    listings_and_audit_show_only_the_tenants_own_rows,
    writes_in_one_tenant_leave_the_other_tenant_unchanged,
);

// The same again on PostgreSQL with row-level security out of the way (see the macro).
postgres_as_owner_tests!(
    patient_of_another_tenant_is_not_found,
    practitioner_of_another_tenant_has_no_hours_to_read_or_replace,
    conversation_of_another_tenant_is_not_found_and_cannot_be_written,
    conversation_cannot_be_started_for_a_patient_of_another_tenant,
    phone_and_email_lookups_never_find_another_tenants_people,
    listings_and_audit_show_only_the_tenants_own_rows,
    writes_in_one_tenant_leave_the_other_tenant_unchanged,
);

async fn patient_of_another_tenant_is_not_found(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    store.patient(a.scope, a.patient).await.unwrap();
    assert_err!(
        store.patient(b.scope, a.patient).await,
        StoreError::NotFound
    );
    let web_a = store
        .authenticate_webchat(&a.slug, &a.webchat_token)
        .await
        .unwrap();
    assert_err!(
        store.patient(b.scope, web_a.patient_id).await,
        StoreError::NotFound
    );
}

async fn practitioner_of_another_tenant_has_no_hours_to_read_or_replace(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    assert_err!(
        store.practitioner_hours(b.scope, a.practitioner).await,
        StoreError::NotFound
    );
    let audit_b = all_audit(&*store, b.scope).await.len();
    assert_err!(
        store
            .set_practitioner_hours(b.scope, a.practitioner, &WeeklyHours::default())
            .await,
        StoreError::NotFound
    );
    assert_eq!(
        store
            .practitioner_hours(a.scope, a.practitioner)
            .await
            .unwrap(),
        a.hours,
        "A's hours unchanged"
    );
    assert_eq!(all_audit(&*store, b.scope).await.len(), audit_b);
}

async fn conversation_of_another_tenant_is_not_found_and_cannot_be_written(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let messages_a = store.messages(a.scope, a.conversation).await.unwrap();
    assert_eq!(messages_a.len(), a.messages.len());
    let audit_a = all_audit(&*store, a.scope).await;
    let audit_b = all_audit(&*store, b.scope).await;

    for conv in [a.conversation, a.webchat_conversation] {
        assert_err!(
            store.conversation(b.scope, conv).await,
            StoreError::NotFound
        );
        assert_err!(store.messages(b.scope, conv).await, StoreError::NotFound);
        let intrusion = turn(
            NewMessage::inbound("written from the other clinic"),
            &["reply"],
        );
        assert_err!(
            store.record_turn(b.scope, conv, &intrusion).await,
            StoreError::NotFound
        );
    }

    assert_eq!(
        store.messages(a.scope, a.conversation).await.unwrap(),
        messages_a
    );
    assert!(
        store
            .messages(a.scope, a.webchat_conversation)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(all_audit(&*store, a.scope).await, audit_a);
    assert_eq!(all_audit(&*store, b.scope).await, audit_b);
}

async fn conversation_cannot_be_started_for_a_patient_of_another_tenant(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let mut raw = crate::raw::Raw::open(db).await;
    let rows_before = raw.row_counts().await;
    for channel in [Channel::Whatsapp, Channel::Webchat] {
        assert_err!(
            store.start_conversation(b.scope, a.patient, channel).await,
            StoreError::NotFound
        );
    }
    assert_eq!(
        raw.row_counts().await,
        rows_before,
        "nothing written in either tenant"
    );
}

async fn phone_and_email_lookups_never_find_another_tenants_people(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    assert_eq!(
        store
            .find_patient_by_phone(a.scope, &a.phone)
            .await
            .unwrap()
            .map(|p| p.id),
        Some(a.patient)
    );
    assert!(
        store
            .find_patient_by_phone(b.scope, &a.phone)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .find_user_by_email(a.scope, &a.user_email)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(a.user)
    );
    assert!(
        store
            .find_user_by_email(b.scope, &a.user_email)
            .await
            .unwrap()
            .is_none()
    );
}

async fn listings_and_audit_show_only_the_tenants_own_rows(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;

    let clinic_b = store.clinic(b.scope).await.unwrap();
    assert_eq!(
        (
            clinic_b.id,
            clinic_b.slug.as_str(),
            clinic_b.profile.name.as_str()
        ),
        (b.scope.tenant_id(), "clinic-b", "Clinic beta")
    );

    let practitioners: Vec<_> = store
        .list_practitioners(b.scope)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(practitioners, [b.practitioner]);
    let services: Vec<_> = store
        .list_services(b.scope)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(services, [b.service]);
    let faqs: Vec<_> = store
        .list_faqs(b.scope)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(faqs, [b.faq]);
    let patients = store.patient_ids(b.scope).await.unwrap();
    assert!(
        patients.contains(&b.patient) && !patients.contains(&a.patient),
        "{patients:?}"
    );

    // A's ids appear in A's audit log and never in B's.
    let a_ids = [
        a.scope.tenant_id().to_string(),
        a.patient.to_string(),
        a.user.to_string(),
        a.conversation.to_string(),
    ];
    let mentions = |entries: &[AuditEntry], id: &str| {
        entries.iter().any(|e| {
            e.target_id.as_deref() == Some(id)
                || e.actor_id.as_deref() == Some(id)
                || e.details.contains(id)
        })
    };
    let audit_a = all_audit(&*store, a.scope).await;
    let audit_b = all_audit(&*store, b.scope).await;
    for id in &a_ids {
        assert!(mentions(&audit_a, id), "A's audit mentions {id}");
        assert!(!mentions(&audit_b, id), "B's audit mentions A's {id}");
    }
    assert_eq!(audit_b[0].seq, 1);
    assert_eq!(audit_b[0].target_id, Some(b.scope.tenant_id().to_string()));
}

async fn writes_in_one_tenant_leave_the_other_tenant_unchanged(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let clinic_a = store.clinic(a.scope).await.unwrap();
    let audit_a = all_audit(&*store, a.scope).await;

    let mut renamed = profile("Beta renamed");
    renamed.currency = "AUD".into();
    store.update_profile(b.scope, &renamed).await.unwrap();
    store
        .add_practitioner(b.scope, "Dr Beta Two", "GP")
        .await
        .unwrap();
    let svc = NewService {
        name: "Beta only".into(),
        duration_min: 10,
        buffer_min: 0,
        price_minor: None,
    };
    store.add_service(b.scope, &svc).await.unwrap();
    store.add_faq(b.scope, "Beta?", "Beta.").await.unwrap();
    store
        .append_audit(b.scope, &AuditEvent::new(Actor::System, "beta.only"))
        .await
        .unwrap();
    // A's phone and email are free in B (blind indexes are per tenant).
    let same_phone = NewPatient {
        phone: Some(a.phone.clone()),
        ..NewPatient::default()
    };
    let pb = store.create_patient(b.scope, &same_phone).await.unwrap();
    let same_email = NewUser {
        email: a.user_email.clone(),
        name: "Beta staff".into(),
        role: Role::Owner,
    };
    store.create_user(b.scope, &same_email).await.unwrap();

    assert_eq!(
        store.clinic(a.scope).await.unwrap().profile,
        clinic_a.profile
    );
    assert_eq!(store.list_practitioners(a.scope).await.unwrap().len(), 1);
    assert_eq!(store.list_services(a.scope).await.unwrap().len(), 1);
    assert_eq!(store.list_faqs(a.scope).await.unwrap().len(), 1);
    assert_eq!(all_audit(&*store, a.scope).await, audit_a);
    assert_eq!(
        store
            .find_patient_by_phone(a.scope, &a.phone)
            .await
            .unwrap()
            .map(|p| p.id),
        Some(a.patient)
    );
    assert_eq!(
        store
            .find_patient_by_phone(b.scope, &a.phone)
            .await
            .unwrap()
            .map(|p| p.id),
        Some(pb)
    );
    let user_a = store
        .find_user_by_email(a.scope, &a.user_email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((user_a.id, user_a.role), (a.user, Role::Reception));
}
