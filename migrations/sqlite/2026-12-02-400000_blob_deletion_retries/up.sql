-- The blob deletion queue retries each key on its own schedule: a key that cannot be deleted backs off
-- (`next_attempt_at`, NULL meaning due now) and, after too many failures, is parked for an operator instead
-- of blocking the keys queued after it. `only_if_unreferenced` marks a deletion queued when it was unknown
-- whether a row referencing the blob was committed: it is deleted only once no screenshot points at it.
ALTER TABLE blob_deletions ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blob_deletions ADD COLUMN next_attempt_at TIMESTAMP;
ALTER TABLE blob_deletions ADD COLUMN last_error TEXT;
ALTER TABLE blob_deletions ADD COLUMN parked_at TIMESTAMP;
ALTER TABLE blob_deletions ADD COLUMN only_if_unreferenced BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX blob_deletions_due ON blob_deletions (parked_at, next_attempt_at);
