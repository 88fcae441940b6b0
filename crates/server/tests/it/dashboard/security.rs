//! Security alerts in the dashboard (#12 item 4): the Owner is told on the home page, reads
//! the alerts (escaped) and acknowledges one (audited, once); other roles are refused. And an
//! API key used from a new network behind a trusted proxy raises the clinic's alert, on both
//! engines.

use super::{Browser, CLINIC, Mail, add_user};
use crate::harness::{TestApp, spawn_app_with, test_db};
use frontdesk_domain::{ApiScopes, Role};
use frontdesk_server::http::dashboard::Dashboard;
use frontdesk_store::testing::Engine;
use frontdesk_store::{Actor, AlertKind, NewApiKey};

dashboard_tests!(the_owner_is_told_reads_and_acknowledges_security_alerts_and_others_cannot);

use super::spawn;

async fn the_owner_is_told_reads_and_acknowledges_security_alerts_and_others_cannot(
    app: TestApp,
    mail: Mail,
) {
    add_user(&app, "boss@harbour.test", "Boss", Role::Owner).await;
    add_user(&app, "front@harbour.test", "Front", Role::ReceptionHead).await;
    let scope = app.scope(CLINIC).await;
    let id = app
        .store
        .raise_security_alert(
            scope,
            AlertKind::RecordReads,
            "user:<b>x</b>",
            &serde_json::json!({ "reads_last_hour": 44, "limit": 20 }),
        )
        .await
        .unwrap()
        .unwrap();
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "boss@harbour.test").await;
    owner.set_up_totp().await;
    let (status, home, _) = owner.get("/dashboard").await;
    assert_eq!(status, 200);
    assert!(home.contains("id=\"security-notice\""), "{home}");
    assert!(home.contains("1 security alert(s)"), "{home}");
    let (status, page, headers) = owner.get("/dashboard/security").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(page.contains("far more patient records"), "{page}");
    assert!(
        page.contains("user:&#60;b&#62;x&#60;/b&#62;"),
        "escaped: {page}"
    );
    assert!(!page.contains("<b>x</b>"), "{page}");
    let csrf = Browser::hidden(&page, "csrf");

    let path = format!("/dashboard/security/{id}/acknowledge");
    assert_eq!(owner.post(&path, &[("csrf", "forged")]).await.0, 403);
    assert!(
        app.store
            .security_alert(scope, id)
            .await
            .unwrap()
            .acknowledged_at
            .is_none()
    );
    let (status, _, headers) = owner.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/dashboard/security")
    );
    let (_, page, _) = owner.get("/dashboard/security").await;
    assert!(page.contains("No alert is waiting"), "{page}");
    let (_, home, _) = owner.get("/dashboard").await;
    assert!(!home.contains("security-notice"), "{home}");
    let acked: Vec<_> = app
        .store
        .audit_entries(scope, 0, u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "security_alert.acknowledged")
        .collect();
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0].actor_kind, "staff");

    // Only the Owner.
    let mut front = Browser::new(&app);
    front.sign_in(&mail, 2, "front@harbour.test").await;
    let (_, home, _) = front.get("/dashboard").await;
    assert!(!home.contains("/dashboard/security"));
    assert_eq!(front.get("/dashboard/security").await.0, 403);
    app.finish().await;
}

#[tokio::test]
async fn an_api_key_used_from_a_new_network_behind_a_trusted_proxy_raises_an_alert() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        if test_db(engine).await.is_none() {
            continue;
        }
        let dashboard = Dashboard {
            trusted_proxies: frontdesk_server::outbound::ranges::Allowlist::parse(&[
                "127.0.0.1/32",
                "::1/128",
            ])
            .unwrap(),
            ..Default::default()
        };
        let app = spawn_app_with(engine, dashboard).await.unwrap();
        let scope = app.scope(CLINIC).await;
        let key = app
            .store
            .create_api_key(
                scope,
                &NewApiKey {
                    name: "booking site".into(),
                    scopes: ApiScopes::parse("schedule:read").unwrap(),
                    rate_per_minute: 60,
                },
                Actor::Operator,
            )
            .await
            .unwrap();
        let call = |from: &'static str| {
            app.client
                .get(app.url("/v1/practitioners"))
                .bearer_auth(key.key.as_str())
                .header("x-forwarded-for", from)
                .send()
        };
        for from in ["203.0.113.5", "203.0.113.77"] {
            assert_eq!(call(from).await.unwrap().status(), 200);
        }
        assert!(app.store.security_alerts(scope).await.unwrap().is_empty());
        assert_eq!(call("198.51.100.5").await.unwrap().status(), 200);
        let alerts = app.store.security_alerts(scope).await.unwrap();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].kind, AlertKind::ApiKeyNetwork);
        assert_eq!(alerts[0].details["network"], "198.51.100.0/24");
        assert!(!format!("{alerts:?}").contains("198.51.100.5"));
        app.finish().await;
    }
}
