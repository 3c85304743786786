-- A cancellation date set in the Dashboard or the portal (Stripe's `cancel_at`), and when Stripe created the
-- mirrored subscription (its `created`), which decides which of two live subscriptions is kept.
ALTER TABLE subscriptions ADD COLUMN cancel_at TIMESTAMP;
ALTER TABLE subscriptions ADD COLUMN stripe_subscription_created BIGINT;

-- The Checkout sessions Vigil opened, so that a second one for the company expires (or reuses) the first.
CREATE TABLE checkout_sessions (
    id                TEXT PRIMARY KEY,
    company_id        TEXT NOT NULL REFERENCES companies (id),
    stripe_session_id TEXT NOT NULL UNIQUE,
    tier_code         TEXT NOT NULL,
    url               TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('OPEN', 'COMPLETE', 'EXPIRED')),
    expires_at        TIMESTAMP NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX checkout_sessions_company_status_idx ON checkout_sessions (company_id, status);
