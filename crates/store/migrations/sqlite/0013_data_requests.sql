-- Data subject requests and retention (#8): the erasure ledger. Kept in step with
-- postgres/0013_data_requests.sql.
--
-- Erasing a patient destroys their data key (crypto-shredding) and deletes their rows; the
-- ledger keeps only that it happened (ids, when, by whom, how many rows), so that a restore
-- from a backup taken earlier can erase them again and an erased patient never comes back.
CREATE TABLE erasure_ledger (
    tenant_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    erased_at INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    counts TEXT NOT NULL,
    PRIMARY KEY (tenant_id, patient_id)
) STRICT;

-- The retention purge finds expired recordings by age.
CREATE INDEX call_recordings_created ON call_recordings (tenant_id, created_at);
