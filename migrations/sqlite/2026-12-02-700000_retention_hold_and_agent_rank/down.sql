DROP INDEX agents_company_enrolled_idx;
ALTER TABLE companies DROP COLUMN plan_change_until;
ALTER TABLE companies DROP COLUMN plan_change_tier;
ALTER TABLE companies DROP COLUMN retention_held_days;
ALTER TABLE companies DROP COLUMN retention_hold_until;
ALTER TABLE companies DROP COLUMN retention_days_in_force;
