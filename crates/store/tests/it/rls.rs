//! PostgreSQL row-level security, the second wall behind the store's own tenant filters,
//! checked through raw connections: the app role cannot get around RLS, every tenant table
//! forces it with the tenant policy, each table isolates tenants when probed directly, and
//! each of those probes fails once the table's policy is disabled or dropped.

use crate::raw::{Raw, ident};
use crate::rls_support::*;
use frontdesk_domain::SystemClock;
use frontdesk_store::testing::{TEST_APP_ROLE, TestDb, test_keyring};
use frontdesk_store::*;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::sync::Arc;

postgres_tests!(
    app_role_is_not_superuser_has_no_bypassrls_and_owns_no_table,
    every_tenant_table_forces_row_level_security_with_the_tenant_policy,
    app_role_sees_and_writes_only_the_current_tenant_in_every_table,
    isolation_check_fails_for_every_table_whose_policy_is_disabled_or_dropped,
    isolation_check_catches_a_policy_that_lets_rows_out_or_writes_in,
);

/// `(name, permissive, roles, command, USING, WITH CHECK)` of each policy on `table`.
type PolicyDef = (
    String,
    String,
    Vec<String>,
    String,
    Option<String>,
    Option<String>,
);

async fn policies(owner: &mut PgConnection, table: &str) -> Vec<PolicyDef> {
    sqlx::query_as(
        "SELECT policyname::text, permissive, roles::text[], cmd, qual, with_check FROM pg_policies \
         WHERE schemaname = 'public' AND tablename = $1 ORDER BY policyname",
    )
    .bind(table)
    .fetch_all(owner)
    .await
    .unwrap()
}

async fn owner_exec(owner: &mut PgConnection, sql: String) {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(owner)
        .await
        .unwrap();
}

async fn app_role_is_not_superuser_has_no_bypassrls_and_owns_no_table(db: &TestDb) {
    let mut app = PgConnection::connect(&db.cfg.url).await.unwrap();
    let (user, is_super, bypass): (String, bool, bool) =
        sqlx::query_as("SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut app)
            .await
            .unwrap();
    assert_eq!(
        (user.as_str(), is_super, bypass),
        (TEST_APP_ROLE, false, false)
    );
    let (owned, others): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE c.relowner = r.oid), count(*) FILTER (WHERE c.relowner <> r.oid) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.rolname = current_user \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
    )
    .fetch_one(&mut app)
    .await
    .unwrap();
    assert_eq!(owned, 0, "the app role owns {owned} relations in public");
    assert!(
        others >= 20,
        "the schema exists and belongs to another role"
    );

    // Not being the owner, it cannot switch row-level security off.
    let err = sqlx::raw_sql("ALTER TABLE patients DISABLE ROW LEVEL SECURITY")
        .execute(&mut app)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "{err}"
    );
    // The audit log is append-only for it.
    assert_privileges(&mut app, "audit_log", [true, true, false, false]).await;

    let clock = Arc::new(SystemClock);
    let as_app = PgStore::connect(&db.cfg.url, test_keyring(), clock.clone(), 1)
        .await
        .unwrap();
    assert_eq!(
        as_app.insecure_role_reasons().await.unwrap(),
        Vec::<&str>::new()
    );
    assert!(
        open(&db.cfg, test_keyring(), clock.clone())
            .await
            .unwrap()
            .insecure_role
            .is_empty()
    );
    let owner_url = db.owner_url.as_deref().unwrap();
    let as_owner = PgStore::connect(owner_url, test_keyring(), clock, 1)
        .await
        .unwrap();
    let reasons = as_owner.insecure_role_reasons().await.unwrap();
    assert!(
        reasons.iter().any(|r| r.contains("superuser")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("owns the tables")),
        "{reasons:?}"
    );
}

async fn every_tenant_table_forces_row_level_security_with_the_tenant_policy(db: &TestDb) {
    let mut owner = PgConnection::connect(db.owner_url.as_deref().unwrap())
        .await
        .unwrap();
    let tables = tenant_tables(&mut owner).await;
    let declared = tables_declared_in_migration();
    assert_eq!(
        declared.len(),
        30,
        "the migrations' DO blocks: {declared:?}"
    );
    for table in &declared {
        assert!(
            tables.contains(table),
            "{table} is declared in the migration but has no tenant_id column"
        );
    }
    // Every other table is deliberately tenant-free: the public directory and migration bookkeeping.
    let mut others: Vec<String> = Raw::open(db).await.tables().await;
    others.retain(|t| !tables.contains(t));
    assert_eq!(
        others,
        [
            "api_key_routes",
            "calendar_feed_routes",
            "channel_routes",
            "deletion_certificates",
            "maintenance_runs",
            "schema_migrations",
            "tenants"
        ]
    );

    let check = "(tenant_id = frontdesk_current_tenant())".to_owned();
    let expected: Vec<PolicyDef> = vec![(
        "tenant_isolation".into(),
        "PERMISSIVE".into(),
        vec!["public".into()],
        "ALL".into(),
        Some(check.clone()),
        Some(check),
    )];
    let mut failures = Vec::new();
    for table in &tables {
        let (enabled, forced): (bool, bool) = sqlx::query_as(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = to_regclass('public.' || $1)",
        )
        .bind(ident(table))
        .fetch_one(&mut owner)
        .await
        .unwrap();
        if !(enabled && forced) {
            failures.push(format!(
                "{table}: relrowsecurity={enabled}, relforcerowsecurity={forced}"
            ));
        }
        let mut want = expected.clone();
        if QUEUE_TABLES.contains(&table.as_str()) {
            let claim = "(current_setting('app.queue_claim'::text, true) = 'on'::text)".to_owned();
            want.insert(
                0,
                (
                    "queue_claim".into(),
                    "PERMISSIVE".into(),
                    vec!["public".into()],
                    "ALL".into(),
                    Some(claim),
                    None,
                ),
            );
        }
        let got = policies(&mut owner, table).await;
        if got != want {
            failures.push(format!("{table}: policies {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

async fn app_role_sees_and_writes_only_the_current_tenant_in_every_table(db: &TestDb) {
    let mut f = seeded_fixture(db).await;
    for table in tables_declared_in_migration() {
        assert!(f.tables.contains(&table), "{table} is probed");
    }
    let mut failures = Vec::new();
    for table in &f.tables {
        for (me, other) in [(f.a, f.b), (f.b, f.a)] {
            if let Err(e) = check_isolation(&mut f.app, table, me, other).await {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

async fn isolation_check_fails_for_every_table_whose_policy_is_disabled_or_dropped(db: &TestDb) {
    let mut f = seeded_fixture(db).await;
    let mut failures = Vec::new();
    for table in &f.tables {
        let t = ident(table);
        let policy_before = policies(&mut f.owner, table).await;
        if let Err(e) = check_isolation(&mut f.app, table, f.a, f.b).await {
            failures.push(format!("before: {e}"));
        }

        owner_exec(
            &mut f.owner,
            format!("ALTER TABLE {t} DISABLE ROW LEVEL SECURITY"),
        )
        .await;
        let disabled = check_isolation(&mut f.app, table, f.a, f.b).await;
        owner_exec(
            &mut f.owner,
            format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"),
        )
        .await;
        if disabled.is_ok() {
            failures.push(format!(
                "{table}: isolation check passed with row-level security disabled"
            ));
        }

        owner_exec(&mut f.owner, format!("DROP POLICY tenant_isolation ON {t}")).await;
        let dropped = check_isolation(&mut f.app, table, f.a, f.b).await;
        owner_exec(&mut f.owner, create_policy_sql(table)).await;
        if dropped.is_ok() {
            failures.push(format!(
                "{table}: isolation check passed with its policy dropped"
            ));
        }

        if policies(&mut f.owner, table).await != policy_before {
            failures.push(format!("{table}: the policy was not restored exactly"));
        }
        if let Err(e) = check_isolation(&mut f.app, table, f.a, f.b).await {
            failures.push(format!("after restoring: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

async fn isolation_check_catches_a_policy_that_lets_rows_out_or_writes_in(db: &TestDb) {
    let mut f = seeded_fixture(db).await;
    // Weakened policies that still show tenant A exactly its own rows, and the probe that must
    // catch each one.
    let weakened = [
        (
            "WITH CHECK (true)",
            "USING (tenant_id = frontdesk_current_tenant()) WITH CHECK (true)",
            "inserting a copy",
        ),
        (
            "visible with no tenant set",
            "USING (tenant_id = frontdesk_current_tenant() OR frontdesk_current_tenant() IS NULL) \
             WITH CHECK (tenant_id = frontdesk_current_tenant())",
            "no tenant set",
        ),
    ];
    let mut failures = Vec::new();
    for table in &f.tables {
        let t = ident(table);
        for (label, clauses, caught_by) in weakened {
            owner_exec(&mut f.owner, format!("DROP POLICY tenant_isolation ON {t}")).await;
            owner_exec(
                &mut f.owner,
                format!("CREATE POLICY tenant_isolation ON {t} {clauses}"),
            )
            .await;
            let result = check_isolation(&mut f.app, table, f.a, f.b).await;
            owner_exec(&mut f.owner, format!("DROP POLICY tenant_isolation ON {t}")).await;
            owner_exec(&mut f.owner, create_policy_sql(table)).await;
            match result {
                Err(e) if e.contains(caught_by) => {}
                other => failures.push(format!(
                    "{table} with {label}: expected a failure of {caught_by:?}, got {other:?}"
                )),
            }
        }
        if let Err(e) = check_isolation(&mut f.app, table, f.a, f.b).await {
            failures.push(format!("after restoring: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
