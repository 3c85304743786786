-- Every Stripe event received (or fetched by catch-up), with what became of it. The unique event id is
-- what makes a redelivered event apply once, also across instances.
CREATE TABLE stripe_events (
    id             TEXT PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    event_type     TEXT NOT NULL,
    api_version    TEXT,
    stripe_created BIGINT NOT NULL,
    company_id     TEXT REFERENCES companies (id),
    received_at    TIMESTAMP NOT NULL,
    processed_at   TIMESTAMP,
    outcome        TEXT NOT NULL CHECK (outcome IN ('processing', 'processed', 'ignored', 'failed')),
    error          TEXT,
    attempts       INTEGER NOT NULL,
    payload        TEXT NOT NULL
);
CREATE INDEX stripe_events_company_received_idx ON stripe_events (company_id, received_at);
CREATE INDEX stripe_events_outcome_idx ON stripe_events (outcome, received_at);
CREATE INDEX stripe_events_created_idx ON stripe_events (stripe_created);
