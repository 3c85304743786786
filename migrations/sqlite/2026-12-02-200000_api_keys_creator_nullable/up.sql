-- A key outlives the user who made it only as a revoked row: removing a user revokes their keys and forgets
-- the creator, so `created_by_user_id` NULL means "creator unknown (removed)".
-- SQLite cannot drop a NOT NULL: the table is rebuilt with the same columns and indexes.
CREATE TABLE api_keys_new (
    id                 TEXT PRIMARY KEY,
    company_id         TEXT NOT NULL REFERENCES companies (id),
    name               TEXT NOT NULL,
    prefix             TEXT NOT NULL,
    key_hash           TEXT NOT NULL UNIQUE,
    scope              TEXT NOT NULL CHECK (scope IN ('read', 'read_write')),
    created_by_user_id TEXT REFERENCES users (id),
    created_at         TIMESTAMP NOT NULL,
    last_used_at       TIMESTAMP,
    revoked_at         TIMESTAMP
);
INSERT INTO api_keys_new SELECT id, company_id, name, prefix, key_hash, scope, created_by_user_id, created_at,
    last_used_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
CREATE INDEX api_keys_company_id_idx ON api_keys (company_id);
CREATE INDEX api_keys_created_by_user_id_idx ON api_keys (created_by_user_id);

-- Credentials that outlived their creator before this release stop now, as they would have had the rule
-- been in force: API keys and enrollment tokens of disabled users, and of users who are no longer an owner
-- or admin (both key scopes, and enrollment tokens, need one).
UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP
WHERE revoked_at IS NULL AND created_by_user_id IN (
    SELECT id FROM users WHERE disabled_at IS NOT NULL OR role NOT IN ('OWNER', 'ADMIN')
);
UPDATE enrollment_tokens SET revoked_at = CURRENT_TIMESTAMP
WHERE revoked_at IS NULL AND created_by_user_id IN (
    SELECT id FROM users WHERE disabled_at IS NOT NULL OR role NOT IN ('OWNER', 'ADMIN')
);
