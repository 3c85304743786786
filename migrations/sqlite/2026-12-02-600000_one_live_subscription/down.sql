DROP TABLE checkout_sessions;
ALTER TABLE subscriptions DROP COLUMN stripe_subscription_created;
ALTER TABLE subscriptions DROP COLUMN cancel_at;
