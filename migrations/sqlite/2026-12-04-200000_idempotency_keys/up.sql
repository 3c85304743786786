-- The first answer to each Idempotency-Key, kept for 24 hours. `scope` is whose key it is (a user with
-- their role, an API key with its scope, or an agent, in one company); a row without `status_code` is a
-- request still running, claimed by `claim_token` until `locked_until`.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of the method, path, query, preconditions and body: the same key with another request is refused.
    fingerprint TEXT NOT NULL,
    claim_token TEXT NOT NULL,
    status_code INTEGER,
    -- The answer (status, some headers, body), sealed with a key derived from the server secret: it may hold
    -- a credential shown once.
    response TEXT,
    locked_until TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
