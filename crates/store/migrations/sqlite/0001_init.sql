-- frontdesk initial schema (SQLite). Kept in step with postgres/0001_init.sql.
-- Times are BIGINT microseconds since the Unix epoch, UTC, in both engines.
-- Every tenant table keys on tenant_id first; tenant scoping is enforced by the application.

-- Directory of clinics: id, public slug and lifecycle status only (no clinic or patient data),
-- readable without a tenant so that a public web chat slug can be resolved.
CREATE TABLE tenants (
    id BLOB PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'terminated')),
    created_at INTEGER NOT NULL,
    terminated_at INTEGER
) STRICT;

CREATE TABLE clinic_profiles (
    tenant_id BLOB PRIMARY KEY REFERENCES tenants (id),
    profile TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Tenant data keys and blind-index keys, wrapped by a master key (AES-256-GCM).
CREATE TABLE tenant_keys (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('data', 'index')),
    version INTEGER NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    PRIMARY KEY (tenant_id, purpose, version)
) STRICT;

CREATE TABLE users (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    email_bidx BLOB NOT NULL,
    email_ct BLOB NOT NULL,
    name_ct BLOB NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email_bidx)
) STRICT;

CREATE TABLE patients (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    name_ct BLOB,
    phone_ct BLOB,
    phone_bidx BLOB,
    email_ct BLOB,
    email_bidx BLOB,
    language TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX patients_phone_bidx ON patients (tenant_id, phone_bidx) WHERE phone_bidx IS NOT NULL;
CREATE INDEX patients_email_bidx ON patients (tenant_id, email_bidx) WHERE email_bidx IS NOT NULL;

-- One data key per patient, wrapped by the tenant data key. Deleting the row crypto-shreds
-- every ciphertext of that patient.
CREATE TABLE patient_keys (
    tenant_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    tenant_key_version INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, patient_id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE practitioners (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    title TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE services (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    duration_min INTEGER NOT NULL CHECK (duration_min > 0),
    buffer_min INTEGER NOT NULL DEFAULT 0 CHECK (buffer_min >= 0),
    price_minor INTEGER,
    currency TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE practitioner_services (
    tenant_id BLOB NOT NULL,
    practitioner_id BLOB NOT NULL,
    service_id BLOB NOT NULL,
    PRIMARY KEY (tenant_id, practitioner_id, service_id),
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- Practitioners' weekly hours in clinic-local minutes after midnight (weekday 1 = Monday).
CREATE TABLE working_hours (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    practitioner_id BLOB NOT NULL,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    open_min INTEGER NOT NULL,
    close_min INTEGER NOT NULL CHECK (open_min < close_min AND close_min <= 1440),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- Leave, public holidays and other closures (practitioner_id NULL = whole clinic).
CREATE TABLE schedule_exceptions (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    practitioner_id BLOB,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL CHECK (starts_at < ends_at),
    reason TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE faqs (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- Red-flag phrases a clinic adds to the built-in rule sets (which can never be switched off).
CREATE TABLE clinic_red_flag_rules (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    phrases TEXT NOT NULL, -- JSON array of phrases
    level TEXT NOT NULL CHECK (level IN ('urgent', 'emergency')),
    language TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE appointments (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    practitioner_id BLOB NOT NULL,
    service_id BLOB NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL CHECK (starts_at < ends_at),
    -- The practitioner stays busy until the end plus the service's buffer (clean-up time).
    busy_until INTEGER NOT NULL CHECK (ends_at <= busy_until),
    status TEXT NOT NULL CHECK (status IN ('booked', 'confirmed', 'cancelled', 'completed', 'no_show')),
    idempotency_key TEXT NOT NULL,
    notes_ct BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id),
    FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id)
) STRICT;

-- SQLite has no exclusion constraints: bookings run in BEGIN IMMEDIATE transactions, so the
-- overlap check and the insert cannot interleave with another writer.
CREATE INDEX appointments_practitioner_time ON appointments (tenant_id, practitioner_id, starts_at);

CREATE INDEX appointments_patient ON appointments (tenant_id, patient_id, starts_at);

CREATE TABLE conversations (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('webchat', 'whatsapp', 'sms', 'voice', 'cli')),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    urgency TEXT NOT NULL DEFAULT 'normal' CHECK (urgency IN ('normal', 'urgent', 'emergency')),
    owner_user_id BLOB,
    hold_expires_at INTEGER,
    assigned_practitioner_id BLOB,
    summary_ct BLOB,
    state_ct BLOB,
    last_message_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX conversations_inbox ON conversations (tenant_id, last_message_at DESC);
CREATE INDEX conversations_patient ON conversations (tenant_id, patient_id);

CREATE TABLE messages (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    conversation_id BLOB NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    sender TEXT NOT NULL CHECK (sender IN ('patient', 'agent', 'staff', 'system')),
    sender_user_id BLOB,
    channel TEXT NOT NULL,
    body_ct BLOB NOT NULL,
    provider_message_id TEXT,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX messages_conversation ON messages (tenant_id, conversation_id, id);
-- Idempotency of inbound deliveries: a provider's message id is unique per channel.
CREATE UNIQUE INDEX messages_provider_id ON messages (tenant_id, channel, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- Alerts for the clinic's staff: red flags, urgent cases, hand-offs, open questions and failed
-- deliveries. `details` holds ids and rule names only, never message text. Delivery: #4.
CREATE TABLE staff_notifications (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    conversation_id BLOB,
    kind TEXT NOT NULL CHECK (kind IN ('emergency', 'urgent', 'handoff', 'task', 'delivery_failure')),
    details TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'acknowledged')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX staff_notifications_pending ON staff_notifications (tenant_id, status, created_at);

CREATE TABLE webchat_sessions (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    conversation_id BLOB NOT NULL,
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE jobs (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    lease_until INTEGER,
    locked_by TEXT,
    idempotency_key TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key)
) STRICT;
CREATE INDEX jobs_due ON jobs (status, run_at);

CREATE TABLE outbox (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    message_id BLOB,
    channel TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    provider_message_id TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Append-only, hash-chained per tenant. The app role may only SELECT and INSERT here.
CREATE TABLE audit_log (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    seq INTEGER NOT NULL,
    id BLOB NOT NULL,
    at INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    target_kind TEXT,
    target_id TEXT,
    details TEXT NOT NULL, -- exact JSON text, hashed into the chain
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) STRICT;

CREATE TABLE audit_heads (
    tenant_id BLOB PRIMARY KEY REFERENCES tenants (id),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL
) STRICT;

