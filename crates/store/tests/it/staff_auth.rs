//! Staff sign-in links and sessions on both engines: a link is single use (also when used
//! twice at once), expires after its ten minutes, works only in the browser that asked for
//! it, and is rate limited per address and per IP without revealing which addresses exist;
//! sessions are stored hashed, end after idling or at their absolute lifetime, on logout,
//! on "log out everywhere", and when their user is disabled or changes role; another clinic's
//! tokens never work.

use crate::encryption::{contains, storage_dump};
use crate::harness::*;
use crate::raw::Raw;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::totp;
use frontdesk_store::*;
use jiff::SignedDuration;
use std::sync::Arc;

engine_tests!(
    a_link_opens_one_session_once_and_only_in_its_browser,
    a_link_expires_after_ten_minutes,
    racing_uses_of_one_link_open_exactly_one_session,
    requests_are_rate_limited_per_address_and_per_ip_alike_for_unknown_addresses,
    sessions_end_when_idle_at_their_lifetime_and_on_logout,
    disabling_a_user_or_changing_their_role_ends_their_sessions,
    only_hashes_of_secrets_are_stored,
    tokens_of_one_clinic_never_work_in_another,
    totp_is_set_up_with_a_code_and_each_code_or_recovery_code_works_once,
    five_wrong_second_factor_codes_end_the_session,
    staff_invite_users_and_list_only_their_own_clinics,
);

const BROWSER: &str = "browser-cookie-value-1";
const IP: &str = "198.51.100.7";

async fn link(store: &dyn Store, s: &Seeded) -> String {
    match store
        .request_login_link(
            &s.slug,
            &s.user_email,
            IP,
            BROWSER,
            &LoginLinkPolicy::default(),
        )
        .await
        .unwrap()
    {
        LoginLinkOutcome::Created {
            token, user, email, ..
        } => {
            assert_eq!(user, s.user);
            assert_eq!(email, s.user_email);
            token.to_string()
        }
        other => panic!("expected a link, got {other:?}"),
    }
}

async fn sign_in(store: &dyn Store, s: &Seeded) -> String {
    let token = link(store, s).await;
    store
        .consume_login_link(
            s.scope.tenant_id(),
            &token,
            BROWSER,
            &SessionPolicy::default(),
        )
        .await
        .unwrap()
        .token
        .to_string()
}

fn audited(audit: &[AuditEntry], action: &str) -> usize {
    audit.iter().filter(|e| e.action == action).count()
}

async fn a_link_opens_one_session_once_and_only_in_its_browser(db: &TestDb) {
    let store = store(db).await;
    let s = seed(&*store, "auth-a", "a", "+64210000001").await;
    let token = link(&*store, &s).await;

    // Another browser: refused, and the link is spent (whoever intercepted it cannot retry).
    assert_err!(
        store
            .consume_login_link(
                s.scope.tenant_id(),
                &token,
                "another-browser",
                &SessionPolicy::default()
            )
            .await,
        StoreError::Unauthorized
    );
    assert_err!(
        store
            .consume_login_link(
                s.scope.tenant_id(),
                &token,
                BROWSER,
                &SessionPolicy::default()
            )
            .await,
        StoreError::Unauthorized
    );

    let token = link(&*store, &s).await;
    let session = store
        .consume_login_link(
            s.scope.tenant_id(),
            &token,
            BROWSER,
            &SessionPolicy::default(),
        )
        .await
        .unwrap();
    assert_eq!(session.user, s.user);
    let who = store
        .authenticate_session(s.scope.tenant_id(), &session.token)
        .await
        .unwrap();
    assert_eq!(who.user, s.user);
    assert_eq!(
        who.scope, s.scope,
        "the session hands out its clinic's scope"
    );
    assert_eq!(who.role, Role::Reception);
    // Used once: a second use is refused.
    assert_err!(
        store
            .consume_login_link(
                s.scope.tenant_id(),
                &token,
                BROWSER,
                &SessionPolicy::default()
            )
            .await,
        StoreError::Unauthorized
    );
    assert_err!(
        store
            .consume_login_link(
                s.scope.tenant_id(),
                "fdl_made_up",
                BROWSER,
                &SessionPolicy::default()
            )
            .await,
        StoreError::Unauthorized
    );
    let audit = store.audit_entries(s.scope, 0, 100).await.unwrap();
    assert_eq!(audited(&audit, "staff.sign_in_link_sent"), 2);
    assert_eq!(audited(&audit, "staff.signed_in"), 1);
}

async fn a_link_expires_after_ten_minutes(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let s = seed(&*store, "auth-b", "b", "+64210000002").await;
    let fresh = link(&*store, &s).await;
    let stale = link(&*store, &s).await;
    clock.advance(SignedDuration::from_secs(9 * 60 + 59));
    store
        .consume_login_link(
            s.scope.tenant_id(),
            &fresh,
            BROWSER,
            &SessionPolicy::default(),
        )
        .await
        .unwrap();
    clock.advance(SignedDuration::from_secs(1));
    assert_err!(
        store
            .consume_login_link(
                s.scope.tenant_id(),
                &stale,
                BROWSER,
                &SessionPolicy::default()
            )
            .await,
        StoreError::Unauthorized
    );
}

async fn racing_uses_of_one_link_open_exactly_one_session(db: &TestDb) {
    let store = store(db).await;
    let s = seed(&*store, "auth-c", "c", "+64210000003").await;
    let token = Arc::new(link(&*store, &s).await);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (store, token) = (store.clone(), token.clone());
        let tenant = s.scope.tenant_id();
        tasks.push(tokio::spawn(async move {
            store
                .consume_login_link(tenant, &token, BROWSER, &SessionPolicy::default())
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Unauthorized) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    let sessions = Raw::open(db)
        .await
        .scalar(
            "SELECT count(*) FROM staff_sessions WHERE tenant_id = $1".into(),
            &[s.scope.tenant_id().as_uuid()],
        )
        .await;
    assert_eq!(sessions, 1);
}

async fn requests_are_rate_limited_per_address_and_per_ip_alike_for_unknown_addresses(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let s = seed(&*store, "auth-d", "d", "+64210000004").await;
    let policy = LoginLinkPolicy {
        max_per_email: 3,
        max_per_ip: 5,
        ..LoginLinkPolicy::default()
    };
    let ask = |e: Email, ip: &'static str| {
        let store = store.clone();
        let slug = s.slug.clone();
        async move {
            store
                .request_login_link(&slug, &e, ip, BROWSER, &policy)
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert!(matches!(
            ask(s.user_email.clone(), "192.0.2.1").await,
            LoginLinkOutcome::Created { .. }
        ));
    }
    // The fourth for this address is refused, from any IP.
    assert!(matches!(
        ask(s.user_email.clone(), "192.0.2.2").await,
        LoginLinkOutcome::RateLimited
    ));
    // An unknown address is counted the same way (and never gets a link).
    let nobody = email("nobody@example.org");
    for _ in 0..3 {
        assert!(matches!(
            ask(nobody.clone(), "192.0.2.9").await,
            LoginLinkOutcome::NoSuchUser
        ));
    }
    assert!(matches!(
        ask(nobody.clone(), "192.0.2.9").await,
        LoginLinkOutcome::RateLimited
    ));
    // Per IP: 192.0.2.9 has made 4 requests; one more is allowed, the next is not, whatever
    // the address.
    assert!(matches!(
        ask(email("x@example.org"), "192.0.2.9").await,
        LoginLinkOutcome::NoSuchUser
    ));
    assert!(matches!(
        ask(email("y@example.org"), "192.0.2.9").await,
        LoginLinkOutcome::RateLimited
    ));
    // The window passes: allowed again.
    clock.advance(SignedDuration::from_mins(16));
    assert!(matches!(
        ask(s.user_email.clone(), "192.0.2.9").await,
        LoginLinkOutcome::Created { .. }
    ));
    // An unknown clinic answers like an unknown address.
    assert!(matches!(
        store
            .request_login_link(
                &slug("no-such-clinic"),
                &s.user_email,
                "192.0.2.4",
                BROWSER,
                &policy
            )
            .await
            .unwrap(),
        LoginLinkOutcome::NoSuchUser
    ));
    // A disabled user gets no link.
    store
        .set_user_active(s.scope, s.user, false, Actor::Operator)
        .await
        .unwrap();
    assert!(matches!(
        ask(s.user_email.clone(), "192.0.2.3").await,
        LoginLinkOutcome::NoSuchUser
    ));
}

async fn sessions_end_when_idle_at_their_lifetime_and_on_logout(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let s = seed(&*store, "auth-e", "e", "+64210000005").await;

    // Idle: 29 minutes apart keeps it alive (each request restarts the idle clock), 30 do not.
    let t = sign_in(&*store, &s).await;
    for _ in 0..4 {
        clock.advance(SignedDuration::from_mins(29));
        store
            .authenticate_session(s.scope.tenant_id(), &t)
            .await
            .unwrap();
    }
    clock.advance(SignedDuration::from_mins(30));
    assert_err!(
        store.authenticate_session(s.scope.tenant_id(), &t).await,
        StoreError::Unauthorized
    );

    // Live updates check the session without restarting its idle clock: a dashboard left
    // open still times out.
    let t = sign_in(&*store, &s).await;
    clock.advance(SignedDuration::from_mins(20));
    let checked = store.check_session(s.scope.tenant_id(), &t).await.unwrap();
    assert_eq!(checked.user, s.user);
    clock.advance(SignedDuration::from_mins(10));
    assert_err!(
        store.check_session(s.scope.tenant_id(), &t).await,
        StoreError::Unauthorized
    );
    assert_err!(
        store.authenticate_session(s.scope.tenant_id(), &t).await,
        StoreError::Unauthorized
    );
    assert_err!(
        store
            .check_session(s.scope.tenant_id(), "not-a-session")
            .await,
        StoreError::Unauthorized
    );

    // A clinic's own idle timeout: 12 hours, then an hour between requests keeps the session.
    // Absolute: 12 hours however active.
    let mut profile = store.clinic(s.scope).await.unwrap().profile;
    profile.session_idle_minutes = 5000;
    assert_err!(
        store.update_profile(s.scope, &profile).await,
        StoreError::Invalid(_)
    );
    profile.session_idle_minutes = 720;
    store.update_profile(s.scope, &profile).await.unwrap();
    let t = sign_in(&*store, &s).await;
    for _ in 0..11 {
        clock.advance(SignedDuration::from_hours(1));
        store
            .authenticate_session(s.scope.tenant_id(), &t)
            .await
            .unwrap();
    }
    clock.advance(SignedDuration::from_hours(1));
    assert_err!(
        store.authenticate_session(s.scope.tenant_id(), &t).await,
        StoreError::Unauthorized
    );

    // Logout ends this session only; "everywhere" ends the rest.
    let one = sign_in(&*store, &s).await;
    let two = sign_in(&*store, &s).await;
    let three = sign_in(&*store, &s).await;
    store.end_session(s.scope.tenant_id(), &one).await.unwrap();
    assert_err!(
        store.authenticate_session(s.scope.tenant_id(), &one).await,
        StoreError::Unauthorized
    );
    store
        .authenticate_session(s.scope.tenant_id(), &two)
        .await
        .unwrap();
    let ended = store
        .end_all_sessions(s.scope, s.user, Actor::Staff(s.user))
        .await
        .unwrap();
    assert_eq!(ended, 2);
    for t in [&two, &three] {
        assert_err!(
            store.authenticate_session(s.scope.tenant_id(), t).await,
            StoreError::Unauthorized
        );
    }
    assert_err!(
        store
            .authenticate_session(s.scope.tenant_id(), "fds_unknown")
            .await,
        StoreError::Unauthorized
    );
    let audit = store.audit_entries(s.scope, 0, 100).await.unwrap();
    assert_eq!(audited(&audit, "staff.signed_out"), 1);
    assert_eq!(audited(&audit, "staff.sessions_ended"), 1);
}

async fn disabling_a_user_or_changing_their_role_ends_their_sessions(db: &TestDb) {
    let store = store(db).await;
    let s = seed(&*store, "auth-f", "f", "+64210000006").await;
    let t = sign_in(&*store, &s).await;
    let pending = link(&*store, &s).await;
    store
        .set_user_role(s.scope, s.user, Role::ReceptionHead, Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        store.authenticate_session(s.scope.tenant_id(), &t).await,
        StoreError::Unauthorized
    );
    // An unused link from before the change is spent too.
    assert_err!(
        store
            .consume_login_link(
                s.scope.tenant_id(),
                &pending,
                BROWSER,
                &SessionPolicy::default()
            )
            .await,
        StoreError::Unauthorized
    );
    let t = sign_in(&*store, &s).await;
    assert_eq!(
        store
            .authenticate_session(s.scope.tenant_id(), &t)
            .await
            .unwrap()
            .role,
        Role::ReceptionHead
    );
    store
        .set_user_active(s.scope, s.user, false, Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        store.authenticate_session(s.scope.tenant_id(), &t).await,
        StoreError::Unauthorized
    );
    store
        .set_user_active(s.scope, s.user, true, Actor::Operator)
        .await
        .unwrap();
    // Re-enabling does not bring old sessions back.
    assert_err!(
        store.authenticate_session(s.scope.tenant_id(), &t).await,
        StoreError::Unauthorized
    );
    let audit = store.audit_entries(s.scope, 0, 100).await.unwrap();
    assert_eq!(audited(&audit, "user.role_changed"), 1);
    assert_eq!(audited(&audit, "user.disabled"), 1);
    assert_eq!(audited(&audit, "user.enabled"), 1);
    assert_err!(
        store
            .set_user_role(s.scope, UserId::new(), Role::Owner, Actor::Operator)
            .await,
        StoreError::NotFound
    );
}

async fn only_hashes_of_secrets_are_stored(db: &TestDb) {
    let store = store(db).await;
    let s = seed(&*store, "auth-g", "g", "+64210000007").await;
    let token = link(&*store, &s).await;
    let session = store
        .consume_login_link(
            s.scope.tenant_id(),
            &token,
            BROWSER,
            &SessionPolicy::default(),
        )
        .await
        .unwrap();
    let dump = storage_dump(db).await;
    // The scan sees these tables' rows: the audit entry names the user by id.
    assert!(contains(&dump, s.user.to_string().as_bytes()));
    for secret in [
        token.as_str(),
        session.token.as_str(),
        BROWSER,
        s.user_email.as_str(),
        IP,
    ] {
        assert!(
            !contains(&dump, secret.as_bytes()),
            "{secret:?} is stored in clear"
        );
    }
}

async fn tokens_of_one_clinic_never_work_in_another(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let token = link(&*store, &a).await;
    assert_err!(
        store
            .consume_login_link(
                b.scope.tenant_id(),
                &token,
                BROWSER,
                &SessionPolicy::default()
            )
            .await,
        StoreError::Unauthorized
    );
    let t = sign_in(&*store, &a).await;
    assert_err!(
        store.authenticate_session(b.scope.tenant_id(), &t).await,
        StoreError::Unauthorized
    );
    store.end_session(b.scope.tenant_id(), &t).await.unwrap();
    store
        .authenticate_session(a.scope.tenant_id(), &t)
        .await
        .unwrap();
    assert_err!(
        store
            .end_all_sessions(b.scope, a.user, Actor::Operator)
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .set_user_active(b.scope, a.user, false, Actor::Operator)
            .await,
        StoreError::NotFound
    );
    store
        .authenticate_session(a.scope.tenant_id(), &t)
        .await
        .unwrap();
}

fn now_secs(clock: &ManualClock) -> i64 {
    clock.now().as_second()
}

async fn totp_is_set_up_with_a_code_and_each_code_or_recovery_code_works_once(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let s = seed(&*store, "auth-h", "h", "+64210000008").await;
    store
        .set_user_role(s.scope, s.user, Role::Owner, Actor::Operator)
        .await
        .unwrap();
    let tenant = s.scope.tenant_id();
    let t = sign_in(&*store, &s).await;
    let who = store.authenticate_session(tenant, &t).await.unwrap();
    assert!(
        !who.mfa_enrolled && !who.mfa_passed && !who.mfa_satisfied(),
        "an Owner needs MFA"
    );

    let secret = store.begin_totp(s.scope, s.user).await.unwrap();
    assert_eq!(secret.len(), totp::SECRET_LEN);
    assert_err!(
        store.confirm_totp(tenant, &t, "000000").await,
        StoreError::Unauthorized
    );
    let code = totp::code_at_step(&secret, totp::step_of(now_secs(&clock)));
    let recovery = store.confirm_totp(tenant, &t, &code).await.unwrap();
    assert_eq!(recovery.len(), 10);
    let who = store.authenticate_session(tenant, &t).await.unwrap();
    assert!(who.mfa_enrolled && who.mfa_passed && who.mfa_satisfied());
    assert_err!(
        store.begin_totp(s.scope, s.user).await,
        StoreError::Conflict(_)
    );

    // A new session must pass the second factor itself; the code just used is spent.
    let t2 = sign_in(&*store, &s).await;
    assert!(
        !store
            .authenticate_session(tenant, &t2)
            .await
            .unwrap()
            .mfa_passed
    );
    assert_err!(
        store.verify_second_factor(tenant, &t2, &code).await,
        StoreError::Unauthorized
    );
    clock.advance(SignedDuration::from_secs(30));
    let next = totp::code_at_step(&secret, totp::step_of(now_secs(&clock)));
    store
        .verify_second_factor(tenant, &t2, &next)
        .await
        .unwrap();
    assert!(
        store
            .authenticate_session(tenant, &t2)
            .await
            .unwrap()
            .mfa_satisfied()
    );

    // A recovery code works once, typed in any case and with or without dashes.
    let t3 = sign_in(&*store, &s).await;
    let typed = recovery[3].to_lowercase().replace('-', " ");
    store
        .verify_second_factor(tenant, &t3, &typed)
        .await
        .unwrap();
    let t4 = sign_in(&*store, &s).await;
    assert_err!(
        store.verify_second_factor(tenant, &t4, &recovery[3]).await,
        StoreError::Unauthorized
    );
    store
        .verify_second_factor(tenant, &t4, &recovery[4])
        .await
        .unwrap();

    // The secret is sealed: not in storage in clear, nor in base32.
    let dump = storage_dump(db).await;
    assert!(!contains(&dump, &secret));
    assert!(!contains(&dump, totp::base32(&secret).as_bytes()));
    for c in &recovery {
        assert!(!contains(&dump, c.as_bytes()));
    }
    let audit = store.audit_entries(s.scope, 0, 200).await.unwrap();
    assert_eq!(audited(&audit, "staff.mfa_enabled"), 1);
    assert_eq!(audited(&audit, "staff.mfa_passed"), 1);
    assert_eq!(audited(&audit, "staff.recovery_code_used"), 2);
}

async fn five_wrong_second_factor_codes_end_the_session(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let s = seed(&*store, "auth-i", "i", "+64210000009").await;
    let tenant = s.scope.tenant_id();
    let t = sign_in(&*store, &s).await;
    let secret = store.begin_totp(s.scope, s.user).await.unwrap();
    let code = totp::code_at_step(&secret, totp::step_of(now_secs(&clock)));
    store.confirm_totp(tenant, &t, &code).await.unwrap();
    let t2 = sign_in(&*store, &s).await;
    // A user who set up TOTP must pass it even in a role that does not require it.
    assert!(
        !store
            .authenticate_session(tenant, &t2)
            .await
            .unwrap()
            .mfa_satisfied()
    );
    for _ in 0..4 {
        assert_err!(
            store.verify_second_factor(tenant, &t2, "123456").await,
            StoreError::Unauthorized
        );
    }
    store.authenticate_session(tenant, &t2).await.unwrap();
    assert_err!(
        store.verify_second_factor(tenant, &t2, "654321").await,
        StoreError::Unauthorized
    );
    assert_err!(
        store.authenticate_session(tenant, &t2).await,
        StoreError::Unauthorized
    );
    clock.advance(SignedDuration::from_secs(30));
    let good = totp::code_at_step(&secret, totp::step_of(now_secs(&clock)));
    assert_err!(
        store.verify_second_factor(tenant, &t2, &good).await,
        StoreError::Unauthorized
    );
    // Without a second factor set up there is nothing to verify.
    let other = seed(&*store, "auth-j", "j", "+64210000010").await;
    let t3 = sign_in(&*store, &other).await;
    assert_err!(
        store
            .verify_second_factor(other.scope.tenant_id(), &t3, &good)
            .await,
        StoreError::Unauthorized
    );
}

async fn staff_invite_users_and_list_only_their_own_clinics(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let new = NewUser {
        email: email("new.doc@clinic.example"),
        name: "Zed New".into(),
        role: Role::Doctor,
    };
    let id = store
        .invite_user(a.scope, &new, Actor::Staff(a.user))
        .await
        .unwrap();
    assert_err!(
        store.invite_user(a.scope, &new, Actor::Staff(a.user)).await,
        StoreError::Conflict(_)
    );
    let listed = store.list_users(a.scope).await.unwrap();
    assert_eq!(listed.len(), 2);
    let z = listed.iter().find(|u| u.id == id).unwrap();
    assert_eq!(
        (z.name.as_str(), z.role, z.active, z.mfa_enrolled),
        ("Zed New", Role::Doctor, true, false)
    );
    assert_eq!(z.email, new.email);
    assert!(listed.iter().all(|u| u.id != b.user));
    assert!(
        store
            .list_users(b.scope)
            .await
            .unwrap()
            .iter()
            .all(|u| u.id != id)
    );
    let audit = store.audit_entries(a.scope, 0, 100).await.unwrap();
    let created = audit
        .iter()
        .find(|e| {
            e.action == "user.created" && e.target_id.as_deref() == Some(id.to_string().as_str())
        })
        .unwrap();
    assert_eq!(created.actor_kind, "staff");
    assert_eq!(
        created.actor_id.as_deref(),
        Some(a.user.to_string().as_str())
    );
}
