//! A clinic's language model settings and their accounting (#9).
//!
//! The settings say which provider and models answer the clinic's patients, how turns are
//! routed, what the models cost and how much a month may cost. The provider API key is sealed
//! with the clinic's data key and **write-only**: [`LlmSettings`] (what the dashboard and the
//! CLI read) says only whether one is set and since when; only [`LlmRuntime`], read by the turn
//! runner, carries it opened. Neither type shows the key in `Debug`.
//!
//! Money: prices are integer **micro-units** of the clinic's currency per million tokens (a
//! model at $0.15 per million input tokens has `input_per_mtok = 150_000`); a turn's cost is
//! kept in micro-units; the monthly budget is in cents (minor units, `1 cent = 10_000`
//! micro-units). A month is a calendar month in UTC.

use frontdesk_domain::ConversationId;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::model::str_enum;

str_enum!(
    /// Which API the clinic's models are reached through.
    LlmProvider { Anthropic = "anthropic", OpenAi = "openai", OpenAiCompatible = "openai_compatible" }
);
str_enum!(
    /// Who answers a kind of turn: one of the clinic's two models, or the built-in receptionist.
    LlmRoute { Fast = "fast", Strong = "strong", Builtin = "builtin" }
);

/// Micro-units per cent.
pub const MICROS_PER_CENT: i64 = 10_000;
/// The highest price accepted, in micro-units per million tokens (10,000 units).
pub const MAX_PRICE_PER_MTOK: i64 = 10_000_000_000;
/// The longest model name accepted.
pub const MAX_MODEL_NAME_LEN: usize = 200;
/// The longest base URL accepted.
pub const MAX_BASE_URL_LEN: usize = 2048;
/// The longest API key accepted.
pub const MAX_API_KEY_LEN: usize = 512;

/// The limits of one model turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmTurnLimits {
    /// The whole model part of a turn, all rounds and retries included, in milliseconds;
    /// then the built-in receptionist answers.
    pub deadline_ms: u32,
    /// Model replies with tool calls per turn.
    pub tool_rounds: u8,
    /// The output-token limit of each model call.
    pub output_tokens: u32,
}

/// A clinic's limits of model turns: text (web chat, WhatsApp, SMS) and the phone line,
/// where a caller hears silence while the model thinks and Twilio waits at most 15 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LlmLimits {
    pub text: LlmTurnLimits,
    pub voice: LlmTurnLimits,
}

impl LlmLimits {
    /// The accepted range of each limit: (deadline ms, tool rounds, output tokens).
    pub const TEXT_RANGE: LlmLimitRange = LlmLimitRange {
        deadline_ms: (1_000, 60_000),
        tool_rounds: (0, 8),
        output_tokens: (16, 4_000),
    };
    /// Phone turns: at most 10 s, well inside Twilio's 15 s with the rest of the turn.
    pub const VOICE_RANGE: LlmLimitRange = LlmLimitRange {
        deadline_ms: (500, 10_000),
        tool_rounds: (0, 4),
        output_tokens: (16, 1_000),
    };
}

/// Inclusive bounds of each turn limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlmLimitRange {
    pub deadline_ms: (u32, u32),
    pub tool_rounds: (u8, u8),
    pub output_tokens: (u32, u32),
}

impl Default for LlmLimits {
    /// Text: 15 s, 4 tool rounds, 400 tokens. Phone: 4 s, 2 tool rounds, 160 tokens.
    fn default() -> Self {
        Self {
            text: LlmTurnLimits {
                deadline_ms: 15_000,
                tool_rounds: 4,
                output_tokens: 400,
            },
            voice: LlmTurnLimits {
                deadline_ms: 4_000,
                tool_rounds: 2,
                output_tokens: 160,
            },
        }
    }
}

/// What a model costs, in micro-units per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmPrices {
    pub input_per_mtok: i64,
    pub output_per_mtok: i64,
}

impl LlmPrices {
    /// The cost of one turn's tokens in micro-units, rounded up (a clinic is never told a
    /// turn cost less than it did); saturates rather than overflows.
    pub fn cost_micros(&self, input_tokens: u64, output_tokens: u64) -> i64 {
        let part = |tokens: u64, price: i64| -> u128 {
            let price = u128::try_from(price.max(0)).unwrap_or(0);
            (u128::from(tokens) * price).div_ceil(1_000_000)
        };
        let total =
            part(input_tokens, self.input_per_mtok) + part(output_tokens, self.output_per_mtok);
        i64::try_from(total).unwrap_or(i64::MAX)
    }
}

/// The settings an operator or the clinic's Owner writes (no key: see [`LlmKeyChange`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmSettingsInput {
    pub provider: LlmProvider,
    /// `None`: the provider's public API (required for `openai_compatible`).
    pub base_url: Option<String>,
    pub fast_model: String,
    pub strong_model: String,
    pub routine: LlmRoute,
    pub sensitive: LlmRoute,
    /// `None`: no limit.
    pub monthly_budget_cents: Option<i64>,
    pub fast_prices: LlmPrices,
    pub strong_prices: LlmPrices,
    pub enabled: bool,
    /// Deadline, tool rounds and output limit of text and phone turns.
    pub limits: LlmLimits,
}

/// What happens to the stored API key when settings are written.
pub enum LlmKeyChange {
    Keep,
    Set(Zeroizing<String>),
    Clear,
}

impl std::fmt::Debug for LlmKeyChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keep => "Keep",
            Self::Set(_) => "Set(<redacted>)",
            Self::Clear => "Clear",
        })
    }
}

/// A clinic's settings as the dashboard and CLI read them: never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmSettings {
    pub settings: LlmSettingsInput,
    /// When the stored key was set; `None`: no key.
    pub api_key_set_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// What the turn runner reads: enabled settings, the opened key and this month's spend.
pub struct LlmRuntime {
    pub settings: LlmSettings,
    pub api_key: Option<Zeroizing<String>>,
    /// The cost of the clinic's model turns since the month's start, in micro-units.
    pub month_cost_micros: i64,
}

impl std::fmt::Debug for LlmRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmRuntime")
            .field("settings", &self.settings)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("month_cost_micros", &self.month_cost_micros)
            .finish()
    }
}

impl LlmRuntime {
    /// The month's spend has reached the budget (no budget: never).
    pub fn budget_exhausted(&self) -> bool {
        self.settings
            .settings
            .monthly_budget_cents
            .is_some_and(|b| self.month_cost_micros >= b.saturating_mul(MICROS_PER_CENT))
    }
}

/// One model turn's accounting row, written with the turn ([`crate::Turn::llm_usage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmUsage {
    pub conversation: ConversationId,
    pub provider: String,
    /// The model the provider reported (the one asked for when it never answered).
    pub model: String,
    /// `fast` or `strong`.
    pub tier: String,
    /// `answered` or `fallback`.
    pub outcome: String,
    /// `answered`, or the fallback reason (`budget`, `timeout`, `deadline`, a guard code, …).
    pub reason: String,
    pub latency_ms: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: i64,
}

/// A clinic's model turns over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LlmUsageSummary {
    pub turns: u64,
    pub answered: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: i64,
    /// Fallbacks by reason, most frequent first.
    pub fallbacks: Vec<(String, u64)>,
}

/// The first instant of `at`'s calendar month in UTC (the budget's month).
/// A clinic's language model spend in one calendar month (UTC), counted by the database as
/// usage rows are written (migration 0034) and read with the clinic's catalogue stamp on every
/// turn ([`crate::ClinicCatalog::llm_spend`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonthSpend {
    /// The month counted, as `yyyymm` (0: nothing spent yet).
    pub month: i32,
    /// What that month's usage rows cost, in micro-units.
    pub cost_micros: i64,
}

impl MonthSpend {
    /// The spend of the month `at` falls in: the count when it is that month's (or a later
    /// one's: another instance's clock a little ahead at a month's turn), else nothing yet.
    pub fn in_month_of(&self, at: Timestamp) -> i64 {
        if self.month >= year_month(at) {
            self.cost_micros
        } else {
            0
        }
    }

    /// The spend has reached a budget of `budget_cents` (none: never).
    pub fn exhausts(&self, budget_cents: Option<i64>, at: Timestamp) -> bool {
        budget_cents.is_some_and(|b| self.in_month_of(at) >= b.saturating_mul(MICROS_PER_CENT))
    }
}

/// `yyyymm` of the month `at` falls in (UTC), as migration 0034 counts it.
pub fn year_month(at: Timestamp) -> i32 {
    let dt = at.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    i32::from(dt.year()) * 100 + i32::from(dt.month())
}

pub fn month_start(at: Timestamp) -> Timestamp {
    let dt = at.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let first = jiff::civil::date(dt.year(), dt.month(), 1).at(0, 0, 0, 0);
    first
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_rounds_up_to_the_micro_unit_and_saturates() {
        let p = LlmPrices {
            input_per_mtok: 150_000,
            output_per_mtok: 600_000,
        };
        assert_eq!(p.cost_micros(1_000, 100), 150 + 60);
        assert_eq!(p.cost_micros(1, 0), 1);
        assert_eq!(p.cost_micros(0, 0), 0);
        let huge = LlmPrices {
            input_per_mtok: i64::MAX,
            output_per_mtok: i64::MAX,
        };
        assert_eq!(huge.cost_micros(u64::MAX, u64::MAX), i64::MAX);
    }

    #[test]
    fn month_start_is_the_first_of_the_utc_month() {
        let t: Timestamp = "2026-03-31T23:59:59Z".parse().unwrap();
        assert_eq!(month_start(t).to_string(), "2026-03-01T00:00:00Z");
        let t: Timestamp = "2026-04-01T00:00:00Z".parse().unwrap();
        assert_eq!(month_start(t).to_string(), "2026-04-01T00:00:00Z");
    }
}
