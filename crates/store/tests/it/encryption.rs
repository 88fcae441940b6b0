//! Encryption at rest, on both engines: personal data and message text never reach storage
//! in clear (checked in the raw SQLite file and its WAL, and in every PostgreSQL row read as
//! the owner), and a ciphertext moved to another row or column does not open (AAD binding).

use crate::harness::*;
use crate::raw::{Raw, ident};
use frontdesk_domain::*;
use frontdesk_store::testing::{Engine, TestDb};
use frontdesk_store::*;

engine_tests!(
    personal_data_and_message_text_never_reach_storage_in_clear,
    message_body_copied_onto_another_message_does_not_open,
    patient_field_moved_to_another_patient_or_column_does_not_open,
    staff_field_copied_onto_another_user_does_not_open,
);

/// Everything stored: the SQLite file and its WAL as bytes, or every PostgreSQL row as text.
pub(crate) async fn storage_dump(db: &TestDb) -> Vec<u8> {
    match db.engine {
        Engine::Sqlite => {
            let path = db.sqlite_path.as_ref().expect("SQLite file");
            let mut bytes = std::fs::read(path).expect("read the database file");
            let wal = path.with_file_name(format!(
                "{}-wal",
                path.file_name().unwrap().to_string_lossy()
            ));
            if wal.exists() {
                bytes.extend(std::fs::read(&wal).expect("read the WAL file"));
            }
            bytes
        }
        Engine::Postgres => {
            let mut raw = Raw::open(db).await;
            let tables = raw.tables().await;
            let Raw::Pg(conn) = &mut raw else {
                unreachable!("PostgreSQL raw connection")
            };
            let mut text = String::new();
            for table in tables {
                let sql = sqlx::AssertSqlSafe(format!("SELECT t::text FROM {} t", ident(&table)));
                let rows: Vec<String> =
                    sqlx::query_scalar(sql).fetch_all(&mut *conn).await.unwrap();
                for row in rows {
                    text.push_str(&row);
                    text.push('\n');
                }
            }
            text.into_bytes()
        }
    }
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(s: &str, upper: bool) -> String {
    s.bytes()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

async fn personal_data_and_message_text_never_reach_storage_in_clear(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let name = "Wiremu Zebedee-Quartermaine";
    let patient_email = "zebedee.quartermaine@unusual-mail.example";
    let message = "My distinctive chest tightness xylophone-4242";
    let reply = "Please call 111 now, Wiremu zanzibar-9090";
    let staff_name = "Staff Yolanda Featherstonehaugh";
    let staff_email = "yolanda.featherstonehaugh@clinic.example";

    let new_patient = NewPatient {
        name: Some(name.into()),
        phone: Some(phone("+64 21 555 7391")),
        email: Some(email(patient_email)),
        language: None,
    };
    let patient = store.create_patient(a, &new_patient).await.unwrap();
    let user = NewUser {
        email: email(staff_email),
        name: staff_name.into(),
        role: Role::Doctor,
    };
    store.create_user(a, &user).await.unwrap();
    let conv = store
        .start_conversation(a, patient, Channel::Whatsapp)
        .await
        .unwrap();
    store
        .record_turn(a, conv, &turn(delivered(message, "wamid.enc"), &[reply]))
        .await
        .unwrap();
    // A web chat code texted to another number: the number is sealed, the text encrypted.
    store
        .set_channel_account(
            a,
            Provider::Twilio,
            "+6495550100",
            &serde_json::json!({}),
            &ChannelSecrets::new().with("auth_token", "t"),
        )
        .await
        .unwrap();
    let web = store
        .start_webchat(&slug("alpha-clinic"), jiff::SignedDuration::from_mins(30))
        .await
        .unwrap();
    store
        .send_verification_code(
            a,
            web.conversation_id,
            &phone("+64 21 555 8123"),
            jiff::SignedDuration::from_mins(10),
            "Clinic Quetzal-5151",
        )
        .await
        .unwrap();
    // FAQ text is clinic information, stored in clear by design: it proves the scan sees data.
    let canary = "Canary answer quokka-7781";
    store.add_faq(a, "Canary question?", canary).await.unwrap();
    // The store still reads everything back.
    assert_eq!(
        store.patient(a, patient).await.unwrap().name.as_deref(),
        Some(name)
    );
    assert_eq!(store.messages(a, conv).await.unwrap()[0].body, message);

    let dump = storage_dump(db).await;
    assert!(
        contains(&dump, canary.as_bytes()),
        "the scan must see the stored FAQ text"
    );
    for secret in [
        name,
        "+64215557391",
        "+64 21 555 7391",
        patient_email,
        message,
        reply,
        staff_name,
        staff_email,
        "+64215558123",
        "Clinic Quetzal-5151",
    ] {
        assert!(
            !contains(&dump, secret.as_bytes()),
            "{secret:?} is stored in clear"
        );
        for upper in [false, true] {
            assert!(
                !contains(&dump, hex(secret, upper).as_bytes()),
                "{secret:?} is stored in clear (hex)"
            );
        }
    }
}

async fn message_body_copied_onto_another_message_does_not_open(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let patient = store
        .create_patient(a, &NewPatient::default())
        .await
        .unwrap();
    let conv = store
        .start_conversation(a, patient, Channel::Sms)
        .await
        .unwrap();
    let ids = store
        .record_turn(
            a,
            conv,
            &turn(
                NewMessage::inbound("I need a repeat prescription"),
                &["Which medicine?"],
            ),
        )
        .await
        .unwrap();
    let bodies: Vec<_> = store
        .messages(a, conv)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["I need a repeat prescription", "Which medicine?"]);

    // Same tenant, same patient key, same conversation: only the AAD (row id) tells them apart.
    let mut raw = Raw::open(db).await;
    raw.copy_column("messages", "body_ct", ids[0].as_uuid(), ids[1].as_uuid())
        .await;
    assert_err!(store.messages(a, conv).await, StoreError::Crypto(_));
}

async fn patient_field_moved_to_another_patient_or_column_does_not_open(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let mk = |name: &str, ph: &str, em: &str| NewPatient {
        name: Some(name.into()),
        phone: Some(phone(ph)),
        email: Some(email(em)),
        language: None,
    };
    let p1 = store
        .create_patient(a, &mk("Alice", "+64215550001", "alice@example.org"))
        .await
        .unwrap();
    let p2 = store
        .create_patient(a, &mk("Bob", "+64215550002", "bob@example.org"))
        .await
        .unwrap();
    let p3 = store
        .create_patient(a, &mk("Carol", "+64215550003", "carol@example.org"))
        .await
        .unwrap();
    let mut raw = Raw::open(db).await;

    raw.copy_column("patients", "name_ct", p1.as_uuid(), p2.as_uuid())
        .await;
    assert_err!(store.patient(a, p2).await, StoreError::Crypto(_));
    assert_err!(
        store.find_patient_by_phone(a, &phone("+64215550002")).await,
        StoreError::Crypto(_)
    );
    assert_eq!(
        store.patient(a, p1).await.unwrap().name.as_deref(),
        Some("Alice"),
        "the source still opens"
    );

    raw.copy_within_row("patients", "phone_ct", "email_ct", p3.as_uuid())
        .await;
    assert_err!(store.patient(a, p3).await, StoreError::Crypto(_));
}

async fn staff_field_copied_onto_another_user_does_not_open(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let u = |addr: &str, name: &str| NewUser {
        email: email(addr),
        name: name.into(),
        role: Role::Reception,
    };
    let u1 = store
        .create_user(a, &u("one@clinic.example", "User One"))
        .await
        .unwrap();
    let u2 = store
        .create_user(a, &u("two@clinic.example", "User Two"))
        .await
        .unwrap();
    // Both sealed with the tenant data key: only the AAD (row id) tells them apart.
    let mut raw = Raw::open(db).await;
    raw.copy_column("users", "name_ct", u1.as_uuid(), u2.as_uuid())
        .await;
    assert_err!(
        store
            .find_user_by_email(a, &email("two@clinic.example"))
            .await,
        StoreError::Crypto(_)
    );
    assert_eq!(
        store
            .find_user_by_email(a, &email("one@clinic.example"))
            .await
            .unwrap()
            .map(|x| x.name),
        Some("User One".into())
    );
}
