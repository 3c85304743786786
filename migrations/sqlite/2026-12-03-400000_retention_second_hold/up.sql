-- A retention hold in two steps. After a second drop within a hold (ENTERPRISE to PRO, then PRO cancelled),
-- the data only the first plan kept keeps its own deadline (`retention_hold_until`, `retention_held_days`),
-- and the data the second plan kept gets a hold of its own (`retention_hold2_until`, `retention_held2_days`).
-- Extending the first deadline instead would let a company that keeps changing plans keep the longest
-- retention for good.
ALTER TABLE companies ADD COLUMN retention_hold2_until TIMESTAMP;
ALTER TABLE companies ADD COLUMN retention_held2_days INTEGER;
