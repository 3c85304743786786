-- The retention a company's data is kept for, and the hold that delays a shorter retention: when the plan's
-- retention drops, data beyond it is kept at `retention_held_days` until `retention_hold_until`.
-- `retention_days_in_force` is the retention last seen in force (NULL: not yet seen; the plan's applies).
ALTER TABLE companies ADD COLUMN retention_days_in_force INTEGER;
ALTER TABLE companies ADD COLUMN retention_hold_until TIMESTAMP;
ALTER TABLE companies ADD COLUMN retention_held_days INTEGER;

-- Companies that exist already: a live subscription (ACTIVE, or PAST_DUE however long) keeps what its plan
-- keeps, so a lapsed payment gets a hold on the first sweep instead of a deletion. A subscription that
-- ended had FREE's retention applied already: no hold, and no deletion notice about data long gone.
UPDATE companies SET retention_days_in_force = (
    SELECT CASE WHEN subscriptions.status IN ('ACTIVE', 'PAST_DUE') THEN tiers.retention_days
                ELSE (SELECT free.retention_days FROM tiers free WHERE free.code = 'FREE') END
    FROM subscriptions JOIN tiers ON tiers.code = subscriptions.tier_code
    WHERE subscriptions.company_id = companies.id
);

-- A plan change through the API in flight at Stripe: until `plan_change_until`, usage may only grow within
-- the limits of both the plan that applies and `plan_change_tier`, so the limit check made before the call
-- to Stripe still holds when its answer is applied.
ALTER TABLE companies ADD COLUMN plan_change_tier TEXT;
ALTER TABLE companies ADD COLUMN plan_change_until TIMESTAMP;

-- While a company is over its plan's agent limit, the agents enrolled first keep recording: the heartbeat
-- ranks its agent among the live ones by enrolment.
CREATE INDEX agents_company_enrolled_idx ON agents (company_id, enrolled_at, id);
