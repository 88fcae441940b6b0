-- Signed audit checkpoints (#8): a clinic's chain head (seq and hash) at a time, with a MAC
-- under a key derived from the clinic's keys (which never reach the database in clear). A
-- checkpoint kept outside the database lets anyone holding it later detect that the chain
-- was truncated or rewritten from some entry on, even by someone who could write to the
-- database and recompute the hashes. Kept in step with postgres/0014_audit_checkpoints.sql.
CREATE TABLE audit_checkpoints (
    tenant_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    at INTEGER NOT NULL,
    mac BLOB NOT NULL,
    PRIMARY KEY (tenant_id, at, seq)
) STRICT;
