//! Shared SQL for patients and staff users. Personal data is sealed before it is bound to a
//! query and opened only after it is read: the database never sees it in clear.

macro_rules! impl_people {
    ($Store:ty) => {
        impl $Store {
            /// Creates a staff user (sealed email and name, email blind index), audited as
            /// `user.created` by `actor`.
            async fn add_user(&self, scope: TenantScope, user: &NewUser, actor: Actor) -> Result<UserId> {
                if user.name.trim().is_empty() {
                    return Err(DomainError::invalid("name", "must not be empty").into());
                }
                let tenant = scope.tenant_id();
                let id = UserId::new();
                let row = id.to_string();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let email_ct = keys.data.seal_str(&aad(tenant, "users", "email", &row), user.email.as_str())?;
                let name_ct = keys.data.seal_str(&aad(tenant, "users", "name", &row), &user.name)?;
                sqlx::query(
                    "INSERT INTO users (tenant_id, id, email_bidx, email_ct, name_ct, role, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $7)",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(keys.index.blind_index("email", user.email.as_str()))
                .bind(email_ct)
                .bind(name_ct)
                .bind(user.role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict("a user with this email already exists"),
                    other => other,
                })?;
                let ev = AuditEvent::new(actor, "user.created")
                    .target("user", id)
                    .details(serde_json::json!({ "role": user.role.as_str() }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(id)
            }

            /// Inserts a patient and their own data key inside `tx`.
            async fn insert_patient_tx(&self, tx: &mut Tx, tenant: TenantId, keys: &TenantKeys, now: i64, p: &NewPatient) -> Result<PatientId> {
                let id = PatientId::new();
                let row = id.to_string();
                let pkey = DataKey::generate();
                let wrapped = keys.data.wrap(&aad(tenant, "patient_keys", "wrapped", &row), &pkey)?;
                let seal = |column: &'static str, v: &str| pkey.seal_str(&aad(tenant, "patients", column, &row), v);
                let name_ct = p.name.as_deref().map(|v| seal("name", v)).transpose()?;
                let phone_ct = p.phone.as_ref().map(|v| seal("phone", v.as_str())).transpose()?;
                let email_ct = p.email.as_ref().map(|v| seal("email", v.as_str())).transpose()?;
                let phone_bidx = p.phone.as_ref().map(|v| keys.index.blind_index("phone", v.as_str()));
                let email_bidx = p.email.as_ref().map(|v| keys.index.blind_index("email", v.as_str()));
                sqlx::query(
                    "INSERT INTO patients (tenant_id, id, name_ct, phone_ct, phone_bidx, email_ct, email_bidx, language, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(name_ct)
                .bind(phone_ct)
                .bind(phone_bidx)
                .bind(email_ct)
                .bind(email_bidx)
                .bind(p.language.as_deref())
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict("a patient with this phone already exists"),
                    other => other,
                })?;
                sqlx::query("INSERT INTO patient_keys (tenant_id, patient_id, tenant_key_version, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(keys.data.version())
                    .bind(&wrapped)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(id)
            }

            async fn fetch_patient(&self, tx: &mut Tx, tenant: TenantId, id: PatientId) -> Result<Patient> {
                #[allow(clippy::type_complexity)]
                let row: Option<(Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<String>, i64)> = sqlx::query_as(
                    "SELECT name_ct, phone_ct, email_ct, language, created_at FROM patients WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                let (name_ct, phone_ct, email_ct, language, created_at) = row.ok_or(StoreError::NotFound)?;
                let keys = self.tenant_keys(tx, tenant).await?;
                let pkey = self.patient_key(tx, &keys, tenant, id).await?;
                let row = id.to_string();
                let open = |column: &'static str, ct: Option<Vec<u8>>| -> Result<Option<String>> {
                    ct.map(|ct| pkey.open_string(&aad(tenant, "patients", column, &row), &ct)).transpose().map_err(StoreError::from)
                };
                Ok(Patient {
                    id,
                    name: open("name", name_ct)?,
                    phone: open("phone", phone_ct)?.map(|p| E164Phone::parse(&p)).transpose()?,
                    email: open("email", email_ct)?.map(|e| Email::parse(&e)).transpose()?,
                    language,
                    created_at: from_us(created_at)?,
                })
            }
        }

        #[async_trait]
        impl PatientStore for $Store {
            async fn patient_record(&self, scope: TenantScope, id: PatientId) -> Result<PatientRecord> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let patient = self.fetch_patient(&mut tx, tenant, id).await?;
                let rows: Vec<(Uuid, String, String, i64, i64, Option<Uuid>)> = sqlx::query_as(
                    "SELECT id, channel, urgency, created_at, last_message_at, assignee_user_id FROM conversations \
                     WHERE tenant_id = $1 AND patient_id = $2 ORDER BY last_message_at DESC LIMIT 100",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                let conversations = rows
                    .into_iter()
                    .map(|(c, channel, urgency, started, last, assignee)| {
                        Ok(ConversationBrief {
                            id: ConversationId::from_uuid(c),
                            channel: Channel::parse(&channel)?,
                            urgency,
                            started_at: from_us(started)?,
                            last_message_at: from_us(last)?,
                            assignee: assignee.map(UserId::from_uuid),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let appointments = self.patient_history_tx(&mut tx, tenant, id).await?;
                let mut consents = Vec::new();
                if let Some(phone) = &patient.phone {
                    let keys = self.tenant_keys(&mut tx, tenant).await?;
                    let bidx = keys.index.blind_index("phone", phone.as_str());
                    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                        "SELECT channel, status, source, updated_at FROM channel_consents WHERE tenant_id = $1 AND phone_bidx = $2 ORDER BY channel",
                    )
                    .bind(tenant.as_uuid())
                    .bind(bidx)
                    .fetch_all(&mut *tx)
                    .await?;
                    for (channel, status, source, at) in rows {
                        let consent = crate::channel::Consent { opted_in: status == "opted_in", source, updated_at: from_us(at)? };
                        consents.push((Channel::parse(&channel)?, consent));
                    }
                }
                tx.commit().await?;
                Ok(PatientRecord { patient, conversations, appointments, consents })
            }

            async fn update_patient_contact(
                &self,
                scope: TenantScope,
                patient: PatientId,
                name: Option<&str>,
                phone: Option<&E164Phone>,
            ) -> Result<bool> {
                let name = name.map(str::trim).filter(|n| !n.is_empty());
                if name.is_some_and(|n| n.len() > 200) {
                    return Err(DomainError::invalid("name", "must be at most 200 characters").into());
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                sqlx::query("SELECT id FROM patients WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(patient.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let pkey = self.patient_key(&mut tx, &keys, tenant, patient).await?;
                let row = patient.to_string();
                let mut fields = Vec::new();
                if let Some(name) = name {
                    let ct = pkey.seal_str(&aad(tenant, "patients", "name", &row), name)?;
                    sqlx::query("UPDATE patients SET name_ct = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(patient.as_uuid())
                        .bind(ct)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    fields.push("name");
                }
                let mut phone_saved = phone.is_none();
                if let Some(phone) = phone {
                    let bidx = keys.index.blind_index("phone", phone.as_str());
                    let owner: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM patients WHERE tenant_id = $1 AND phone_bidx = $2")
                        .bind(tenant.as_uuid())
                        .bind(&bidx)
                        .fetch_optional(&mut *tx)
                        .await?;
                    match owner {
                        Some((id,)) if id != patient.as_uuid() => {}
                        _ => {
                            let ct = pkey.seal_str(&aad(tenant, "patients", "phone", &row), phone.as_str())?;
                            sqlx::query("UPDATE patients SET phone_ct = $3, phone_bidx = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
                                .bind(tenant.as_uuid())
                                .bind(patient.as_uuid())
                                .bind(ct)
                                .bind(&bidx)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            fields.push("phone");
                            phone_saved = true;
                        }
                    }
                }
                if !fields.is_empty() {
                    let ev = AuditEvent::new(Actor::Patient(patient), "patient.contact_updated")
                        .target("patient", patient)
                        .details(serde_json::json!({ "fields": fields }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(phone_saved)
            }

            async fn create_patient(&self, scope: TenantScope, patient: &NewPatient) -> Result<PatientId> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let id = self.insert_patient_tx(&mut tx, tenant, &keys, now, patient).await?;
                let ev = AuditEvent::new(Actor::Operator, "patient.created").target("patient", id);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn patient(&self, scope: TenantScope, id: PatientId) -> Result<Patient> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let p = self.fetch_patient(&mut tx, scope.tenant_id(), id).await?;
                tx.commit().await?;
                Ok(p)
            }

            async fn find_patient_by_phone(&self, scope: TenantScope, phone: &E164Phone) -> Result<Option<Patient>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let bidx = keys.index.blind_index("phone", phone.as_str());
                let row: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM patients WHERE tenant_id = $1 AND phone_bidx = $2")
                    .bind(tenant.as_uuid())
                    .bind(bidx)
                    .fetch_optional(&mut *tx)
                    .await?;
                let found = match row {
                    Some((id,)) => Some(self.fetch_patient(&mut tx, tenant, PatientId::from_uuid(id)).await?),
                    None => None,
                };
                tx.commit().await?;
                Ok(found)
            }
        }

        #[async_trait]
        impl StaffStore for $Store {
            async fn create_user(&self, scope: TenantScope, user: &NewUser) -> Result<UserId> {
                self.add_user(scope, user, Actor::Operator).await
            }

            async fn find_user_by_email(&self, scope: TenantScope, email: &Email) -> Result<Option<User>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let row: Option<(Uuid, Vec<u8>, Vec<u8>, String, String)> = sqlx::query_as(
                    "SELECT id, email_ct, name_ct, role, status FROM users WHERE tenant_id = $1 AND email_bidx = $2",
                )
                .bind(tenant.as_uuid())
                .bind(keys.index.blind_index("email", email.as_str()))
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                let Some((id, email_ct, name_ct, role, status)) = row else { return Ok(None) };
                let r = id.to_string();
                Ok(Some(User {
                    id: UserId::from_uuid(id),
                    email: Email::parse(&keys.data.open_string(&aad(tenant, "users", "email", &r), &email_ct)?)?,
                    name: keys.data.open_string(&aad(tenant, "users", "name", &r), &name_ct)?,
                    role: Role::parse(&role)?,
                    active: status == "active",
                }))
            }
        }
    };
}

pub(crate) use impl_people;
