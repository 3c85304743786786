-- The alert types of the trust work (revoked keys, a cancelled duplicate subscription, over plan limit,
-- scheduled deletion, a payment the customer must complete, a disabled webhook endpoint), in one migration
-- so that no later one has to rebuild the table again.
-- SQLite cannot alter a CHECK constraint: the table is rebuilt with the same columns and indexes.
CREATE TABLE alerts_new (
    id                  TEXT PRIMARY KEY,
    company_id          TEXT NOT NULL REFERENCES companies (id),
    recipient_user_id   TEXT NOT NULL REFERENCES users (id),
    alert_type          TEXT NOT NULL CHECK (alert_type IN ('AGENT_OFFLINE', 'PAYMENT_FAILED', 'PAYMENT_RECOVERED',
                            'SUBSCRIPTION_EXPIRING', 'SUBSCRIPTION_CANCELLED', 'USAGE_HIGH', 'POLICY_CHANGED',
                            'API_KEYS_REVOKED', 'DUPLICATE_SUBSCRIPTION_CANCELLED', 'OVER_PLAN_LIMIT',
                            'DATA_DELETION_SCHEDULED', 'PAYMENT_ACTION_REQUIRED', 'WEBHOOK_ENDPOINT_DISABLED')),
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
INSERT INTO alerts_new SELECT id, company_id, recipient_user_id, alert_type, severity, title, message,
    related_employee_id, related_data, dedup_key, read_at, resolved_at, created_at FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
CREATE UNIQUE INDEX alerts_open_condition_idx ON alerts (recipient_user_id, dedup_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_recipient_created_idx ON alerts (recipient_user_id, created_at);
CREATE INDEX alerts_company_condition_idx ON alerts (company_id, dedup_key);
CREATE INDEX alerts_unread_idx ON alerts (company_id, recipient_user_id, created_at, id) WHERE read_at IS NULL;
