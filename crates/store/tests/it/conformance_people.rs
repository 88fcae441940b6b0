//! Conformance of patients and staff users on both engines: round trips through encryption,
//! lookups through the blind indexes, and uniqueness within (never across) a tenant.

use crate::harness::*;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;

engine_tests!(
    patient_round_trips_every_field_and_is_found_by_a_differently_written_phone,
    anonymous_patient_round_trips_with_no_personal_data,
    unknown_patient_is_not_found_and_unknown_phone_finds_nobody,
    duplicate_phone_in_the_same_tenant_is_a_conflict_and_nothing_is_written,
    same_phone_in_another_tenant_is_a_separate_patient,
    user_round_trips_and_is_found_by_email_in_any_case,
    duplicate_user_email_in_the_same_tenant_is_a_conflict_but_not_across_tenants,
    user_without_a_name_is_invalid,
);

fn new_patient(name: &str, phone_str: &str, email_str: &str) -> NewPatient {
    NewPatient {
        name: Some(name.into()),
        phone: Some(phone(phone_str)),
        email: Some(email(email_str)),
        language: Some("mi".into()),
    }
}

async fn patient_round_trips_every_field_and_is_found_by_a_differently_written_phone(db: &TestDb) {
    let (store, _clock) = store_with_clock(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let id = store
        .create_patient(
            a,
            &new_patient("Mere Tūhoe-O'Brien", "+64 21 555-0101", "Mere@Example.org"),
        )
        .await
        .unwrap();

    let p = store.patient(a, id).await.unwrap();
    assert_eq!(p.id, id);
    assert_eq!(p.name.as_deref(), Some("Mere Tūhoe-O'Brien"));
    assert_eq!(
        p.phone.as_ref().map(E164Phone::as_str),
        Some("+64215550101")
    );
    assert_eq!(
        p.email.as_ref().map(Email::as_str),
        Some("mere@example.org")
    );
    assert_eq!(p.language.as_deref(), Some("mi"));
    assert_eq!(p.created_at, start());

    for written in ["+64215550101", "+64 (21) 555 0101", " +64.21.555.0101 "] {
        let found = store
            .find_patient_by_phone(a, &phone(written))
            .await
            .unwrap();
        assert_eq!(found.as_ref(), Some(&p), "looked up as {written:?}");
    }
    let last = all_audit(&*store, a).await.pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.target_id),
        ("patient.created", Some(id.to_string()))
    );
}

async fn anonymous_patient_round_trips_with_no_personal_data(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let first = store
        .create_patient(a, &NewPatient::default())
        .await
        .unwrap();
    // No phone means no blind index: several anonymous patients do not collide.
    let second = store
        .create_patient(a, &NewPatient::default())
        .await
        .unwrap();
    assert_ne!(first, second);
    let p = store.patient(a, first).await.unwrap();
    assert_eq!(
        (p.id, p.name, p.phone, p.email, p.language),
        (first, None, None, None, None)
    );
}

async fn unknown_patient_is_not_found_and_unknown_phone_finds_nobody(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    store
        .create_patient(
            a,
            &new_patient("Known", "+64215550101", "known@example.org"),
        )
        .await
        .unwrap();
    assert_err!(
        store.patient(a, PatientId::new()).await,
        StoreError::NotFound
    );
    assert!(
        store
            .find_patient_by_phone(a, &phone("+64215550102"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn duplicate_phone_in_the_same_tenant_is_a_conflict_and_nothing_is_written(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let first = store
        .create_patient(
            a,
            &new_patient("First", "+64215550101", "first@example.org"),
        )
        .await
        .unwrap();
    let audit_before = all_audit(&*store, a).await.len();
    let mut raw = crate::raw::Raw::open(db).await;
    let rows_before = raw.row_counts().await;

    let again = new_patient("Second", "+64 21 555 0101", "second@example.org");
    assert_err!(
        store.create_patient(a, &again).await,
        StoreError::Conflict(_)
    );

    assert_eq!(
        raw.row_counts().await,
        rows_before,
        "no row written by the failed create"
    );
    assert_eq!(all_audit(&*store, a).await.len(), audit_before);
    let found = store
        .find_patient_by_phone(a, &phone("+64215550101"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.name.as_deref()), (first, Some("First")));
}

async fn same_phone_in_another_tenant_is_a_separate_patient(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let b = new_tenant(&*store, "beta-clinic").await;
    let c = new_tenant(&*store, "gamma-clinic").await;
    let in_a = store
        .create_patient(
            a,
            &new_patient("In Alpha", "+64215550101", "same@example.org"),
        )
        .await
        .unwrap();
    let in_b = store
        .create_patient(
            b,
            &new_patient("In Beta", "+64215550101", "same@example.org"),
        )
        .await
        .unwrap();
    assert_ne!(in_a, in_b);

    let shared = phone("+64215550101");
    let from_a = store
        .find_patient_by_phone(a, &shared)
        .await
        .unwrap()
        .unwrap();
    let from_b = store
        .find_patient_by_phone(b, &shared)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (from_a.id, from_a.name.as_deref()),
        (in_a, Some("In Alpha"))
    );
    assert_eq!((from_b.id, from_b.name.as_deref()), (in_b, Some("In Beta")));
    assert!(
        store
            .find_patient_by_phone(c, &shared)
            .await
            .unwrap()
            .is_none(),
        "a third clinic finds nobody"
    );
}

async fn user_round_trips_and_is_found_by_email_in_any_case(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let mut ids = Vec::new();
    for (addr, name, role) in [
        ("Owner@Clinic.example", "Olivia Owner", Role::Owner),
        (
            "reception@clinic.example",
            "Rangi Reception",
            Role::Reception,
        ),
        (
            "ro.doctor@clinic.example",
            "Dr Read Only",
            Role::ReadOnlyDoctor,
        ),
    ] {
        let id = store
            .create_user(
                a,
                &NewUser {
                    email: email(addr),
                    name: name.into(),
                    role,
                },
            )
            .await
            .unwrap();
        ids.push(id);
        let last = all_audit(&*store, a).await.pop().unwrap();
        assert_eq!(
            (last.action.as_str(), last.target_id),
            ("user.created", Some(id.to_string()))
        );
    }

    let owner = store
        .find_user_by_email(a, &email("OWNER@clinic.EXAMPLE"))
        .await
        .unwrap()
        .unwrap();
    let expected = User {
        id: ids[0],
        email: email("owner@clinic.example"),
        name: "Olivia Owner".into(),
        role: Role::Owner,
        active: true,
    };
    assert_eq!(owner, expected);
    let ro = store
        .find_user_by_email(a, &email("ro.doctor@clinic.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ro.id, ro.role, ro.name.as_str()),
        (ids[2], Role::ReadOnlyDoctor, "Dr Read Only")
    );
    assert!(
        store
            .find_user_by_email(a, &email("nobody@clinic.example"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn duplicate_user_email_in_the_same_tenant_is_a_conflict_but_not_across_tenants(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let b = new_tenant(&*store, "beta-clinic").await;
    let user = |name: &str, addr: &str| NewUser {
        email: email(addr),
        name: name.into(),
        role: Role::Doctor,
    };
    let first = store
        .create_user(a, &user("First", "doc@clinic.example"))
        .await
        .unwrap();
    let audit_before = all_audit(&*store, a).await.len();
    assert_err!(
        store
            .create_user(a, &user("Second", "DOC@clinic.example"))
            .await,
        StoreError::Conflict(_)
    );
    assert_eq!(all_audit(&*store, a).await.len(), audit_before);
    let found = store
        .find_user_by_email(a, &email("doc@clinic.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.name.as_str()), (first, "First"));

    let in_b = store
        .create_user(b, &user("Other clinic", "doc@clinic.example"))
        .await
        .unwrap();
    let found_b = store
        .find_user_by_email(b, &email("doc@clinic.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found_b.id, found_b.name.as_str()), (in_b, "Other clinic"));
}

async fn user_without_a_name_is_invalid(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let nameless = NewUser {
        email: email("x@clinic.example"),
        name: " \t".into(),
        role: Role::Reception,
    };
    assert_err!(
        store.create_user(a, &nameless).await,
        StoreError::Invalid(_)
    );
    assert!(
        store
            .find_user_by_email(a, &email("x@clinic.example"))
            .await
            .unwrap()
            .is_none()
    );
}

engine_tests!(contact_details_given_later_are_saved_but_never_take_over_another_record);

async fn contact_details_given_later_are_saved_but_never_take_over_another_record(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(store.as_ref(), "contact-a").await;
    let b = new_tenant(store.as_ref(), "contact-b").await;
    let visitor = store
        .create_patient(a, &NewPatient::default())
        .await
        .unwrap();
    assert!(
        store
            .update_patient_contact(
                a,
                visitor,
                Some("  Tama Rangi "),
                Some(&phone("+64 21 555 0199"))
            )
            .await
            .unwrap()
    );
    let p = store.patient(a, visitor).await.unwrap();
    assert_eq!(
        (p.name.as_deref(), p.phone.as_ref().map(E164Phone::as_str)),
        (Some("Tama Rangi"), Some("+64215550199"))
    );
    assert_eq!(
        store
            .find_patient_by_phone(a, &phone("+64215550199"))
            .await
            .unwrap()
            .map(|p| p.id),
        Some(visitor)
    );
    // Saying the same phone again is fine; another visitor claiming it is not linked to it.
    assert!(
        store
            .update_patient_contact(a, visitor, None, Some(&phone("+64215550199")))
            .await
            .unwrap()
    );
    let other = store
        .create_patient(a, &NewPatient::default())
        .await
        .unwrap();
    assert!(
        !store
            .update_patient_contact(a, other, Some("Someone"), Some(&phone("+64215550199")))
            .await
            .unwrap()
    );
    let o = store.patient(a, other).await.unwrap();
    assert_eq!(
        (o.name.as_deref(), o.phone.as_ref()),
        (Some("Someone"), None)
    );
    assert_eq!(
        store
            .find_patient_by_phone(a, &phone("+64215550199"))
            .await
            .unwrap()
            .map(|p| p.id),
        Some(visitor)
    );
    // Another clinic cannot touch this patient.
    assert!(matches!(
        store
            .update_patient_contact(b, visitor, Some("X"), None)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .update_patient_contact(a, visitor, Some(&"x".repeat(201)), None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    let audit = all_audit(store.as_ref(), a).await;
    let updates: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "patient.contact_updated")
        .collect();
    assert_eq!(updates.len(), 3);
    assert!(
        updates
            .iter()
            .all(|e| !e.details.contains("Tama") && !e.details.contains("555")),
        "field names only"
    );
}
