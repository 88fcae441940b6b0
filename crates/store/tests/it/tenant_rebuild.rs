//! Migration 0015 rebuilds `tenants` on SQLite (a CHECK constraint cannot be changed in
//! place): run on a database that migrations 0001–0014 made and filled, it keeps every clinic,
//! their rows, and foreign keys that still point at `tenants` and still hold.

use frontdesk_store::SqliteStore;

/// SQLite's migrations up to 0014, as a database made before this change ran them.
const SQLITE_BEFORE: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_channels.sql"),
    include_str!("../../migrations/sqlite/0003_verification.sql"),
    include_str!("../../migrations/sqlite/0004_calls.sql"),
    include_str!("../../migrations/sqlite/0005_reminders.sql"),
    include_str!("../../migrations/sqlite/0006_waitlist.sql"),
    include_str!("../../migrations/sqlite/0007_recordings.sql"),
    include_str!("../../migrations/sqlite/0008_staff_auth.sql"),
    include_str!("../../migrations/sqlite/0009_staff_mfa.sql"),
    include_str!("../../migrations/sqlite/0010_inbox.sql"),
    include_str!("../../migrations/sqlite/0011_inbox_live.sql"),
    include_str!("../../migrations/sqlite/0012_assignments.sql"),
    include_str!("../../migrations/sqlite/0013_data_requests.sql"),
    include_str!("../../migrations/sqlite/0014_audit_checkpoints.sql"),
];

/// Migration 0015 rebuilds `tenants` on SQLite (to widen its CHECK): a database with clinics
/// in it keeps them, their rows, and foreign keys that still point at `tenants`.
#[tokio::test]
async fn sqlite_rebuilding_tenants_keeps_every_clinic_and_its_foreign_keys() {
    use sqlx::{Connection, SqliteConnection};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let tenant = uuid::Uuid::now_v7();
    let mut c = SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         checksum BLOB NOT NULL, applied_at INTEGER NOT NULL) STRICT",
    )
    .execute(&mut c)
    .await
    .unwrap();
    for (i, sql) in SQLITE_BEFORE.iter().enumerate() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("INSERT INTO schema_migrations VALUES ($1, 'old', $2, 0)")
            .bind(i as i64 + 1)
            .bind(frontdesk_store::crypto::token_hash(sql))
            .execute(&mut c)
            .await
            .unwrap();
    }
    for sql in [
        "INSERT INTO tenants (id, slug, status, created_at, terminated_at) VALUES ($1, 'old-clinic', 'terminated', 5, 7)",
        "INSERT INTO clinic_profiles (tenant_id, profile, updated_at) VALUES ($1, '{}', 5)",
        "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, x'00')",
    ] {
        sqlx::query(sql).bind(tenant).execute(&mut c).await.unwrap();
    }
    c.close().await.unwrap();

    // 0015 (this rebuild) and every later migration: as many as there are files after 0014.
    let later = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().as_ref() > "0015")
        .count();
    assert!(later >= 2);
    assert_eq!(SqliteStore::migrate(&url).await.unwrap(), later);

    let mut c = SqliteConnection::connect(&url).await.unwrap();
    let row: (String, String, i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT slug, status, created_at, terminated_at, purged_at FROM tenants WHERE id = $1",
    )
    .bind(tenant)
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(
        row,
        ("old-clinic".into(), "terminated".into(), 5, Some(7), None)
    );
    let parents: Vec<String> =
        sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_list('clinic_profiles')")
            .fetch_all(&mut c)
            .await
            .unwrap();
    assert_eq!(parents, ["tenants"]);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM clinic_profiles WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(kept, 1);
    // Foreign keys still hold against the new table, and the new statuses are allowed.
    let orphan = sqlx::query(
        "INSERT INTO clinic_profiles (tenant_id, profile, updated_at) VALUES ($1, '{}', 0)",
    )
    .bind(uuid::Uuid::now_v7())
    .execute(&mut c)
    .await;
    assert!(orphan.is_err(), "a profile of an unknown clinic is refused");
    sqlx::query("UPDATE tenants SET status = 'purged', purged_at = 9 WHERE id = $1")
        .bind(tenant)
        .execute(&mut c)
        .await
        .unwrap();
    assert!(
        sqlx::query("UPDATE tenants SET status = 'gone' WHERE id = $1")
            .bind(tenant)
            .execute(&mut c)
            .await
            .is_err()
    );
}
