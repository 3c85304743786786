DROP INDEX api_keys_created_by_user_id_idx;
DELETE FROM api_keys WHERE created_by_user_id IS NULL;
ALTER TABLE api_keys ALTER COLUMN created_by_user_id SET NOT NULL;
