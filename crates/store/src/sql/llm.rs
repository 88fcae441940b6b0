//! Shared SQL for a clinic's language model settings and accounting (#9; types in
//! `crate::llm`). The API key is sealed with the clinic's data key, bound to (tenant,
//! `llm_settings`, `api_key`, tenant id); only `llm_runtime` opens it. Usage rows are written
//! by `record_turn` in the turn's own transaction (`insert_llm_usage_tx`).

use crate::llm::{
    LlmLimits, LlmPrices, LlmSettingsInput, MAX_API_KEY_LEN, MAX_BASE_URL_LEN, MAX_MODEL_NAME_LEN,
    MAX_PRICE_PER_MTOK,
};
use crate::{Result, StoreError};
use frontdesk_domain::DomainError;

fn invalid(field: &'static str, why: &'static str) -> StoreError {
    StoreError::Invalid(DomainError::invalid(field, why))
}

fn checked_model(field: &'static str, name: &str) -> Result<()> {
    let name_ok = !name.trim().is_empty()
        && name.len() <= MAX_MODEL_NAME_LEN
        && !name.chars().any(char::is_control);
    if name_ok {
        Ok(())
    } else {
        Err(invalid(field, "1 to 200 characters, no control characters"))
    }
}

fn checked_prices(p: &LlmPrices) -> Result<()> {
    let ok = |v: i64| (0..=MAX_PRICE_PER_MTOK).contains(&v);
    if ok(p.input_per_mtok) && ok(p.output_per_mtok) {
        Ok(())
    } else {
        Err(invalid(
            "prices",
            "0 to 10,000,000,000 micro-units per million tokens",
        ))
    }
}

/// Checks settings before they are stored (the server checks the base URL's form).
pub(crate) fn checked_settings(s: &LlmSettingsInput) -> Result<()> {
    checked_model("fast_model", &s.fast_model)?;
    checked_model("strong_model", &s.strong_model)?;
    match &s.base_url {
        Some(u) if u.trim().is_empty() || u.len() > MAX_BASE_URL_LEN => {
            return Err(invalid("base_url", "1 to 2048 characters"));
        }
        None if s.provider == crate::llm::LlmProvider::OpenAiCompatible => {
            return Err(invalid(
                "base_url",
                "required for an OpenAI-compatible server",
            ));
        }
        _ => {}
    }
    checked_prices(&s.fast_prices)?;
    checked_prices(&s.strong_prices)?;
    if s.monthly_budget_cents.is_some_and(|b| b < 0) {
        return Err(invalid("monthly_budget_cents", "zero or more"));
    }
    checked_limits(&s.limits)
}

/// Each limit within its range ([`LlmLimits::TEXT_RANGE`], [`LlmLimits::VOICE_RANGE`]),
/// named by the field the CLI and the dashboard use, the range said in the error.
pub(crate) fn checked_limits(l: &LlmLimits) -> Result<()> {
    let (t, v) = (&l.text, &l.voice);
    let (tr, vr) = (LlmLimits::TEXT_RANGE, LlmLimits::VOICE_RANGE);
    let checks: [(&'static str, u32, (u32, u32), &'static str); 6] = [
        (
            "text_deadline_ms",
            t.deadline_ms,
            tr.deadline_ms,
            "1000 to 60000 milliseconds",
        ),
        (
            "text_tool_rounds",
            t.tool_rounds.into(),
            widen(tr.tool_rounds),
            "0 to 8",
        ),
        (
            "text_output_tokens",
            t.output_tokens,
            tr.output_tokens,
            "16 to 4000 tokens",
        ),
        (
            "voice_deadline_ms",
            v.deadline_ms,
            vr.deadline_ms,
            "500 to 10000 milliseconds",
        ),
        (
            "voice_tool_rounds",
            v.tool_rounds.into(),
            widen(vr.tool_rounds),
            "0 to 4",
        ),
        (
            "voice_output_tokens",
            v.output_tokens,
            vr.output_tokens,
            "16 to 1000 tokens",
        ),
    ];
    for (field, value, (lo, hi), why) in checks {
        if !(lo..=hi).contains(&value) {
            return Err(invalid(field, why));
        }
    }
    Ok(())
}

fn widen((lo, hi): (u8, u8)) -> (u32, u32) {
    (lo.into(), hi.into())
}

pub(crate) fn checked_key(key: &str) -> Result<()> {
    if key.trim().is_empty() || key.len() > MAX_API_KEY_LEN || key.chars().any(char::is_control) {
        return Err(invalid(
            "api_key",
            "1 to 512 characters, no control characters",
        ));
    }
    Ok(())
}

/// The audit details of a settings change: everything but the key.
pub(crate) fn settings_details(s: &LlmSettingsInput) -> serde_json::Value {
    serde_json::json!({
        "provider": s.provider.as_str(),
        "base_url_set": s.base_url.is_some(),
        "fast_model": s.fast_model,
        "strong_model": s.strong_model,
        "routine": s.routine.as_str(),
        "sensitive": s.sensitive.as_str(),
        "monthly_budget_cents": s.monthly_budget_cents,
        "fast_prices": s.fast_prices,
        "strong_prices": s.strong_prices,
        "enabled": s.enabled,
        "limits": s.limits,
    })
}

macro_rules! impl_llm {
    ($Store:ty) => {
        /// An `llm_settings` row as `SELECT provider, base_url, fast_model, strong_model,
        /// routine_route, sensitive_route, monthly_budget_cents, fast_input_price,
        /// fast_output_price, strong_input_price, strong_output_price, enabled, api_key_ct,
        /// api_key_set_at, updated_at, updated_by` reads it.
        #[allow(clippy::type_complexity)]
        type LlmSettingsRow = (
            String, Option<String>, String, String, String, String, Option<i64>,
            (i64, i64, i64, i64), bool, Option<Vec<u8>>, Option<i64>, i64, String, String,
        );

        impl $Store {
            async fn llm_settings_row_tx(&self, tx: &mut Tx, tenant: TenantId) -> Result<Option<LlmSettingsRow>> {
                #[allow(clippy::type_complexity)]
                let row: Option<(String, Option<String>, String, String, String, String, Option<i64>, i64, i64, i64, i64, bool, Option<Vec<u8>>, Option<i64>, i64, String)> =
                    sqlx::query_as(
                        "SELECT provider, base_url, fast_model, strong_model, routine_route, sensitive_route, monthly_budget_cents, \
                         fast_input_price, fast_output_price, strong_input_price, strong_output_price, enabled, api_key_ct, \
                         api_key_set_at, updated_at, updated_by FROM llm_settings WHERE tenant_id = $1",
                    )
                    .bind(tenant.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?;
                let Some((p, b, f, s, r, se, bud, fi, fo, si, so, en, ct, set_at, up, by)) = row else {
                    return Ok(None);
                };
                // Sixteen columns is as many as one tuple reads.
                let limits: String = sqlx::query_scalar("SELECT limits FROM llm_settings WHERE tenant_id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_one(&mut **tx)
                    .await?;
                Ok(Some((p, b, f, s, r, se, bud, (fi, fo, si, so), en, ct, set_at, up, by, limits)))
            }

            fn llm_settings_from_row(row: LlmSettingsRow) -> Result<(LlmSettings, Option<Vec<u8>>)> {
                let (provider, base_url, fast_model, strong_model, routine, sensitive, budget, (fi, fo, si, so), enabled, key_ct, key_set_at, updated_at, updated_by, limits) = row;
                let limits: LlmLimits = serde_json::from_str(&limits).map_err(|_| StoreError::Corrupt("llm settings limits"))?;
                let settings = LlmSettingsInput {
                    provider: LlmProvider::parse(&provider)?,
                    base_url,
                    fast_model,
                    strong_model,
                    routine: LlmRoute::parse(&routine)?,
                    sensitive: LlmRoute::parse(&sensitive)?,
                    monthly_budget_cents: budget,
                    fast_prices: LlmPrices { input_per_mtok: fi, output_per_mtok: fo },
                    strong_prices: LlmPrices { input_per_mtok: si, output_per_mtok: so },
                    enabled,
                    limits,
                };
                let settings = LlmSettings {
                    settings,
                    api_key_set_at: key_set_at.filter(|_| key_ct.is_some()).map(from_us).transpose()?,
                    updated_at: from_us(updated_at)?,
                    updated_by,
                };
                Ok((settings, key_ct))
            }

            /// Writes one usage row inside the turn's transaction.
            pub(crate) async fn insert_llm_usage_tx(&self, tx: &mut Tx, tenant: TenantId, u: &LlmUsage, now: i64) -> Result<()> {
                let mut q = sqlx::QueryBuilder::new("");
                Self::push_llm_usage_insert(&mut q, tenant, u, now);
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            /// The `INSERT` of one usage row, onto `q` (alone, or in the turn's one statement:
            /// see `write_turn_folded`).
            pub(crate) fn push_llm_usage_insert(q: &mut sqlx::QueryBuilder<Db>, tenant: TenantId, u: &LlmUsage, now: i64) {
                let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                q.push(
                    "INSERT INTO llm_usage (tenant_id, id, conversation_id, at, provider, model, tier, outcome, reason, latency_ms, \
                     input_tokens, output_tokens, cost_micros) ",
                );
                q.push_values([u], |mut row, u| {
                    row.push_bind(tenant.as_uuid())
                        .push_bind(Uuid::now_v7())
                        .push_bind(u.conversation.as_uuid())
                        .push_bind(now)
                        .push_bind(u.provider.clone())
                        .push_bind(u.model.clone())
                        .push_bind(u.tier.clone())
                        .push_bind(u.outcome.clone())
                        .push_bind(u.reason.clone())
                        .push_bind(count(u.latency_ms))
                        .push_bind(count(u.input_tokens))
                        .push_bind(count(u.output_tokens))
                        .push_bind(u.cost_micros.max(0));
                });
            }
        }

        #[async_trait]
        impl LanguageModelStore for $Store {
            async fn llm_settings(&self, scope: TenantScope) -> Result<Option<LlmSettings>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let row = self.llm_settings_row_tx(&mut tx, scope.tenant_id()).await?;
                tx.commit().await?;
                row.map(|r| Self::llm_settings_from_row(r).map(|(s, _)| s)).transpose()
            }

            async fn set_llm_settings(&self, scope: TenantScope, s: &LlmSettingsInput, key: LlmKeyChange, actor: Actor) -> Result<LlmSettings> {
                $crate::sql::llm::checked_settings(s)?;
                if let LlmKeyChange::Set(k) = &key {
                    $crate::sql::llm::checked_key(k)?;
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let ev = AuditEvent::new(actor.clone(), "llm.settings_changed")
                    .details($crate::sql::llm::settings_details(s));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                let by = actor_label(&actor);
                sqlx::query(
                    "INSERT INTO llm_settings (tenant_id, provider, base_url, fast_model, strong_model, routine_route, sensitive_route, \
                     monthly_budget_cents, fast_input_price, fast_output_price, strong_input_price, strong_output_price, enabled, \
                     updated_at, updated_by, limits) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                     ON CONFLICT (tenant_id) DO UPDATE SET provider = excluded.provider, base_url = excluded.base_url, \
                     fast_model = excluded.fast_model, strong_model = excluded.strong_model, routine_route = excluded.routine_route, \
                     sensitive_route = excluded.sensitive_route, monthly_budget_cents = excluded.monthly_budget_cents, \
                     fast_input_price = excluded.fast_input_price, fast_output_price = excluded.fast_output_price, \
                     strong_input_price = excluded.strong_input_price, strong_output_price = excluded.strong_output_price, \
                     enabled = excluded.enabled, updated_at = excluded.updated_at, updated_by = excluded.updated_by, \
                     limits = excluded.limits",
                )
                .bind(tenant.as_uuid())
                .bind(s.provider.as_str())
                .bind(s.base_url.as_deref().map(str::trim))
                .bind(s.fast_model.trim())
                .bind(s.strong_model.trim())
                .bind(s.routine.as_str())
                .bind(s.sensitive.as_str())
                .bind(s.monthly_budget_cents)
                .bind(s.fast_prices.input_per_mtok)
                .bind(s.fast_prices.output_per_mtok)
                .bind(s.strong_prices.input_per_mtok)
                .bind(s.strong_prices.output_per_mtok)
                .bind(s.enabled)
                .bind(now)
                .bind(&by)
                .bind(serde_json::to_string(&s.limits).map_err(|_| StoreError::Corrupt("llm settings limits"))?)
                .execute(&mut *tx)
                .await?;
                let sealed = match &key {
                    LlmKeyChange::Keep => None,
                    LlmKeyChange::Clear => Some(None),
                    LlmKeyChange::Set(k) => {
                        let keys = self.tenant_keys(&mut tx, tenant).await?;
                        let row = tenant.to_string();
                        Some(Some(keys.data.seal_str(&aad(tenant, "llm_settings", "api_key", &row), k.trim())?))
                    }
                };
                if let Some(ct) = sealed {
                    let cleared = ct.is_none();
                    sqlx::query("UPDATE llm_settings SET api_key_ct = $2, api_key_set_at = $3 WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .bind(ct)
                        .bind((!cleared).then_some(now))
                        .execute(&mut *tx)
                        .await?;
                    let ev = AuditEvent::new(actor, "llm.credentials_set")
                        .details(serde_json::json!({ "provider": s.provider.as_str(), "cleared": cleared }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                let row = self.llm_settings_row_tx(&mut tx, tenant).await?.ok_or(StoreError::Corrupt("llm settings missing"))?;
                tx.commit().await?;
                Ok(Self::llm_settings_from_row(row)?.0)
            }

            async fn disable_llm(&self, scope: TenantScope, actor: Actor) -> Result<bool> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let row = self.llm_settings_row_tx(&mut tx, tenant).await?.ok_or(StoreError::NotFound)?;
                let (mut settings, _) = Self::llm_settings_from_row(row)?;
                let was = settings.settings.enabled;
                if was {
                    sqlx::query("UPDATE llm_settings SET enabled = FALSE, updated_at = $2, updated_by = $3 WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .bind(now)
                        .bind(actor_label(&actor))
                        .execute(&mut *tx)
                        .await?;
                    settings.settings.enabled = false;
                    let ev = AuditEvent::new(actor, "llm.settings_changed")
                        .details($crate::sql::llm::settings_details(&settings.settings));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(was)
            }

            async fn llm_runtime(&self, scope: TenantScope, month_start: jiff::Timestamp) -> Result<Option<LlmRuntime>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let Some(row) = self.llm_settings_row_tx(&mut tx, tenant).await? else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let (settings, key_ct) = Self::llm_settings_from_row(row)?;
                if !settings.settings.enabled {
                    tx.commit().await?;
                    return Ok(None);
                }
                let month_cost_micros: i64 = if settings.settings.monthly_budget_cents.is_some() {
                    let (sum,): (Option<i64>,) = sqlx::query_as(
                        "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM llm_usage WHERE tenant_id = $1 AND at >= $2",
                    )
                    .bind(tenant.as_uuid())
                    .bind(crate::to_us(month_start))
                    .fetch_one(&mut *tx)
                    .await?;
                    sum.unwrap_or(0)
                } else {
                    0
                };
                let api_key = match key_ct {
                    Some(ct) => {
                        let keys = self.tenant_keys(&mut tx, tenant).await?;
                        let row = tenant.to_string();
                        Some(zeroize::Zeroizing::new(keys.data.open_string(&aad(tenant, "llm_settings", "api_key", &row), &ct)?))
                    }
                    None => None,
                };
                tx.commit().await?;
                Ok(Some(LlmRuntime { settings, api_key, month_cost_micros }))
            }

            async fn llm_usage_summary(&self, scope: TenantScope, from: jiff::Timestamp, to: jiff::Timestamp) -> Result<LlmUsageSummary> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<(String, String, i64, Option<i64>, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT outcome, reason, COUNT(*), CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT), \
                     CAST(SUM(cost_micros) AS BIGINT) FROM llm_usage WHERE tenant_id = $1 AND at >= $2 AND at < $3 \
                     GROUP BY outcome, reason",
                )
                .bind(tenant.as_uuid())
                .bind(crate::to_us(from))
                .bind(crate::to_us(to))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let n = |v: i64| u64::try_from(v).unwrap_or(0);
                let mut out = LlmUsageSummary::default();
                for (outcome, reason, count, input, output, cost) in rows {
                    out.turns += n(count);
                    out.input_tokens += n(input.unwrap_or(0));
                    out.output_tokens += n(output.unwrap_or(0));
                    out.cost_micros = out.cost_micros.saturating_add(cost.unwrap_or(0));
                    if outcome == "answered" {
                        out.answered += n(count);
                    } else {
                        out.fallbacks.push((reason, n(count)));
                    }
                }
                out.fallbacks.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                Ok(out)
            }
        }
    };
}

pub(crate) use impl_llm;
