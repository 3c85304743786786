-- Outgoing webhooks (Standard Webhooks): a company's endpoints, the events they are sent, and every delivery
-- attempt. Events are written in the transaction of the change that caused them, with one outbox row per
-- endpoint that wants them; the events API lists the same rows.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- A JSON array of event types; empty means every type.
    event_types TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    -- Why it was disabled by Vigil (410 Gone, failing for days); NULL when enabled or disabled by a person.
    disabled_reason TEXT,
    -- `whsec_` + base64: deliveries are signed with it, and with the previous one until it expires.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at TIMESTAMP,
    -- The first failed attempt since the last success; NULL while deliveries succeed.
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_company ON webhook_endpoints (company_id, created_at, id);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    -- The envelope as sent: {"id", "type", "created_at", "data"}, byte for byte.
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX events_company_created ON events (company_id, created_at, id);
CREATE INDEX events_company_type_created ON events (company_id, event_type, created_at, id);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    -- The HTTP status, NULL when no answer came (refused, timed out, a disallowed address).
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    succeeded BOOLEAN NOT NULL,
    -- The first KiB of the answer, or why there was none.
    response_body TEXT,
    error TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, attempted_at, id);
CREATE INDEX webhook_attempts_event ON webhook_attempts (endpoint_id, event_id);
CREATE INDEX webhook_attempts_attempted ON webhook_attempts (attempted_at);

-- What a fair claim counts: the rows of each company under a live lease.
CREATE INDEX outbox_messages_leased ON outbox_messages (claimed_until) WHERE done_at IS NULL AND failed_at IS NULL AND claimed_until IS NOT NULL;
