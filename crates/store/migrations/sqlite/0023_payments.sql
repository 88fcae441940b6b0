-- Payments (#11): deposits and consultation fees by Stripe Checkout or M-Pesa (Daraja) STK
-- push. Kept in step with postgres/0023_payments.sql.

-- A clinic's payment provider and what it asks for. `config` is non-secret JSON (Daraja
-- shortcode and API base); `secrets_ct` is JSON of the secrets (Stripe secret key and webhook
-- signing secrets, Daraja consumer key/secret and passkey) sealed with the tenant data key,
-- write-only like channel secrets. `enabled` 0: configured but not asking.
CREATE TABLE payment_settings (
    tenant_id BLOB PRIMARY KEY REFERENCES tenants (id),
    provider TEXT NOT NULL CHECK (provider IN ('stripe', 'mpesa')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    config TEXT NOT NULL,
    secrets_ct BLOB NOT NULL,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- One request for money for one appointment. `reference` is the provider's id of the request
-- (Stripe Checkout Session id, Daraja CheckoutRequestID), known once the provider answered;
-- `receipt` the provider's id of the money (payment_intent, M-Pesa receipt number).
-- `callback_hash`: SHA-256 of the random secret in an M-Pesa CallBackURL (Daraja does not sign).
-- `conversation_id` and `channel`: where the patient asked, so that news of the payment goes
-- there (no foreign key: retention may end the conversation first; the patient is then told
-- in a new conversation on the same channel). Deleted with the patient or the appointment
-- (erasure, retention).
CREATE TABLE payments (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    appointment_id BLOB NOT NULL,
    conversation_id BLOB,
    channel TEXT NOT NULL,
    patient_id BLOB NOT NULL,
    provider TEXT NOT NULL CHECK (provider IN ('stripe', 'mpesa')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'cancelled', 'expired')),
    reference TEXT,
    receipt TEXT,
    callback_hash BLOB,
    reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    settled_at INTEGER,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (provider, reference),
    FOREIGN KEY (tenant_id, appointment_id) REFERENCES appointments (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX payments_appointment ON payments (tenant_id, appointment_id);
CREATE INDEX payments_conversation ON payments (tenant_id, conversation_id);
