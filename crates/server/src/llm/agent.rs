//! The model-driven receptionist for one turn: route by risk, ask the clinic's model with
//! this conversation's own context, run its tool calls through our code, guard its text, and
//! build the reply. Whatever fails (a provider error, the turn's deadline, too many tool
//! rounds or refused calls, a reply the guard refuses) the built-in receptionist answers the
//! same message instead, so the patient sees a normal reply. Once a tool has changed the diary
//! or raised the triage the turn is never handed back (the built-in receptionist might act
//! again, or not know of the raised level): the reply is then the confirmations our code built
//! from the store's answers, with the urgent or emergency advice.

use super::context::{self, INSTRUCTIONS};
use super::guard::Guard;
use super::route::{Route, RoutingPolicy, Tier, TurnFacts, route};
use super::stream::Progress;
use super::tools_exec::{Effects, ExecEnv, ToolBox};
use super::{LanguageModel, ModelError, ModelReply, StopReason, Turn, Usage};
use frontdesk_agent::{Alert, Category, ClinicKnowledge, Triage, TriageLevel};
use frontdesk_domain::AppointmentId;
use frontdesk_store::{LlmPrices, Message, StoreError};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tool calls run per model reply; more are refused.
const MAX_CALLS_PER_ROUND: usize = 4;
/// Refused calls after which the model is no longer trusted with the turn.
const MAX_REFUSED: u8 = 4;
/// The `rule_set` of a triage a model raised (audit entry and staff notification).
pub const MODEL_RULE_SET: &str = "model";

/// One clinic's language models and limits, built from its stored settings by
/// [`super::settings::ModelDirectory`] (or by tests directly).
#[derive(Debug, Clone)]
pub struct TenantModels {
    /// Routine turns.
    pub fast: Arc<dyn LanguageModel>,
    /// Sensitive turns (may be the same model as `fast`).
    pub strong: Arc<dyn LanguageModel>,
    pub routing: RoutingPolicy,
    /// The whole model part of a turn, all rounds included; then the built-in agent answers.
    pub turn_deadline: Duration,
    /// Model replies with tool calls per turn.
    pub max_tool_rounds: u8,
    pub max_output_tokens: u32,
    /// What each tier costs (micro-units per million tokens), for the turn's accounting.
    pub fast_prices: LlmPrices,
    pub strong_prices: LlmPrices,
    /// The clinic's monthly budget is spent: turns routed to a model get the built-in
    /// receptionist instead (fallback reason `budget`) and no model is called.
    pub budget_exhausted: bool,
    /// The limits of a phone turn, which [`TenantModels::for_voice`] applies.
    pub voice: VoiceLimits,
    /// The reply is spoken on a phone call: the model is told to answer in a sentence or two
    /// of plain speech, its answer is streamed, and when the deadline passes while it is still
    /// talking, the complete sentences of a plain answer are said (see [`super::stream`]).
    pub spoken: bool,
}

/// The model's limits on the phone line: a caller hears silence while the model thinks, and
/// Twilio waits at most 15 s for the webhook's answer, so a phone turn gets a much shorter
/// deadline, fewer tool rounds and a shorter answer than a text turn. When the deadline
/// passes the built-in receptionist answers the same words in the same webhook answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceLimits {
    pub turn_deadline: Duration,
    pub max_tool_rounds: u8,
    pub max_output_tokens: u32,
}

impl Default for VoiceLimits {
    /// 4 s, 2 tool rounds, 160 tokens.
    fn default() -> Self {
        Self {
            turn_deadline: VOICE_TURN_DEADLINE,
            max_tool_rounds: 2,
            max_output_tokens: 160,
        }
    }
}

/// The default deadline of a phone turn's model part (all rounds).
pub const VOICE_TURN_DEADLINE: Duration = Duration::from_secs(4);

/// Told to the model on a phone call, after [`INSTRUCTIONS`].
pub const SPOKEN_NOTE: &str = "This conversation is a phone call: your words are read aloud to \
the caller by a speech synthesiser. Answer in one or two short spoken sentences, without lists, \
symbols or abbreviations. When you need a tool, call it before saying anything.";

impl TenantModels {
    /// Defaults: routine → fast, sensitive → strong, 15 s per turn, 4 tool rounds, 400 tokens.
    pub fn new(fast: Arc<dyn LanguageModel>, strong: Arc<dyn LanguageModel>) -> Self {
        Self {
            fast,
            strong,
            routing: RoutingPolicy::default(),
            turn_deadline: Duration::from_secs(15),
            max_tool_rounds: 4,
            max_output_tokens: 400,
            fast_prices: LlmPrices::default(),
            strong_prices: LlmPrices::default(),
            budget_exhausted: false,
            voice: VoiceLimits::default(),
            spoken: false,
        }
    }

    /// The same models with the phone line's limits ([`TenantModels::voice`]) and told that
    /// the reply is spoken.
    pub fn for_voice(&self) -> TenantModels {
        TenantModels {
            turn_deadline: self.voice.turn_deadline,
            max_tool_rounds: self.voice.max_tool_rounds,
            max_output_tokens: self.voice.max_output_tokens,
            spoken: true,
            ..self.clone()
        }
    }

    fn prices(&self, tier: Tier) -> LlmPrices {
        match tier {
            Tier::Fast => self.fast_prices,
            Tier::Strong => self.strong_prices,
        }
    }

    fn model(&self, tier: Tier) -> &dyn LanguageModel {
        match tier {
            Tier::Fast => self.fast.as_ref(),
            Tier::Strong => self.strong.as_ref(),
        }
    }
}

/// The turn as the built-in path has already read it.
#[derive(Clone, Copy)]
pub struct TurnInput<'a> {
    pub env: ExecEnv<'a>,
    pub text: &'a str,
    /// The conversation's newest messages, oldest first ([`context::HISTORY_READ`] of them
    /// are enough), read with the conversation.
    pub history: &'a [Message],
    pub first_contact: bool,
    /// The built-in dialogue holds state or awaits a yes (see [`TurnFacts`]).
    pub dialogue_busy: bool,
    /// The deterministic triage of `text`.
    pub triage: &'a Triage,
}

/// A turn the model answered.
#[derive(Debug)]
pub struct ModelAnswer {
    pub messages: Vec<String>,
    pub alert: Option<Alert>,
    /// Set when the model raised the triage (never below the deterministic one).
    pub raised: Option<Triage>,
    pub booked: Option<AppointmentId>,
    pub tier: Tier,
    /// The model the provider says answered last.
    pub model: String,
    pub tool_calls: u32,
    pub usage: Usage,
}

/// What a turn routed to a model cost and how it ended, answered or not: the turn's
/// accounting row and the figures in its audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCall {
    pub provider: &'static str,
    /// The model the provider reported last (the one asked for when none answered).
    pub model: String,
    pub tier: Tier,
    pub answered: bool,
    /// `answered`, or why the built-in receptionist answered instead (`budget`, an error code,
    /// `deadline`, a guard's reason, …).
    pub reason: &'static str,
    pub latency_ms: u64,
    pub usage: Usage,
    /// From the clinic's prices for the tier, in micro-units.
    pub cost_micros: i64,
}

/// The outcome of [`answer_accounted`]: the model's answer, if any, and the accounting of a
/// turn that was routed to a model (`None` when the built-in receptionist was routed to).
#[derive(Debug, Default)]
pub struct Accounted {
    pub answer: Option<ModelAnswer>,
    pub call: Option<ModelCall>,
}

/// Why the model's turn ended without a usable reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Model(&'static str),
    Deadline,
    ToolRounds,
    Refused,
    NeedsVerification,
    Guard(&'static str),
    Unfinished,
    Store,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Self::Model(code) => code,
            Self::Deadline => "deadline",
            Self::ToolRounds => "tool_rounds",
            Self::Refused => "refused_calls",
            Self::NeedsVerification => "needs_verification",
            Self::Guard(why) => why,
            Self::Unfinished => "unfinished",
            Self::Store => "store",
        }
    }
}

/// Answers the turn with the clinic's model, or `None` when the built-in receptionist
/// answers (routed there, or the model failed before any change).
pub async fn answer(
    models: &TenantModels,
    input: &TurnInput<'_>,
) -> Result<Option<ModelAnswer>, StoreError> {
    Ok(answer_accounted(models, input).await?.answer)
}

/// [`answer`], with the accounting of the model turn (tokens, latency, cost, outcome). When
/// the clinic's budget is spent, a turn routed to a model is answered by the built-in
/// receptionist without calling it (reason `budget`).
pub async fn answer_accounted(
    models: &TenantModels,
    input: &TurnInput<'_>,
) -> Result<Accounted, StoreError> {
    let facts = TurnFacts {
        triage: input.triage,
        dialogue_busy: input.dialogue_busy,
    };
    let tier = match route(input.text, facts, models.routing) {
        Route::Model(tier) => tier,
        Route::BuiltIn(reason) => {
            metrics::counter!("frontdesk_llm_turns_total", "outcome" => "builtin", "reason" => reason)
                .increment(1);
            return Ok(Accounted::default());
        }
    };
    let model = models.model(tier);
    if models.budget_exhausted {
        metrics::counter!("frontdesk_llm_turns_total", "outcome" => "fallback", "reason" => "budget")
            .increment(1);
        tracing::info!(
            provider = model.provider(),
            model = model.model(),
            tier = tier.as_str(),
            outcome = "budget",
            "model turn"
        );
        let call = ModelCall {
            provider: model.provider(),
            model: model.model().to_owned(),
            tier,
            answered: false,
            reason: "budget",
            latency_ms: 0,
            usage: Usage::default(),
            cost_micros: 0,
        };
        return Ok(Accounted {
            answer: None,
            call: Some(call),
        });
    }
    let env = &input.env;
    let k = env.clinic;
    let mut req = context::request(
        k,
        env.now,
        env.verified.is_some(),
        input.history,
        input.text,
        models.max_output_tokens,
    );
    if models.spoken {
        // Right after the fixed instructions, before the clinic's facts.
        req.system = req
            .system
            .replacen(INSTRUCTIONS, &format!("{INSTRUCTIONS} {SPOKEN_NOTE}"), 1);
    }
    let guard = Guard::new(&k.profile, INSTRUCTIONS);
    let mut tools = ToolBox::default();
    let mut run = Run::default();
    let started = Instant::now();
    let ended = converse(models, model, env, &guard, &mut req, &mut tools, &mut run).await;
    let effects = tools.effects;
    let (label, result) = conclude(k, input.first_contact, tier, ended, &effects, &run);
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        provider = model.provider(),
        model = model.model(),
        tier = tier.as_str(),
        outcome = label,
        rounds = run.rounds,
        tool_calls = run.tool_calls,
        changes = effects.changes,
        cut_at_deadline = run.cut_at_deadline,
        latency_ms,
        "model turn"
    );
    let outcome = if result.is_some() {
        "answered"
    } else {
        "fallback"
    };
    metrics::counter!("frontdesk_llm_turns_total", "outcome" => outcome, "reason" => label)
        .increment(1);
    let call = ModelCall {
        provider: model.provider(),
        model: if run.model.is_empty() {
            model.model().to_owned()
        } else {
            run.model.clone()
        },
        tier,
        answered: result.is_some(),
        reason: if result.is_some() { "answered" } else { label },
        latency_ms,
        usage: run.usage,
        cost_micros: models
            .prices(tier)
            .cost_micros(run.usage.input_tokens, run.usage.output_tokens),
    };
    Ok(Accounted {
        answer: result,
        call: Some(call),
    })
}

/// The model's answer from how the conversation with it ended, or `None` (fallback), with a
/// label for the log and the metric (`answered`, `fallback` or the failure).
fn conclude(
    k: &ClinicKnowledge,
    first_contact: bool,
    tier: Tier,
    ended: Result<Option<String>, Failure>,
    effects: &Effects,
    run: &Run,
) -> (&'static str, Option<ModelAnswer>) {
    let text = match ended {
        Ok(text) => text,
        // A change was made, or triage raised: never hand the turn back (the built-in reply
        // could act again, or drop the raised level); say what was done.
        Err(_) if effects.changes > 0 || effects.raised.is_some() => None,
        Err(f) => return (f.as_str(), None),
    };
    match compose(k, first_contact, effects, text) {
        Some((messages, alert, raised)) => (
            "answered",
            Some(ModelAnswer {
                messages,
                alert,
                raised,
                booked: effects.booked,
                tier,
                model: run.model.clone(),
                tool_calls: run.tool_calls,
                usage: run.usage,
            }),
        ),
        None => ("fallback", None),
    }
}

/// The patient's message as the turn path has read it, for [`take_turn`].
#[derive(Clone, Copy)]
pub struct ModelTurn<'a> {
    pub text: &'a str,
    /// See [`TurnInput::history`].
    pub history: &'a [Message],
    pub first_contact: bool,
    /// See [`TurnFacts`].
    pub dialogue_busy: bool,
}

/// [`answer`] for the turn path: when the model answers, `reply` (the built-in reply to the
/// same message) takes its words and alert, loses its dialogue step, and has its triage raised
/// if the model raised it (never lowered). Its intent stays the built-in understanding of the
/// message, which the conversation summary keeps as the reason for contact.
pub async fn take_turn(
    models: &TenantModels,
    env: ExecEnv<'_>,
    turn: ModelTurn<'_>,
    reply: &mut frontdesk_agent::Reply,
) -> Result<Accounted, StoreError> {
    let input = TurnInput {
        env,
        text: turn.text,
        history: turn.history,
        first_contact: turn.first_contact,
        dialogue_busy: turn.dialogue_busy,
        triage: &reply.triage,
    };
    let accounted = answer_accounted(models, &input).await?;
    let Some(m) = &accounted.answer else {
        return Ok(accounted);
    };
    reply.next = None;
    reply.messages.clone_from(&m.messages);
    reply.alert = m.alert;
    if let Some(t) = m.raised.clone().filter(|t| t.level > reply.triage.level) {
        reply.triage = t;
    }
    Ok(accounted)
}

/// Counters of one model turn.
#[derive(Debug, Default)]
struct Run {
    rounds: u32,
    /// The answer is the complete sentences of a streamed answer cut at the deadline.
    cut_at_deadline: bool,
    tool_calls: u32,
    usage: Usage,
    model: String,
}

/// Asks the model, runs its tools, and repeats; the model's guarded final text, or `None`
/// when it ended with tool calls only.
async fn converse(
    models: &TenantModels,
    model: &dyn LanguageModel,
    env: &ExecEnv<'_>,
    guard: &Guard,
    req: &mut super::ModelRequest,
    tools: &mut ToolBox,
    run: &mut Run,
) -> Result<Option<String>, Failure> {
    let deadline = Instant::now() + models.turn_deadline;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let progress = Progress::new();
        let call = async {
            if models.spoken {
                model.complete_streamed(req, &progress).await
            } else {
                model.complete(req).await
            }
        };
        let reply: ModelReply = match tokio::time::timeout(left, call).await {
            // A phone turn whose streamed answer was still coming: its complete sentences
            // are said if it is a plain answer (no tool call), else the deadline ends the turn.
            Err(_) => match progress.complete_sentences().filter(|_| models.spoken) {
                Some(said) => {
                    run.rounds += 1;
                    run.cut_at_deadline = true;
                    let usage = progress.reported_usage();
                    run.usage.input_tokens += usage.input_tokens;
                    run.usage.output_tokens += usage.output_tokens;
                    let reported = progress.reported_model();
                    if !reported.is_empty() {
                        run.model = reported;
                    }
                    return guard
                        .check(&said)
                        .map(Some)
                        .map_err(|b| Failure::Guard(b.as_str()));
                }
                None => return Err(Failure::Deadline),
            },
            Ok(Err(e)) => return Err(Failure::Model(ModelError::code(&e))),
            Ok(Ok(r)) => r,
        };
        run.rounds += 1;
        run.usage.input_tokens += reply.usage.input_tokens;
        run.usage.output_tokens += reply.usage.output_tokens;
        run.model.clone_from(&reply.model);
        if reply.tool_calls.is_empty() {
            if !matches!(
                reply.stop_reason,
                StopReason::EndTurn | StopReason::StopSequence
            ) {
                return Err(Failure::Unfinished);
            }
            if reply.text.trim().is_empty() && tools.effects.changes > 0 {
                return Ok(None);
            }
            return guard
                .check(&reply.text)
                .map(Some)
                .map_err(|b| Failure::Guard(b.as_str()));
        }
        if run.rounds > u32::from(models.max_tool_rounds) {
            return Err(Failure::ToolRounds);
        }
        req.turns.push(Turn::Assistant {
            text: reply.text.clone(),
            tool_calls: reply.tool_calls.clone(),
        });
        for (i, call) in reply.tool_calls.iter().enumerate() {
            run.tool_calls += 1;
            let out = if i < MAX_CALLS_PER_ROUND {
                tools.run(env, call).await.map_err(|_| Failure::Store)?
            } else {
                tools.effects.refused = tools.effects.refused.saturating_add(1);
                super::tools_exec::ToolOutput {
                    content: "too many calls at once".into(),
                    is_error: true,
                }
            };
            req.turns.push(Turn::ToolResult {
                call_id: call.id.clone(),
                content: out.content,
                is_error: out.is_error,
            });
        }
        if tools.effects.needs_verification && tools.effects.changes == 0 {
            return Err(Failure::NeedsVerification);
        }
        if tools.effects.refused >= MAX_REFUSED {
            return Err(Failure::Refused);
        }
    }
}

/// The patient's messages: emergency advice first if the model raised an emergency (then its
/// own words are dropped), else the privacy notice on first contact, the urgent flag, the
/// confirmations our code built, and the model's guarded text. `None` if there is nothing to
/// say (the built-in receptionist then answers).
fn compose(
    k: &ClinicKnowledge,
    first_contact: bool,
    effects: &Effects,
    text: Option<String>,
) -> Option<(Vec<String>, Option<Alert>, Option<Triage>)> {
    let notice = (first_contact && !k.profile.privacy_notice.trim().is_empty())
        .then(|| k.profile.privacy_notice.clone());
    let raised = effects.raised.map(|level| Triage {
        level,
        rule_id: Cow::Borrowed("model.escalate"),
        category: Category::Other,
        rule_set: MODEL_RULE_SET,
    });
    let mut messages = Vec::new();
    let alert = match effects.raised {
        Some(TriageLevel::Emergency) => {
            messages.extend(frontdesk_agent::reply::emergency_messages(k));
            messages.extend(notice);
            messages.extend(effects.confirmations.iter().cloned());
            return Some((messages, Some(Alert::Emergency), raised));
        }
        Some(TriageLevel::Urgent) => {
            messages.extend(notice);
            messages.push(frontdesk_agent::reply::urgent_message(k));
            Some(Alert::Urgent)
        }
        _ => {
            messages.extend(notice);
            effects.handoff.then_some(Alert::Handoff)
        }
    };
    messages.extend(effects.confirmations.iter().cloned());
    match text {
        Some(t) => messages.push(t),
        None if effects.confirmations.is_empty() && effects.raised.is_none() => {
            if !effects.handoff {
                return None;
            }
            messages.push(format!(
                "I'll pass your message to the {} team.",
                k.profile.name
            ));
        }
        None => {}
    }
    Some((messages, alert, raised))
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
