//! Shared SQL for calendar feeds (#11): made, listed and revoked in the clinic's scope;
//! opened from a URL through the prefix directory (`calendar_feed_routes`), then in the
//! feed's clinic's scope, exactly like an API key (see `api_keys`).

/// How often a feed's `last_used_at` is written at most (calendar apps poll every few
/// minutes; a write per poll would be noise on the one SQLite writer).
pub(crate) const LAST_USED_EVERY_US: i64 = 3_600_000_000;
/// The most appointments one feed read returns.
pub(crate) const MAX_FEED_APPOINTMENTS: i64 = 5_000;

macro_rules! impl_calendar_feeds {
    ($Store:ty) => {
        /// A `calendar_feeds` row as `SELECT id, prefix, practitioner_id, created_at,
        /// created_by, revoked_at, last_used_at` reads it.
        type CalendarFeedRow = (Uuid, String, Option<Uuid>, i64, String, Option<i64>, Option<i64>);

        fn calendar_feed_from_row(r: CalendarFeedRow) -> Result<CalendarFeedInfo> {
            let (id, prefix, practitioner, created_at, created_by, revoked_at, last_used_at) = r;
            Ok(CalendarFeedInfo {
                id: CalendarFeedId::from_uuid(id),
                prefix,
                practitioner: practitioner.map(PractitionerId::from_uuid),
                created_at: from_us(created_at)?,
                created_by,
                revoked_at: revoked_at.map(from_us).transpose()?,
                last_used_at: last_used_at.map(from_us).transpose()?,
            })
        }

        #[async_trait]
        impl CalendarFeedStore for $Store {
            async fn create_calendar_feed(&self, scope: TenantScope, practitioner: Option<PractitionerId>, actor: Actor) -> Result<IssuedCalendarFeed> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                if let Some(p) = practitioner {
                    let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM practitioners WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(p.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?;
                    found.ok_or(StoreError::NotFound)?;
                }
                let (prefix, token) = $crate::api_key::generate_tagged($crate::calendar::FEED_TAG);
                let id = CalendarFeedId::new();
                sqlx::query("INSERT INTO calendar_feed_routes (prefix, tenant_id) VALUES ($1, $2)")
                    .bind(&prefix)
                    .bind(tenant.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                let row: CalendarFeedRow = sqlx::query_as(
                    "INSERT INTO calendar_feeds (tenant_id, id, prefix, secret_hash, practitioner_id, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     RETURNING id, prefix, practitioner_id, created_at, created_by, revoked_at, last_used_at",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(&prefix)
                .bind(token_hash(&token))
                .bind(practitioner.map(|p| p.as_uuid()))
                .bind(now)
                .bind(actor_label(&actor))
                .fetch_one(&mut *tx)
                .await?;
                let ev = AuditEvent::new(actor, "calendar_feed.created")
                    .target("calendar_feed", id)
                    .details(serde_json::json!({
                        "prefix": prefix,
                        "practitioner": practitioner.map(|p| p.to_string()),
                    }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(IssuedCalendarFeed { info: calendar_feed_from_row(row)?, token })
            }

            async fn calendar_feeds(&self, scope: TenantScope) -> Result<Vec<CalendarFeedInfo>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<CalendarFeedRow> = sqlx::query_as(
                    "SELECT id, prefix, practitioner_id, created_at, created_by, revoked_at, last_used_at \
                     FROM calendar_feeds WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC",
                )
                .bind(scope.tenant_id().as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter().map(calendar_feed_from_row).collect()
            }

            async fn revoke_calendar_feed(&self, scope: TenantScope, id: CalendarFeedId, actor: Actor) -> Result<bool> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let row: Option<(String, Option<i64>)> = sqlx::query_as("SELECT prefix, revoked_at FROM calendar_feeds WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                let (prefix, revoked) = row.ok_or(StoreError::NotFound)?;
                if revoked.is_some() {
                    tx.commit().await?;
                    return Ok(false);
                }
                sqlx::query("UPDATE calendar_feeds SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(actor, "calendar_feed.revoked")
                    .target("calendar_feed", id)
                    .details(serde_json::json!({ "prefix": prefix }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn open_calendar_feed(&self, token: &str) -> Result<OpenedCalendarFeed> {
                let Some(prefix) = $crate::calendar::feed_prefix_of(token) else {
                    return Err(StoreError::Unauthorized);
                };
                let scope = self
                    .routed_scope("SELECT r.tenant_id, t.status FROM calendar_feed_routes r JOIN tenants t ON t.id = r.tenant_id WHERE r.prefix = $1", prefix)
                    .await?;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.read_tx(Some(scope)).await?;
                let row: Option<(Uuid, Vec<u8>, Option<Uuid>, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT id, secret_hash, practitioner_id, revoked_at, last_used_at FROM calendar_feeds WHERE tenant_id = $1 AND prefix = $2",
                )
                .bind(tenant.as_uuid())
                .bind(prefix)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                let Some((id, hash, practitioner, revoked, last_used)) = row else {
                    return Err(StoreError::Unauthorized);
                };
                use subtle::ConstantTimeEq;
                let same: bool = hash.as_slice().ct_eq(token_hash(token).as_slice()).into();
                if !same || revoked.is_some() {
                    return Err(StoreError::Unauthorized);
                }
                if last_used.is_none_or(|t| now - t >= $crate::sql::calendar_feeds::LAST_USED_EVERY_US) {
                    let mut tx = self.write_tx(Some(scope)).await?;
                    sqlx::query("UPDATE calendar_feeds SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
                Ok(OpenedCalendarFeed {
                    scope,
                    feed: CalendarFeedId::from_uuid(id),
                    practitioner: practitioner.map(PractitionerId::from_uuid),
                })
            }

            async fn appointments_between(&self, scope: TenantScope, practitioner: Option<PractitionerId>, from: jiff::Timestamp, to: jiff::Timestamp) -> Result<Vec<Appointment>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<AppointmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant_id = $1 \
                     AND status IN ('booked', 'confirmed') AND starts_at < $3 AND ends_at > $2 \
                     AND ($4 IS NULL OR practitioner_id = $4) ORDER BY starts_at, id LIMIT $5"
                )))
                .bind(scope.tenant_id().as_uuid())
                .bind(crate::to_us(from))
                .bind(crate::to_us(to))
                .bind(practitioner.map(|p| p.as_uuid()))
                .bind($crate::sql::calendar_feeds::MAX_FEED_APPOINTMENTS)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter().map(appointment_from_row).collect()
            }
        }
    };
}

pub(crate) use impl_calendar_feeds;
