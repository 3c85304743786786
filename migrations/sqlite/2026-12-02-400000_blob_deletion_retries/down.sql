DROP INDEX blob_deletions_due;
ALTER TABLE blob_deletions DROP COLUMN only_if_unreferenced;
ALTER TABLE blob_deletions DROP COLUMN parked_at;
ALTER TABLE blob_deletions DROP COLUMN last_error;
ALTER TABLE blob_deletions DROP COLUMN next_attempt_at;
ALTER TABLE blob_deletions DROP COLUMN attempts;
