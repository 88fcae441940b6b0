//! A clinic's [`TenantModels`] built from its stored settings (`frontdesk_store::llm`), kept
//! per clinic with the clinic's catalogue stamp they were read at (`ClinicCatalog::version`).
//! Every turn reads that stamp with the clinic's catalogue anyway, and any change to the
//! clinic's settings moves it (a database trigger, migration 0033), whichever instance or tool
//! made it. So a turn whose stamp matches uses the models already built, with no read of its
//! own, however long ago they were read; the first turn after a change reads the settings
//! again. A call's turns, seconds apart, no longer pay a settings read each.
//!
//! The month's spend is counted by the database as usage rows are written and read in the
//! same statement as the stamp (`ClinicCatalog::llm_spend`, migration 0034): a clinic with a
//! monthly budget checks it on every turn against every turn committed before, with no read
//! of its own. Turns already under way when the budget is reached may still pass it by their
//! own cost.
//!
//! Clients that cannot be built from the settings (no key for a public API, a base URL that
//! does not parse) leave the clinic with the built-in receptionist, with a warning in the log
//! (the error code only: never the key or the URL).

use super::agent::TenantModels;
use super::route::{RoutingPolicy, Tier};
use super::{AnthropicClient, LanguageModel, ModelError, OpenAiClient};
use frontdesk_domain::TenantId;
use frontdesk_store::{
    LlmProvider, LlmRoute, LlmRuntime, MonthSpend, Store, StoreError, TenantScope, month_start,
};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Entries kept before the cache starts again empty (a host with more live clinics than this
/// reads some of them twice, nothing worse).
const MAX_ENTRIES: usize = 4096;

/// What one read of a clinic's settings gave.
#[derive(Debug)]
struct Entry {
    /// The clinic's catalogue stamp read before the settings.
    version: i64,
    /// The clinic's monthly budget, in cents.
    budget_cents: Option<i64>,
    /// `None`: the built-in receptionist. Marked exhausted or not by the last turn's spend.
    models: Option<Arc<TenantModels>>,
}

/// The clinics' models, kept per clinic. One per process part that answers patients (the
/// HTTP server and its workers share one).
#[derive(Debug)]
pub struct ModelDirectory {
    timeout: Duration,
    cache: Mutex<HashMap<TenantId, Entry>>,
}

impl Default for ModelDirectory {
    fn default() -> Self {
        Self {
            timeout: super::DEFAULT_TIMEOUT,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl ModelDirectory {
    /// The clinic's models, or `None` (no settings, disabled, or unusable: the built-in
    /// receptionist answers). `version` and `spend` are the clinic's catalogue stamp and month
    /// spend as this turn read them (`ClinicCatalog`), before this call: models kept from a
    /// read at that stamp are used as they are, any other stamp reads the settings again; the
    /// budget is checked against `spend` either way.
    pub async fn models(
        &self,
        store: &dyn Store,
        scope: TenantScope,
        now: jiff::Timestamp,
        version: i64,
        spend: MonthSpend,
    ) -> Result<Option<Arc<TenantModels>>, StoreError> {
        let tenant = scope.tenant_id();
        if let Some(hit) = self.cached(tenant, version, spend, now) {
            return Ok(hit);
        }
        let runtime = store.llm_runtime(scope, month_start(now)).await?;
        let budget_cents = runtime
            .as_ref()
            .and_then(|rt| rt.settings.settings.monthly_budget_cents);
        let models = runtime.and_then(|rt| match build(&rt, self.timeout) {
            Ok(mut m) => {
                m.budget_exhausted = spend.exhausts(budget_cents, now);
                Some(Arc::new(m))
            }
            Err(e) => {
                tracing::warn!(
                    tenant = %tenant,
                    code = e.code(),
                    "the clinic's language model settings are unusable; the built-in receptionist answers"
                );
                None
            }
        });
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_ENTRIES && !cache.contains_key(&tenant) {
                cache.clear();
            }
            // The stamp was read before the settings: a change committed in between leaves the
            // entry older than its stamp says, and the next turn, seeing the newer stamp, reads
            // again. Never the other way round.
            cache.insert(
                tenant,
                Entry {
                    version,
                    budget_cents,
                    models: models.clone(),
                },
            );
        }
        Ok(models)
    }

    /// What this process last built for the clinic, current or not: a guess, made before the
    /// clinic's stamp is read, at whether the clinic has a model (how much of the conversation
    /// a turn reads for the model's context). `None` when nothing was read yet.
    pub fn guess(&self, tenant: TenantId) -> Option<Option<Arc<TenantModels>>> {
        let cache = self.cache.lock().ok()?;
        cache.get(&tenant).map(|e| e.models.clone())
    }

    /// Drops the clinic's entry: its next turn reads its settings again (a change made
    /// through this process; the stamp would tell the next turn anyway).
    pub fn forget(&self, tenant: TenantId) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&tenant);
        }
    }

    /// The kept models if they were read at `version`, marked by `spend` (a new copy, kept in
    /// their place, only when the budget's state changed: at most a few times a month).
    fn cached(
        &self,
        tenant: TenantId,
        version: i64,
        spend: MonthSpend,
        now: jiff::Timestamp,
    ) -> Option<Option<Arc<TenantModels>>> {
        let mut cache = self.cache.lock().ok()?;
        let e = cache.get_mut(&tenant).filter(|e| e.version == version)?;
        let exhausted = spend.exhausts(e.budget_cents, now);
        if let Some(m) = &e.models
            && m.budget_exhausted != exhausted
        {
            let mut marked = TenantModels::clone(m);
            marked.budget_exhausted = exhausted;
            e.models = Some(Arc::new(marked));
        }
        Some(e.models.clone())
    }
}

fn tier(route: LlmRoute) -> Option<Tier> {
    match route {
        LlmRoute::Fast => Some(Tier::Fast),
        LlmRoute::Strong => Some(Tier::Strong),
        LlmRoute::Builtin => None,
    }
}

/// One client for `model` as the settings say.
pub fn client(
    rt: &LlmRuntime,
    model: &str,
    timeout: Duration,
) -> Result<Arc<dyn LanguageModel>, ModelError> {
    let s = &rt.settings.settings;
    let key = || {
        rt.api_key
            .as_deref()
            .map(|k| SecretString::from(k.to_owned()))
    };
    let missing = ModelError::Config("no api key is set");
    Ok(match s.provider {
        LlmProvider::Anthropic => Arc::new(AnthropicClient::with_base_url(
            s.base_url
                .as_deref()
                .unwrap_or(AnthropicClient::DEFAULT_BASE_URL),
            key().ok_or(missing)?,
            model,
            timeout,
        )?),
        LlmProvider::OpenAi => Arc::new(OpenAiClient::openai_at(
            s.base_url
                .as_deref()
                .unwrap_or(OpenAiClient::DEFAULT_BASE_URL),
            key().ok_or(missing)?,
            model,
            timeout,
        )?),
        LlmProvider::OpenAiCompatible => Arc::new(OpenAiClient::compatible(
            s.base_url
                .as_deref()
                .ok_or(ModelError::Config("no base url is set"))?,
            key(),
            model,
            timeout,
        )?),
    })
}

/// The clinic's [`TenantModels`] from its runtime settings.
pub fn build(rt: &LlmRuntime, timeout: Duration) -> Result<TenantModels, ModelError> {
    let s = &rt.settings.settings;
    let fast = client(rt, &s.fast_model, timeout)?;
    let strong = if s.strong_model == s.fast_model {
        fast.clone()
    } else {
        client(rt, &s.strong_model, timeout)?
    };
    let mut models = TenantModels::new(fast, strong);
    models.routing = RoutingPolicy {
        routine: tier(s.routine),
        sensitive: tier(s.sensitive),
    };
    models.fast_prices = s.fast_prices;
    models.strong_prices = s.strong_prices;
    models.budget_exhausted = rt.budget_exhausted();
    let (text, voice) = (s.limits.text, s.limits.voice);
    models.turn_deadline = Duration::from_millis(text.deadline_ms.into());
    models.max_tool_rounds = text.tool_rounds;
    models.max_output_tokens = text.output_tokens;
    models.voice = super::agent::VoiceLimits {
        turn_deadline: Duration::from_millis(voice.deadline_ms.into()),
        max_tool_rounds: voice.tool_rounds,
        max_output_tokens: voice.output_tokens,
    };
    Ok(models)
}

/// Checks a base URL the clinic gave (a gateway, or its own OpenAI-compatible server) against
/// the deployment's outbound address policy, the one webhook destinations obey (config
/// `webhook_allowlist`): `https` on port 443 or 8443 to public addresses only, unless every
/// address of the host is in an allowlisted network (then plain `http` and any port too).
/// Loopback, private, link-local and metadata addresses are refused unless allowlisted; a
/// name is resolved and every answer must pass. Checked when settings are saved (dashboard,
/// CLI); model calls themselves do not re-check the address when they connect.
pub async fn check_base_url(
    base_url: &str,
    policy: &crate::outbound::SsrfPolicy,
) -> Result<(), crate::outbound::SsrfError> {
    use crate::outbound::SsrfError;
    let url = reqwest::Url::parse(base_url.trim()).map_err(|_| SsrfError::InvalidUrl)?;
    crate::outbound::ssrf::validate(&url, policy, &crate::outbound::resolver::SystemLookup)
        .await
        .map(|_| ())
}

/// A non-negative decimal with at most `places` decimals, scaled to an integer: with 6
/// places `"0.15"` is `150000` (a price per million tokens in micro-units), with 2 places
/// `"50"` is `5000` (a budget in cents). `None` for anything else.
pub fn parse_decimal(s: &str, places: u32) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty()
        || !digits(whole)
        || !digits(frac)
        || frac.len() > places as usize
        || whole.len() > 12
    {
        return None;
    }
    let scale = 10_i64.checked_pow(places)?;
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().ok()? * 10_i64.pow(places - frac.len() as u32)
    };
    whole.checked_mul(scale)?.checked_add(frac)
}

/// `v` scaled down by `places` decimals, without trailing zeros beyond two decimals:
/// `format_decimal(150_000, 6)` is `"0.15"`.
pub fn format_decimal(v: i64, places: u32) -> String {
    let scale = 10_i64.pow(places);
    let sign = if v < 0 { "-" } else { "" };
    let v = v.unsigned_abs();
    let scale = scale.unsigned_abs();
    let mut frac = format!("{:0width$}", v % scale, width = places as usize);
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    if frac.is_empty() {
        format!("{sign}{}", v / scale)
    } else {
        format!("{sign}{}.{frac}", v / scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_store::{LlmLimits, LlmPrices, LlmSettings, LlmSettingsInput};

    /// Text: 9 s, 3 rounds, 300 tokens; phone: 2.5 s, 1 round, 120 tokens.
    fn limits() -> LlmLimits {
        let mut l = LlmLimits::default();
        (l.text.deadline_ms, l.text.tool_rounds, l.text.output_tokens) = (9_000, 3, 300);
        (
            l.voice.deadline_ms,
            l.voice.tool_rounds,
            l.voice.output_tokens,
        ) = (2_500, 1, 120);
        l
    }

    fn runtime(provider: LlmProvider, key: Option<&str>, base: Option<&str>) -> LlmRuntime {
        LlmRuntime {
            settings: LlmSettings {
                settings: LlmSettingsInput {
                    provider,
                    base_url: base.map(str::to_owned),
                    fast_model: "small".into(),
                    strong_model: "large".into(),
                    routine: LlmRoute::Fast,
                    sensitive: LlmRoute::Builtin,
                    monthly_budget_cents: Some(10),
                    fast_prices: LlmPrices {
                        input_per_mtok: 1,
                        output_per_mtok: 2,
                    },
                    strong_prices: LlmPrices::default(),
                    enabled: true,
                    limits: limits(),
                },
                api_key_set_at: None,
                updated_at: jiff::Timestamp::UNIX_EPOCH,
                updated_by: "operator".into(),
            },
            api_key: key.map(|k| k.to_owned().into()),
            month_cost_micros: 100_000,
        }
    }

    #[test]
    fn settings_become_models_routing_prices_and_the_budget() {
        let rt = runtime(
            LlmProvider::OpenAiCompatible,
            None,
            Some("http://127.0.0.1:9"),
        );
        let m = build(&rt, Duration::from_secs(1)).unwrap();
        assert_eq!(m.fast.model(), "small");
        assert_eq!(m.strong.model(), "large");
        assert_eq!(m.fast.provider(), "openai_compatible");
        assert_eq!(
            m.routing,
            RoutingPolicy {
                routine: Some(Tier::Fast),
                sensitive: None
            }
        );
        assert_eq!(m.fast_prices.output_per_mtok, 2);
        assert!(m.budget_exhausted, "100,000 micro-units spent of 10 cents");
        // The clinic's stored limits, text and phone.
        assert_eq!(
            (m.turn_deadline, m.max_tool_rounds, m.max_output_tokens),
            (Duration::from_millis(9_000), 3, 300)
        );
        let v = m.for_voice();
        assert_eq!(
            (v.turn_deadline, v.max_tool_rounds, v.max_output_tokens),
            (Duration::from_millis(2_500), 1, 120)
        );
        let rt = runtime(LlmProvider::Anthropic, Some("sk-ant-x"), None);
        let m = build(&rt, Duration::from_secs(1)).unwrap();
        assert_eq!(m.strong.provider(), "anthropic");
        assert!(!format!("{m:?}").contains("sk-ant-x"));
    }

    /// Kept at the stamp they were read at, for as long as it holds; read again when the stamp
    /// moves; the budget checked on every call against the spend the turn read.
    #[tokio::test]
    async fn a_clinics_models_are_kept_until_its_stamp_moves_and_its_budget_checked_each_turn() {
        use frontdesk_store::testing::Engine;
        use frontdesk_store::{Actor, LlmKeyChange, LlmUsage, NewMessage, Turn};
        for engine in [Engine::Sqlite, Engine::Postgres] {
            let Some(fx) = crate::llm::injection_harness::Fixture::new(engine).await else {
                continue;
            };
            let (store, scope) = (fx.store.as_ref(), fx.scope);
            let stamp = async || {
                let c = store.clinic_catalog(scope).await.unwrap();
                (c.version, c.llm_spend)
            };
            // The fixture's clock: the spend is counted per calendar month.
            let now = frontdesk_domain::Clock::now(fx.clock.as_ref());
            let mut settings = runtime(
                LlmProvider::OpenAiCompatible,
                None,
                Some("http://127.0.0.1:9"),
            )
            .settings
            .settings;
            settings.monthly_budget_cents = None;
            let d = ModelDirectory::default();
            assert!(d.guess(scope.tenant_id()).is_none(), "nothing read yet");
            let (none, spend) = stamp().await;
            assert!(
                d.models(store, scope, now, none, spend)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(
                d.guess(scope.tenant_id()).unwrap().is_none(),
                "the clinic's absence is kept too"
            );

            store
                .set_llm_settings(scope, &settings, LlmKeyChange::Keep, Actor::Operator)
                .await
                .unwrap();
            let (set, spend) = stamp().await;
            assert_ne!(set, none, "a settings change moves the stamp");
            let m = d
                .models(store, scope, now, set, spend)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(m.fast.model(), "small", "read again at the new stamp");
            assert!(!m.budget_exhausted);
            assert!(d.guess(scope.tenant_id()).unwrap().is_some());

            store.disable_llm(scope, Actor::Operator).await.unwrap();
            let (off, spend) = stamp().await;
            // At the stamp they were read at, the models are used as they are, with no read.
            assert!(
                d.models(store, scope, now, set, spend)
                    .await
                    .unwrap()
                    .is_some()
            );
            assert!(
                d.models(store, scope, now, off, spend)
                    .await
                    .unwrap()
                    .is_none()
            );

            // A budget of 1 cent (10,000 micro-units), then a turn that spends all of it:
            // spending does not move the stamp; the spend read with it tells.
            settings.monthly_budget_cents = Some(1);
            store
                .set_llm_settings(scope, &settings, LlmKeyChange::Keep, Actor::Operator)
                .await
                .unwrap();
            let (budget, before) = stamp().await;
            let m = d
                .models(store, scope, now, budget, before)
                .await
                .unwrap()
                .unwrap();
            assert!(!m.budget_exhausted);
            let spent = Turn {
                inbound: Some(NewMessage::inbound("When are you open?")),
                job: None,
                replies: vec![NewMessage::agent_reply("9 to 5.")],
                audit: Vec::new(),
                escalation: None,
                summary: None,
                dialogue_state: None,
                llm_usage: Some(LlmUsage {
                    conversation: fx.sms,
                    provider: "openai_compatible".into(),
                    model: "small".into(),
                    tier: "fast".into(),
                    outcome: "answered".into(),
                    reason: "answered".into(),
                    latency_ms: 100,
                    input_tokens: 1_000,
                    output_tokens: 50,
                    cost_micros: 10_000,
                }),
            };
            store.record_turn(scope, fx.sms, &spent).await.unwrap();
            let (same, after) = stamp().await;
            assert_eq!(same, budget, "spending keeps the stamp");
            assert_eq!(after.in_month_of(now), 10_000);
            let m = d
                .models(store, scope, now, budget, after)
                .await
                .unwrap()
                .unwrap();
            assert!(m.budget_exhausted, "the next turn sees the budget spent");
            assert_eq!(m.fast.model(), "small");
            let m = d
                .models(store, scope, now, budget, before)
                .await
                .unwrap()
                .unwrap();
            assert!(
                !m.budget_exhausted,
                "checked against the spend the turn read"
            );
            let next_month = now + jiff::SignedDuration::from_hours(24 * 32);
            let m = d
                .models(store, scope, next_month, budget, after)
                .await
                .unwrap()
                .unwrap();
            assert!(!m.budget_exhausted, "a new month, a new budget");

            d.forget(scope.tenant_id());
            assert!(d.guess(scope.tenant_id()).is_none());
            let m = d
                .models(store, scope, now, budget, after)
                .await
                .unwrap()
                .unwrap();
            assert!(m.budget_exhausted, "forgotten: read again, and still spent");
            fx.db.cleanup().await;
        }
    }

    #[tokio::test]
    async fn a_base_url_must_pass_the_outbound_address_policy() {
        use crate::outbound::{Allowlist, SsrfPolicy};
        let public_only = SsrfPolicy::default();
        let own_network = SsrfPolicy {
            allowlist: Allowlist::parse(&["10.20.0.0/16"]).unwrap(),
            allow_http: false,
        };
        for (url, code) in [
            ("http://10.20.0.5:11434", "address_refused"),
            ("http://127.0.0.1:11434", "address_refused"),
            ("http://169.254.169.254/latest", "address_refused"),
            ("https://[::1]:8443", "address_refused"),
            ("https://93.184.215.14:11434", "port_not_allowed"),
            ("http://93.184.215.14", "scheme_not_allowed"),
            ("not a url", "invalid_url"),
        ] {
            let e = check_base_url(url, &public_only).await.unwrap_err();
            assert_eq!(e.code(), code, "{url}");
        }
        check_base_url("https://93.184.215.14", &public_only)
            .await
            .unwrap();
        // The operator allowlisted the clinic's network: plain http and any port there, and
        // nothing more.
        check_base_url("http://10.20.0.5:11434/v1", &own_network)
            .await
            .unwrap();
        let e = check_base_url("http://10.21.0.5:11434", &own_network)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "address_refused");
    }

    #[test]
    fn decimals_parse_and_format_exactly() {
        assert_eq!(parse_decimal("0.15", 6), Some(150_000));
        assert_eq!(parse_decimal("2.5", 6), Some(2_500_000));
        assert_eq!(parse_decimal(" 10 ", 6), Some(10_000_000));
        assert_eq!(parse_decimal(".5", 2), Some(50));
        assert_eq!(parse_decimal("50", 2), Some(5_000));
        for bad in ["", ".", "-1", "1.234", "1e3", "abc", "1,5", "9999999999999"] {
            assert_eq!(parse_decimal(bad, 2), None, "{bad}");
        }
        assert_eq!(format_decimal(150_000, 6), "0.15");
        assert_eq!(format_decimal(5_000, 2), "50.00");
        assert_eq!(format_decimal(1, 6), "0.000001");
        assert_eq!(format_decimal(10_000_000, 6), "10.00");
        for v in [0, 1, 99, 150_000, 123_456_789] {
            assert_eq!(parse_decimal(&format_decimal(v, 6), 6), Some(v));
        }
    }

    #[test]
    fn unusable_settings_are_refused_with_a_config_error() {
        for rt in [
            runtime(LlmProvider::OpenAi, None, None),
            runtime(LlmProvider::Anthropic, None, None),
            runtime(LlmProvider::OpenAiCompatible, None, None),
            runtime(LlmProvider::OpenAiCompatible, None, Some("ftp://x")),
        ] {
            let e = build(&rt, Duration::from_secs(1)).unwrap_err();
            assert_eq!(e.code(), "config", "{:?}", rt.settings.settings.provider);
        }
    }
}
