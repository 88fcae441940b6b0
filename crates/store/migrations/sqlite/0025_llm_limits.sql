-- Per-clinic limits of a model turn (#9): deadline, tool rounds and output tokens, for text
-- turns and for phone turns, as JSON (`LlmLimits`; a missing field takes its default).
-- Kept in step with postgres/0025_llm_limits.sql.
ALTER TABLE llm_settings ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
