//! Support for the row-level security tests: the list of tenant tables (from the catalogue
//! and from the migration), two tenants seeded with rows in every one of them, and
//! [`check_isolation`], which probes one table through the app role.

use crate::harness::{seed_two, store};
use crate::raw::ident;
use frontdesk_store::testing::TestDb;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres, Transaction};
use uuid::Uuid;

const PG_MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_channels.sql"),
    include_str!("../../migrations/postgres/0003_verification.sql"),
    include_str!("../../migrations/postgres/0004_calls.sql"),
    include_str!("../../migrations/postgres/0005_reminders.sql"),
    include_str!("../../migrations/postgres/0006_waitlist.sql"),
    include_str!("../../migrations/postgres/0007_recordings.sql"),
];

/// Tables with a `tenant_id` column that are operator-level directories, deliberately without
/// row-level security, like `tenants`: `channel_routes` holds which provider address belongs
/// to which clinic, `api_key_routes` which API key prefix does and `calendar_feed_routes` which
/// calendar feed's (no clinic data, no secrets), read before any tenant scope exists;
/// `deletion_certificates` outlives the clinic it describes (ids, counts and times only), and
/// the app role may only read and add to it.
pub const DIRECTORY_TABLES: &[&str] = &[
    "api_key_routes",
    "calendar_feed_routes",
    "channel_routes",
    "deletion_certificates",
];

/// Queue tables carry a second policy, `queue_claim`, for the workers' cross-tenant claim.
pub const QUEUE_TABLES: &[&str] = &["jobs", "outbox", "webhook_deliveries"];

/// The policy every tenant table carries, exactly as the migration creates it.
pub fn create_policy_sql(table: &str) -> String {
    format!(
        "CREATE POLICY tenant_isolation ON {} USING (tenant_id = frontdesk_current_tenant()) \
         WITH CHECK (tenant_id = frontdesk_current_tenant())",
        ident(table)
    )
}

/// The tables named in the migrations' `DO` blocks that enable row-level security.
pub fn tables_declared_in_migration() -> Vec<String> {
    let marker = "FOREACH t IN ARRAY ARRAY[";
    let mut tables = Vec::new();
    for migration in PG_MIGRATIONS {
        let Some(found) = migration.find(marker) else {
            continue;
        };
        let start = found + marker.len();
        let end = start
            + migration[start..]
                .find(']')
                .expect("end of the table array");
        tables.extend(
            migration[start..end]
                .split(',')
                .map(|s| s.trim().trim_matches('\'').to_owned()),
        );
    }
    tables
}

/// Every table in schema `public` with a `tenant_id` column, except [`DIRECTORY_TABLES`].
pub async fn tenant_tables(owner: &mut PgConnection) -> Vec<String> {
    let mut tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE' \
         ORDER BY 1",
    )
    .fetch_all(owner)
    .await
    .unwrap();
    tables.retain(|t| !DIRECTORY_TABLES.contains(&t.as_str()));
    tables
}

/// Two tenants with rows in every tenant table, and connections as owner and as app role.
pub struct Fixture {
    pub a: Uuid,
    pub b: Uuid,
    pub tables: Vec<String>,
    pub owner: PgConnection,
    pub app: PgConnection,
}

pub async fn seeded_fixture(db: &TestDb) -> Fixture {
    let store = store(db).await;
    let (sa, sb) = seed_two(&*store).await;
    let mut owner = PgConnection::connect(db.owner_url.as_deref().unwrap())
        .await
        .unwrap();
    // Tables no store operation writes yet: inserted as the owner.
    for s in [&sa, &sb] {
        let tenant = s.scope.tenant_id().as_uuid();
        let exec = |sql: &'static str| sqlx::query(sql).bind(tenant);
        exec("INSERT INTO practitioner_services (tenant_id, practitioner_id, service_id) VALUES ($1, $2, $3)")
            .bind(s.practitioner.as_uuid())
            .bind(s.service.as_uuid())
            .execute(&mut owner)
            .await
            .unwrap();
        exec(
            "INSERT INTO schedule_exceptions (tenant_id, id, practitioner_id, starts_at, ends_at, reason) \
             VALUES ($1, $2, $3, 100, 200, 'Annual leave')",
        )
        .bind(Uuid::now_v7())
        .bind(s.practitioner.as_uuid())
        .execute(&mut owner)
        .await
        .unwrap();
        exec(
            "INSERT INTO appointments (tenant_id, id, patient_id, practitioner_id, service_id, starts_at, ends_at, \
             busy_until, status, idempotency_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1000, 2000, 2000, 'booked', $6, 0, 0)",
        )
        .bind(Uuid::now_v7())
        .bind(s.patient.as_uuid())
        .bind(s.practitioner.as_uuid())
        .bind(s.service.as_uuid())
        .bind(format!("book-{}", s.patient))
        .execute(&mut owner)
        .await
        .unwrap();
        // The waitlist: an entry, a hold on the appointment above, and an offer of it.
        let (entry, hold) = (Uuid::now_v7(), Uuid::now_v7());
        exec(
            "INSERT INTO waitlist_entries (tenant_id, id, patient_id, service_id, window_start, window_end, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, 5000, 0, 0)",
        )
        .bind(entry)
        .bind(s.patient.as_uuid())
        .bind(s.service.as_uuid())
        .execute(&mut owner)
        .await
        .unwrap();
        exec(
            "INSERT INTO slot_holds (tenant_id, id, source_appointment_id, practitioner_id, service_id, starts_at, busy_until, \
             status, expires_at, created_at, updated_at) \
             SELECT tenant_id, $2, id, practitioner_id, service_id, starts_at, busy_until, 'offered', 900, 0, 0 \
             FROM appointments WHERE tenant_id = $1",
        )
        .bind(hold)
        .execute(&mut owner)
        .await
        .unwrap();
        exec(
            "INSERT INTO waitlist_offers (tenant_id, hold_id, entry_id, conversation_id, created_at) VALUES ($1, $2, $3, $4, 0)",
        )
        .bind(hold)
        .bind(entry)
        .bind(s.conversation.as_uuid())
        .execute(&mut owner)
        .await
        .unwrap();
        exec(
            "INSERT INTO jobs (tenant_id, id, kind, payload, run_at, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, 'process_message', '{\"n\": 1}', 0, $3, 0, 0)",
        )
        .bind(Uuid::now_v7())
        .bind(format!("job-{}", s.conversation))
        .execute(&mut owner)
        .await
        .unwrap();
        exec("INSERT INTO outbound_rates (tenant_id, tat, granted, updated_at) VALUES ($1, 0, TRUE, 0)")
            .execute(&mut owner)
            .await
            .unwrap();
        exec(
            "INSERT INTO clinic_red_flag_rules (tenant_id, id, phrases, level, language, created_at) \
             VALUES ($1, $2, '[\"x\"]', 'urgent', 'en', 0)",
        )
        .bind(Uuid::now_v7())
        .execute(&mut owner)
        .await
        .unwrap();
        exec(
            "INSERT INTO staff_notifications (tenant_id, id, conversation_id, kind, details, created_at, updated_at) \
             VALUES ($1, $2, $3, 'emergency', '{}', 0, 0)",
        )
        .bind(Uuid::now_v7())
        .bind(s.conversation.as_uuid())
        .execute(&mut owner)
        .await
        .unwrap();
        exec(
            "INSERT INTO outbox (tenant_id, id, message_id, channel, idempotency_key, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 'whatsapp', $4, 0, 0, 0)",
        )
        .bind(Uuid::now_v7())
        .bind(s.messages[1].as_uuid())
        .bind(format!("send-{}", s.messages[1]))
        .execute(&mut owner)
        .await
        .unwrap();
    }
    for (s, number) in [(&sa, "+64211111111"), (&sb, "+64222222222")] {
        let address = format!("pn-{}", s.scope.tenant_id());
        let secrets = frontdesk_store::ChannelSecrets::new().with("app_secret", "s3cret");
        store
            .set_channel_account(
                s.scope,
                frontdesk_store::Provider::Whatsapp,
                &address,
                &serde_json::json!({}),
                &secrets,
            )
            .await
            .unwrap();
        let phone = frontdesk_domain::E164Phone::parse(number).unwrap();
        store
            .record_consent(
                s.scope,
                frontdesk_store::Channel::Sms,
                &phone,
                frontdesk_store::ConsentChange::OptOut,
                "test",
            )
            .await
            .unwrap();
        // A pending web chat code (phone_verifications, verification_sends).
        store
            .set_channel_account(
                s.scope,
                frontdesk_store::Provider::Twilio,
                &format!("tw-{}", s.scope.tenant_id()),
                &serde_json::json!({ "account_sid": "AC1" }),
                &frontdesk_store::ChannelSecrets::new().with("auth_token", "t"),
            )
            .await
            .unwrap();
        store
            .send_verification_code(
                s.scope,
                s.webchat_conversation,
                &phone,
                jiff::SignedDuration::from_mins(10),
                "Clinic",
            )
            .await
            .unwrap();
        // A phone call (calls).
        store
            .start_call(s.scope, "CA0001", &phone, "Hello")
            .await
            .unwrap();
        // Its recording (call_recordings).
        store
            .note_recording(s.scope, "CA0001", "RE0001", Some(30))
            .await
            .unwrap();
        // A staff sign-in (login_requests, login_links, staff_sessions).
        let session = crate::harness::sign_in(&*store, s).await;
        // What it has read in the inbox (conversation_reads).
        store
            .mark_read(s.scope, s.user, s.conversation)
            .await
            .unwrap();
        // A signed checkpoint of its audit chain (audit_checkpoints).
        store.take_audit_checkpoint(s.scope).await.unwrap();
        // An erased patient (erasure_ledger).
        let gone = store
            .create_patient(
                s.scope,
                &frontdesk_store::NewPatient {
                    name: Some("Erased".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        store
            .erase_patient(s.scope, gone, frontdesk_store::Actor::Operator)
            .await
            .unwrap();
        // A calendar feed (calendar_feeds, calendar_feed_routes).
        store
            .create_calendar_feed(
                s.scope,
                Some(s.practitioner),
                frontdesk_store::Actor::Operator,
            )
            .await
            .unwrap();
        // A clinic's payment provider and a payment (payment_settings, payments).
        store
            .set_payment_settings(
                s.scope,
                &frontdesk_store::PaymentSettings {
                    provider: frontdesk_store::PaymentProvider::Stripe,
                    amount_minor: 2_000,
                    currency: "NZD".into(),
                    config: serde_json::json!({}),
                },
                &frontdesk_store::ChannelSecrets::new().with("secret_key", "sk_test"),
                frontdesk_store::Actor::Operator,
            )
            .await
            .unwrap();
        // Cal.com settings and an event type (calcom_settings, calcom_event_types).
        store
            .set_calcom_settings(
                s.scope,
                "https://api.cal.com",
                true,
                frontdesk_store::CalcomSecretChange::Set("cal_key".to_owned().into()),
                frontdesk_store::CalcomSecretChange::Set("whsec".to_owned().into()),
                frontdesk_store::Actor::Operator,
            )
            .await
            .unwrap();
        let (appointment,): (uuid::Uuid,) =
            sqlx::query_as("SELECT id FROM appointments WHERE tenant_id = $1 LIMIT 1")
                .bind(s.scope.tenant_id().as_uuid())
                .fetch_one(&mut owner)
                .await
                .unwrap();
        store
            .request_payment(
                s.scope,
                frontdesk_domain::AppointmentId::from_uuid(appointment),
                Some(s.conversation),
                frontdesk_store::Actor::Operator,
            )
            .await
            .unwrap();
        store
            .map_calcom_event_type(
                s.scope,
                s.practitioner,
                s.service,
                Some(42),
                frontdesk_store::Actor::Operator,
            )
            .await
            .unwrap();
        // An anomaly alert, a counted event and an API key's network (security_alerts,
        // security_events, api_key_networks).
        store
            .raise_security_alert(
                s.scope,
                frontdesk_store::AlertKind::RecordReads,
                "user:seed",
                &serde_json::json!({}),
            )
            .await
            .unwrap();
        store
            .record_security_event(s.scope, frontdesk_store::LOGIN_FAILURES, "user:seed")
            .await
            .unwrap();
        store
            .note_api_key_network(s.scope, s.api_key, "192.0.2.0/24")
            .await
            .unwrap();
        // A suggested reply (reply_drafts).
        store
            .write_draft(s.scope, s.conversation, s.user, "A suggested reply")
            .await
            .unwrap();
        // Its second factor (recovery_codes).
        let secret = store.begin_totp(s.scope, s.user).await.unwrap();
        let now = jiff::Timestamp::now().as_second();
        let code =
            frontdesk_store::totp::code_at_step(&secret, frontdesk_store::totp::step_of(now));
        store
            .confirm_totp(s.scope.tenant_id(), &session.token, &code)
            .await
            .unwrap();
    }
    let (a, b) = (
        sa.scope.tenant_id().as_uuid(),
        sb.scope.tenant_id().as_uuid(),
    );
    let tables = tenant_tables(&mut owner).await;
    for table in &tables {
        let sql = format!(
            "SELECT count(*) FILTER (WHERE tenant_id = $1), count(*) FILTER (WHERE tenant_id = $2) FROM {}",
            ident(table)
        );
        let (in_a, in_b): (i64, i64) = sqlx::query_as(AssertSqlSafe(sql))
            .bind(a)
            .bind(b)
            .fetch_one(&mut owner)
            .await
            .unwrap();
        assert!(
            in_a > 0 && in_b > 0,
            "{table} is not seeded for both tenants ({in_a}, {in_b}): seed it above"
        );
    }
    let app = PgConnection::connect(&db.cfg.url).await.unwrap();
    Fixture {
        a,
        b,
        tables,
        owner,
        app,
    }
}

fn sql_error(table: &str, what: &str) -> impl FnOnce(sqlx::Error) -> String {
    let prefix = format!("{table}: {what}");
    move |e| format!("{prefix}: {e}")
}

/// A transaction of the app role, with `app.tenant_id` set to `tenant` (or left unset).
async fn begin_as<'c>(
    app: &'c mut PgConnection,
    table: &str,
    tenant: Option<Uuid>,
) -> Result<Transaction<'c, Postgres>, String> {
    let mut tx = app.begin().await.map_err(sql_error(table, "BEGIN"))?;
    if let Some(tenant) = tenant {
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .map_err(sql_error(table, "set_config"))?;
    }
    Ok(tx)
}

/// Runs `sql` (binding `ids` as $1, $2, …) as tenant `a`, rolls back, and returns what it did.
async fn try_as(
    app: &mut PgConnection,
    table: &str,
    a: Uuid,
    sql: String,
    ids: &[Uuid],
) -> Result<Result<u64, sqlx::Error>, String> {
    let mut tx = begin_as(app, table, Some(a)).await?;
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(*id);
    }
    let result = query.execute(&mut *tx).await.map(|r| r.rows_affected());
    tx.rollback().await.map_err(sql_error(table, "ROLLBACK"))?;
    Ok(result)
}

/// The statement must have been refused for lack of privilege (SQLSTATE 42501), which is
/// also what a row-level security WITH CHECK violation answers.
fn expect_denied(table: &str, what: &str, result: Result<u64, sqlx::Error>) -> Result<(), String> {
    match result {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => Ok(()),
        Err(e) => Err(format!("{table}: {what} failed, but not with 42501: {e}")),
        Ok(n) => Err(format!("{table}: {what} was allowed ({n} rows)")),
    }
}

/// With no privilege for the statement: 42501. Otherwise it must touch no row.
fn expect_no_rows(
    table: &str,
    what: &str,
    privileged: bool,
    result: Result<u64, sqlx::Error>,
) -> Result<(), String> {
    match result {
        Ok(0) if privileged => Ok(()),
        Ok(n) => Err(format!("{table}: {what} touched {n} rows")),
        Err(_) if !privileged => expect_denied(table, what, result),
        Err(e) => Err(format!("{table}: {what} failed: {e}")),
    }
}

/// Whether the connected role holds privilege `p` (e.g. `UPDATE`) on `table`.
pub async fn has_privilege(conn: &mut PgConnection, table: &str, p: &str) -> Result<bool, String> {
    sqlx::query_scalar("SELECT has_table_privilege(current_user, $1, $2)")
        .bind(format!("public.{table}"))
        .bind(p)
        .fetch_one(conn)
        .await
        .map_err(sql_error(table, "privilege"))
}

/// Asserts which of SELECT, INSERT, UPDATE and DELETE the connected role holds on `table`.
pub async fn assert_privileges(conn: &mut PgConnection, table: &str, expected: [bool; 4]) {
    for (privilege, want) in ["SELECT", "INSERT", "UPDATE", "DELETE"]
        .into_iter()
        .zip(expected)
    {
        assert_eq!(
            has_privilege(conn, table, privilege).await.unwrap(),
            want,
            "{table} {privilege}"
        );
    }
}

/// Probes `table` through the app role connection `app`, as tenant `a` with tenant `b`'s rows
/// present. Every probe runs in its own transaction, rolled back.
pub async fn check_isolation(
    app: &mut PgConnection,
    table: &str,
    a: Uuid,
    b: Uuid,
) -> Result<(), String> {
    let t = ident(table);
    let can_update = has_privilege(app, table, "UPDATE").await?;
    let can_delete = has_privilege(app, table, "DELETE").await?;

    let mut tx = begin_as(app, table, Some(a)).await?;
    let counts = format!(
        "SELECT count(*) FILTER (WHERE tenant_id = $1), count(*) FILTER (WHERE tenant_id <> $1) FROM {t}"
    );
    let (own, others): (i64, i64) = sqlx::query_as(AssertSqlSafe(counts))
        .bind(a)
        .fetch_one(&mut *tx)
        .await
        .map_err(sql_error(table, "count"))?;
    let of_b: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {t} WHERE tenant_id = $1"
    )))
    .bind(b)
    .fetch_one(&mut *tx)
    .await
    .map_err(sql_error(table, "count B"))?;
    tx.rollback().await.map_err(sql_error(table, "ROLLBACK"))?;
    if own == 0 {
        return Err(format!("{table}: tenant A sees none of its own rows"));
    }
    if others > 0 || of_b > 0 {
        return Err(format!(
            "{table}: tenant A sees {others} rows of other tenants ({of_b} of B)"
        ));
    }

    let copy = format!(
        "INSERT INTO {t} SELECT (jsonb_populate_record(NULL::{t}, to_jsonb(x) || jsonb_build_object('tenant_id', $1::uuid))).* \
         FROM {t} x LIMIT 1"
    );
    expect_denied(
        table,
        "inserting a copy of A's row as B",
        try_as(app, table, a, copy, &[b]).await?,
    )?;
    let touch_b = format!("UPDATE {t} SET tenant_id = tenant_id WHERE tenant_id = $1");
    expect_no_rows(
        table,
        "updating B's rows",
        can_update,
        try_as(app, table, a, touch_b, &[b]).await?,
    )?;
    let move_a = format!("UPDATE {t} SET tenant_id = $1 WHERE tenant_id = $2");
    expect_denied(
        table,
        "moving A's rows to B",
        try_as(app, table, a, move_a, &[b, a]).await?,
    )?;
    let delete_b = format!("DELETE FROM {t} WHERE tenant_id = $1");
    expect_no_rows(
        table,
        "deleting B's rows",
        can_delete,
        try_as(app, table, a, delete_b, &[b]).await?,
    )?;

    let mut tx = begin_as(app, table, None).await?;
    let unscoped: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
        .fetch_one(&mut *tx)
        .await
        .map_err(sql_error(table, "count without a tenant"))?;
    tx.rollback().await.map_err(sql_error(table, "ROLLBACK"))?;
    if unscoped != 0 {
        return Err(format!(
            "{table}: {unscoped} rows visible with no tenant set"
        ));
    }
    Ok(())
}
