ALTER TABLE companies DROP COLUMN customer_synced_version;
ALTER TABLE companies DROP COLUMN customer_version;
