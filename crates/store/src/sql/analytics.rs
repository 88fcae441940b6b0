//! Shared SQL for the dashboard's analytics: the raw events of a time window (conversations
//! started, calls, bookings made, staff alerts, and how long each patient message waited for
//! its first answer), each list bounded. The caller buckets them into the clinic's local
//! days, so time zones and DST are handled once, in Rust. No message text, name or phone is
//! read.

/// The most events of one kind read for one window.
pub(crate) const ACTIVITY_CAP: i64 = 50_000;

macro_rules! impl_analytics {
    ($Store:ty) => {
        use $crate::sql::analytics::ACTIVITY_CAP;

        #[async_trait]
        impl AnalyticsStore for $Store {
            async fn activity(&self, scope: TenantScope, from: jiff::Timestamp, to: jiff::Timestamp) -> Result<Activity> {
                let tenant = scope.tenant_id().as_uuid();
                let (from, to) = (crate::to_us(from), crate::to_us(to));
                let mut tx = self.read_tx(Some(scope)).await?;
                let conversations: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT created_at, channel FROM conversations WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
                     ORDER BY created_at LIMIT $4",
                )
                .bind(tenant)
                .bind(from)
                .bind(to)
                .bind(ACTIVITY_CAP)
                .fetch_all(&mut *tx)
                .await?;
                let calls: Vec<(i64,)> = sqlx::query_as(
                    "SELECT started_at FROM calls WHERE tenant_id = $1 AND started_at >= $2 AND started_at < $3 ORDER BY started_at LIMIT $4",
                )
                .bind(tenant)
                .bind(from)
                .bind(to)
                .bind(ACTIVITY_CAP)
                .fetch_all(&mut *tx)
                .await?;
                let bookings: Vec<(i64, Uuid, String)> = sqlx::query_as(
                    "SELECT created_at, service_id, status FROM appointments WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
                     ORDER BY created_at LIMIT $4",
                )
                .bind(tenant)
                .bind(from)
                .bind(to)
                .bind(ACTIVITY_CAP)
                .fetch_all(&mut *tx)
                .await?;
                let alerts: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT created_at, kind FROM staff_notifications WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
                     ORDER BY created_at LIMIT $4",
                )
                .bind(tenant)
                .bind(from)
                .bind(to)
                .bind(ACTIVITY_CAP)
                .fetch_all(&mut *tx)
                .await?;
                // Each patient message, and when its conversation next sent something.
                let replies: Vec<(i64, String, Option<i64>)> = sqlx::query_as(
                    "SELECT m.created_at, m.channel, \
                            (SELECT MIN(o.created_at) FROM messages o WHERE o.tenant_id = m.tenant_id \
                               AND o.conversation_id = m.conversation_id AND o.direction = 'outbound' AND o.created_at >= m.created_at) \
                     FROM messages m WHERE m.tenant_id = $1 AND m.direction = 'inbound' AND m.created_at >= $2 AND m.created_at < $3 \
                     ORDER BY m.created_at LIMIT $4",
                )
                .bind(tenant)
                .bind(from)
                .bind(to)
                .bind(ACTIVITY_CAP)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Activity {
                    conversations: conversations
                        .into_iter()
                        .map(|(at, ch)| Ok((from_us(at)?, Channel::parse(&ch)?)))
                        .collect::<Result<_>>()?,
                    calls: calls.into_iter().map(|(at,)| from_us(at)).collect::<Result<_>>()?,
                    bookings: bookings
                        .into_iter()
                        .map(|(at, service, status)| Ok((from_us(at)?, ServiceId::from_uuid(service), AppointmentStatus::parse(&status)?)))
                        .collect::<Result<_>>()?,
                    alerts: alerts
                        .into_iter()
                        .map(|(at, kind)| Ok((from_us(at)?, NotificationKind::parse(&kind)?)))
                        .collect::<Result<_>>()?,
                    replies: replies
                        .into_iter()
                        .map(|(at, ch, answered)| {
                            let waited = answered.map(|a| jiff::SignedDuration::from_micros(a.saturating_sub(at).max(0)));
                            Ok((from_us(at)?, Channel::parse(&ch)?, waited))
                        })
                        .collect::<Result<_>>()?,
                })
            }
        }
    };
}

pub(crate) use impl_analytics;
