-- What Stripe's customer should hold (the billing email, the tax id) is written here first and then brought
-- to Stripe. Each change of it increments `customer_version`; `customer_synced_version` is the version Stripe
-- was last seen to match. While they differ, the change is still being applied, and a sweep retries it.
ALTER TABLE companies ADD COLUMN customer_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE companies ADD COLUMN customer_synced_version BIGINT NOT NULL DEFAULT 0;
