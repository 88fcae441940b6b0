//! Shared SQL for the tenant directory and the clinic's catalogue (profile, practitioners,
//! services, hours, FAQ). Invoked from [`super::sql_store!`].

macro_rules! impl_catalog {
    ($Store:ty) => {
        impl $Store {
            /// Replaces who provides `service` (empty: any practitioner) inside `tx`. A
            /// practitioner of another clinic fails the foreign key: `NotFound`.
            async fn set_providers_tx(&self, tx: &mut Tx, tenant: TenantId, service: ServiceId, practitioners: &[PractitionerId]) -> Result<()> {
                sqlx::query("DELETE FROM practitioner_services WHERE tenant_id = $1 AND service_id = $2")
                    .bind(tenant.as_uuid())
                    .bind(service.as_uuid())
                    .execute(&mut **tx)
                    .await?;
                for p in practitioners {
                    sqlx::query("INSERT INTO practitioner_services (tenant_id, practitioner_id, service_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                        .bind(tenant.as_uuid())
                        .bind(p.as_uuid())
                        .bind(service.as_uuid())
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            async fn clinic_tx(&self, tx: &mut Tx, scope: TenantScope) -> Result<Clinic> {
                let row: Option<(String, sqlx::types::Json<ClinicProfile>)> = sqlx::query_as(
                    "SELECT t.slug, p.profile FROM tenants t JOIN clinic_profiles p ON p.tenant_id = t.id \
                     WHERE t.id = $1",
                )
                .bind(scope.tenant_id().as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                let (slug, profile) = row.ok_or(StoreError::NotFound)?;
                Ok(Clinic { id: scope.tenant_id(), slug: TenantSlug::parse(&slug)?, profile: profile.0 })
            }

            async fn practitioners_tx(&self, tx: &mut Tx, scope: TenantScope) -> Result<Vec<Practitioner>> {
                let rows: Vec<(Uuid, String, String, bool)> = sqlx::query_as(
                    "SELECT id, name, title, active FROM practitioners WHERE tenant_id = $1 ORDER BY id",
                )
                .bind(scope.tenant_id().as_uuid())
                .fetch_all(&mut **tx)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, name, title, active)| Practitioner { id: PractitionerId::from_uuid(id), name, title, active })
                    .collect())
            }

            async fn services_tx(&self, tx: &mut Tx, scope: TenantScope) -> Result<Vec<Service>> {
                let rows: Vec<(Uuid, String, i32, i32, Option<i64>, String, bool)> = sqlx::query_as(
                    "SELECT id, name, duration_min, buffer_min, price_minor, currency, active FROM services \
                     WHERE tenant_id = $1 ORDER BY id",
                )
                .bind(scope.tenant_id().as_uuid())
                .fetch_all(&mut **tx)
                .await?;
                let links: Vec<(Uuid, Uuid)> = sqlx::query_as(
                    "SELECT service_id, practitioner_id FROM practitioner_services WHERE tenant_id = $1 ORDER BY practitioner_id",
                )
                .bind(scope.tenant_id().as_uuid())
                .fetch_all(&mut **tx)
                .await?;
                rows.into_iter()
                    .map(|(id, name, duration, buffer, price_minor, currency, active)| {
                        let practitioners =
                            links.iter().filter(|(s, _)| *s == id).map(|(_, p)| PractitionerId::from_uuid(*p)).collect();
                        Ok(Service {
                            practitioners,
                            id: ServiceId::from_uuid(id),
                            name,
                            duration_min: u16::try_from(duration).map_err(|_| StoreError::Corrupt("duration"))?,
                            buffer_min: u16::try_from(buffer).map_err(|_| StoreError::Corrupt("buffer"))?,
                            price_minor,
                            currency,
                            active,
                        })
                    })
                    .collect()
            }

            async fn red_flag_rules_tx(&self, tx: &mut Tx, scope: TenantScope) -> Result<Vec<RedFlagRule>> {
                let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
                    "SELECT id, phrases, level, language FROM clinic_red_flag_rules WHERE tenant_id = $1 ORDER BY id",
                )
                .bind(scope.tenant_id().as_uuid())
                .fetch_all(&mut **tx)
                .await?;
                rows.into_iter()
                    .map(|(id, phrases, level, language)| {
                        Ok(RedFlagRule {
                            id,
                            phrases: serde_json::from_str(&phrases).map_err(|_| StoreError::Corrupt("red flag phrases"))?,
                            level: Urgency::parse(&level)?,
                            language,
                        })
                    })
                    .collect()
            }

            async fn faqs_tx(&self, tx: &mut Tx, scope: TenantScope) -> Result<Vec<Faq>> {
                let rows: Vec<(Uuid, String, String)> =
                    sqlx::query_as("SELECT id, question, answer FROM faqs WHERE tenant_id = $1 ORDER BY id")
                        .bind(scope.tenant_id().as_uuid())
                        .fetch_all(&mut **tx)
                        .await?;
                Ok(rows.into_iter().map(|(id, question, answer)| Faq { id: FaqId::from_uuid(id), question, answer }).collect())
            }
        }

        #[async_trait]
        impl TenantDirectory for $Store {
            async fn create_tenant(&self, slug: &TenantSlug, profile: &ClinicProfile) -> Result<TenantScope> {
                profile.validate()?;
                let tenant = TenantId::new();
                let scope = TenantScope::new(tenant);
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                sqlx::query("INSERT INTO tenants (id, slug, status, created_at) VALUES ($1, $2, 'active', $3)")
                    .bind(tenant.as_uuid())
                    .bind(slug.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::Conflict(_) => StoreError::Conflict("slug already in use"),
                        other => other,
                    })?;
                sqlx::query("INSERT INTO clinic_profiles (tenant_id, profile, updated_at) VALUES ($1, $2, $3)")
                    .bind(tenant.as_uuid())
                    .bind(sqlx::types::Json(profile))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let data = DataKey::generate();
                let index = DataKey::generate();
                for (purpose, key) in [("data", &data), ("index", &index)] {
                    let row = tenant_key_row(purpose, 1);
                    let (key_id, wrapped) = self.keys.ring().wrap(&aad(tenant, "tenant_keys", "wrapped", &row), key)?;
                    sqlx::query(
                        "INSERT INTO tenant_keys (tenant_id, purpose, version, master_key_id, wrapped, created_at) \
                         VALUES ($1, $2, 1, $3, $4, $5)",
                    )
                    .bind(tenant.as_uuid())
                    .bind(purpose)
                    .bind(&key_id)
                    .bind(&wrapped)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2)")
                    .bind(tenant.as_uuid())
                    .bind(&crate::audit::GENESIS[..])
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(Actor::Operator, "tenant.created")
                    .target("tenant", tenant)
                    .details(serde_json::json!({ "slug": slug.as_str() }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                self.keys.insert(
                    tenant,
                    Arc::new(TenantKeys { data: crate::keys::TenantDataKeys::single(1, data), index }),
                    now,
                    now + crate::keys::KEY_CACHE_TTL.as_micros() as i64,
                );
                Ok(scope)
            }

            async fn operator_scope(&self, slug: &TenantSlug) -> Result<TenantScope> {
                // A terminated clinic stays readable by the operator during its hold (its
                // export); one being purged, or purged, is gone.
                let row: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT id FROM tenants WHERE slug = $1 AND status IN ('active', 'suspended', 'terminated')",
                )
                    .bind(slug.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|(id,)| TenantScope::new(TenantId::from_uuid(id))).ok_or(StoreError::NotFound)
            }

            async fn public_clinic(&self, slug: &TenantSlug) -> Result<Clinic> {
                let tenant = self.resolve_slug(slug).await?;
                self.clinic(TenantScope::new(tenant)).await
            }

            async fn list_tenants(&self) -> Result<Vec<TenantSummary>> {
                let rows: Vec<TenantRow> = sqlx::query_as(
                    "SELECT id, slug, status, created_at, terminated_at, purged_at FROM tenants ORDER BY slug",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(tenant_summary_from_row).collect()
            }

            async fn active_scopes(&self) -> Result<Vec<TenantScope>> {
                let ids: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM tenants WHERE status = 'active' ORDER BY slug")
                    .fetch_all(&self.pool)
                    .await?;
                Ok(ids.into_iter().map(|(id,)| TenantScope::new(TenantId::from_uuid(id))).collect())
            }
        }

        #[async_trait]
        impl ClinicStore for $Store {
            async fn clinic(&self, scope: TenantScope) -> Result<Clinic> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let out = self.clinic_tx(&mut tx, scope).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn update_profile_by(&self, scope: TenantScope, profile: &ClinicProfile, actor: Actor) -> Result<()> {
                profile.validate()?;
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let done = sqlx::query("UPDATE clinic_profiles SET profile = $2, updated_at = $3 WHERE tenant_id = $1")
                    .bind(scope.tenant_id().as_uuid())
                    .bind(sqlx::types::Json(profile))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::NotFound);
                }
                let ev = AuditEvent::new(actor, "clinic.profile_updated");
                self.append_audit_tx(&mut tx, scope.tenant_id(), now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            /// From this process's copy when the clinic's `catalog_version` still matches it
            /// (one statement), else read whole and kept (see `crate::catalog_cache`).
            async fn clinic_catalog(&self, scope: TenantScope) -> Result<ClinicCatalog> {
                let tenant = scope.tenant_id();
                let (version, month, cost_micros): (i64, i32, i64) =
                    sqlx::query_as("SELECT catalog_version, llm_spend_month, llm_spend_micros FROM tenants WHERE id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                let llm_spend = crate::llm::MonthSpend { month, cost_micros };
                if let Some(mut catalog) = self.catalogs.get(&tenant, version) {
                    catalog.llm_spend = llm_spend;
                    return Ok(catalog);
                }
                let mut tx = self.read_tx(Some(scope)).await?;
                let catalog = ClinicCatalog {
                    clinic: self.clinic_tx(&mut tx, scope).await?,
                    services: self.services_tx(&mut tx, scope).await?,
                    practitioners: self.practitioners_tx(&mut tx, scope).await?,
                    faqs: self.faqs_tx(&mut tx, scope).await?,
                    red_flag_rules: self.red_flag_rules_tx(&mut tx, scope).await?,
                    sends_codes: self.sms_account_tx(&mut tx, tenant).await?,
                    version,
                    llm_spend,
                };
                tx.commit().await?;
                self.catalogs.put(tenant, version, &catalog);
                Ok(catalog)
            }

            async fn set_service_practitioners_by(&self, scope: TenantScope, service: ServiceId, practitioners: &[PractitionerId], actor: Actor) -> Result<()> {
                let t = scope.tenant_id().as_uuid();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                sqlx::query("SELECT id FROM services WHERE tenant_id = $1 AND id = $2")
                    .bind(t)
                    .bind(service.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                self.set_providers_tx(&mut tx, scope.tenant_id(), service, practitioners).await?;
                let ev = AuditEvent::new(actor, "service.practitioners_set")
                    .target("service", service)
                    .details(serde_json::json!({ "practitioners": practitioners.len() }));
                self.append_audit_tx(&mut tx, scope.tenant_id(), now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn add_practitioner_by(&self, scope: TenantScope, name: &str, title: &str, actor: Actor) -> Result<PractitionerId> {
                let id = PractitionerId::new();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                sqlx::query("INSERT INTO practitioners (tenant_id, id, name, title, active, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(scope.tenant_id().as_uuid())
                    .bind(id.as_uuid())
                    .bind(name)
                    .bind(title)
                    .bind(true)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(actor, "practitioner.created").target("practitioner", id);
                self.append_audit_tx(&mut tx, scope.tenant_id(), now, &ev).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn list_practitioners(&self, scope: TenantScope) -> Result<Vec<Practitioner>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let out = self.practitioners_tx(&mut tx, scope).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn add_service_by(&self, scope: TenantScope, s: &NewService, providers: &[PractitionerId], actor: Actor) -> Result<ServiceId> {
                if s.name.trim().is_empty() || s.duration_min == 0 {
                    return Err(DomainError::invalid("service", "needs a name and a duration").into());
                }
                let id = ServiceId::new();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (profile,): (sqlx::types::Json<ClinicProfile>,) =
                    sqlx::query_as("SELECT profile FROM clinic_profiles WHERE tenant_id = $1")
                        .bind(scope.tenant_id().as_uuid())
                        .fetch_one(&mut *tx)
                        .await?;
                sqlx::query(
                    "INSERT INTO services (tenant_id, id, name, duration_min, buffer_min, price_minor, currency, active, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(scope.tenant_id().as_uuid())
                .bind(id.as_uuid())
                .bind(&s.name)
                .bind(i32::from(s.duration_min))
                .bind(i32::from(s.buffer_min))
                .bind(s.price_minor)
                .bind(&profile.0.currency)
                .bind(true)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                self.set_providers_tx(&mut tx, scope.tenant_id(), id, providers).await?;
                let ev = AuditEvent::new(actor, "service.created")
                    .target("service", id)
                    .details(serde_json::json!({ "practitioners": providers.len() }));
                self.append_audit_tx(&mut tx, scope.tenant_id(), now, &ev).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn list_services(&self, scope: TenantScope) -> Result<Vec<Service>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let out = self.services_tx(&mut tx, scope).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn set_practitioner_hours_by(&self, scope: TenantScope, practitioner: PractitionerId, hours: &WeeklyHours, actor: Actor) -> Result<()> {
                let t = scope.tenant_id().as_uuid();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                sqlx::query("SELECT id FROM practitioners WHERE tenant_id = $1 AND id = $2")
                    .bind(t)
                    .bind(practitioner.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                sqlx::query("DELETE FROM working_hours WHERE tenant_id = $1 AND practitioner_id = $2")
                    .bind(t)
                    .bind(practitioner.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                for (i, day) in hours.0.iter().enumerate() {
                    let Some(day) = day else { continue };
                    sqlx::query(
                        "INSERT INTO working_hours (tenant_id, id, practitioner_id, weekday, open_min, close_min) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(t)
                    .bind(Uuid::now_v7())
                    .bind(practitioner.as_uuid())
                    .bind(i16::try_from(i + 1).map_err(|_| StoreError::Corrupt("weekday"))?)
                    .bind(i32::from(day.open_min))
                    .bind(i32::from(day.close_min))
                    .execute(&mut *tx)
                    .await?;
                }
                let ev = AuditEvent::new(actor, "practitioner.hours_set").target("practitioner", practitioner);
                self.append_audit_tx(&mut tx, scope.tenant_id(), now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn practitioner_hours(&self, scope: TenantScope, practitioner: PractitionerId) -> Result<WeeklyHours> {
                let t = scope.tenant_id().as_uuid();
                let mut tx = self.read_tx(Some(scope)).await?;
                sqlx::query("SELECT id FROM practitioners WHERE tenant_id = $1 AND id = $2")
                    .bind(t)
                    .bind(practitioner.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let rows: Vec<(i16, i32, i32)> = sqlx::query_as(
                    "SELECT weekday, open_min, close_min FROM working_hours WHERE tenant_id = $1 AND practitioner_id = $2",
                )
                .bind(t)
                .bind(practitioner.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut hours = WeeklyHours::default();
                for (weekday, open, close) in rows {
                    let slot = usize::try_from(weekday - 1).ok().and_then(|i| hours.0.get_mut(i)).ok_or(StoreError::Corrupt("weekday"))?;
                    let open = u16::try_from(open).map_err(|_| StoreError::Corrupt("hours"))?;
                    let close = u16::try_from(close).map_err(|_| StoreError::Corrupt("hours"))?;
                    *slot = Some(DayHours::new(open, close)?);
                }
                Ok(hours)
            }

            async fn add_red_flag_rule_by(&self, scope: TenantScope, phrases: &[String], level: Urgency, language: &str, actor: Actor) -> Result<uuid::Uuid> {
                let phrases: Vec<String> = phrases.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
                if phrases.is_empty() || phrases.len() > 20 || phrases.iter().any(|p| p.len() > 200) {
                    return Err(DomainError::invalid("red_flag_rule", "needs 1 to 20 phrases of up to 200 characters").into());
                }
                if level == Urgency::Normal {
                    return Err(DomainError::invalid("red_flag_rule", "level must be urgent or emergency").into());
                }
                if language.is_empty() || language.len() > 16 || !language.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(DomainError::invalid("red_flag_rule", "language must be a tag like en or sw").into());
                }
                let id = Uuid::now_v7();
                let now = self.now_us();
                let json = serde_json::to_string(&phrases).map_err(|_| StoreError::Corrupt("phrases"))?;
                let mut tx = self.write_tx(Some(scope)).await?;
                sqlx::query("INSERT INTO clinic_red_flag_rules (tenant_id, id, phrases, level, language, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(scope.tenant_id().as_uuid())
                    .bind(id)
                    .bind(json)
                    .bind(level.as_str())
                    .bind(language)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(actor, "settings.red_flag_rule_added")
                    .target("red_flag_rule", id)
                    .details(serde_json::json!({ "level": level.as_str(), "language": language, "phrases": phrases.len() }));
                self.append_audit_tx(&mut tx, scope.tenant_id(), now, &ev).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn red_flag_rules(&self, scope: TenantScope) -> Result<Vec<RedFlagRule>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let out = self.red_flag_rules_tx(&mut tx, scope).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn add_faq_by(&self, scope: TenantScope, question: &str, answer: &str, actor: Actor) -> Result<FaqId> {
                if question.trim().is_empty() || answer.trim().is_empty() {
                    return Err(DomainError::invalid("faq", "needs a question and an answer").into());
                }
                let id = FaqId::new();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                sqlx::query("INSERT INTO faqs (tenant_id, id, question, answer, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
                    .bind(scope.tenant_id().as_uuid())
                    .bind(id.as_uuid())
                    .bind(question)
                    .bind(answer)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(actor, "faq.created").target("faq", id);
                self.append_audit_tx(&mut tx, scope.tenant_id(), now, &ev).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn list_faqs(&self, scope: TenantScope) -> Result<Vec<Faq>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let out = self.faqs_tx(&mut tx, scope).await?;
                tx.commit().await?;
                Ok(out)
            }
        }
    };
}

pub(crate) use impl_catalog;
