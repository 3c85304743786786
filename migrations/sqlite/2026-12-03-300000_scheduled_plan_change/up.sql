-- A downgrade scheduled at Stripe for the end of the period (a subscription schedule): the schedule attached
-- to the subscription, and the tier it moves to and when. The mirror keeps them while Stripe's subscription
-- has that schedule, and clears them when it has none (the phase changed, or the schedule was released).
ALTER TABLE subscriptions ADD COLUMN stripe_schedule_id TEXT;
ALTER TABLE subscriptions ADD COLUMN scheduled_tier_code TEXT;
ALTER TABLE subscriptions ADD COLUMN scheduled_change_at TIMESTAMP;
