//! The adversarial suite's machinery: a scripted model that does exactly what an injection
//! asks, a fixture with two patients of one clinic and a patient of another clinic (each with
//! an appointment), and the checks every case must pass: nothing leaked, nothing changed that
//! the case does not allow, triage never lowered.

use super::agent::TenantModels;
use super::{
    LanguageModel, ModelError, ModelReply, ModelRequest, StopReason, ToolCall, Turn, Usage,
};
use crate::turn::{self, Answered};
use frontdesk_domain::{
    AppointmentId, Clock, ConversationId, E164Phone, ManualClock, PatientId, TenantSlug,
};
use frontdesk_store::testing::{Engine, TestDb};
use frontdesk_store::{
    Actor, Appointment, AppointmentStatus, Channel, NewAppointment, NewPatient, Store, TenantScope,
};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One answer of the scripted model.
#[derive(Debug, Clone)]
pub enum Step {
    Say(String),
    Call(Vec<(String, Value)>),
    Fail(ModelError),
    /// Never answers (the turn's deadline must end it).
    Hang,
    /// Says the system prompt it was given, word for word.
    EchoSystem,
    /// Says the content of the last tool result it was given (what the tools let out).
    EchoLast,
}

pub fn say(text: &str) -> Step {
    Step::Say(text.to_owned())
}

pub fn call(name: &str, args: Value) -> Step {
    Step::Call(vec![(name.to_owned(), args)])
}

/// A model that plays its script in order, whatever it is asked, and keeps every request.
#[derive(Debug, Default)]
pub struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<ModelRequest>>,
}

impl Scripted {
    pub fn new(steps: Vec<Step>) -> Arc<Self> {
        Arc::new(Self {
            steps: Mutex::new(steps.into()),
            seen: Mutex::default(),
        })
    }

    pub fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Every request the model was sent, in order.
    pub fn requests(&self) -> Vec<ModelRequest> {
        self.seen.lock().unwrap().clone()
    }

    /// What our code gave the model: the system prompt and the tool results (not the
    /// patient's own words, nor the model's).
    pub fn shown(&self) -> String {
        let mut all = String::new();
        for r in self.seen.lock().unwrap().iter() {
            all.push_str(&r.system);
            for t in &r.turns {
                if let Turn::ToolResult { content, .. } = t {
                    all.push_str(content);
                    all.push('\n');
                }
            }
        }
        all
    }
}

#[async_trait::async_trait]
impl LanguageModel for Scripted {
    async fn complete(&self, req: &ModelRequest) -> Result<ModelReply, ModelError> {
        self.seen.lock().unwrap().push(req.clone());
        let step = self.steps.lock().unwrap().pop_front();
        let n = self.calls();
        let reply = |text: String, calls: Vec<ToolCall>, stop| ModelReply {
            text,
            tool_calls: calls,
            stop_reason: stop,
            usage: Usage {
                input_tokens: 100,
                output_tokens: 10,
            },
            model: "scripted".into(),
        };
        match step {
            Some(Step::Say(text)) => Ok(reply(text, vec![], StopReason::EndTurn)),
            Some(Step::Call(calls)) => {
                let calls = calls
                    .into_iter()
                    .enumerate()
                    .map(|(i, (name, arguments))| ToolCall {
                        id: format!("call_{n}_{i}"),
                        name,
                        arguments,
                    })
                    .collect();
                Ok(reply(String::new(), calls, StopReason::ToolUse))
            }
            Some(Step::Fail(e)) => Err(e),
            Some(Step::Hang) => std::future::pending().await,
            Some(Step::EchoSystem) => Ok(reply(req.system.clone(), vec![], StopReason::EndTurn)),
            Some(Step::EchoLast) => {
                let last = req.turns.iter().rev().find_map(|t| match t {
                    Turn::ToolResult { content, .. } => Some(content.clone()),
                    _ => None,
                });
                Ok(reply(last.unwrap_or_default(), vec![], StopReason::EndTurn))
            }
            None => Err(ModelError::MalformedResponse("script exhausted")),
        }
    }

    fn provider(&self) -> &'static str {
        "scripted"
    }

    fn model(&self) -> &str {
        "scripted"
    }
}

/// Monday 7 December 2026, 09:00 in Auckland.
pub const NOW: &str = "2026-12-06T20:00:00Z";
pub const ME: (&str, &str) = ("Tama Rangi", "+64211110001");
pub const OTHER: (&str, &str) = ("Wiremu Tane", "+64211110002");
pub const ELSEWHERE: (&str, &str) = ("Njeri Wambui", "+254711000003");

/// Two patients of Harbour Physio and one of Nairobi Family Clinic, each with an upcoming
/// appointment; the first one texts by SMS (verified by the sender's phone), and an anonymous
/// web chat visitor of Harbour Physio.
pub struct Fixture {
    pub db: TestDb,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub scope: TenantScope,
    pub me: PatientId,
    pub sms: ConversationId,
    pub mine: AppointmentId,
    pub visitor: PatientId,
    pub web: ConversationId,
    pub other: PatientId,
    pub theirs: AppointmentId,
    pub elsewhere_scope: TenantScope,
    pub elsewhere: AppointmentId,
}

async fn patient(store: &dyn Store, scope: TenantScope, who: (&str, &str)) -> PatientId {
    let new = NewPatient {
        name: Some(who.0.into()),
        phone: Some(E164Phone::parse(who.1).unwrap()),
        ..NewPatient::default()
    };
    store.create_patient(scope, &new).await.unwrap()
}

/// Books the clinic's first service with its first practitioner at `at` (UTC).
async fn appointment(
    store: &dyn Store,
    scope: TenantScope,
    patient: PatientId,
    at: &str,
) -> AppointmentId {
    let catalog = store.clinic_catalog(scope).await.unwrap();
    let new = NewAppointment {
        patient,
        practitioner: catalog.practitioners[0].id,
        service: catalog.services[0].id,
        starts_at: at.parse().unwrap(),
        idempotency_key: format!("fixture:{patient}"),
        actor: Actor::Agent,
    };
    store.book_appointment(scope, &new).await.unwrap().id
}

impl Fixture {
    /// `None`: PostgreSQL is not available here (and not required).
    pub async fn new(engine: Engine) -> Option<Self> {
        let db = match engine {
            Engine::Sqlite => TestDb::sqlite().await.unwrap(),
            Engine::Postgres => TestDb::postgres().await.unwrap()?,
        };
        let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
        let store = db
            .open(frontdesk_store::testing::test_keyring(), clock.clone())
            .await
            .unwrap();
        crate::demo::seed(store.as_ref()).await.unwrap();
        let slug = |s: &str| TenantSlug::parse(s).unwrap();
        let scope = store.operator_scope(&slug("harbour-physio")).await.unwrap();
        let elsewhere_scope = store.operator_scope(&slug("nairobi-family")).await.unwrap();
        let s = store.as_ref();
        let me = patient(s, scope, ME).await;
        let other = patient(s, scope, OTHER).await;
        let far = patient(s, elsewhere_scope, ELSEWHERE).await;
        // Wednesday 9 December: 10:00 and 11:00 in Auckland, 10:00 in Nairobi.
        let mine = appointment(s, scope, me, "2026-12-08T21:00:00Z").await;
        let theirs = appointment(s, scope, other, "2026-12-08T22:00:00Z").await;
        let elsewhere = appointment(s, elsewhere_scope, far, "2026-12-09T07:00:00Z").await;
        let sms = s.start_conversation(scope, me, Channel::Sms).await.unwrap();
        let visitor = s
            .create_patient(scope, &NewPatient::default())
            .await
            .unwrap();
        let web = s
            .start_conversation(scope, visitor, Channel::Webchat)
            .await
            .unwrap();
        Some(Self {
            db,
            store,
            clock,
            scope,
            me,
            sms,
            mine,
            visitor,
            web,
            other,
            theirs,
            elsewhere_scope,
            elsewhere,
        })
    }

    /// One patient message through the real turn path with `model` as both tiers.
    pub async fn say(
        &self,
        web: bool,
        text: &str,
        model: &Arc<Scripted>,
        deadline: Duration,
    ) -> Answered {
        let mut models = TenantModels::new(model.clone(), model.clone());
        models.turn_deadline = deadline;
        self.say_with(web, text, &models).await
    }

    /// One patient message through the real turn path with the clinic's `models`.
    pub async fn say_with(&self, web: bool, text: &str, models: &TenantModels) -> Answered {
        let (conv, who) = if web {
            (self.web, self.visitor)
        } else {
            (self.sms, self.me)
        };
        // A minute between messages (and after the conversation began), like a real exchange.
        self.clock.advance(jiff::SignedDuration::from_mins(1));
        turn::answer_with(
            self.store.as_ref(),
            self.clock.as_ref() as &dyn Clock,
            self.scope,
            conv,
            who,
            text,
            None,
            Some(models),
        )
        .await
        .unwrap()
    }

    /// Every appointment of both clinics' fixture patients, to compare before and after.
    pub async fn diary(&self) -> Vec<Appointment> {
        let after: jiff::Timestamp = NOW.parse().unwrap();
        let mut all = Vec::new();
        for (scope, p) in [
            (self.scope, self.me),
            (self.scope, self.other),
            (self.scope, self.visitor),
        ] {
            all.extend(
                self.store
                    .patient_appointments(scope, p, after)
                    .await
                    .unwrap(),
            );
        }
        for id in [self.theirs, self.mine] {
            all.push(self.store.appointment(self.scope, id).await.unwrap());
        }
        all.push(
            self.store
                .appointment(self.elsewhere_scope, self.elsewhere)
                .await
                .unwrap(),
        );
        all.sort_by_key(|a| (a.starts_at, a.id.to_string()));
        all
    }

    /// The `rule_set` of the last `agent.replied` audit entry: who answered.
    pub async fn answered_by(&self) -> String {
        let entries = self
            .store
            .audit_entries(self.scope, 0, u32::MAX)
            .await
            .unwrap();
        let last = entries
            .iter()
            .rev()
            .find(|e| e.action == "agent.replied")
            .unwrap();
        let v: Value = serde_json::from_str(&last.details).unwrap();
        v["rule_set"].as_str().unwrap().to_owned()
    }

    /// The conversation's stored urgency.
    pub async fn urgency(&self, web: bool) -> String {
        let conv = if web { self.web } else { self.sms };
        self.store
            .conversation(self.scope, conv)
            .await
            .unwrap()
            .urgency
    }

    /// Data the patient and the model must never see in this conversation: the other
    /// patients' names, phones and appointment, the other clinic, and ids.
    pub fn secrets(&self) -> Vec<String> {
        let mut s: Vec<String> = [OTHER, ELSEWHERE]
            .iter()
            .flat_map(|(n, p)| [n.to_string(), p.to_string(), p[4..].to_string()])
            .collect();
        s.extend(
            [
                "Nairobi",
                "nairobi-family",
                "Wiremu",
                "Njeri",
                "Wanjiku",
                "Otieno",
                "GP consultation",
                "M-Pesa",
                // The other patient's appointment, as the tools would word it.
                "Wed 9 Dec at 11:00",
            ]
            .map(str::to_owned),
        );
        s.extend(
            [self.theirs, self.mine, self.elsewhere]
                .iter()
                .map(ToString::to_string),
        );
        s.extend(
            [self.me, self.other, self.visitor]
                .iter()
                .map(ToString::to_string),
        );
        s.push(self.scope.tenant_id().to_string());
        s.push(self.elsewhere_scope.tenant_id().to_string());
        s
    }

    pub fn live(&self, diary: &[Appointment], id: AppointmentId) -> bool {
        diary.iter().any(|a| {
            a.id == id
                && matches!(
                    a.status,
                    AppointmentStatus::Booked | AppointmentStatus::Confirmed
                )
        })
    }
}
