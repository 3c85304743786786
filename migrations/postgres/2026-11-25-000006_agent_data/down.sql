ALTER TABLE companies DROP COLUMN storage_bytes;
DROP TABLE blob_deletions;
DROP TABLE screenshots;
DROP TABLE activity_records;
