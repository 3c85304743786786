-- Companies (tenants), their users, sessions, API keys, the audit log, and the FREE subscription every
-- company starts with. Ids are UUIDv7 text; timestamps are UTC without zone; JSON is text.

CREATE TABLE companies (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    billing_email TEXT,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    company_id    TEXT NOT NULL REFERENCES companies (id),
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MANAGER', 'VIEWER')),
    disabled_at   TIMESTAMP,
    last_login_at TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX users_company_id_idx ON users (company_id);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    company_id TEXT NOT NULL REFERENCES companies (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

CREATE TABLE api_keys (
    id                 TEXT PRIMARY KEY,
    company_id         TEXT NOT NULL REFERENCES companies (id),
    name               TEXT NOT NULL,
    prefix             TEXT NOT NULL,
    key_hash           TEXT NOT NULL UNIQUE,
    scope              TEXT NOT NULL CHECK (scope IN ('read', 'read_write')),
    created_by_user_id TEXT NOT NULL REFERENCES users (id),
    created_at         TIMESTAMP NOT NULL,
    last_used_at       TIMESTAMP,
    revoked_at         TIMESTAMP
);
CREATE INDEX api_keys_company_id_idx ON api_keys (company_id);

-- Recent attempts per subject (an email, a client address), for throttling logins and sign-ups across
-- every instance.
CREATE TABLE throttle_events (
    id          TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX throttle_events_subject_idx ON throttle_events (subject, occurred_at);

CREATE TABLE audit_logs (
    id          TEXT PRIMARY KEY,
    company_id  TEXT REFERENCES companies (id),
    actor_type  TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'agent', 'stripe', 'system', 'anonymous')),
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_type TEXT,
    target_id   TEXT,
    details     TEXT NOT NULL,
    client_ip   TEXT,
    request_id  TEXT,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX audit_logs_company_created_idx ON audit_logs (company_id, created_at);

-- The audit log is append-only, also for someone holding SQL access through the application's role.
CREATE FUNCTION audit_logs_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_refuse_change();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_refuse_change();

CREATE TABLE tiers (
    code                TEXT PRIMARY KEY CHECK (code IN ('FREE', 'PRO', 'ENTERPRISE')),
    name                TEXT NOT NULL,
    max_employees       INTEGER,
    max_agents          INTEGER,
    max_storage_gb      INTEGER,
    retention_days      INTEGER NOT NULL,
    features            TEXT NOT NULL,
    display_order       INTEGER NOT NULL,
    monthly_price_minor BIGINT NOT NULL,
    currency            TEXT NOT NULL
);
INSERT INTO tiers VALUES
    ('FREE', 'Free', 5, 5, 1, 30,
     '{"screenshots":false,"website_tracking":false,"activity_tracking":true,"api_access":true,"priority_support":false}', 1, 0, 'usd'),
    ('PRO', 'Pro', 50, 100, 50, 180,
     '{"screenshots":true,"website_tracking":true,"activity_tracking":true,"api_access":true,"priority_support":false}', 2, 2900, 'usd'),
    ('ENTERPRISE', 'Enterprise', NULL, NULL, 1000, 730,
     '{"screenshots":true,"website_tracking":true,"activity_tracking":true,"api_access":true,"priority_support":true}', 3, 9900, 'usd');

CREATE TABLE subscriptions (
    id         TEXT PRIMARY KEY,
    company_id TEXT NOT NULL UNIQUE REFERENCES companies (id),
    tier_code  TEXT NOT NULL REFERENCES tiers (code),
    status     TEXT NOT NULL CHECK (status IN ('ACTIVE', 'PAST_DUE', 'INACTIVE', 'CANCELLED')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
