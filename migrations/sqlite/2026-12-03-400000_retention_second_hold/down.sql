ALTER TABLE companies DROP COLUMN retention_held2_days;
ALTER TABLE companies DROP COLUMN retention_hold2_until;
