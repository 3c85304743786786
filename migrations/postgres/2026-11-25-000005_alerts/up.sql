-- Alerts: one row per recipient, so read state is per person. While a condition's alert is unresolved, the
-- partial unique index refuses a second one for the same recipient, also when several instances raise it
-- at the same moment.
CREATE TABLE alerts (
    id                  TEXT PRIMARY KEY,
    company_id          TEXT NOT NULL REFERENCES companies (id),
    recipient_user_id   TEXT NOT NULL REFERENCES users (id),
    alert_type          TEXT NOT NULL CHECK (alert_type IN ('AGENT_OFFLINE', 'PAYMENT_FAILED', 'PAYMENT_RECOVERED',
                            'SUBSCRIPTION_EXPIRING', 'SUBSCRIPTION_CANCELLED', 'USAGE_HIGH', 'POLICY_CHANGED')),
    severity            TEXT NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    title               TEXT NOT NULL,
    message             TEXT NOT NULL,
    related_employee_id TEXT,
    related_data        TEXT NOT NULL,
    dedup_key           TEXT NOT NULL,
    read_at             TIMESTAMP,
    resolved_at         TIMESTAMP,
    created_at          TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX alerts_open_condition_idx ON alerts (recipient_user_id, dedup_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_recipient_created_idx ON alerts (recipient_user_id, created_at);
CREATE INDEX alerts_company_condition_idx ON alerts (company_id, dedup_key);

-- Short-lived, single-use tickets that let a browser's EventSource (which cannot send headers) open the
-- alert stream without putting a long-lived token in a URL.
CREATE TABLE stream_tickets (
    id          TEXT PRIMARY KEY,
    ticket_hash TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users (id),
    company_id  TEXT NOT NULL REFERENCES companies (id),
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);

-- Set by the offline sweep when it alerts about an agent; the heartbeat that finds it set resolves the alert.
ALTER TABLE agents ADD COLUMN offline_alerted BOOLEAN NOT NULL DEFAULT FALSE;
