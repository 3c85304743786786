-- A version per row that every write increments, for the ETag / If-Match of the resources a client edits
-- (employees, users, the company's billing settings). `updated_at` is not enough: two writes can land in the
-- same microsecond, and the clock can step back.
ALTER TABLE employees ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE companies ADD COLUMN billing_version BIGINT NOT NULL DEFAULT 1;
