//! Shared SQL for incident tools (#8 item 6): pausing a clinic's AI receptionist (the kill
//! switch), ending every staff session of a clinic, and the access report: which patients'
//! information one staff member touched in a time window, read from the audit log, to support
//! a breach notification.

/// The most audit entries an access report reads.
pub(crate) const ACCESS_REPORT_CAP: i64 = 200_000;

macro_rules! impl_incident {
    ($Store:ty) => {
        use $crate::sql::incident::ACCESS_REPORT_CAP;

        impl $Store {
            /// Ends every live session and unused sign-in link of the clinic inside `tx`;
            /// answers how many sessions were live.
            async fn end_clinic_sessions_tx(&self, tx: &mut Tx, tenant: TenantId, now: i64) -> Result<u64> {
                let users: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE tenant_id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_all(&mut **tx)
                    .await?;
                let mut ended = 0;
                for (user,) in users {
                    ended += self.end_user_sessions_tx(tx, tenant, UserId::from_uuid(user), now).await?;
                }
                Ok(ended)
            }

            /// The patient a target of the audit log belongs to, if it still exists.
            async fn patient_of_target(&self, tx: &mut Tx, tenant: TenantId, kind: &str, id: &str) -> Result<Option<PatientId>> {
                let Ok(id) = Uuid::parse_str(id) else { return Ok(None) };
                let sql = match kind {
                    "patient" => "SELECT id FROM patients WHERE tenant_id = $1 AND id = $2",
                    "conversation" => "SELECT patient_id FROM conversations WHERE tenant_id = $1 AND id = $2",
                    "appointment" => "SELECT patient_id FROM appointments WHERE tenant_id = $1 AND id = $2",
                    "recording" => "SELECT patient_id FROM call_recordings WHERE tenant_id = $1 AND id = $2",
                    "message" => "SELECT c.patient_id FROM messages m JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id \
                                  WHERE m.tenant_id = $1 AND m.id = $2",
                    "draft" => "SELECT c.patient_id FROM reply_drafts d JOIN conversations c ON c.tenant_id = d.tenant_id AND c.id = d.conversation_id \
                                WHERE d.tenant_id = $1 AND d.id = $2",
                    _ => return Ok(None),
                };
                let row: Option<(Uuid,)> = sqlx::query_as(sql).bind(tenant.as_uuid()).bind(id).fetch_optional(&mut **tx).await?;
                Ok(row.map(|(p,)| PatientId::from_uuid(p)))
            }
        }

        #[async_trait]
        impl IncidentStore for $Store {
            async fn set_ai_paused(&self, scope: TenantScope, paused: bool, actor: Actor) -> Result<bool> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (profile,): (sqlx::types::Json<ClinicProfile>,) =
                    sqlx::query_as("SELECT profile FROM clinic_profiles WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_one(&mut *tx)
                        .await?;
                let mut profile = profile.0;
                if profile.ai_paused == paused {
                    tx.commit().await?;
                    return Ok(false);
                }
                profile.ai_paused = paused;
                sqlx::query("UPDATE clinic_profiles SET profile = $2, updated_at = $3 WHERE tenant_id = $1")
                    .bind(tenant.as_uuid())
                    .bind(sqlx::types::Json(&profile))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let action = if paused { "clinic.ai_paused" } else { "clinic.ai_resumed" };
                self.append_audit_tx(&mut tx, tenant, now, &AuditEvent::new(actor, action)).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn end_clinic_sessions(&self, scope: TenantScope, actor: Actor) -> Result<u64> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let ended = self.end_clinic_sessions_tx(&mut tx, tenant, now).await?;
                let ev = AuditEvent::new(actor, "staff.all_sessions_ended").details(serde_json::json!({ "sessions": ended }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(ended)
            }

            async fn access_report(&self, scope: TenantScope, actor_id: &str, from: jiff::Timestamp, to: jiff::Timestamp) -> Result<Vec<AccessRecord>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT at, action, target_kind, target_id FROM audit_log \
                     WHERE tenant_id = $1 AND actor_id = $2 AND at >= $3 AND at < $4 AND target_id IS NOT NULL \
                     ORDER BY seq LIMIT $5",
                )
                .bind(tenant.as_uuid())
                .bind(actor_id)
                .bind(crate::to_us(from))
                .bind(crate::to_us(to))
                .bind(ACCESS_REPORT_CAP)
                .fetch_all(&mut *tx)
                .await?;
                let mut resolved: std::collections::HashMap<(String, String), Option<PatientId>> = std::collections::HashMap::new();
                let mut out: Vec<AccessRecord> = Vec::new();
                let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
                for (at, action, kind, id) in rows {
                    let (Some(kind), Some(id)) = (kind, id) else { continue };
                    if !matches!(kind.as_str(), "patient" | "conversation" | "appointment" | "recording" | "message" | "draft") {
                        continue;
                    }
                    let key = (kind.clone(), id.clone());
                    let patient = match resolved.get(&key) {
                        Some(p) => *p,
                        None => {
                            let p = self.patient_of_target(&mut tx, tenant, &kind, &id).await?;
                            resolved.insert(key, p);
                            p
                        }
                    };
                    let at = from_us(at)?;
                    // One record per patient; a target whose patient is gone (erased, purged)
                    // keeps its own record, by target.
                    let slot = match patient {
                        Some(p) => p.to_string(),
                        None => format!("{kind}:{id}"),
                    };
                    match index.get(&slot) {
                        Some(&i) => {
                            let r: &mut AccessRecord = &mut out[i];
                            r.entries += 1;
                            r.last = at;
                            if !r.actions.contains(&action) {
                                r.actions.push(action);
                            }
                        }
                        None => {
                            index.insert(slot, out.len());
                            out.push(AccessRecord {
                                patient,
                                target_kind: kind,
                                target_id: id,
                                actions: vec![action],
                                entries: 1,
                                first: at,
                                last: at,
                            });
                        }
                    }
                }
                tx.commit().await?;
                Ok(out)
            }
        }
    };
}

pub(crate) use impl_incident;
