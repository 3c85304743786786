-- A key outlives the user who made it only as a revoked row: removing a user revokes their keys and forgets
-- the creator, so `created_by_user_id` NULL means "creator unknown (removed)".
ALTER TABLE api_keys ALTER COLUMN created_by_user_id DROP NOT NULL;
CREATE INDEX api_keys_created_by_user_id_idx ON api_keys (created_by_user_id);
