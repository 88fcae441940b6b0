-- frontdesk initial schema (PostgreSQL).
-- Times are BIGINT microseconds since the Unix epoch, UTC, in both engines.
-- Every tenant table keys on tenant_id first (shardable by tenant) and is protected by
-- row-level security; the app role is neither owner nor superuser nor BYPASSRLS.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- The tenant currently set by the application for this transaction, or NULL.
-- NULLIF: after a transaction-local set_config ends, the setting reads '' (not NULL).
CREATE FUNCTION frontdesk_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- Directory of clinics: id, public slug and lifecycle status only (no clinic or patient data),
-- readable without a tenant so that a public web chat slug can be resolved.
CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'terminated')),
    created_at bigint NOT NULL,
    terminated_at bigint
);

CREATE TABLE clinic_profiles (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    profile jsonb NOT NULL,
    updated_at bigint NOT NULL
);

-- Tenant data keys and blind-index keys, wrapped by a master key (AES-256-GCM).
CREATE TABLE tenant_keys (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    purpose text NOT NULL CHECK (purpose IN ('data', 'index')),
    version integer NOT NULL,
    master_key_id text NOT NULL,
    wrapped bytea NOT NULL,
    created_at bigint NOT NULL,
    retired_at bigint,
    PRIMARY KEY (tenant_id, purpose, version)
);

CREATE TABLE users (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    email_bidx bytea NOT NULL,
    email_ct bytea NOT NULL,
    name_ct bytea NOT NULL,
    role text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email_bidx)
);

CREATE TABLE patients (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    name_ct bytea,
    phone_ct bytea,
    phone_bidx bytea,
    email_ct bytea,
    email_bidx bytea,
    language text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX patients_phone_bidx ON patients (tenant_id, phone_bidx) WHERE phone_bidx IS NOT NULL;
CREATE INDEX patients_email_bidx ON patients (tenant_id, email_bidx) WHERE email_bidx IS NOT NULL;

-- One data key per patient, wrapped by the tenant data key. Deleting the row crypto-shreds
-- every ciphertext of that patient.
CREATE TABLE patient_keys (
    tenant_id uuid NOT NULL,
    patient_id uuid NOT NULL,
    tenant_key_version integer NOT NULL,
    wrapped bytea NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, patient_id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE practitioners (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    name text NOT NULL,
    title text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE services (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    name text NOT NULL,
    duration_min integer NOT NULL CHECK (duration_min > 0),
    buffer_min integer NOT NULL DEFAULT 0 CHECK (buffer_min >= 0),
    price_minor bigint,
    currency text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE practitioner_services (
    tenant_id uuid NOT NULL,
    practitioner_id uuid NOT NULL,
    service_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, practitioner_id, service_id),
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id) ON DELETE CASCADE
);

-- Practitioners' weekly hours in clinic-local minutes after midnight (weekday 1 = Monday).
CREATE TABLE working_hours (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    practitioner_id uuid NOT NULL,
    weekday smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    open_min integer NOT NULL,
    close_min integer NOT NULL CHECK (open_min < close_min AND close_min <= 1440),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id) ON DELETE CASCADE
);

-- Leave, public holidays and other closures (practitioner_id NULL = whole clinic).
CREATE TABLE schedule_exceptions (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    practitioner_id uuid,
    starts_at bigint NOT NULL,
    ends_at bigint NOT NULL CHECK (starts_at < ends_at),
    reason text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE faqs (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    question text NOT NULL,
    answer text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Red-flag phrases a clinic adds to the built-in rule sets (which can never be switched off).
CREATE TABLE clinic_red_flag_rules (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    phrases text NOT NULL, -- JSON array of phrases
    level text NOT NULL CHECK (level IN ('urgent', 'emergency')),
    language text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE appointments (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    patient_id uuid NOT NULL,
    practitioner_id uuid NOT NULL,
    service_id uuid NOT NULL,
    starts_at bigint NOT NULL,
    ends_at bigint NOT NULL CHECK (starts_at < ends_at),
    -- The practitioner stays busy until the end plus the service's buffer (clean-up time).
    busy_until bigint NOT NULL CHECK (ends_at <= busy_until),
    status text NOT NULL CHECK (status IN ('booked', 'confirmed', 'cancelled', 'completed', 'no_show')),
    idempotency_key text NOT NULL,
    notes_ct bytea,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id),
    FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id),
    -- No two live appointments of one practitioner may overlap, whatever the race.
    EXCLUDE USING gist (tenant_id WITH =, practitioner_id WITH =, int8range(starts_at, busy_until) WITH &&)
        WHERE (status IN ('booked', 'confirmed'))
);

CREATE INDEX appointments_patient ON appointments (tenant_id, patient_id, starts_at);

CREATE TABLE conversations (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    patient_id uuid NOT NULL,
    channel text NOT NULL CHECK (channel IN ('webchat', 'whatsapp', 'sms', 'voice', 'cli')),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    urgency text NOT NULL DEFAULT 'normal' CHECK (urgency IN ('normal', 'urgent', 'emergency')),
    owner_user_id uuid,
    hold_expires_at bigint,
    assigned_practitioner_id uuid,
    summary_ct bytea,
    state_ct bytea,
    last_message_at bigint NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX conversations_inbox ON conversations (tenant_id, last_message_at DESC);
CREATE INDEX conversations_patient ON conversations (tenant_id, patient_id);

CREATE TABLE messages (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    sender text NOT NULL CHECK (sender IN ('patient', 'agent', 'staff', 'system')),
    sender_user_id uuid,
    channel text NOT NULL,
    body_ct bytea NOT NULL,
    provider_message_id text,
    status text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_conversation ON messages (tenant_id, conversation_id, id);
-- Idempotency of inbound deliveries: a provider's message id is unique per channel.
CREATE UNIQUE INDEX messages_provider_id ON messages (tenant_id, channel, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- Alerts for the clinic's staff: red flags, urgent cases, hand-offs, open questions and failed
-- deliveries. `details` holds ids and rule names only, never message text. Delivery: #4.
CREATE TABLE staff_notifications (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    conversation_id uuid,
    kind text NOT NULL CHECK (kind IN ('emergency', 'urgent', 'handoff', 'task', 'delivery_failure')),
    details text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'acknowledged')),
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX staff_notifications_pending ON staff_notifications (tenant_id, status, created_at);

CREATE TABLE webchat_sessions (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE jobs (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_at bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 10,
    lease_until bigint,
    locked_by text,
    idempotency_key text,
    last_error text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX jobs_due ON jobs (status, run_at);

CREATE TABLE outbox (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    message_id uuid,
    channel text NOT NULL,
    idempotency_key text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    provider_message_id text,
    last_error text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Append-only, hash-chained per tenant. The app role may only SELECT and INSERT here.
CREATE TABLE audit_log (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    seq bigint NOT NULL,
    id uuid NOT NULL,
    at bigint NOT NULL,
    actor_kind text NOT NULL,
    actor_id text,
    action text NOT NULL,
    target_kind text,
    target_id text,
    details text NOT NULL, -- exact JSON text, hashed into the chain
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE TABLE audit_heads (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    seq bigint NOT NULL,
    hash bytea NOT NULL
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['clinic_profiles', 'tenant_keys', 'users', 'patients', 'patient_keys',
        'practitioners', 'services', 'practitioner_services', 'working_hours', 'schedule_exceptions',
        'faqs', 'appointments', 'conversations', 'messages', 'webchat_sessions', 'jobs', 'outbox',
        'audit_log', 'audit_heads', 'staff_notifications', 'clinic_red_flag_rules']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
