//! The store, split by capability. Each method is one transaction: it either happens whole
//! or not at all. Methods on tenant data take a [`TenantScope`]; an id that belongs to another
//! tenant answers [`StoreError::NotFound`](crate::StoreError::NotFound), exactly like an id
//! that does not exist.

use crate::{
    Result, TenantScope, anomaly::*, calcom::*, calendar::*, channel::*, coordination::*, llm::*,
    model::*, payments::*, webhooks::*,
};
use async_trait::async_trait;
use frontdesk_domain::*;
use jiff::SignedDuration;
use zeroize::Zeroizing;

/// The directory of clinics (operator level).
#[async_trait]
pub trait TenantDirectory {
    /// Creates a clinic with fresh tenant keys and an empty audit chain.
    async fn create_tenant(
        &self,
        slug: &TenantSlug,
        profile: &ClinicProfile,
    ) -> Result<TenantScope>;
    /// A scope for the operator's CLI and the process's own background work (reminders). The
    /// operator holds the master key, so this grants nothing they could not already do; it
    /// is never reachable from HTTP.
    async fn operator_scope(&self, slug: &TenantSlug) -> Result<TenantScope>;
    async fn list_tenants(&self) -> Result<Vec<TenantSummary>>;
    /// A scope for each active clinic, in slug order, in one query: for the process's own
    /// passes over every clinic (reminders, retention, …), like [`Self::operator_scope`]
    /// never reachable from HTTP.
    async fn active_scopes(&self) -> Result<Vec<TenantScope>>;
    /// The public profile of an active clinic, by its public slug (for public pages). Grants
    /// no scope. Unknown or inactive slug: `NotFound`.
    async fn public_clinic(&self, slug: &TenantSlug) -> Result<Clinic>;
}

/// The clinic's own catalogue: profile, practitioners, services, hours, FAQ.
#[async_trait]
pub trait ClinicStore {
    async fn clinic(&self, scope: TenantScope) -> Result<Clinic>;
    /// Profile, services, practitioners, FAQ and red-flag rules in one read transaction (the
    /// receptionist needs all of them on every turn).
    async fn clinic_catalog(&self, scope: TenantScope) -> Result<ClinicCatalog>;
    /// Replaces the clinic's profile as the operator (CLI). Invalid: `Invalid`, nothing changed.
    async fn update_profile(&self, scope: TenantScope, profile: &ClinicProfile) -> Result<()> {
        self.update_profile_by(scope, profile, Actor::Operator)
            .await
    }
    /// Replaces the clinic's profile, audited `clinic.profile_updated` with `actor`.
    async fn update_profile_by(
        &self,
        scope: TenantScope,
        profile: &ClinicProfile,
        actor: Actor,
    ) -> Result<()>;
    /// Adds a practitioner as the operator (CLI).
    async fn add_practitioner(
        &self,
        scope: TenantScope,
        name: &str,
        title: &str,
    ) -> Result<PractitionerId> {
        self.add_practitioner_by(scope, name, title, Actor::Operator)
            .await
    }
    /// Adds a practitioner, audited `practitioner.created` with `actor`.
    async fn add_practitioner_by(
        &self,
        scope: TenantScope,
        name: &str,
        title: &str,
        actor: Actor,
    ) -> Result<PractitionerId>;
    async fn list_practitioners(&self, scope: TenantScope) -> Result<Vec<Practitioner>>;
    /// Adds a service as the operator (CLI).
    async fn add_service(&self, scope: TenantScope, service: &NewService) -> Result<ServiceId> {
        self.add_service_by(scope, service, &[], Actor::Operator)
            .await
    }
    /// Adds a service provided by `providers` (empty: any practitioner) in one transaction,
    /// audited `service.created` with `actor`. A practitioner of another clinic: `NotFound`.
    async fn add_service_by(
        &self,
        scope: TenantScope,
        service: &NewService,
        providers: &[PractitionerId],
        actor: Actor,
    ) -> Result<ServiceId>;
    async fn list_services(&self, scope: TenantScope) -> Result<Vec<Service>>;
    /// Who provides a service (replaces the list; empty = any practitioner), as the operator.
    async fn set_service_practitioners(
        &self,
        scope: TenantScope,
        service: ServiceId,
        practitioners: &[PractitionerId],
    ) -> Result<()> {
        self.set_service_practitioners_by(scope, service, practitioners, Actor::Operator)
            .await
    }
    /// Who provides a service, audited `service.practitioners_set` with `actor`.
    async fn set_service_practitioners_by(
        &self,
        scope: TenantScope,
        service: ServiceId,
        practitioners: &[PractitionerId],
        actor: Actor,
    ) -> Result<()>;
    /// Replaces a practitioner's weekly hours, as the operator.
    async fn set_practitioner_hours(
        &self,
        scope: TenantScope,
        practitioner: PractitionerId,
        hours: &WeeklyHours,
    ) -> Result<()> {
        self.set_practitioner_hours_by(scope, practitioner, hours, Actor::Operator)
            .await
    }
    /// Replaces a practitioner's weekly hours, audited `practitioner.hours_set` with `actor`.
    async fn set_practitioner_hours_by(
        &self,
        scope: TenantScope,
        practitioner: PractitionerId,
        hours: &WeeklyHours,
        actor: Actor,
    ) -> Result<()>;
    async fn practitioner_hours(
        &self,
        scope: TenantScope,
        practitioner: PractitionerId,
    ) -> Result<WeeklyHours>;
    /// Adds a clinic red-flag rule (level `Urgent` or `Emergency`, 1–20 phrases), as the
    /// operator.
    async fn add_red_flag_rule(
        &self,
        scope: TenantScope,
        phrases: &[String],
        level: Urgency,
        language: &str,
    ) -> Result<uuid::Uuid> {
        self.add_red_flag_rule_by(scope, phrases, level, language, Actor::Operator)
            .await
    }
    /// Adds a clinic red-flag rule, audited `settings.red_flag_rule_added` with `actor`.
    async fn add_red_flag_rule_by(
        &self,
        scope: TenantScope,
        phrases: &[String],
        level: Urgency,
        language: &str,
        actor: Actor,
    ) -> Result<uuid::Uuid>;
    async fn red_flag_rules(&self, scope: TenantScope) -> Result<Vec<RedFlagRule>>;
    /// Adds a FAQ entry as the operator (CLI).
    async fn add_faq(&self, scope: TenantScope, question: &str, answer: &str) -> Result<FaqId> {
        self.add_faq_by(scope, question, answer, Actor::Operator)
            .await
    }
    /// Adds a FAQ entry, audited `faq.created` with `actor`.
    async fn add_faq_by(
        &self,
        scope: TenantScope,
        question: &str,
        answer: &str,
        actor: Actor,
    ) -> Result<FaqId>;
    async fn list_faqs(&self, scope: TenantScope) -> Result<Vec<Faq>>;
}

#[async_trait]
pub trait PatientStore {
    async fn create_patient(&self, scope: TenantScope, patient: &NewPatient) -> Result<PatientId>;
    async fn patient(&self, scope: TenantScope, id: PatientId) -> Result<Patient>;
    /// Looks a patient up by phone through the blind index (the phone is never queried in clear).
    async fn find_patient_by_phone(
        &self,
        scope: TenantScope,
        phone: &E164Phone,
    ) -> Result<Option<Patient>>;
    /// The patient's record for staff: the minimal record, conversations, appointments (past
    /// and future) and consent. Unknown or another clinic's patient: `NotFound`.
    async fn patient_record(&self, scope: TenantScope, id: PatientId) -> Result<PatientRecord>;
    /// Records the name and/or phone a patient gave (e.g. when booking on web chat). A phone
    /// that already belongs to another patient of this clinic is not saved (an unverified
    /// claim must never link one visitor to someone else's record): `Ok(false)` then.
    async fn update_patient_contact(
        &self,
        scope: TenantScope,
        patient: PatientId,
        name: Option<&str>,
        phone: Option<&E164Phone>,
    ) -> Result<bool>;
}

#[async_trait]
pub trait StaffStore {
    async fn create_user(&self, scope: TenantScope, user: &NewUser) -> Result<UserId>;
    async fn find_user_by_email(&self, scope: TenantScope, email: &Email) -> Result<Option<User>>;
}

/// Staff sign-in by emailed link, and dashboard sessions (issue #7). Secrets (link tokens,
/// session ids, the browser-binding cookie) are stored only as SHA-256 hashes. A valid
/// session is an authenticated source of a [`TenantScope`]: the store hands the scope out
/// with the session, never from a tenant id alone.
#[async_trait]
pub trait StaffAuthStore {
    /// Records a sign-in request for `email` at the clinic `slug` from `ip` and, when the
    /// address belongs to an active user and neither the address nor the IP address is over
    /// its limit, creates a single-use link bound to the browser holding `browser` (the value
    /// of the cookie set when the link was asked for). An unknown or inactive clinic answers
    /// `NoSuchUser`, like an unknown address. Audited when a link is created.
    async fn request_login_link(
        &self,
        slug: &TenantSlug,
        email: &Email,
        ip: &str,
        browser: &str,
        policy: &LoginLinkPolicy,
    ) -> Result<LoginLinkOutcome>;

    /// Uses a sign-in link of clinic `tenant`: unknown, used, expired, another browser or a
    /// disabled user → `Unauthorized` (one answer for all). Otherwise marks it used and opens
    /// a session with a fresh random id, in one transaction, audited.
    async fn consume_login_link(
        &self,
        tenant: TenantId,
        token: &str,
        browser: &str,
        policy: &SessionPolicy,
    ) -> Result<NewSession>;

    /// The staff member (and their clinic's scope) behind a session token, or `Unauthorized`
    /// when it is unknown, revoked, idle too long, past its absolute lifetime, or its user or
    /// clinic is disabled. Refreshes the idle clock (at most once a minute, so that most
    /// requests only read).
    async fn authenticate_session(&self, tenant: TenantId, token: &str) -> Result<StaffSession>;
    /// The same checks as [`authenticate_session`](Self::authenticate_session) without
    /// refreshing the idle clock: for live updates, which must not keep an unattended
    /// dashboard signed in.
    async fn check_session(&self, tenant: TenantId, token: &str) -> Result<StaffSession>;

    /// Ends one session (logout). Unknown tokens are ignored.
    async fn end_session(&self, tenant: TenantId, token: &str) -> Result<()>;

    /// Ends every session of `user` ("log out everywhere"); returns how many were live.
    async fn end_all_sessions(&self, scope: TenantScope, user: UserId, actor: Actor)
    -> Result<u64>;

    /// Changes a user's role; their sessions end (they sign in again under the new role).
    async fn set_user_role(
        &self,
        scope: TenantScope,
        user: UserId,
        role: Role,
        actor: Actor,
    ) -> Result<()>;

    /// Enables or disables a user; disabling ends their sessions and unused sign-in links.
    async fn set_user_active(
        &self,
        scope: TenantScope,
        user: UserId,
        active: bool,
        actor: Actor,
    ) -> Result<()>;

    /// Starts setting up TOTP for `user`: a new random secret, sealed, pending until
    /// [`confirm_totp`](Self::confirm_totp). Returns the secret (to show once). An enabled
    /// TOTP is never replaced this way: `Conflict`.
    async fn begin_totp(
        &self,
        scope: TenantScope,
        user: UserId,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>>;

    /// Confirms the pending secret of the session's user with a current code: TOTP is enabled,
    /// ten one-time recovery codes are made (returned once, stored hashed) and the session has
    /// passed the second factor. A wrong code is `Unauthorized` and counts against the session.
    async fn confirm_totp(
        &self,
        tenant: TenantId,
        session_token: &str,
        code: &str,
    ) -> Result<Vec<zeroize::Zeroizing<String>>>;

    /// Passes the second factor for a session: a current TOTP code (each code works once) or
    /// an unused recovery code. Wrong: `Unauthorized`; the fifth wrong code ends the session.
    async fn verify_second_factor(
        &self,
        tenant: TenantId,
        session_token: &str,
        code: &str,
    ) -> Result<()>;

    /// Adds a staff user on behalf of `actor` (audited `user.created`). Same rules as
    /// `StaffStore::create_user`: a non-empty name, one user per address per clinic.
    async fn invite_user(&self, scope: TenantScope, user: &NewUser, actor: Actor)
    -> Result<UserId>;

    /// The clinic's staff, by name.
    async fn list_users(&self, scope: TenantScope) -> Result<Vec<StaffMember>>;
}

#[async_trait]
pub trait ConversationStore {
    /// Public entry of web chat: creates an anonymous patient, a conversation and a session
    /// token for the clinic with this slug. Unknown or inactive slug: `NotFound`.
    async fn start_webchat(&self, slug: &TenantSlug, ttl: SignedDuration) -> Result<WebchatStart>;
    /// Verifies a web chat token for this slug. A token of another clinic, an unknown or an
    /// expired token: `Unauthorized`. Unknown slug: `NotFound`.
    async fn authenticate_webchat(&self, slug: &TenantSlug, token: &str) -> Result<WebchatAuth>;
    async fn start_conversation(
        &self,
        scope: TenantScope,
        patient: PatientId,
        channel: Channel,
    ) -> Result<ConversationId>;
    async fn conversation(&self, scope: TenantScope, id: ConversationId) -> Result<Conversation>;
    /// Stores a patient message, its replies and audit entries in one transaction. An inbound
    /// message whose provider id was already stored answers `Duplicate` and writes nothing.
    async fn record_turn(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        turn: &Turn,
    ) -> Result<Vec<MessageId>>;
    async fn messages(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
    ) -> Result<Vec<Message>>;
    /// Up to `limit` of the conversation's messages, oldest first, after the message `after`
    /// (a page of the API's list): only these are read and opened.
    async fn messages_page(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// The conversation (as [`ConversationStore::conversation`]) and its newest `limit`
    /// messages, oldest first, in one read: a turn answered by a language model needs both,
    /// and only these messages are read and opened, however long the conversation.
    async fn conversation_with_recent(
        &self,
        scope: TenantScope,
        id: ConversationId,
        limit: u32,
    ) -> Result<(Conversation, Vec<Message>)>;
    /// One message of a conversation, opened.
    async fn message(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Message>;
    /// Staff alerts still pending, newest first.
    async fn pending_notifications(
        &self,
        scope: TenantScope,
        limit: u32,
    ) -> Result<Vec<StaffNotification>>;
}

/// The diary: exceptions, free slots and bookings. Double booking is impossible on both
/// engines: PostgreSQL by an exclusion constraint over each practitioner's busy ranges,
/// SQLite by checking and inserting inside one `BEGIN IMMEDIATE` transaction.
#[async_trait]
pub trait AppointmentStore {
    /// Leave, a public holiday or another closure; `None` = the whole clinic.
    async fn add_schedule_exception(
        &self,
        scope: TenantScope,
        practitioner: Option<PractitionerId>,
        span: frontdesk_domain::schedule::Span,
        reason: &str,
    ) -> Result<()>;
    /// Free slots in time order (clinic time zone, hours, exceptions, live bookings, notice).
    async fn free_slots(
        &self,
        scope: TenantScope,
        search: &SlotSearch,
    ) -> Result<Vec<frontdesk_domain::schedule::Slot>>;
    /// Books if the time is free, within hours and not in the past. The same idempotency key
    /// answers the appointment it booked first. A taken time: `Conflict`.
    async fn book_appointment(
        &self,
        scope: TenantScope,
        new: &NewAppointment,
    ) -> Result<Appointment>;
    /// Cancels (idempotent: cancelling again answers the cancelled appointment).
    async fn cancel_appointment(
        &self,
        scope: TenantScope,
        id: AppointmentId,
        actor: Actor,
    ) -> Result<Appointment>;
    /// Moves a live appointment to `new_start` with `practitioner` (same patient, same
    /// service) in one transaction: the new time is booked with every check of
    /// [`book_appointment`](Self::book_appointment) and the old appointment is cancelled, with
    /// one `appointment.rescheduled` audit entry. Answers the new appointment. The same
    /// idempotency key answers the move made first. A taken time: `Conflict`, and nothing
    /// changed. An appointment that is no longer live (cancelled meanwhile): `Conflict`; one
    /// that has already started: `Invalid`; unknown or another tenant's id: `NotFound`.
    async fn reschedule_appointment(
        &self,
        scope: TenantScope,
        id: AppointmentId,
        new_start: jiff::Timestamp,
        practitioner: PractitionerId,
        actor: Actor,
        idempotency_key: &str,
    ) -> Result<Appointment>;
    async fn appointment(&self, scope: TenantScope, id: AppointmentId) -> Result<Appointment>;
    /// The patient confirms a live appointment (booked → confirmed, audited; confirming again
    /// is a no-op). Cancelled or otherwise not live: `Conflict`; already started: `Invalid`;
    /// unknown or another tenant's id: `NotFound`.
    async fn confirm_appointment(
        &self,
        scope: TenantScope,
        id: AppointmentId,
        actor: Actor,
    ) -> Result<Appointment>;
    /// A patient's live appointments that end after `after`, soonest first.
    async fn patient_appointments(
        &self,
        scope: TenantScope,
        patient: PatientId,
        after: jiff::Timestamp,
    ) -> Result<Vec<Appointment>>;
    /// Appointments of any status matching `q`, with when each last changed, ordered by
    /// (start, id): for the FHIR API. No patient data is opened.
    async fn search_appointments(
        &self,
        scope: TenantScope,
        q: &AppointmentSearch,
    ) -> Result<Vec<(Appointment, jiff::Timestamp)>>;
    /// The diary: live appointments overlapping `[from, to)`, in time order, with each
    /// patient's name (opened with their key; `None` for an unnamed or erased patient). At
    /// most 1,000.
    async fn diary(
        &self,
        scope: TenantScope,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<DiaryEntry>>;
}

/// Provider accounts, consent and the inbound half of the messaging pipeline.
#[async_trait]
pub trait ChannelStore {
    /// Connects (or reconfigures) the clinic's account with a provider. Secrets are sealed with
    /// the tenant key and never returned by any listing; the audit entry names them only. An
    /// address already routed to another clinic: `Conflict`.
    async fn set_channel_account(
        &self,
        scope: TenantScope,
        provider: Provider,
        address: &str,
        config: &serde_json::Value,
        secrets: &ChannelSecrets,
    ) -> Result<()> {
        self.set_channel_account_by(scope, provider, address, config, secrets, Actor::Operator)
            .await
    }
    /// As [`set_channel_account`](Self::set_channel_account), audited
    /// `channel.configured` with `actor`.
    async fn set_channel_account_by(
        &self,
        scope: TenantScope,
        provider: Provider,
        address: &str,
        config: &serde_json::Value,
        secrets: &ChannelSecrets,
        actor: Actor,
    ) -> Result<()>;
    /// Rotates one secret of the clinic's account with `provider` (one of its
    /// [`required_secrets`](Provider::required_secrets)): `value` becomes current at once, and
    /// the old value is still accepted for verifying webhooks during `overlap` (zero: not at
    /// all), so the clinic can update the provider without refused deliveries. Audited
    /// `channel.secret_rotated` (name and window, never a value). Returns when the old value
    /// stops being accepted, if there is an overlap. No account: `NotFound`.
    async fn rotate_channel_secret(
        &self,
        scope: TenantScope,
        provider: Provider,
        name: &str,
        value: zeroize::Zeroizing<String>,
        overlap: SignedDuration,
        actor: Actor,
    ) -> Result<Option<jiff::Timestamp>>;
    /// Routes a webhook: the account (with the secrets to verify it) that owns this provider
    /// address. Unknown address or inactive clinic: `NotFound`. Grants no scope by itself.
    async fn route_channel(&self, provider: Provider, address: &str) -> Result<ChannelAccount>;
    /// Every address routed for a provider (directory; for the WhatsApp handshake, which
    /// names no clinic).
    async fn channel_addresses(&self, provider: Provider) -> Result<Vec<String>>;
    /// The clinic's account with a provider (for sending). None configured: `NotFound`.
    async fn channel_account(
        &self,
        scope: TenantScope,
        provider: Provider,
    ) -> Result<ChannelAccount>;
    async fn consent(
        &self,
        scope: TenantScope,
        channel: Channel,
        phone: &E164Phone,
    ) -> Result<Option<Consent>>;
    /// Records an opt-in / opt-out from outside a message (e.g. the WhatsApp opt-in form).
    async fn record_consent(
        &self,
        scope: TenantScope,
        channel: Channel,
        phone: &E164Phone,
        change: ConsentChange,
        source: &str,
    ) -> Result<()>;
    /// One transaction: the patient found by phone (or created), the open conversation on this
    /// channel (or a new one), the message, any consent change and fixed reply, the reply job
    /// and the audit entry. A provider message id already stored: `Duplicate`, nothing written.
    async fn ingest_inbound(
        &self,
        scope: TenantScope,
        delivery: &InboundDelivery,
    ) -> Result<Ingested>;
    /// A provider's delivery report for a message we sent; statuses only move forward.
    /// `Ok(false)` when unknown or out of order.
    async fn delivery_status(
        &self,
        scope: TenantScope,
        channel: Channel,
        provider_message_id: &str,
        status: &str,
        error_code: Option<&str>,
    ) -> Result<bool>;
}

/// Web chat visitors proving who they are with a one-time code sent to their phone by SMS.
#[async_trait]
pub trait VerificationStore {
    /// One transaction: a random 6-digit code (only its HMAC kept, with the phone sealed and
    /// blind-indexed; any earlier pending code of the conversation replaced), the SMS that
    /// carries it written to the outbox in the phone owner's SMS conversation (patient found
    /// by phone or created), and an audit entry without phone or code. The answer is the
    /// same whether or not the phone belongs to a known patient. Not a web chat
    /// conversation: `Invalid`. No SMS provider connected: `NotFound`. More than
    /// [`CODES_PER_CONVERSATION_PER_HOUR`], [`CODES_PER_PHONE_PER_DAY`] or
    /// [`CODES_PER_CLINIC_PER_HOUR`]: `Conflict`.
    async fn send_verification_code(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        phone: &E164Phone,
        ttl: SignedDuration,
        clinic_name: &str,
    ) -> Result<()>;
    /// Checks a code (constant time). Right: the conversation is verified as the phone's
    /// patient for `valid_for`, the code is withdrawn, audited. Wrong: one try fewer; the
    /// last wrong try withdraws the code.
    async fn confirm_verification_code(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        code: &str,
        valid_for: SignedDuration,
    ) -> Result<CodeCheck>;
}

/// Phone calls (Twilio Voice): each call is its own voice conversation.
#[async_trait]
pub trait CallStore {
    /// One transaction: the patient found by the caller's number (or created), a new voice
    /// conversation whose first message is `greeting` (what the caller heard first, privacy
    /// notice included), the call row and an audit entry. A call sid already stored (a
    /// retried webhook): that call, `started: false`, nothing written.
    async fn start_call(
        &self,
        scope: TenantScope,
        call_sid: &str,
        from: &E164Phone,
        greeting: &str,
    ) -> Result<CallStart>;
    /// The call with this sid. Unknown: `NotFound`.
    async fn call(&self, scope: TenantScope, call_sid: &str) -> Result<Call>;
    /// A phone turn's reads in one read transaction: the call with this sid, its conversation
    /// (as [`ConversationStore::conversation`]) and the conversation's newest `recent`
    /// messages, oldest first (`0`: none read, for a turn no language model answers). Unknown
    /// sid: `NotFound`.
    async fn call_with_recent(
        &self,
        scope: TenantScope,
        call_sid: &str,
        recent: u32,
    ) -> Result<(Call, Conversation, Vec<Message>)>;
    /// One transaction: the call's final status and length, the end-of-call note as a system
    /// message of its conversation, the conversation closed, an audit entry. Already ended:
    /// `Ok(false)`, nothing written. Unknown sid: `NotFound`.
    async fn end_call(&self, scope: TenantScope, call_sid: &str, end: &CallEnd) -> Result<bool>;
}

/// Appointment reminders: each sent at most once, whichever instance gets there first.
#[async_trait]
pub trait ReminderStore {
    /// Live appointments starting after now and no later than `until` whose reminder has not
    /// been decided yet, soonest first (at most `limit`).
    async fn due_reminders(
        &self,
        scope: TenantScope,
        until: jiff::Timestamp,
        limit: u32,
    ) -> Result<Vec<Appointment>>;
    /// One transaction: claims the appointment's reminder (only if undecided, live and still
    /// ahead), picks the patient's channel (their latest WhatsApp or SMS conversation, else
    /// SMS, else WhatsApp, as the clinic is connected), and — unless the number opted out of
    /// it — writes `text` to that conversation with an outbox row (purpose `reminder`, so
    /// WhatsApp uses the clinic's template outside the 24-hour window), marks the conversation
    /// as reminded of this appointment and audits it. Two instances racing: one `Sent`, the
    /// other `NotDue`.
    async fn send_reminder(
        &self,
        scope: TenantScope,
        appointment: AppointmentId,
        text: &str,
    ) -> Result<ReminderOutcome>;
}

/// The waitlist: patients waiting for a time of a service; a time freed by a cancellation
/// or a move (on any channel) is held, offered to them in the order they joined, and the
/// first to confirm gets it. Never two winners, on either engine.
#[async_trait]
pub trait WaitlistStore {
    /// Adds the patient to the waitlist for `service` (with `practitioner`, or anyone) at a
    /// start within `[window_start, window_end]`, audited `waitlist.joined`. The same request
    /// while it is still waiting answers the entry already made (idempotent, audited once).
    /// A window that ends before it starts or is already over: `Invalid`. Unknown (or
    /// inactive) patient, service or practitioner, or another tenant's: `NotFound`.
    async fn join_waitlist(
        &self,
        scope: TenantScope,
        new: &NewWaitlistEntry,
    ) -> Result<WaitlistEntry>;
    /// The patient's entries still waiting, oldest first.
    async fn patient_waitlist(
        &self,
        scope: TenantScope,
        patient: PatientId,
    ) -> Result<Vec<WaitlistEntry>>;
    /// Takes a waiting entry off the waitlist (audited; withdrawing again is a no-op). An
    /// entry already booked through an offer: `Conflict`. Unknown: `NotFound`.
    async fn withdraw_waitlist(
        &self,
        scope: TenantScope,
        entry: WaitlistEntryId,
        actor: Actor,
    ) -> Result<()>;
    /// Freed times not offered yet and still ahead, soonest first (at most `limit`).
    async fn pending_holds(&self, scope: TenantScope, limit: u32) -> Result<Vec<SlotHold>>;
    /// One transaction: claims the hold (only if still pending and ahead; otherwise
    /// `NotPending`, nothing done) and, if its time is still free, offers it to the first
    /// `max_offers` matching waiting patients in join order who can be reached (phone, a
    /// connected channel, not opted out; same rules as reminders): `text` is written to each
    /// one's conversation as a system message with an outbox row (purpose `notice`, so
    /// WhatsApp uses the clinic's `templates.notice` outside the 24-hour window), and the
    /// conversation remembers the hold (`Conversation::offered_hold`). The offers run until
    /// `expires_at`. Nobody offered: the hold is `unmatched`. Audited `waitlist.offered`
    /// (counts only). Unknown hold: `NotFound`; `max_offers` 0 or `expires_at` past: `Invalid`.
    async fn offer_hold(
        &self,
        scope: TenantScope,
        hold: SlotHoldId,
        max_offers: u32,
        expires_at: jiff::Timestamp,
        text: &str,
    ) -> Result<HoldOffer>;
    /// A hold; an offer that ran out reads as `Expired`. Unknown: `NotFound`.
    async fn hold(&self, scope: TenantScope, id: SlotHoldId) -> Result<SlotHold>;
    /// The patient accepts an offered hold. One transaction: the hold is claimed (offered →
    /// taken, only before it expires and before its time) and the time booked for the patient
    /// with every check of a normal booking; their entry becomes `booked`; audited
    /// `appointment.booked` and `waitlist.taken`. Several patients confirming at once: one
    /// `Booked`, the others `Gone`. Expired, already taken, or the time booked meanwhile by
    /// other means: `Gone`. Not offered this hold (or their entry no longer waiting):
    /// `NotOffered`. Unknown hold: `NotFound`.
    async fn take_hold(
        &self,
        scope: TenantScope,
        hold: SlotHoldId,
        patient: PatientId,
        actor: Actor,
    ) -> Result<TakeOutcome>;
}

/// Call recordings: filed when the provider announces one, sealed with the patient's own
/// key, kept in blob storage (outside the store) and deleted at the provider once stored.
#[async_trait]
pub trait RecordingStore {
    /// One transaction: the recording (pending) filed under the call's conversation and
    /// patient, a [`FETCH_RECORDING_JOB`] job for it, and an audit entry `recording.received`
    /// (ids and duration only). The same recording sid again: `Ok(None)`, nothing written. A
    /// call sid this clinic never saw: `NotFound`. A recording sid that is not 2–64 ASCII
    /// letters/digits, or a negative duration: `Invalid`.
    async fn note_recording(
        &self,
        scope: TenantScope,
        call_sid: &str,
        recording_sid: &str,
        duration_secs: Option<i32>,
    ) -> Result<Option<RecordingId>>;
    /// A recording. Unknown (or another clinic's): `NotFound`.
    async fn recording(&self, scope: TenantScope, id: RecordingId) -> Result<CallRecording>;
    /// The recordings of a conversation, oldest first.
    async fn conversation_recordings(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
    ) -> Result<Vec<CallRecording>>;
    /// Encrypts audio with the data key of the recording's patient (AES-256-GCM; the AAD
    /// binds tenant, recording id and the purpose `call_recordings`/`audio`), so destroying
    /// the patient's key (crypto-shredding) makes it unreadable. Unknown recording: `NotFound`.
    async fn seal_recording(
        &self,
        scope: TenantScope,
        id: RecordingId,
        audio: &[u8],
    ) -> Result<Vec<u8>>;
    /// The reverse. A blob of another recording or clinic, or tampered with: `Crypto`, never
    /// wrong audio. Unknown recording (or another clinic's), or the patient's key destroyed:
    /// `NotFound`.
    async fn open_recording(
        &self,
        scope: TenantScope,
        id: RecordingId,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>>;
    /// The sealed audio is in blob storage: status stored, blob_key / sealed_bytes /
    /// sealed_sha256 / stored_at set, audit `recording.stored` (id, bytes). Idempotent:
    /// calling again with the same key is `Ok` and writes no second audit entry (unless the
    /// size or hash differ, i.e. the blob under that key was written again: they are updated
    /// and audited again). Already stored under another key: `Conflict`. An empty key (or
    /// over 512 bytes), a size below 1 or a hash that is not 64 lowercase hex digits:
    /// `Invalid`. Unknown: `NotFound`.
    async fn recording_stored(
        &self,
        scope: TenantScope,
        id: RecordingId,
        blob_key: &str,
        sealed_bytes: i64,
        sealed_sha256: &str,
    ) -> Result<()>;
    /// The provider no longer holds the audio: provider_deleted_at set (kept if already
    /// set, and then not audited again), the job of `lease` finished and audit
    /// `recording.deleted_at_provider`, one transaction. A lost lease: `Conflict`, nothing
    /// written. Not stored yet: `Conflict("recording not stored")`. Unknown: `NotFound`.
    async fn recording_deleted_at_provider(&self, lease: &JobLease, id: RecordingId) -> Result<()>;
}

/// Staff alerts and who receives them.
#[async_trait]
pub trait NotificationStore {
    async fn notification(&self, scope: TenantScope, id: uuid::Uuid) -> Result<StaffNotification>;
    /// Completes the `notify_staff` job and marks the alert sent, in one transaction.
    async fn mark_notification_sent(&self, lease: &JobLease, id: uuid::Uuid) -> Result<()>;
    /// Active staff with their role and (decrypted) email.
    async fn staff_contacts(&self, scope: TenantScope) -> Result<Vec<StaffContact>>;
}

/// The shared queues. See [`crate::channel`] for the lease rules.
#[async_trait]
pub trait QueueStore {
    /// Claims up to `limit` due jobs of any clinic for `lease`.
    async fn claim_jobs(&self, worker: &str, lease: SignedDuration, limit: u32)
    -> Result<Vec<Job>>;
    /// Marks a job done. A lost lease: `Conflict`.
    async fn finish_job(&self, lease: &JobLease) -> Result<()>;
    /// Runs the job again at `at`; `None` or no attempts left: failed, staff alerted.
    async fn retry_job(
        &self,
        lease: &JobLease,
        at: Option<jiff::Timestamp>,
        error_code: &str,
    ) -> Result<()>;
    /// Claims due outbound messages, opened for sending. Rows to an opted-out number (other
    /// than an opt-out confirmation) are settled as refused here and never returned.
    async fn claim_outbox(
        &self,
        worker: &str,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<OutboxItem>>;
    /// Records how a delivery attempt ended. Retries past the limit and permanent errors are
    /// dead-lettered with a staff alert. A lost lease: `Conflict`.
    async fn settle_outbox(&self, lease: &JobLease, outcome: &DeliveryOutcome) -> Result<()>;
    async fn outbox_entries(&self, scope: TenantScope, limit: u32) -> Result<Vec<OutboxEntry>>;
}

#[async_trait]
pub trait AuditStore {
    /// Appends one audit entry on its own (most entries are written inside the operation
    /// they record instead).
    async fn append_audit(&self, scope: TenantScope, event: &AuditEvent) -> Result<()>;
    async fn audit_entries(
        &self,
        scope: TenantScope,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    /// Walks this clinic's audit chain from the first entry (in pages, never the whole log in
    /// memory) and recomputes every link: seq 1, 2, 3… without gaps, each prev_hash equal to
    /// the previous entry's hash (GENESIS for the first), each hash equal to `chain_hash` of
    /// the row, and the chain head (`audit_heads`) equal to the last entry's seq and hash (a
    /// truncated tail breaks it). Reports the first broken link, or none. Read-only: one read
    /// transaction over a consistent snapshot (entries appended meanwhile are not seen), so
    /// it can run while the clinic is busy.
    async fn verify_audit_chain(&self, scope: TenantScope) -> Result<ChainReport>;
}

#[async_trait]
pub trait Health {
    /// One round trip to the database.
    async fn ping(&self) -> Result<()>;
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;
    /// SQLite only: operations, durable commits and busy time of the one writer connection
    /// since the store was opened (the load benchmark reports them).
    async fn writer_stats(&self) -> Option<crate::testing::GroupStats> {
        None
    }
    /// What an operator pages on, across every active clinic: due jobs and outbound messages
    /// (how many, and since when the oldest has waited), dead letters, and the connection
    /// pool's use. Counts only: no clinic data.
    async fn queue_stats(&self) -> Result<QueueStats>;
}

/// The dashboard's analytics (see `crate::sql::analytics`).
#[async_trait]
pub trait AnalyticsStore {
    /// The clinic's activity in `[from, to)`.
    async fn activity(
        &self,
        scope: TenantScope,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Activity>;
}

/// A clinic's language model settings and their accounting (#9; see `crate::llm`). The API
/// key is write-only: only [`LanguageModelStore::llm_runtime`] opens it.
#[async_trait]
pub trait LanguageModelStore {
    /// The clinic's settings without the key (only whether one is set); `None` when none.
    async fn llm_settings(&self, scope: TenantScope) -> Result<Option<LlmSettings>>;
    /// Writes the settings (and the key, as `key` says) in one transaction. Audited
    /// `llm.settings_changed` (the settings, never the key) and, when the key changed,
    /// `llm.credentials_set` (`{"cleared": bool}`). `Invalid` names the field: `fast_model`,
    /// `strong_model` (1 to 200 characters, no control characters), `base_url` (over 2048
    /// bytes, or missing for `openai_compatible`), `prices` (negative or too high),
    /// `monthly_budget_cents` (negative), `api_key` (empty or over 512 bytes).
    async fn set_llm_settings(
        &self,
        scope: TenantScope,
        settings: &LlmSettingsInput,
        key: LlmKeyChange,
        actor: Actor,
    ) -> Result<LlmSettings>;
    /// Turns the clinic's models off (settings and key kept). Audited `llm.settings_changed`.
    /// Answers whether they were on; `NotFound` when the clinic has no settings.
    async fn disable_llm(&self, scope: TenantScope, actor: Actor) -> Result<bool>;
    /// For the turn runner: the enabled settings with the key opened and the spend since
    /// `month_start`; `None` when the clinic has no settings or they are disabled.
    async fn llm_runtime(
        &self,
        scope: TenantScope,
        month_start: jiff::Timestamp,
    ) -> Result<Option<LlmRuntime>>;
    /// The clinic's model turns in `[from, to)`.
    async fn llm_usage_summary(
        &self,
        scope: TenantScope,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<LlmUsageSummary>;
}

/// The staff inbox and conversation takeover (see `crate::sql::inbox`).
#[async_trait]
pub trait InboxStore {
    /// Conversations, most recent first, with who holds each and whether `viewer` has read
    /// it since the last message.
    async fn inbox(
        &self,
        scope: TenantScope,
        viewer: UserId,
        query: &InboxQuery,
    ) -> Result<Vec<InboxEntry>>;
    /// `viewer` has seen the conversation up to now. Unknown conversation: `NotFound`.
    async fn mark_read(
        &self,
        scope: TenantScope,
        viewer: UserId,
        conversation: ConversationId,
    ) -> Result<()>;
    /// Who holds the conversation now, if anyone.
    async fn holder(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
    ) -> Result<Option<Hold>>;
    /// `user` takes the conversation from the AI for `hold` (renewed by each staff reply).
    /// Taking it again renews the hold. Held by someone else: `Conflict(HELD_BY_ANOTHER)`;
    /// unknown: `NotFound`. Audited `conversation.taken_over`.
    async fn take_over(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        user: UserId,
        hold: jiff::SignedDuration,
    ) -> Result<Hold>;
    /// Gives the conversation back to the AI. Not held by `user`: `Conflict(NOT_HOLDING)`.
    /// Audited `conversation.released`.
    async fn release(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<()>;
    /// A reply from the staff member who holds the conversation, through the outbox, in one
    /// transaction with the renewed hold and the audit entry `message.staff_sent` (no text).
    /// Not the holder: `Conflict(NOT_HOLDING)`; empty or too long, or a channel staff cannot
    /// reply on (a phone call): `Invalid`. A web chat reply needs no outbox: it is stored
    /// `sent` and the patient's chat fetches it.
    async fn staff_reply(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        user: UserId,
        text: &str,
        hold: jiff::SignedDuration,
    ) -> Result<MessageId>;
    /// The conversation's takeover events (`conversation.taken_over`, `.released`,
    /// `.hold_expired`) from the audit log, oldest first, the last `limit` of them.
    async fn conversation_events(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    /// A number that changes whenever anything the inbox shows changes (a message, a takeover,
    /// a release, the urgency): of the whole clinic, or of one conversation (`NotFound` if it
    /// is unknown). For live updates, which poll it.
    async fn inbox_version(
        &self,
        scope: TenantScope,
        conversation: Option<ConversationId>,
    ) -> Result<i64>;
    /// Clears the clinic's expired holds (the conversations go back to the AI), each with an
    /// audited `conversation.hold_expired` event. Answers how many.
    async fn expire_holds(&self, scope: TenantScope) -> Result<u32>;
    /// A reply `author` suggests for someone else to send (a Read-Only Doctor's draft),
    /// sealed with the patient's key. Audited `draft.written` (no text). Empty or too long:
    /// `Invalid`; unknown conversation: `NotFound`.
    async fn write_draft(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        author: UserId,
        text: &str,
    ) -> Result<DraftId>;
    /// The conversation's drafts still waiting to be sent or discarded, oldest first.
    async fn drafts(&self, scope: TenantScope, conversation: ConversationId) -> Result<Vec<Draft>>;
    /// Sends a draft as `user`'s staff reply: the same checks, outbox and hold renewal as
    /// [`staff_reply`](Self::staff_reply), in one transaction that also marks the draft sent
    /// (audited `draft.sent`). Already decided: `Conflict(DRAFT_DECIDED)`; `user` wrote it:
    /// `Conflict(OWN_DRAFT)`; unknown (or of another conversation): `NotFound`.
    async fn send_draft(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        draft: DraftId,
        user: UserId,
        hold: jiff::SignedDuration,
    ) -> Result<MessageId>;
    /// Discards a waiting draft (audited `draft.discarded`). Already decided:
    /// `Conflict(DRAFT_DECIDED)`; unknown: `NotFound`.
    async fn discard_draft(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        draft: DraftId,
        user: UserId,
    ) -> Result<()>;
}

/// Assignments: what staff whose role reaches "only what is assigned to them" (Doctors,
/// Read-Only Doctors) may see and do. See [`Assignable`].
#[async_trait]
pub trait AssignmentStore {
    /// Assigns the conversation to `assignee` (an active staff member of the clinic), or
    /// takes the assignment away (`None`). Audited `conversation.assigned` /
    /// `conversation.unassigned`. Unknown conversation: `NotFound`; assignee unknown or
    /// disabled: `Invalid`.
    async fn assign_conversation(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        assignee: Option<UserId>,
        actor: Actor,
    ) -> Result<()>;
    /// Links the staff member to the practitioner whose diary is theirs (`None` unlinks).
    /// Audited `user.practitioner_linked`. Unknown user: `NotFound`; unknown practitioner:
    /// `Invalid`.
    async fn link_practitioner(
        &self,
        scope: TenantScope,
        user: UserId,
        practitioner: Option<PractitionerId>,
        actor: Actor,
    ) -> Result<()>;
    /// Whether `what` is assigned to `user` (an unknown id is simply not assigned).
    async fn is_assigned(&self, scope: TenantScope, user: UserId, what: Assignable)
    -> Result<bool>;
}

/// Data subject requests (see `crate::sql::data_requests`).
#[async_trait]
pub trait DataRequestStore {
    /// Erases one patient for good, in one transaction: their data key is destroyed (so any
    /// copy of their ciphertexts, a backup included, can no longer be opened), their rows
    /// deleted, and an erasure-ledger row and the audit entry `patient.erased` (ids and counts
    /// only) written. Unknown (or another clinic's): `NotFound`.
    async fn erase_patient(
        &self,
        scope: TenantScope,
        patient: PatientId,
        actor: Actor,
    ) -> Result<Erasure>;
    /// Records that a copy of `patient`'s data was handed over (a subject access request
    /// answered): the audit entry `patient.exported` with `format`, and the webhook event
    /// `data_request.completed` (`kind: "export"`), in one transaction. Unknown (or another
    /// clinic's): `NotFound`.
    async fn record_patient_export(
        &self,
        scope: TenantScope,
        patient: PatientId,
        actor: Actor,
        format: &str,
    ) -> Result<()>;
    /// The clinic's erasure ledger, oldest first (a restore erases these patients again).
    async fn erasure_ledger(&self, scope: TenantScope) -> Result<Vec<ErasureEntry>>;
    /// Every patient of the clinic, oldest first: ids only (16 bytes each), so a whole-clinic
    /// export can then read one patient at a time.
    async fn patient_ids(&self, scope: TenantScope) -> Result<Vec<PatientId>>;
    /// The audit entries about one target (`patient`, `conversation`, ...), oldest first, the
    /// last `limit` (at most 10,000) of them.
    async fn audit_about(
        &self,
        scope: TenantScope,
        target_kind: &str,
        target_id: &str,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
}

/// Retention (see `crate::sql::retention`).
#[async_trait]
pub trait RetentionStore {
    /// Up to 100 of the clinic's expired call recordings (made longer ago than its policy
    /// keeps recordings, or of an expired conversation), oldest first, with their audio's
    /// blob key. The caller deletes the audio, then [`purge_recordings`](Self::purge_recordings).
    async fn expired_recordings(
        &self,
        scope: TenantScope,
    ) -> Result<Vec<(RecordingId, Option<String>)>>;
    /// Deletes these recordings' rows (at most 100), audited `retention.purged` with the count.
    async fn purge_recordings(&self, scope: TenantScope, ids: &[RecordingId]) -> Result<u64>;
    /// One purge batch of conversations, by the clinic's policy: up to 100 of its oldest
    /// conversations silent for longer than it keeps them and with no recording left, with
    /// their messages and everything else hanging off them, in one short transaction,
    /// audited `retention.purged` with counts when any went. Call again while `more`.
    async fn purge_expired(&self, scope: TenantScope) -> Result<PurgeBatch>;
    /// Removes audit entries older than the clinic's audit retention (`audit_years`), from
    /// the start of the chain, up to 1,000 per call, in one short transaction: the chain's
    /// floor moves to the last one removed (so the rest still verifies) and the purge is
    /// itself audited `audit.purged` with the count and the floor. On PostgreSQL this goes
    /// through `frontdesk_purge_audit`, the one way the application role may delete audit
    /// entries. Call again while `more`.
    async fn purge_audit(&self, scope: TenantScope) -> Result<AuditPurge>;
}

/// Incident tools (see `crate::sql::incident`).
#[async_trait]
pub trait IncidentStore {
    /// Sets the clinic's kill switch (the AI receptionist paused or answering); audited
    /// `clinic.ai_paused` / `clinic.ai_resumed`. Answers whether it changed.
    async fn set_ai_paused(&self, scope: TenantScope, paused: bool, actor: Actor) -> Result<bool>;
    /// Ends every live staff session (and unused sign-in link) of the clinic; audited
    /// `staff.all_sessions_ended` with the count. Answers how many sessions were live.
    async fn end_clinic_sessions(&self, scope: TenantScope, actor: Actor) -> Result<u64>;
    /// Which patients' information the actor (a staff member's id) touched in `[from, to)`,
    /// from the audit log: one record per patient (or per target whose patient is gone), in
    /// the order first touched. Reads at most 200,000 entries.
    async fn access_report(
        &self,
        scope: TenantScope,
        actor_id: &str,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<AccessRecord>>;
}

/// A clinic's keys to the public REST API (see `crate::sql::api_keys`).
#[async_trait]
pub trait ApiKeyStore {
    /// Makes a key; audited `api_key.created` (prefix, scopes, rate; never the secret).
    async fn create_api_key(
        &self,
        scope: TenantScope,
        key: &NewApiKey,
        actor: Actor,
    ) -> Result<IssuedApiKey>;
    /// Every key of the clinic, newest first, whatever its state.
    async fn api_keys(&self, scope: TenantScope) -> Result<Vec<ApiKeyInfo>>;
    /// One key by its public prefix (`fdk_…`); another clinic's prefix is `NotFound`.
    async fn api_key_by_prefix(&self, scope: TenantScope, prefix: &str) -> Result<ApiKeyInfo>;
    /// Ends the key at once; audited `api_key.revoked`. Answers whether it was still usable.
    async fn revoke_api_key(&self, scope: TenantScope, id: ApiKeyId, actor: Actor) -> Result<bool>;
    /// Ends every usable key of the clinic at once (an incident); audited
    /// `api_key.all_revoked` with the count. Answers the count.
    async fn revoke_all_api_keys(&self, scope: TenantScope, actor: Actor) -> Result<u64>;
    /// Makes the key's successor (same name, scopes and rate) and lets the old key work for
    /// `overlap_hours` more (0: it stops now), so an integration can be switched without
    /// downtime; audited `api_key.rotated`. A revoked, expired or already rotated key is a
    /// `Conflict`.
    async fn rotate_api_key(
        &self,
        scope: TenantScope,
        id: ApiKeyId,
        overlap_hours: u32,
        actor: Actor,
    ) -> Result<IssuedApiKey>;
    /// A message to the conversation's patient from the clinic's software (sender `staff`),
    /// through the outbox like a staff reply, audited `message.api_sent` with the key as the
    /// actor (no text). The same `idempotency_key` of the same key again answers the message
    /// sent the first time (`replayed`); with another conversation or text it is
    /// `Conflict(IDEMPOTENCY_KEY_REUSED)`. A conversation a staff member holds:
    /// `Conflict(HELD_BY_STAFF)`; a phone call, or empty or too long text: `Invalid`.
    async fn api_send_message(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
        key: ApiKeyId,
        idempotency_key: &str,
        text: &str,
    ) -> Result<ApiSent>;
    /// Checks an API call's key (constant-time), counts the call against the key's rate
    /// (shared by every instance: the count is in the database) and records its use.
    /// Unknown, malformed, revoked or expired keys, and keys of a clinic that is not active,
    /// are `Unauthorized`, all alike.
    async fn check_api_key(&self, key: &str) -> Result<ApiKeyCheck>;
}

/// Signed audit checkpoints (see `crate::sql::checkpoints`).
#[async_trait]
pub trait CheckpointStore {
    /// Signs the clinic's chain head now, keeps the checkpoint and audits `audit.checkpoint`
    /// (whose own entry comes after the head it signs). No chain yet: `NotFound`.
    async fn take_audit_checkpoint(&self, scope: TenantScope) -> Result<AuditCheckpoint>;
    /// The clinic's stored checkpoints, the last `limit` of them, oldest first.
    async fn audit_checkpoints(
        &self,
        scope: TenantScope,
        limit: u32,
    ) -> Result<Vec<AuditCheckpoint>>;
    /// Checks a checkpoint (kept elsewhere) against the clinic's chain as it is now.
    async fn check_audit_checkpoint(
        &self,
        scope: TenantScope,
        checkpoint: &AuditCheckpoint,
    ) -> Result<CheckpointCheck>;
}

/// Master key rotation (see `crate::sql::rewrap`).
#[async_trait]
pub trait KeyRotationStore {
    /// Re-wraps every key of the clinic still wrapped by another master key with the
    /// keyring's active one, in one transaction, audited `keys.rewrapped` (key ids only).
    /// Answers how many keys were re-wrapped (0: all already under the active key).
    async fn rewrap_tenant_keys(&self, scope: TenantScope, actor: Actor) -> Result<u32>;
    /// Rotates the clinic's data key: adds a new version (wrapped by the active master key),
    /// audited `keys.tenant_rotated`. Everything stays readable: the old version still opens
    /// what it sealed until [`reencrypt_tenant_batch`](Self::reencrypt_tenant_batch) has moved
    /// it all and destroyed it. Answers the new version. A rotation still under way:
    /// `Conflict`.
    async fn rotate_tenant_key(&self, scope: TenantScope, actor: Actor) -> Result<i32>;
    /// Where the clinic's data key rotation stands.
    async fn tenant_key_status(&self, scope: TenantScope) -> Result<TenantKeyStatus>;
    /// One short transaction of re-encryption under the newest data key version: up to
    /// `limit` patient keys re-wrapped; once none is left, the clinic's other ciphertexts
    /// under the tenant key (staff names, emails and TOTP secrets, channel secrets, pending
    /// phone checks) are re-sealed and the old versions destroyed, audited
    /// `keys.tenant_reencrypted` with counts. Nothing to do: an empty batch.
    async fn reencrypt_tenant_batch(
        &self,
        scope: TenantScope,
        limit: u32,
    ) -> Result<ReencryptBatch>;
}

/// The end of a clinic (see `crate::sql::lifecycle`): termination, reinstatement during the
/// hold, the purge after it, and the deletion certificate it leaves. Operator level: never
/// reachable from HTTP.
#[async_trait]
pub trait TenantLifecycleStore {
    /// Terminates an active or suspended clinic: status `terminated`, `terminated_at` now,
    /// every staff session and unused sign-in link ended, audited `tenant.terminated`. From
    /// then on it takes no traffic and no background work is done for it; the operator can
    /// still read it (`operator_scope`) until it is purged. Already terminated: `Conflict`.
    async fn terminate_tenant(&self, scope: TenantScope, actor: Actor) -> Result<TenantSummary>;
    /// Undoes a termination during the hold: status `active` again, audited
    /// `tenant.reinstated`. Not terminated: `Conflict`.
    async fn reinstate_tenant(&self, scope: TenantScope, actor: Actor) -> Result<TenantSummary>;
    /// The first step of a purge, one transaction: a clinic terminated at least `hold` ago
    /// (any time with `before_hold_ends`) is marked `purging` and audited
    /// `tenant.purge_started`; answers its recordings' blob keys. A clinic already `purging`
    /// (a purge that stopped midway) answers its plan again; `purged`: `already_purged`.
    /// Unknown slug: `NotFound`; not terminated, or the hold not over: `Conflict`.
    async fn begin_tenant_purge(
        &self,
        slug: &TenantSlug,
        hold: SignedDuration,
        before_hold_ends: bool,
    ) -> Result<crate::PurgePlan>;
    /// The second step, one transaction, once the plan's blobs are deleted: every row of the
    /// `purging` clinic is deleted from every tenant table (its keys first), the `tenants`
    /// row becomes a `purged` tombstone and the certificate is stored and answered. Already
    /// purged: its certificate.
    async fn finish_tenant_purge(
        &self,
        tenant: TenantId,
        hold: SignedDuration,
        blobs_deleted: u64,
    ) -> Result<crate::DeletionCertificate>;
    /// A purged clinic's deletion certificate. None: `NotFound`.
    async fn deletion_certificate(&self, slug: &TenantSlug) -> Result<crate::DeletionCertificate>;
}

/// Calendar feeds (#11, see [`crate::calendar`]): subscription URLs of a practitioner's or the
/// clinic's appointments. Another clinic's feed or practitioner id answers `NotFound`.
#[async_trait]
pub trait CalendarFeedStore {
    /// Makes a feed of `practitioner`'s appointments (`None`: the whole clinic's), audited
    /// `calendar_feed.created` (prefix only). Answers it with its token, shown once.
    async fn create_calendar_feed(
        &self,
        scope: TenantScope,
        practitioner: Option<PractitionerId>,
        actor: Actor,
    ) -> Result<IssuedCalendarFeed>;
    /// The clinic's feeds, newest first, revoked ones included.
    async fn calendar_feeds(&self, scope: TenantScope) -> Result<Vec<CalendarFeedInfo>>;
    /// Ends a feed at once, audited `calendar_feed.revoked`. Answers whether it was live.
    async fn revoke_calendar_feed(
        &self,
        scope: TenantScope,
        id: CalendarFeedId,
        actor: Actor,
    ) -> Result<bool>;
    /// Checks a feed token from a URL: `Unauthorized` for anything that is not a live feed of
    /// an active clinic (malformed, unknown, wrong secret, revoked), without saying which.
    /// Notes the use (`last_used_at`, at most once an hour).
    async fn open_calendar_feed(&self, token: &str) -> Result<OpenedCalendarFeed>;
    /// Live appointments (booked or confirmed) overlapping `[from, to)`, of one practitioner
    /// or all, in start order, at most 5,000: no patient data is opened.
    async fn appointments_between(
        &self,
        scope: TenantScope,
        practitioner: Option<PractitionerId>,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<Appointment>>;
}

/// Cal.com as a clinic's calendar (#11 item 3, see [`crate::calcom`]). Secrets are sealed and
/// write-only; every booking Cal.com accepted is mirrored into `appointments` with its uid.
#[async_trait]
pub trait CalcomStore {
    /// The clinic's settings and event type map without the secrets; `None` when none.
    async fn calcom_settings(&self, scope: TenantScope) -> Result<Option<CalcomSettings>>;
    /// Writes the settings (and each secret, as its change says) in one transaction. Audited
    /// `calcom.settings_changed` (never a secret) and, per secret changed,
    /// `calcom.credentials_set` (`{"secret": "api_key" | "webhook_secret", "cleared": bool}`).
    /// `Invalid` names the field: `base_url` (empty or over 2048 bytes), `api_key`,
    /// `webhook_secret` (empty, over 512 bytes or with control characters).
    async fn set_calcom_settings(
        &self,
        scope: TenantScope,
        base_url: &str,
        enabled: bool,
        api_key: CalcomSecretChange,
        webhook_secret: CalcomSecretChange,
        actor: Actor,
    ) -> Result<CalcomSettings>;
    /// Turns Cal.com off (the built-in diary answers again; settings kept). Audited. Answers
    /// whether it was on; `NotFound` when the clinic has no settings.
    async fn disable_calcom(&self, scope: TenantScope, actor: Actor) -> Result<bool>;
    /// Maps (practitioner, service) to a Cal.com event type (`None`: removes the mapping).
    /// Audited `calcom.event_type_mapped`. Another clinic's practitioner or service:
    /// `NotFound`; an event type id below 1: `Invalid` (`event_type_id`).
    async fn map_calcom_event_type(
        &self,
        scope: TenantScope,
        practitioner: PractitionerId,
        service: ServiceId,
        event_type_id: Option<i64>,
        actor: Actor,
    ) -> Result<()>;
    /// For the diary and the webhook: the settings with the secrets opened (enabled or not);
    /// `None` when the clinic has no settings.
    async fn calcom_runtime(&self, scope: TenantScope) -> Result<Option<CalcomRuntime>>;
    /// Mirrors a booking Cal.com accepted as an appointment, in one transaction with its
    /// `appointment.booked` audit entry. No opening-hours check (Cal.com decided). Idempotent:
    /// the same request key or the same uid answers the appointment already mirrored. An
    /// unknown patient, practitioner or service: `NotFound`.
    async fn mirror_calcom_booking(
        &self,
        scope: TenantScope,
        request: &CalcomRequest,
        booking: &CalcomBooking,
        actor: Actor,
    ) -> Result<Appointment>;
    /// Mirrors a move Cal.com accepted: the old appointment is cancelled and the new booking
    /// mirrored in one transaction (`appointment.rescheduled`). Idempotent by request key and
    /// uid. An old appointment that is no longer live: `Conflict`.
    async fn mirror_calcom_move(
        &self,
        scope: TenantScope,
        from: AppointmentId,
        request: &CalcomRequest,
        booking: &CalcomBooking,
        actor: Actor,
    ) -> Result<Appointment>;
    /// For an incoming Cal.com webhook: the webhook secret of the active clinic `slug`, if it
    /// has Cal.com enabled with a secret. Anything else: `NotFound` (without saying which).
    async fn calcom_webhook_key(&self, slug: &TenantSlug) -> Result<CalcomWebhookKey>;
    /// The appointment booked (or moved to) with this request key, if any: how a retried
    /// request finds what its first attempt mirrored before asking Cal.com again.
    async fn appointment_by_request_key(
        &self,
        scope: TenantScope,
        key: &str,
    ) -> Result<Option<Appointment>>;
    /// The Cal.com booking uid an appointment mirrors (`None`: a built-in booking).
    async fn appointment_calcom_uid(
        &self,
        scope: TenantScope,
        id: AppointmentId,
    ) -> Result<Option<String>>;
    /// Reflects a verified Cal.com webhook event in one transaction with its audit entry.
    /// A redelivery changes nothing (`Unchanged`).
    async fn reflect_calcom_event(
        &self,
        scope: TenantScope,
        event: &CalcomEvent,
    ) -> Result<CalcomReflected>;
}

/// Signed outbound webhooks (#10): a clinic's endpoints, and the deliveries workers send.
/// Another clinic's endpoint id answers `NotFound`.
#[async_trait]
pub trait WebhookStore {
    /// Adds an endpoint, URL and secret sealed; audited `webhook.endpoint_created` (host and
    /// events only). `Invalid` names the field: `url` (empty or over 2048 bytes), `host`
    /// (empty), `events` (none, or one not in [`WEBHOOK_EVENT_TYPES`]), or `endpoints` (the
    /// clinic already has [`MAX_ACTIVE_WEBHOOK_ENDPOINTS`] active ones).
    async fn create_webhook_endpoint(
        &self,
        scope: TenantScope,
        endpoint: &NewWebhookEndpoint,
        actor: Actor,
    ) -> Result<WebhookEndpoint>;
    /// Every endpoint of the clinic, active or not, newest first, URL opened.
    async fn webhook_endpoints(&self, scope: TenantScope) -> Result<Vec<WebhookEndpoint>>;
    /// Stops an endpoint: nothing more is queued for it and its pending deliveries become
    /// `dead` (`endpoint_disabled`). Audited `webhook.endpoint_disabled`. Answers whether it
    /// was active.
    async fn disable_webhook_endpoint(
        &self,
        scope: TenantScope,
        id: WebhookEndpointId,
        actor: Actor,
    ) -> Result<bool>;
    /// Replaces the signing secret; the old one keeps signing (beside the new) until
    /// now + `overlap` (zero or less: dropped at once). Audited `webhook.secret_rotated`.
    async fn rotate_webhook_secret(
        &self,
        scope: TenantScope,
        id: WebhookEndpointId,
        new_secret: Zeroizing<String>,
        overlap: SignedDuration,
        actor: Actor,
    ) -> Result<()>;
    /// Queues `body` once for every active endpoint subscribed to `event_type`, due now.
    /// Idempotent per endpoint and `event_id`. Answers how many deliveries were queued.
    async fn enqueue_webhook_event(
        &self,
        scope: TenantScope,
        event_id: &str,
        event_type: &str,
        body: &[u8],
    ) -> Result<u64>;
    /// Queues a test event (`ping`) for one active endpoint, whatever it subscribes to.
    /// Answers whether it was queued (false: already queued with this `event_id`). A disabled
    /// endpoint is `Conflict`.
    async fn enqueue_webhook_test(
        &self,
        scope: TenantScope,
        endpoint: WebhookEndpointId,
        event_id: &str,
        body: &[u8],
    ) -> Result<bool>;
    /// Leases up to `limit` due deliveries of active clinics for `lease`, oldest due first.
    async fn claim_webhook_deliveries(
        &self,
        worker: &str,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<WebhookJob>>;
    /// Records an attempt under its lease: `Conflict` when the lease was lost (another worker
    /// claimed the delivery after it ran out). `Invalid` (`error`) for an error that is not a
    /// short code.
    async fn settle_webhook_delivery(
        &self,
        lease: &WebhookLease,
        outcome: &WebhookSettle,
    ) -> Result<()>;
    /// The delivery log, newest first, of one endpoint or of all.
    async fn webhook_deliveries(
        &self,
        scope: TenantScope,
        endpoint: Option<WebhookEndpointId>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>>;
}

/// Anomaly alerts (#12 item 4, see [`crate::anomaly`] for the rules). Raising is deduplicated
/// per episode, audited `security_alert.raised` and queues the Owners' email in the same
/// transaction. Another clinic's alert id answers `NotFound`.
#[async_trait]
pub trait SecurityAlertStore {
    /// Raises an alert of `kind` about `subject`, or bumps its open episode. Answers the new
    /// alert's id when this opened an episode, `None` when it bumped one.
    async fn raise_security_alert(
        &self,
        scope: TenantScope,
        kind: AlertKind,
        subject: &str,
        details: &serde_json::Value,
    ) -> Result<Option<SecurityAlertId>>;
    /// Counts one event of `rule` about `subject` and raises the rule's alert when the events
    /// within its window reach its threshold. Answers what raising answered, if it was tried.
    async fn record_security_event(
        &self,
        scope: TenantScope,
        rule: BurstRule,
        subject: &str,
    ) -> Result<Option<SecurityAlertId>>;
    /// Counts a webhook whose signature did not verify with `account`'s secrets against that
    /// clinic's address (the signature-failures rule). The account only routed the request:
    /// nothing else is done in its clinic's scope.
    async fn record_signature_failure(
        &self,
        account: &ChannelAccount,
    ) -> Result<Option<SecurityAlertId>>;
    /// Notes that `key` was used from `network` (see [`crate::anomaly::network_of`]) and raises
    /// `api_key_network` when the key has been used elsewhere in the last 30 days but not
    /// from there. Writes at most once an hour per key and network.
    async fn note_api_key_network(
        &self,
        scope: TenantScope,
        key: ApiKeyId,
        network: &str,
    ) -> Result<Option<SecurityAlertId>>;
    /// Runs the detectors that look back over stored rows (record reads, provider outage)
    /// for one clinic. Answers the alerts newly raised.
    async fn detect_anomalies(&self, scope: TenantScope) -> Result<Vec<SecurityAlertId>>;
    /// The clinic's alerts, open ones first, then newest first; at most 200.
    async fn security_alerts(&self, scope: TenantScope) -> Result<Vec<SecurityAlert>>;
    async fn security_alert(
        &self,
        scope: TenantScope,
        id: SecurityAlertId,
    ) -> Result<SecurityAlert>;
    /// Acknowledges an alert, ending its episode, audited `security_alert.acknowledged`.
    /// Answers whether it was still unacknowledged.
    async fn acknowledge_security_alert(
        &self,
        scope: TenantScope,
        id: SecurityAlertId,
        actor: Actor,
    ) -> Result<bool>;
    /// Completes the `notify_security_alert` job and notes the email sent, in one transaction
    /// (`emailed` false: no mail was configured or nobody to send it to).
    async fn finish_security_alert_job(
        &self,
        lease: &JobLease,
        id: SecurityAlertId,
        emailed: bool,
    ) -> Result<()>;
}

/// What the instances sharing one database coordinate through it (see
/// [`crate::coordination`]): the clinics' outbound send rate and the daily maintenance passes.
#[async_trait]
pub trait CoordinationStore {
    /// Takes one send from the clinic's outbound bucket, shared by every instance: up to
    /// `per_second` sends at once, then one every `1/per_second` s. One atomic statement, so
    /// concurrent takes on any number of instances are counted exactly. `Wait`: nothing taken.
    async fn take_send_token(&self, scope: TenantScope, per_second: u32) -> Result<SendPermit>;
    /// Claims the maintenance pass `name` for `holder` until `lease` from now, if it is due
    /// (never completed, or last completed `every` ago or longer) and nobody holds it (no
    /// lease, or an expired one: its holder died). `None`: done recently or held; skip it.
    async fn claim_maintenance(
        &self,
        name: &str,
        holder: &str,
        every: SignedDuration,
        lease: SignedDuration,
    ) -> Result<Option<MaintenanceLease>>;
    /// Ends a claimed pass: `done` records it completed now (due again `every` later);
    /// otherwise it is released undone, for the next instance that looks. A lease that was
    /// lost (it ran out and another instance took the pass): `Conflict`, nothing written.
    async fn finish_maintenance(&self, lease: &MaintenanceLease, done: bool) -> Result<()>;
    /// Every maintenance pass as stored, by name.
    async fn maintenance_runs(&self) -> Result<Vec<MaintenanceRun>>;
}

/// Payments (#11, see [`crate::payments`]): the clinic's provider, and deposits or fees for
/// appointments. Another clinic's payment, appointment or reference answers `NotFound`.
#[async_trait]
pub trait PaymentStore {
    /// Sets (or replaces) the clinic's payment provider, enabled, audited `payments.configured`
    /// (provider, amount, currency and the names of the secrets, never their values).
    async fn set_payment_settings(
        &self,
        scope: TenantScope,
        settings: &PaymentSettings,
        secrets: &ChannelSecrets,
        actor: Actor,
    ) -> Result<()>;
    /// The clinic's payment provider with its secrets, if one was set.
    async fn payment_account(&self, scope: TenantScope) -> Result<Option<PaymentAccount>>;
    /// Stops asking for payments (settings kept), audited `payments.disabled`. Answers whether
    /// they were enabled.
    async fn disable_payments(&self, scope: TenantScope, actor: Actor) -> Result<bool>;
    /// A new pending payment of the clinic's amount for a live appointment, audited
    /// `payment.requested`, with the job that asks the provider, in one transaction. Payments
    /// off: `Conflict("payments_disabled")`; a payment pending or paid for the appointment
    /// already: `Conflict("payment_exists")`.
    async fn request_payment(
        &self,
        scope: TenantScope,
        appointment: AppointmentId,
        conversation: Option<ConversationId>,
        actor: Actor,
    ) -> Result<Payment>;
    /// Keeps the SHA-256 of the secret a provider's callback URL will carry (M-Pesa), before
    /// the provider is asked. Only while pending with no reference yet.
    async fn arm_payment_callback(
        &self,
        scope: TenantScope,
        id: PaymentId,
        secret_hash: &[u8],
    ) -> Result<()>;
    /// The provider accepted the request as `reference`: stored, audited `payment.started`, the
    /// patient told `text` if any (the Stripe link) and `job` finished, in one transaction.
    /// Answers `false` (nothing done) when it already had this reference.
    async fn payment_started(
        &self,
        scope: TenantScope,
        id: PaymentId,
        reference: &str,
        text: Option<&str>,
        job: Option<&JobLease>,
    ) -> Result<bool>;
    /// Ends a pending payment with `outcome`, audited `payment.paid` / `.failed` /
    /// `.cancelled` / `.expired`, the patient told `text` (if any) and `job` finished, in one
    /// transaction. A payment settled already is left alone (`changed: false`).
    async fn settle_payment(
        &self,
        scope: TenantScope,
        which: PaymentRef<'_>,
        outcome: &PaymentOutcome,
        text: Option<&str>,
        job: Option<&JobLease>,
    ) -> Result<Settled>;
    async fn payment(&self, scope: TenantScope, id: PaymentId) -> Result<Payment>;
    async fn payment_by_reference(
        &self,
        scope: TenantScope,
        provider: PaymentProvider,
        reference: &str,
    ) -> Result<Payment>;
    /// The payment whose callback URL carried `secret`: `Unauthorized` when the secret is not
    /// its own (compared in constant time) or none was armed; `NotFound` for no such payment.
    async fn check_payment_callback(
        &self,
        scope: TenantScope,
        id: PaymentId,
        secret: &str,
    ) -> Result<Payment>;
    /// The payments of these appointments, newest first.
    async fn appointment_payments(
        &self,
        scope: TenantScope,
        appointments: &[AppointmentId],
    ) -> Result<Vec<Payment>>;
    /// The newest payment asked for in this conversation.
    async fn latest_conversation_payment(
        &self,
        scope: TenantScope,
        conversation: ConversationId,
    ) -> Result<Option<Payment>>;
    /// The scope of an active clinic named in a provider's webhook URL (by slug), before its
    /// signature is checked with that clinic's secrets. Grants nothing by itself: the handler
    /// must verify the request with the clinic's secret before acting. Unknown or inactive:
    /// `NotFound`.
    async fn payment_webhook_scope(&self, slug: &TenantSlug) -> Result<TenantScope>;
}

/// Everything a frontdesk process needs from storage.
pub trait Store:
    TenantDirectory
    + ClinicStore
    + PatientStore
    + StaffStore
    + StaffAuthStore
    + ConversationStore
    + AppointmentStore
    + AuditStore
    + ChannelStore
    + QueueStore
    + NotificationStore
    + VerificationStore
    + CallStore
    + ReminderStore
    + WaitlistStore
    + RecordingStore
    + InboxStore
    + AssignmentStore
    + DataRequestStore
    + RetentionStore
    + IncidentStore
    + ApiKeyStore
    + WebhookStore
    + CalendarFeedStore
    + PaymentStore
    + CalcomStore
    + SecurityAlertStore
    + CheckpointStore
    + KeyRotationStore
    + TenantLifecycleStore
    + CoordinationStore
    + AnalyticsStore
    + LanguageModelStore
    + Health
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: TenantDirectory
        + ClinicStore
        + PatientStore
        + StaffStore
        + StaffAuthStore
        + ConversationStore
        + AppointmentStore
        + AuditStore
        + ChannelStore
        + QueueStore
        + NotificationStore
        + VerificationStore
        + CallStore
        + ReminderStore
        + WaitlistStore
        + RecordingStore
        + InboxStore
        + AssignmentStore
        + DataRequestStore
        + RetentionStore
        + IncidentStore
        + ApiKeyStore
        + WebhookStore
        + CalendarFeedStore
        + PaymentStore
        + CalcomStore
        + SecurityAlertStore
        + CheckpointStore
        + KeyRotationStore
        + TenantLifecycleStore
        + CoordinationStore
        + AnalyticsStore
        + LanguageModelStore
        + Health
        + Send
        + Sync
{
}
