//! Shared SQL for the coordination of instances (see [`crate::coordination`]): each clinic's
//! outbound send bucket and the daily maintenance leases. Each operation is one statement in
//! its own short transaction: an upsert whose `RETURNING` says what was decided, so that
//! concurrent callers on any number of instances are serialised by the row (PostgreSQL
//! re-checks a conflicting row after the first writer commits; SQLite has one writer).

/// The fastest send rate the bucket keeps apart (one send a microsecond).
pub(crate) const MAX_PER_SECOND: i64 = 1_000_000;

/// `d` in microseconds, for arithmetic on stored times.
pub(crate) fn micros(d: jiff::SignedDuration) -> crate::Result<i64> {
    i64::try_from(d.as_micros()).map_err(|_| crate::StoreError::Corrupt("duration out of range"))
}

macro_rules! impl_coordination {
    ($Store:ty) => {
        type MaintenanceRow = (String, Option<String>, Option<i64>, Option<i64>, i64);

        #[async_trait]
        impl CoordinationStore for $Store {
            async fn take_send_token(&self, scope: TenantScope, per_second: u32) -> Result<SendPermit> {
                let now = self.now_us();
                if let Some(local) = self.local_send_buckets() {
                    return Ok(local.take(scope.tenant_id().as_uuid(), per_second, now));
                }
                // The same rules as `Gcra::take`, decided by the row so that every instance
                // shares one bucket.
                let gcra = $crate::coordination::Gcra::per_second(per_second);
                let mut tx = self.write_tx(Some(scope)).await?;
                let (tat, granted): (i64, bool) = sqlx::query_as(
                    "INSERT INTO outbound_rates (tenant_id, tat, granted, updated_at) VALUES ($1, $2 + $3, TRUE, $2) \
                     ON CONFLICT (tenant_id) DO UPDATE SET \
                       granted = outbound_rates.tat - $2 <= $4, \
                       tat = CASE WHEN outbound_rates.tat - $2 > $4 THEN outbound_rates.tat \
                                  WHEN outbound_rates.tat > $2 THEN outbound_rates.tat + $3 \
                                  ELSE $2 + $3 END, \
                       updated_at = $2 \
                     RETURNING tat, granted",
                )
                .bind(scope.tenant_id().as_uuid())
                .bind(now)
                .bind(gcra.interval)
                .bind(gcra.tolerance)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                if granted {
                    return Ok(SendPermit::Granted);
                }
                Ok(SendPermit::Wait(jiff::SignedDuration::from_micros((tat - now - gcra.tolerance).max(1))))
            }

            async fn claim_maintenance(
                &self,
                name: &str,
                holder: &str,
                every: jiff::SignedDuration,
                lease: jiff::SignedDuration,
            ) -> Result<Option<MaintenanceLease>> {
                use $crate::sql::coordination::micros;
                let now = self.now_us();
                let until = now.saturating_add(micros(lease)?);
                let due_before = now.saturating_sub(micros(every)?);
                let mut tx = self.write_tx(None).await?;
                let row: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO maintenance_runs (name, holder, leased_until) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, leased_until = excluded.leased_until \
                     WHERE (maintenance_runs.last_done_at IS NULL OR maintenance_runs.last_done_at <= $4) \
                       AND (maintenance_runs.leased_until IS NULL OR maintenance_runs.leased_until <= $5) \
                     RETURNING leased_until",
                )
                .bind(name)
                .bind(holder)
                .bind(until)
                .bind(due_before)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                row.map(|(until,)| {
                    Ok(MaintenanceLease { name: name.to_owned(), holder: holder.to_owned(), until: from_us(until)? })
                })
                .transpose()
            }

            async fn finish_maintenance(&self, lease: &MaintenanceLease, done: bool) -> Result<()> {
                let now = self.now_us();
                let mut tx = self.write_tx(None).await?;
                let ended = sqlx::query(
                    "UPDATE maintenance_runs SET holder = NULL, leased_until = NULL, \
                       last_done_at = CASE WHEN $4 THEN $5 ELSE last_done_at END, \
                       runs = runs + CASE WHEN $4 THEN 1 ELSE 0 END \
                     WHERE name = $1 AND holder = $2 AND leased_until = $3",
                )
                .bind(&lease.name)
                .bind(&lease.holder)
                .bind(crate::to_us(lease.until))
                .bind(done)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if ended != 1 {
                    return Err(StoreError::Conflict("maintenance lease lost"));
                }
                tx.commit().await?;
                Ok(())
            }

            async fn maintenance_runs(&self) -> Result<Vec<MaintenanceRun>> {
                let mut tx = self.read_tx(None).await?;
                let rows: Vec<MaintenanceRow> = sqlx::query_as(
                    "SELECT name, holder, leased_until, last_done_at, runs FROM maintenance_runs ORDER BY name",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|(name, holder, leased_until, last_done_at, runs)| {
                        Ok(MaintenanceRun {
                            name,
                            holder,
                            leased_until: leased_until.map(from_us).transpose()?,
                            last_done_at: last_done_at.map(from_us).transpose()?,
                            runs,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use impl_coordination;
