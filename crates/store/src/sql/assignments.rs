//! Shared SQL for assignments: what a staff member whose role reaches "only what is assigned
//! to them" (Doctors, Read-Only Doctors) may see and do.
//!
//! Two links make an assignment, both inside one clinic and both audited:
//! - `conversations.assignee_user_id`: a conversation assigned to a staff member by someone
//!   who works the whole inbox. Its patient and its call recordings come with it.
//! - `users.practitioner_id`: the practitioner whose diary is the staff member's. Their
//!   appointments, and the patients booked with them, are assigned to that staff member.
//!
//! The checks are single indexed reads in the clinic's scope, so another clinic's ids are
//! never assigned (and the handlers answer 404, as for an unknown id).

macro_rules! impl_assignments {
    ($Store:ty) => {
        #[async_trait]
        impl AssignmentStore for $Store {
            async fn assign_conversation(&self, scope: TenantScope, conversation: ConversationId, assignee: Option<UserId>, actor: Actor) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let current: Option<(Option<Uuid>,)> = sqlx::query_as("SELECT assignee_user_id FROM conversations WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(conversation.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                let (current,) = current.ok_or(StoreError::NotFound)?;
                if let Some(user) = assignee {
                    let status: Option<(String,)> = sqlx::query_as("SELECT status FROM users WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(user.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?;
                    if status.is_none_or(|(s,)| s != "active") {
                        return Err(StoreError::Invalid(DomainError::invalid("assignee", "not an active staff member of this clinic")));
                    }
                }
                if current == assignee.map(|u| u.as_uuid()) {
                    tx.commit().await?;
                    return Ok(());
                }
                // `updated_at` moves so that live inbox pages show the new assignee.
                sqlx::query("UPDATE conversations SET assignee_user_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(conversation.as_uuid())
                    .bind(assignee.map(|u| u.as_uuid()))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = match assignee {
                    Some(user) => AuditEvent::new(actor, "conversation.assigned")
                        .target("conversation", conversation)
                        .details(serde_json::json!({ "assignee": user.to_string() })),
                    None => AuditEvent::new(actor, "conversation.unassigned")
                        .target("conversation", conversation)
                        .details(serde_json::json!({ "previous": current.map(|u| u.to_string()) })),
                };
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn link_practitioner(&self, scope: TenantScope, user: UserId, practitioner: Option<PractitionerId>, actor: Actor) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let current: Option<(Option<Uuid>,)> = sqlx::query_as("SELECT practitioner_id FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                let (current,) = current.ok_or(StoreError::NotFound)?;
                if let Some(p) = practitioner {
                    let known: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM practitioners WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(p.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?;
                    if known.is_none() {
                        return Err(StoreError::Invalid(DomainError::invalid("practitioner", "not a practitioner of this clinic")));
                    }
                }
                if current == practitioner.map(|p| p.as_uuid()) {
                    tx.commit().await?;
                    return Ok(());
                }
                sqlx::query("UPDATE users SET practitioner_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(user.as_uuid())
                    .bind(practitioner.map(|p| p.as_uuid()))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(actor, "user.practitioner_linked")
                    .target("user", user)
                    .details(serde_json::json!({
                        "from": current.map(|p| p.to_string()),
                        "to": practitioner.map(|p| p.to_string()),
                    }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn is_assigned(&self, scope: TenantScope, user: UserId, what: Assignable) -> Result<bool> {
                let (sql, id) = match what {
                    Assignable::Conversation(c) => (
                        "SELECT 1 FROM conversations WHERE tenant_id = $1 AND id = $2 AND assignee_user_id = $3",
                        c.as_uuid(),
                    ),
                    Assignable::Patient(p) => (
                        "SELECT 1 FROM conversations WHERE tenant_id = $1 AND patient_id = $2 AND assignee_user_id = $3 \
                         UNION ALL \
                         SELECT 1 FROM appointments a JOIN users u ON u.tenant_id = a.tenant_id AND u.practitioner_id = a.practitioner_id \
                         WHERE a.tenant_id = $1 AND a.patient_id = $2 AND u.id = $3",
                        p.as_uuid(),
                    ),
                    Assignable::Appointment(a) => (
                        "SELECT 1 FROM appointments a JOIN users u ON u.tenant_id = a.tenant_id AND u.practitioner_id = a.practitioner_id \
                         WHERE a.tenant_id = $1 AND a.id = $2 AND u.id = $3",
                        a.as_uuid(),
                    ),
                    Assignable::Recording(r) => (
                        "SELECT 1 FROM call_recordings r JOIN conversations c ON c.tenant_id = r.tenant_id AND c.id = r.conversation_id \
                         WHERE r.tenant_id = $1 AND r.id = $2 AND c.assignee_user_id = $3",
                        r.as_uuid(),
                    ),
                };
                let mut tx = self.read_tx(Some(scope)).await?;
                let hit: Option<(i32,)> = sqlx::query_as(sql)
                    .bind(scope.tenant_id().as_uuid())
                    .bind(id)
                    .bind(user.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(hit.is_some())
            }
        }
    };
}

pub(crate) use impl_assignments;
