//! Shared SQL for anomaly alerts (see [`crate::anomaly`]): raising as an upsert on the one
//! open episode per (kind, subject), windowed event counts, the networks each API key was
//! used from, and the detectors that look back over the audit log and the outbox.

macro_rules! impl_security_alerts {
    ($Store:ty) => {
        /// A `security_alerts` row as `SECURITY_ALERT_COLUMNS` reads it.
        type SecurityAlertRow = (Uuid, String, String, String, i64, i64, i64, Option<i64>, Option<i64>, Option<String>, Option<i64>);

        const SECURITY_ALERT_COLUMNS: &str = "id, kind, subject, details, first_seen_at, last_seen_at, occurrences, closed_at, acknowledged_at, acknowledged_by, emailed_at";

        fn security_alert_from_row(r: SecurityAlertRow) -> Result<SecurityAlert> {
            let (id, kind, subject, details, first, last, occurrences, closed, acked, acked_by, emailed) = r;
            Ok(SecurityAlert {
                id: SecurityAlertId::from_uuid(id),
                kind: AlertKind::parse(&kind)?,
                subject,
                details: serde_json::from_str(&details).map_err(|_| StoreError::Corrupt("security alert details"))?,
                first_seen_at: from_us(first)?,
                last_seen_at: from_us(last)?,
                occurrences,
                closed_at: closed.map(from_us).transpose()?,
                acknowledged_at: acked.map(from_us).transpose()?,
                acknowledged_by: acked_by,
                emailed_at: emailed.map(from_us).transpose()?,
            })
        }

        impl $Store {
            /// Raises (or bumps) an alert inside `tx`: see [`SecurityAlertStore::raise_security_alert`].
            pub(crate) async fn raise_security_alert_tx(&self, tx: &mut Tx, tenant: TenantId, kind: AlertKind, subject: &str, details: &serde_json::Value, now: i64) -> Result<Option<SecurityAlertId>> {
                use $crate::sql::coordination::micros;
                // An episode quiet for a day is over: this occurrence opens a new one.
                sqlx::query(
                    "UPDATE security_alerts SET closed_at = $4 \
                     WHERE tenant_id = $1 AND kind = $2 AND subject = $3 AND closed_at IS NULL AND last_seen_at < $5",
                )
                .bind(tenant.as_uuid())
                .bind(kind.as_str())
                .bind(subject)
                .bind(now)
                .bind(now.saturating_sub(micros(EPISODE_QUIET)?))
                .execute(&mut **tx)
                .await?;
                let text = serde_json::to_string(details).map_err(|_| StoreError::Corrupt("security alert details"))?;
                let (id, occurrences): (Uuid, i64) = sqlx::query_as(
                    "INSERT INTO security_alerts (tenant_id, id, kind, subject, details, first_seen_at, last_seen_at, occurrences) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6, 1) \
                     ON CONFLICT (tenant_id, kind, subject) WHERE closed_at IS NULL DO UPDATE SET \
                       last_seen_at = excluded.last_seen_at, details = excluded.details, \
                       occurrences = security_alerts.occurrences + 1 \
                     RETURNING id, occurrences",
                )
                .bind(tenant.as_uuid())
                .bind(SecurityAlertId::new().as_uuid())
                .bind(kind.as_str())
                .bind(subject)
                .bind(&text)
                .bind(now)
                .fetch_one(&mut **tx)
                .await?;
                if occurrences != 1 {
                    return Ok(None);
                }
                let ev = AuditEvent::new(Actor::System, "security_alert.raised")
                    .target("security_alert", id)
                    .details(serde_json::json!({ "kind": kind.as_str(), "subject": subject, "details": details }));
                self.append_audit_tx(tx, tenant, now, &ev).await?;
                let job = NotifySecurityAlertJob { alert: id };
                self.enqueue_job_tx(tx, tenant, NOTIFY_SECURITY_ALERT_JOB, &job, &format!("security_alert:{id}"), now).await?;
                Ok(Some(SecurityAlertId::from_uuid(id)))
            }

            /// Counts one event inside `tx`: see [`SecurityAlertStore::record_security_event`].
            pub(crate) async fn security_event_tx(&self, tx: &mut Tx, tenant: TenantId, rule: BurstRule, subject: &str, now: i64) -> Result<Option<SecurityAlertId>> {
                let since = now.saturating_sub($crate::sql::coordination::micros(rule.window)?);
                // The table only serves the windows: what has aged out of this one goes.
                sqlx::query("DELETE FROM security_events WHERE tenant_id = $1 AND kind = $2 AND at < $3")
                    .bind(tenant.as_uuid())
                    .bind(rule.kind.as_str())
                    .bind(since)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query("INSERT INTO security_events (tenant_id, kind, subject, at) VALUES ($1, $2, $3, $4)")
                    .bind(tenant.as_uuid())
                    .bind(rule.kind.as_str())
                    .bind(subject)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                let (events,): (i64,) = sqlx::query_as(
                    "SELECT count(*) FROM security_events WHERE tenant_id = $1 AND kind = $2 AND subject = $3 AND at >= $4",
                )
                .bind(tenant.as_uuid())
                .bind(rule.kind.as_str())
                .bind(subject)
                .bind(since)
                .fetch_one(&mut **tx)
                .await?;
                if events < rule.threshold {
                    return Ok(None);
                }
                let details = serde_json::json!({
                    "events": events,
                    "window_minutes": rule.window.as_mins(),
                    "threshold": rule.threshold,
                });
                self.raise_security_alert_tx(tx, tenant, rule.kind, subject, &details, now).await
            }

            /// When `key` was last noted using `network`.
            async fn api_key_network_seen_tx(&self, tx: &mut Tx, tenant: TenantId, key: ApiKeyId, network: &str) -> Result<Option<(i64,)>> {
                Ok(sqlx::query_as("SELECT last_seen_at FROM api_key_networks WHERE tenant_id = $1 AND api_key_id = $2 AND network = $3")
                    .bind(tenant.as_uuid())
                    .bind(key.as_uuid())
                    .bind(network)
                    .fetch_optional(&mut **tx)
                    .await?)
            }

            /// The staff members whose patient-record reads in the last hour break the
            /// record-reads rule: `(subject, details)` for each.
            async fn record_read_spikes(&self, scope: TenantScope, now: i64) -> Result<Vec<(String, serde_json::Value)>> {
                use $crate::sql::coordination::micros;
                let tenant = scope.tenant_id();
                let hour_ago = now.saturating_sub(micros(RECORD_READS_WINDOW)?);
                let mut tx = self.read_tx(Some(scope)).await?;
                let recent: Vec<(Option<String>, i64)> = sqlx::query_as(
                    "SELECT actor_id, count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'patient.viewed' \
                     AND actor_kind = 'staff' AND at >= $2 GROUP BY actor_id",
                )
                .bind(tenant.as_uuid())
                .bind(hour_ago)
                .fetch_all(&mut *tx)
                .await?;
                let mut found = Vec::new();
                for (actor, reads) in recent {
                    let Some(actor) = actor else { continue };
                    if reads <= RECORD_READS_FLOOR {
                        continue;
                    }
                    let usual: Vec<(i64,)> = sqlx::query_as(
                        "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'patient.viewed' \
                         AND actor_kind = 'staff' AND actor_id = $2 AND at >= $3 AND at < $4 \
                         GROUP BY at / 3600000000",
                    )
                    .bind(tenant.as_uuid())
                    .bind(&actor)
                    .bind(now.saturating_sub(micros(RECORD_READS_HISTORY)?))
                    .bind(hour_ago)
                    .fetch_all(&mut *tx)
                    .await?;
                    let usual: Vec<i64> = usual.into_iter().map(|(n,)| n).collect();
                    let median = hourly_median(usual.clone());
                    let limit = record_reads_limit(usual);
                    if reads > limit {
                        found.push((
                            format!("user:{actor}"),
                            serde_json::json!({ "reads_last_hour": reads, "limit": limit, "usual_per_hour": median }),
                        ));
                    }
                }
                tx.commit().await?;
                Ok(found)
            }

            /// The channels breaking the provider-outage rule: `(subject, details)` for each.
            async fn provider_outages(&self, scope: TenantScope, now: i64) -> Result<Vec<(String, serde_json::Value)>> {
                let tenant = scope.tenant_id();
                let since = now.saturating_sub($crate::sql::coordination::micros(PROVIDER_OUTAGE_AFTER)?);
                let mut tx = self.read_tx(Some(scope)).await?;
                let failing: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT channel, count(*) FROM outbox WHERE tenant_id = $1 AND attempts >= 1 AND last_error IS NOT NULL \
                     AND status IN ('pending', 'sending', 'failed', 'dead') AND created_at <= $2 AND updated_at >= $2 \
                     GROUP BY channel ORDER BY channel",
                )
                .bind(tenant.as_uuid())
                .bind(since)
                .fetch_all(&mut *tx)
                .await?;
                let mut found = Vec::new();
                for (channel, failing) in failing {
                    let (sent,): (i64,) = sqlx::query_as(
                        "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND channel = $2 AND status = 'sent' AND updated_at >= $3",
                    )
                    .bind(tenant.as_uuid())
                    .bind(&channel)
                    .bind(since)
                    .fetch_one(&mut *tx)
                    .await?;
                    if sent == 0 {
                        found.push((
                            format!("channel:{channel}"),
                            serde_json::json!({ "failing_messages": failing, "minutes": PROVIDER_OUTAGE_AFTER.as_mins() }),
                        ));
                    }
                }
                tx.commit().await?;
                Ok(found)
            }
        }

        #[async_trait]
        impl SecurityAlertStore for $Store {
            async fn raise_security_alert(&self, scope: TenantScope, kind: AlertKind, subject: &str, details: &serde_json::Value) -> Result<Option<SecurityAlertId>> {
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let raised = self.raise_security_alert_tx(&mut tx, scope.tenant_id(), kind, subject, details, now).await?;
                tx.commit().await?;
                Ok(raised)
            }

            async fn record_security_event(&self, scope: TenantScope, rule: BurstRule, subject: &str) -> Result<Option<SecurityAlertId>> {
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let raised = self.security_event_tx(&mut tx, scope.tenant_id(), rule, subject, now).await?;
                tx.commit().await?;
                Ok(raised)
            }

            async fn record_signature_failure(&self, account: &ChannelAccount) -> Result<Option<SecurityAlertId>> {
                let subject = format!("{}:{}", account.provider.as_str(), account.address);
                self.record_security_event(TenantScope::new(account.tenant_id()), SIGNATURE_FAILURES, &subject).await
            }

            async fn note_api_key_network(&self, scope: TenantScope, key: ApiKeyId, network: &str) -> Result<Option<SecurityAlertId>> {
                use $crate::sql::coordination::micros;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let memory = now.saturating_sub(micros(API_KEY_NETWORK_MEMORY)?);
                // The common case, a known network noted within the hour, costs one read.
                let mut tx = self.read_tx(Some(scope)).await?;
                let last = self.api_key_network_seen_tx(&mut tx, tenant, key, network).await?;
                tx.commit().await?;
                if last.is_some_and(|(t,)| now - t < $crate::sql::calendar_feeds::LAST_USED_EVERY_US) {
                    return Ok(None);
                }
                let mut tx = self.write_tx(Some(scope)).await?;
                let last = self.api_key_network_seen_tx(&mut tx, tenant, key, network).await?;
                if let Some((t,)) = last
                    && t >= memory
                {
                    sqlx::query("UPDATE api_key_networks SET last_seen_at = $4 WHERE tenant_id = $1 AND api_key_id = $2 AND network = $3")
                        .bind(tenant.as_uuid())
                        .bind(key.as_uuid())
                        .bind(network)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok(None);
                }
                let (others,): (i64,) = sqlx::query_as(
                    "SELECT count(*) FROM api_key_networks WHERE tenant_id = $1 AND api_key_id = $2 AND network <> $3 AND last_seen_at >= $4",
                )
                .bind(tenant.as_uuid())
                .bind(key.as_uuid())
                .bind(network)
                .bind(memory)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO api_key_networks (tenant_id, api_key_id, network, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $4, $4) \
                     ON CONFLICT (tenant_id, api_key_id, network) DO UPDATE SET first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at",
                )
                .bind(tenant.as_uuid())
                .bind(key.as_uuid())
                .bind(network)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let mut raised = None;
                if others > 0 {
                    let (prefix,): (String,) = sqlx::query_as("SELECT prefix FROM api_keys WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(key.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    let details = serde_json::json!({ "api_key": prefix, "network": network, "known_networks": others });
                    let subject = format!("api_key:{prefix}@{network}");
                    raised = self.raise_security_alert_tx(&mut tx, tenant, AlertKind::ApiKeyNetwork, &subject, &details, now).await?;
                }
                tx.commit().await?;
                Ok(raised)
            }

            async fn detect_anomalies(&self, scope: TenantScope) -> Result<Vec<SecurityAlertId>> {
                let now = self.now_us();
                let mut found: Vec<(AlertKind, String, serde_json::Value)> = Vec::new();
                for (subject, details) in self.record_read_spikes(scope, now).await? {
                    found.push((AlertKind::RecordReads, subject, details));
                }
                for (subject, details) in self.provider_outages(scope, now).await? {
                    found.push((AlertKind::ProviderOutage, subject, details));
                }
                if found.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.write_tx(Some(scope)).await?;
                let mut raised = Vec::new();
                for (kind, subject, details) in found {
                    if let Some(id) = self.raise_security_alert_tx(&mut tx, scope.tenant_id(), kind, &subject, &details, now).await? {
                        raised.push(id);
                    }
                }
                tx.commit().await?;
                Ok(raised)
            }

            async fn security_alerts(&self, scope: TenantScope) -> Result<Vec<SecurityAlert>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<SecurityAlertRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SECURITY_ALERT_COLUMNS} FROM security_alerts WHERE tenant_id = $1 \
                     ORDER BY CASE WHEN acknowledged_at IS NULL THEN 0 ELSE 1 END, last_seen_at DESC, id DESC LIMIT 200"
                )))
                .bind(scope.tenant_id().as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter().map(security_alert_from_row).collect()
            }

            async fn security_alert(&self, scope: TenantScope, id: SecurityAlertId) -> Result<SecurityAlert> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let row: Option<SecurityAlertRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SECURITY_ALERT_COLUMNS} FROM security_alerts WHERE tenant_id = $1 AND id = $2"
                )))
                .bind(scope.tenant_id().as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                security_alert_from_row(row.ok_or(StoreError::NotFound)?)
            }

            async fn acknowledge_security_alert(&self, scope: TenantScope, id: SecurityAlertId, actor: Actor) -> Result<bool> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let row: Option<(String, Option<i64>)> = sqlx::query_as("SELECT kind, acknowledged_at FROM security_alerts WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                let (kind, acked) = row.ok_or(StoreError::NotFound)?;
                if acked.is_some() {
                    tx.commit().await?;
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE security_alerts SET acknowledged_at = $3, acknowledged_by = $4, closed_at = COALESCE(closed_at, $3) \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(now)
                .bind(actor_label(&actor))
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(actor, "security_alert.acknowledged")
                    .target("security_alert", id)
                    .details(serde_json::json!({ "kind": kind }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn finish_security_alert_job(&self, lease: &JobLease, id: SecurityAlertId, emailed: bool) -> Result<()> {
                let now = self.now_us();
                let mut tx = self.write_tx(Some(lease.scope)).await?;
                self.finish_job_tx(&mut tx, lease, now).await?;
                if emailed {
                    sqlx::query("UPDATE security_alerts SET emailed_at = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(lease.scope.tenant_id().as_uuid())
                        .bind(id.as_uuid())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_security_alerts;
