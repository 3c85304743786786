ALTER TABLE subscriptions DROP COLUMN scheduled_change_at;
ALTER TABLE subscriptions DROP COLUMN scheduled_tier_code;
ALTER TABLE subscriptions DROP COLUMN stripe_schedule_id;
