ALTER TABLE companies DROP COLUMN billing_version;
ALTER TABLE users DROP COLUMN version;
ALTER TABLE employees DROP COLUMN version;
