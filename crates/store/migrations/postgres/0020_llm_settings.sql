-- Per-clinic language models and their accounting (#9). Kept in step with
-- sqlite/0020_llm_settings.sql (which explains each table).

CREATE TABLE llm_settings (
    tenant_id uuid NOT NULL PRIMARY KEY REFERENCES tenants (id),
    provider text NOT NULL CHECK (provider IN ('anthropic', 'openai', 'openai_compatible')),
    base_url text,
    fast_model text NOT NULL,
    strong_model text NOT NULL,
    routine_route text NOT NULL CHECK (routine_route IN ('fast', 'strong', 'builtin')),
    sensitive_route text NOT NULL CHECK (sensitive_route IN ('fast', 'strong', 'builtin')),
    monthly_budget_cents bigint CHECK (monthly_budget_cents >= 0),
    fast_input_price bigint NOT NULL DEFAULT 0 CHECK (fast_input_price >= 0),
    fast_output_price bigint NOT NULL DEFAULT 0 CHECK (fast_output_price >= 0),
    strong_input_price bigint NOT NULL DEFAULT 0 CHECK (strong_input_price >= 0),
    strong_output_price bigint NOT NULL DEFAULT 0 CHECK (strong_output_price >= 0),
    enabled boolean NOT NULL DEFAULT false,
    api_key_ct bytea,
    api_key_set_at bigint,
    updated_at bigint NOT NULL,
    updated_by text NOT NULL
);

CREATE TABLE llm_usage (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    at bigint NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    tier text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('answered', 'fallback')),
    reason text NOT NULL,
    latency_ms bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cost_micros bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX llm_usage_at ON llm_usage (tenant_id, at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['llm_settings', 'llm_usage']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
