-- Per-clinic language models and their accounting (#9). Kept in step with
-- postgres/0020_llm_settings.sql.

-- One row per clinic that configured a model. `api_key_ct` is the provider key sealed with the
-- clinic's data key (bound to tenant, table, column, tenant id); it is write-only: only the turn
-- runner's read opens it. `base_url` NULL means the provider's public API. Routes say which
-- model answers routine and sensitive turns ('builtin': the built-in receptionist). Prices are
-- micro-units of the clinic's currency per million tokens (1 unit = 1,000,000 micro-units);
-- the budget is in cents (minor units) per calendar month (UTC).
CREATE TABLE llm_settings (
    tenant_id BLOB NOT NULL PRIMARY KEY REFERENCES tenants (id),
    provider TEXT NOT NULL CHECK (provider IN ('anthropic', 'openai', 'openai_compatible')),
    base_url TEXT,
    fast_model TEXT NOT NULL,
    strong_model TEXT NOT NULL,
    routine_route TEXT NOT NULL CHECK (routine_route IN ('fast', 'strong', 'builtin')),
    sensitive_route TEXT NOT NULL CHECK (sensitive_route IN ('fast', 'strong', 'builtin')),
    monthly_budget_cents INTEGER CHECK (monthly_budget_cents >= 0),
    fast_input_price INTEGER NOT NULL DEFAULT 0 CHECK (fast_input_price >= 0),
    fast_output_price INTEGER NOT NULL DEFAULT 0 CHECK (fast_output_price >= 0),
    strong_input_price INTEGER NOT NULL DEFAULT 0 CHECK (strong_input_price >= 0),
    strong_output_price INTEGER NOT NULL DEFAULT 0 CHECK (strong_output_price >= 0),
    enabled INTEGER NOT NULL DEFAULT 0,
    api_key_ct BLOB,
    api_key_set_at INTEGER,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
) STRICT;

-- One row per turn that was routed to a model (answered, or fallen back to the built-in
-- receptionist, budget included). No text: ids, names of models, counts and cost
-- (micro-units). `conversation_id` has no foreign key so that an erasure is never blocked by
-- the accounting of a conversation it deletes.
CREATE TABLE llm_usage (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    conversation_id BLOB NOT NULL,
    at INTEGER NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    tier TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('answered', 'fallback')),
    reason TEXT NOT NULL,
    latency_ms INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_micros INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- The month-to-date sum and the dashboard's window.
CREATE INDEX llm_usage_at ON llm_usage (tenant_id, at);
