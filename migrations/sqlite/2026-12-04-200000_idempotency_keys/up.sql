-- The first answer to each Idempotency-Key, kept for 24 hours. `scope` is whose key it is (`company:<id>`,
-- or `agent:<hash of its secret>`); a row without `status_code` is a request still running, claimed until
-- `locked_until`.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of the method, path, query and body: the same key with another request is refused.
    fingerprint TEXT NOT NULL,
    status_code INTEGER,
    content_type TEXT,
    response_body TEXT,
    locked_until TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
