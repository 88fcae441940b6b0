//! Shared SQL for staff sign-in links and dashboard sessions. Every secret (link token,
//! session id, browser-binding cookie) is a random 256-bit value held only by the browser or
//! the email; the database keeps its SHA-256. The browser binding is compared in constant
//! time. A link is used and its session opened in one transaction, so a link can never open
//! two sessions, even when clicked twice at once.

/// Wrong second-factor codes a session may send before it is ended.
pub(crate) const MAX_MFA_FAILURES: i32 = 5;
/// Recovery codes made when TOTP is set up.
pub(crate) const RECOVERY_CODES: usize = 10;

/// How often an active session's idle clock is written back (reads stay reads in between).
pub(crate) const TOUCH_EVERY_US: i64 = 60 * 1_000_000;

macro_rules! impl_staff_auth {
    ($Store:ty) => {
        impl $Store {
            /// The session behind `token` if it is valid now; `touch` refreshes its idle clock
            /// (at most once a minute). Handed out only once found valid in this tenant's rows.
            async fn session_check(&self, tenant: TenantId, token: &str, touch: bool) -> Result<StaffSession> {
                let scope = TenantScope::new(tenant);
                let now = self.now_us();
                let id_hash = token_hash(token);
                let mut tx = self.read_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                type Row = (Uuid, i64, i64, i32, i64, Option<i64>, String, String, Vec<u8>, Option<i64>, Option<i64>, Option<Uuid>);
                let row: Option<Row> = sqlx::query_as(
                    "SELECT s.user_id, s.created_at, s.last_seen_at, s.idle_secs, s.expires_at, s.revoked_at, \
                            u.role, u.status, u.name_ct, s.mfa_at, u.totp_enabled_at, u.practitioner_id \
                     FROM staff_sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
                     JOIN tenants t ON t.id = s.tenant_id AND t.status = 'active' \
                     WHERE s.tenant_id = $1 AND s.id_hash = $2",
                )
                .bind(tenant.as_uuid())
                .bind(&id_hash)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                let Some((user, created, last_seen, idle_secs, expires, revoked, role, status, name_ct, mfa_at, totp_on, practitioner)) = row else {
                    return Err(StoreError::Unauthorized);
                };
                let idle_deadline = last_seen + i64::from(idle_secs) * 1_000_000;
                if revoked.is_some() || status != "active" || now >= expires || now >= idle_deadline {
                    return Err(StoreError::Unauthorized);
                }
                if touch && now - last_seen >= $crate::sql::staff_auth::TOUCH_EVERY_US {
                    let mut tx = self.write_tx(Some(scope)).await?;
                    sqlx::query(
                        "UPDATE staff_sessions SET last_seen_at = $3 \
                         WHERE tenant_id = $1 AND id_hash = $2 AND revoked_at IS NULL AND last_seen_at < $3",
                    )
                    .bind(tenant.as_uuid())
                    .bind(&id_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }
                let user = UserId::from_uuid(user);
                Ok(StaffSession {
                    scope,
                    user,
                    role: Role::parse(&role)?,
                    name: keys.data.open_string(&aad(tenant, "users", "name", &user.to_string()), &name_ct)?,
                    created_at: from_us(created)?,
                    expires_at: from_us(expires)?,
                    mfa_enrolled: totp_on.is_some(),
                    mfa_passed: mfa_at.is_some(),
                    practitioner: practitioner.map(PractitionerId::from_uuid),
                })
            }


            /// Ends every live session (and unused sign-in link) of `user` inside `tx`; returns
            /// how many sessions were live (expired ones are already dead and stay as they are).
            async fn end_user_sessions_tx(&self, tx: &mut Tx, tenant: TenantId, user: UserId, now: i64) -> Result<u64> {
                let ended = sqlx::query(
                    "UPDATE staff_sessions SET revoked_at = $3 \
                     WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL \
                       AND expires_at > $3 AND last_seen_at + idle_secs * CAST(1000000 AS BIGINT) > $3",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                sqlx::query(
                    "UPDATE login_links SET used_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(ended)
            }

            /// The user of a live session (inside `tx`), or `Unauthorized`.
            async fn live_session_user_tx(&self, tx: &mut Tx, tenant: TenantId, id_hash: &[u8], now: i64) -> Result<UserId> {
                let row: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT s.user_id FROM staff_sessions s \
                     JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id AND u.status = 'active' \
                     WHERE s.tenant_id = $1 AND s.id_hash = $2 AND s.revoked_at IS NULL \
                       AND s.expires_at > $3 AND s.last_seen_at + s.idle_secs * CAST(1000000 AS BIGINT) > $3",
                )
                .bind(tenant.as_uuid())
                .bind(id_hash)
                .bind(now)
                .fetch_optional(&mut **tx)
                .await?;
                row.map(|(u,)| UserId::from_uuid(u)).ok_or(StoreError::Unauthorized)
            }

            /// Counts a wrong second-factor code against the session; the fifth ends it.
            async fn mfa_failure_tx(&self, tx: &mut Tx, tenant: TenantId, user: UserId, id_hash: &[u8], now: i64) -> Result<()> {
                let (failures,): (i32,) = sqlx::query_as(
                    "UPDATE staff_sessions SET mfa_failures = mfa_failures + 1 \
                     WHERE tenant_id = $1 AND id_hash = $2 RETURNING mfa_failures",
                )
                .bind(tenant.as_uuid())
                .bind(id_hash)
                .fetch_one(&mut **tx)
                .await?;
                if failures >= $crate::sql::staff_auth::MAX_MFA_FAILURES {
                    sqlx::query("UPDATE staff_sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id_hash = $2")
                        .bind(tenant.as_uuid())
                        .bind(id_hash)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    let ev = AuditEvent::new(Actor::Staff(user), "staff.mfa_failed_session_ended").target("user", user);
                    self.append_audit_tx(tx, tenant, now, &ev).await?;
                }
                // Counted per account across sessions (a new session per guess is no escape).
                self.security_event_tx(tx, tenant, LOGIN_FAILURES, &format!("user:{user}"), now).await?;
                Ok(())
            }

            /// Marks the session as having passed the second factor.
            async fn mfa_passed_tx(&self, tx: &mut Tx, tenant: TenantId, id_hash: &[u8], now: i64) -> Result<()> {
                sqlx::query("UPDATE staff_sessions SET mfa_at = $3, mfa_failures = 0 WHERE tenant_id = $1 AND id_hash = $2")
                    .bind(tenant.as_uuid())
                    .bind(id_hash)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// The user's TOTP secret (opened), whether it is enabled, and the last step used.
            async fn totp_tx(&self, tx: &mut Tx, keys: &TenantKeys, tenant: TenantId, user: UserId) -> Result<Option<(zeroize::Zeroizing<Vec<u8>>, bool, Option<i64>)>> {
                let row: Option<(Option<Vec<u8>>, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT totp_ct, totp_enabled_at, totp_last_step FROM users WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                let Some((Some(ct), enabled, last)) = row else { return Ok(None) };
                let secret = keys.data.open(&aad(tenant, "users", "totp", &user.to_string()), &ct)?;
                Ok(Some((secret, enabled.is_some(), last)))
            }

            /// Locks the user row for an update (PostgreSQL) and returns its role and status.
            async fn user_role_status_tx(&self, tx: &mut Tx, tenant: TenantId, user: UserId) -> Result<(String, String)> {
                let row: Option<(String, String)> = sqlx::query_as(
                    "UPDATE users SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2 RETURNING role, status",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                row.ok_or(StoreError::NotFound)
            }
        }

        #[async_trait]
        impl StaffAuthStore for $Store {
            async fn request_login_link(
                &self,
                slug: &TenantSlug,
                email: &Email,
                ip: &str,
                browser: &str,
                policy: &LoginLinkPolicy,
            ) -> Result<LoginLinkOutcome> {
                let tenant = match self.resolve_slug(slug).await {
                    Ok(t) => t,
                    Err(StoreError::NotFound) => return Ok(LoginLinkOutcome::NoSuchUser),
                    Err(e) => return Err(e),
                };
                let scope = TenantScope::new(tenant);
                let now = self.now_us();
                let since = now - policy.window.as_micros() as i64;
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let email_bidx = keys.index.blind_index("email", email.as_str());
                let ip_bidx = keys.index.blind_index("ip", ip);
                // Forget requests older than the window: the table only serves the limit.
                sqlx::query("DELETE FROM login_requests WHERE tenant_id = $1 AND at < $2")
                    .bind(tenant.as_uuid())
                    .bind(since)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO login_requests (tenant_id, at, email_bidx, ip_bidx) VALUES ($1, $2, $3, $4)")
                    .bind(tenant.as_uuid())
                    .bind(now)
                    .bind(&email_bidx)
                    .bind(&ip_bidx)
                    .execute(&mut *tx)
                    .await?;
                let (by_email, by_ip): (i64, i64) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM login_requests WHERE tenant_id = $1 AND email_bidx = $2), \
                            (SELECT count(*) FROM login_requests WHERE tenant_id = $1 AND ip_bidx = $3)",
                )
                .bind(tenant.as_uuid())
                .bind(&email_bidx)
                .bind(&ip_bidx)
                .fetch_one(&mut *tx)
                .await?;
                if by_email > i64::from(policy.max_per_email) || by_ip > i64::from(policy.max_per_ip) {
                    // Beyond the limit is an anomaly alert (deduplicated per episode): about the
                    // account when its email is over, else about the address (blind indexes only).
                    let subject = if by_email > i64::from(policy.max_per_email) {
                        let user: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE tenant_id = $1 AND email_bidx = $2")
                            .bind(tenant.as_uuid())
                            .bind(&email_bidx)
                            .fetch_optional(&mut *tx)
                            .await?;
                        match user {
                            Some((u,)) => format!("user:{u}"),
                            None => format!("account:{}", short_hex(&email_bidx)),
                        }
                    } else {
                        format!("address:{}", short_hex(&ip_bidx))
                    };
                    let details = serde_json::json!({
                        "requests_for_account": by_email,
                        "requests_from_address": by_ip,
                        "window_minutes": policy.window.as_secs() / 60,
                    });
                    self.raise_security_alert_tx(&mut tx, tenant, AlertKind::LoginRequests, &subject, &details, now).await?;
                    tx.commit().await?;
                    return Ok(LoginLinkOutcome::RateLimited);
                }
                let user: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT id FROM users WHERE tenant_id = $1 AND email_bidx = $2 AND status = 'active'",
                )
                .bind(tenant.as_uuid())
                .bind(&email_bidx)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((user,)) = user else {
                    tx.commit().await?;
                    return Ok(LoginLinkOutcome::NoSuchUser);
                };
                let user = UserId::from_uuid(user);
                let token = new_token("fdl_");
                let expires_at = now + policy.ttl.as_micros() as i64;
                sqlx::query(
                    "INSERT INTO login_links (tenant_id, token_hash, user_id, browser_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(tenant.as_uuid())
                .bind(token_hash(&token))
                .bind(user.as_uuid())
                .bind(token_hash(browser))
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(Actor::System, "staff.sign_in_link_sent").target("user", user);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(LoginLinkOutcome::Created {
                    token,
                    user,
                    email: email.clone(),
                    expires_at: from_us(expires_at)?,
                })
            }

            async fn consume_login_link(
                &self,
                tenant: TenantId,
                token: &str,
                browser: &str,
                policy: &SessionPolicy,
            ) -> Result<NewSession> {
                use subtle::ConstantTimeEq;
                // A scope for the tenant the link names: only the link's secret, found in
                // that tenant's rows, lets anything through.
                let scope = TenantScope::new(tenant);
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                // Claim the link: only one transaction can set `used_at`.
                let link: Option<(Uuid, Vec<u8>, i64)> = sqlx::query_as(
                    "UPDATE login_links SET used_at = $3 \
                     WHERE tenant_id = $1 AND token_hash = $2 AND used_at IS NULL \
                     RETURNING user_id, browser_hash, expires_at",
                )
                .bind(tenant.as_uuid())
                .bind(token_hash(token))
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((user, browser_hash, expires_at)) = link else {
                    return Err(StoreError::Unauthorized);
                };
                let same_browser: bool = browser_hash.ct_eq(&token_hash(browser)).into();
                if !same_browser || expires_at <= now {
                    // A link clicked in another browser (or too late) is spent all the same:
                    // whoever holds it cannot retry it elsewhere.
                    tx.commit().await?;
                    return Err(StoreError::Unauthorized);
                }
                let user = UserId::from_uuid(user);
                let active: Option<(String,)> = sqlx::query_as(
                    "SELECT status FROM users WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                if !matches!(active, Some((ref s,)) if s == "active") {
                    tx.commit().await?;
                    return Err(StoreError::Unauthorized);
                }
                // The clinic's own idle timeout (validated 5–720 minutes when it was set).
                let minutes = self.clinic_tx(&mut tx, scope).await?.profile.session_idle_minutes;
                let idle = jiff::SignedDuration::from_mins(i64::from(minutes))
                    .clamp(jiff::SignedDuration::from_mins(1), SessionPolicy::MAX_IDLE);
                let session = new_token("fds_");
                let expires = now + policy.absolute.as_micros() as i64;
                sqlx::query(
                    "INSERT INTO staff_sessions (tenant_id, id_hash, user_id, created_at, last_seen_at, idle_secs, expires_at) \
                     VALUES ($1, $2, $3, $4, $4, $5, $6)",
                )
                .bind(tenant.as_uuid())
                .bind(token_hash(&session))
                .bind(user.as_uuid())
                .bind(now)
                .bind(idle.as_secs() as i32)
                .bind(expires)
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(Actor::Staff(user), "staff.signed_in").target("user", user);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(NewSession { token: session, user, expires_at: from_us(expires)? })
            }

            async fn authenticate_session(&self, tenant: TenantId, token: &str) -> Result<StaffSession> {
                self.session_check(tenant, token, true).await
            }

            async fn check_session(&self, tenant: TenantId, token: &str) -> Result<StaffSession> {
                self.session_check(tenant, token, false).await
            }

            async fn end_session(&self, tenant: TenantId, token: &str) -> Result<()> {
                let scope = TenantScope::new(tenant);
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let user: Option<(Uuid,)> = sqlx::query_as(
                    "UPDATE staff_sessions SET revoked_at = $3 \
                     WHERE tenant_id = $1 AND id_hash = $2 AND revoked_at IS NULL RETURNING user_id",
                )
                .bind(tenant.as_uuid())
                .bind(token_hash(token))
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((user,)) = user {
                    let user = UserId::from_uuid(user);
                    let ev = AuditEvent::new(Actor::Staff(user), "staff.signed_out").target("user", user);
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn end_all_sessions(&self, scope: TenantScope, user: UserId, actor: Actor) -> Result<u64> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                self.user_role_status_tx(&mut tx, tenant, user).await?;
                let ended = self.end_user_sessions_tx(&mut tx, tenant, user, now).await?;
                let ev = AuditEvent::new(actor, "staff.sessions_ended")
                    .target("user", user)
                    .details(serde_json::json!({ "sessions": ended }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(ended)
            }

            async fn set_user_role(&self, scope: TenantScope, user: UserId, role: Role, actor: Actor) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (old, _) = self.user_role_status_tx(&mut tx, tenant, user).await?;
                if old == role.as_str() {
                    tx.commit().await?;
                    return Ok(());
                }
                sqlx::query("UPDATE users SET role = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(role.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ended = self.end_user_sessions_tx(&mut tx, tenant, user, now).await?;
                let ev = AuditEvent::new(actor, "user.role_changed")
                    .target("user", user)
                    .details(serde_json::json!({ "from": old, "to": role.as_str(), "sessions_ended": ended }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_user_active(&self, scope: TenantScope, user: UserId, active: bool, actor: Actor) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let status = if active { "active" } else { "disabled" };
                let mut tx = self.write_tx(Some(scope)).await?;
                let (_, old) = self.user_role_status_tx(&mut tx, tenant, user).await?;
                if old == status {
                    tx.commit().await?;
                    return Ok(());
                }
                sqlx::query("UPDATE users SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(status)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ended = if active { 0 } else { self.end_user_sessions_tx(&mut tx, tenant, user, now).await? };
                let action = if active { "user.enabled" } else { "user.disabled" };
                let ev = AuditEvent::new(actor, action)
                    .target("user", user)
                    .details(serde_json::json!({ "sessions_ended": ended }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn begin_totp(&self, scope: TenantScope, user: UserId) -> Result<zeroize::Zeroizing<Vec<u8>>> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                self.user_role_status_tx(&mut tx, tenant, user).await?;
                if matches!(self.totp_tx(&mut tx, &keys, tenant, user).await?, Some((_, true, _))) {
                    return Err(StoreError::Conflict("a second factor is already set up"));
                }
                let mut secret = zeroize::Zeroizing::new(vec![0u8; $crate::totp::SECRET_LEN]);
                rand::fill(&mut secret[..]);
                let ct = keys.data.seal(&aad(tenant, "users", "totp", &user.to_string()), &secret)?;
                sqlx::query("UPDATE users SET totp_ct = $3, totp_last_step = NULL, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(ct)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(Actor::Staff(user), "staff.mfa_setup_started").target("user", user);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(secret)
            }

            async fn confirm_totp(&self, tenant: TenantId, session_token: &str, code: &str) -> Result<Vec<zeroize::Zeroizing<String>>> {
                let scope = TenantScope::new(tenant);
                let now = self.now_us();
                let id_hash = token_hash(session_token);
                let mut tx = self.write_tx(Some(scope)).await?;
                let user = self.live_session_user_tx(&mut tx, tenant, &id_hash, now).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let (secret, enabled, _) = self.totp_tx(&mut tx, &keys, tenant, user).await?.ok_or(StoreError::NotFound)?;
                if enabled {
                    return Err(StoreError::Conflict("a second factor is already set up"));
                }
                let Some(step) = $crate::totp::matching_step(&secret, code, now / 1_000_000, None) else {
                    self.mfa_failure_tx(&mut tx, tenant, user, &id_hash, now).await?;
                    tx.commit().await?;
                    return Err(StoreError::Unauthorized);
                };
                sqlx::query("UPDATE users SET totp_enabled_at = $3, totp_last_step = $4, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(now)
                    .bind(step)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2")
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                let mut codes = Vec::new();
                for _ in 0..$crate::sql::staff_auth::RECOVERY_CODES {
                    let mut raw = [0u8; 10];
                    rand::fill(&mut raw[..]);
                    let b32 = $crate::totp::base32(&raw);
                    let shown = zeroize::Zeroizing::new(format!("{}-{}-{}-{}", &b32[0..4], &b32[4..8], &b32[8..12], &b32[12..16]));
                    sqlx::query("INSERT INTO recovery_codes (tenant_id, user_id, code_hash, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(tenant.as_uuid())
                        .bind(user.as_uuid())
                        .bind(token_hash(&b32))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    codes.push(shown);
                }
                self.mfa_passed_tx(&mut tx, tenant, &id_hash, now).await?;
                let ev = AuditEvent::new(Actor::Staff(user), "staff.mfa_enabled").target("user", user);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(codes)
            }

            async fn verify_second_factor(&self, tenant: TenantId, session_token: &str, code: &str) -> Result<()> {
                let scope = TenantScope::new(tenant);
                let now = self.now_us();
                let id_hash = token_hash(session_token);
                let mut tx = self.write_tx(Some(scope)).await?;
                let user = self.live_session_user_tx(&mut tx, tenant, &id_hash, now).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let Some((secret, true, last)) = self.totp_tx(&mut tx, &keys, tenant, user).await? else {
                    return Err(StoreError::Unauthorized);
                };
                let action = if let Some(step) = $crate::totp::matching_step(&secret, code, now / 1_000_000, last) {
                    sqlx::query("UPDATE users SET totp_last_step = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(user.as_uuid())
                        .bind(step)
                        .execute(&mut *tx)
                        .await?;
                    "staff.mfa_passed"
                } else {
                    let normalized: String = code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
                    let used: Option<(i64,)> = sqlx::query_as(
                        "UPDATE recovery_codes SET used_at = $4 \
                         WHERE tenant_id = $1 AND user_id = $2 AND code_hash = $3 AND used_at IS NULL RETURNING created_at",
                    )
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(token_hash(&normalized))
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if used.is_none() {
                        self.mfa_failure_tx(&mut tx, tenant, user, &id_hash, now).await?;
                        tx.commit().await?;
                        return Err(StoreError::Unauthorized);
                    }
                    "staff.recovery_code_used"
                };
                self.mfa_passed_tx(&mut tx, tenant, &id_hash, now).await?;
                let ev = AuditEvent::new(Actor::Staff(user), action).target("user", user);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn invite_user(&self, scope: TenantScope, user: &NewUser, actor: Actor) -> Result<UserId> {
                self.add_user(scope, user, actor).await
            }

            async fn list_users(&self, scope: TenantScope) -> Result<Vec<StaffMember>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                #[allow(clippy::type_complexity)]
                let rows: Vec<(Uuid, Vec<u8>, Vec<u8>, String, String, Option<i64>, Option<Uuid>, i64)> = sqlx::query_as(
                    "SELECT id, email_ct, name_ct, role, status, totp_enabled_at, practitioner_id, created_at FROM users WHERE tenant_id = $1",
                )
                .bind(tenant.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut out = Vec::with_capacity(rows.len());
                for (id, email_ct, name_ct, role, status, totp, practitioner, created_at) in rows {
                    let r = id.to_string();
                    out.push(StaffMember {
                        id: UserId::from_uuid(id),
                        email: Email::parse(&keys.data.open_string(&aad(tenant, "users", "email", &r), &email_ct)?)?,
                        name: keys.data.open_string(&aad(tenant, "users", "name", &r), &name_ct)?,
                        role: Role::parse(&role)?,
                        active: status == "active",
                        mfa_enrolled: totp.is_some(),
                        practitioner: practitioner.map(PractitionerId::from_uuid),
                        created_at: from_us(created_at)?,
                    });
                }
                out.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.to_string().cmp(&b.id.to_string())));
                Ok(out)
            }
        }
    };
}

pub(crate) use impl_staff_auth;
