-- A key outlives the user who made it only as a revoked row: removing a user revokes their keys and forgets
-- the creator, so `created_by_user_id` NULL means "creator unknown (removed)".
ALTER TABLE api_keys ALTER COLUMN created_by_user_id DROP NOT NULL;
CREATE INDEX api_keys_created_by_user_id_idx ON api_keys (created_by_user_id);

-- Credentials that outlived their creator before this release stop now, as they would have had the rule
-- been in force: API keys and enrollment tokens of disabled users, and of users who are no longer an owner
-- or admin (both key scopes, and enrollment tokens, need one).
UPDATE api_keys SET revoked_at = (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')
WHERE revoked_at IS NULL AND created_by_user_id IN (
    SELECT id FROM users WHERE disabled_at IS NOT NULL OR role NOT IN ('OWNER', 'ADMIN')
);
UPDATE enrollment_tokens SET revoked_at = (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')
WHERE revoked_at IS NULL AND created_by_user_id IN (
    SELECT id FROM users WHERE disabled_at IS NOT NULL OR role NOT IN ('OWNER', 'ADMIN')
);
