-- The transactional outbox: work to do outside the database (outgoing webhooks, notifications, calls to
-- Stripe), written in the transaction of the change that causes it, so that a rolled-back change leaves
-- nothing to send. Each row is claimed by one instance at a time (`claimed_by` until `claimed_until`, a
-- lease that lapses if the instance dies), done or given up once. `(company_id, topic, dedup_key)` makes
-- enqueueing the same work twice a no-op.
CREATE TABLE outbox_messages (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    available_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    done_at TIMESTAMP,
    failed_at TIMESTAMP,
    last_error TEXT
);
CREATE UNIQUE INDEX outbox_messages_once ON outbox_messages (company_id, topic, dedup_key);
-- What a claim reads: the pending rows of a topic, in order. And what the clean-up deletes.
CREATE INDEX outbox_messages_due ON outbox_messages (topic, available_at, id) WHERE done_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_messages_done ON outbox_messages (done_at) WHERE done_at IS NOT NULL;
CREATE INDEX outbox_messages_failed ON outbox_messages (failed_at) WHERE failed_at IS NOT NULL;
