-- Employees, the desktop agents on their machines, enrollment tokens, and each company's agent policy.

CREATE TABLE employees (
    id         TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    email      TEXT NOT NULL,
    name       TEXT NOT NULL,
    department TEXT,
    job_title  TEXT,
    status     TEXT NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (company_id, email)
);
CREATE INDEX employees_company_status_idx ON employees (company_id, status);

CREATE TABLE enrollment_tokens (
    id                 TEXT PRIMARY KEY,
    company_id         TEXT NOT NULL REFERENCES companies (id),
    token_hash         TEXT NOT NULL UNIQUE,
    prefix             TEXT NOT NULL,
    max_uses           INTEGER NOT NULL,
    uses               INTEGER NOT NULL,
    expires_at         TIMESTAMP NOT NULL,
    created_by_user_id TEXT REFERENCES users (id),
    created_at         TIMESTAMP NOT NULL,
    revoked_at         TIMESTAMP
);
CREATE INDEX enrollment_tokens_company_idx ON enrollment_tokens (company_id);

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    company_id    TEXT NOT NULL REFERENCES companies (id),
    employee_id   TEXT REFERENCES employees (id) ON DELETE SET NULL,
    hostname      TEXT NOT NULL,
    os            TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    enrolled_at   TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    revoked_at    TIMESTAMP
);
CREATE INDEX agents_company_last_seen_idx ON agents (company_id, last_seen_at);
CREATE INDEX agents_employee_idx ON agents (employee_id);

CREATE TABLE policies (
    company_id TEXT PRIMARY KEY REFERENCES companies (id),
    version    BIGINT NOT NULL,
    settings   TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Companies that exist already get the default policy (new ones get it at sign-up).
INSERT INTO policies (company_id, version, settings, updated_at)
SELECT id, 1, '{"screenshots_enabled":false,"screenshot_interval_secs":300,"website_tracking_enabled":false,"activity_tracking_enabled":true,"idle_threshold_secs":300,"offline_threshold_secs":600,"heartbeat_interval_secs":60}', CURRENT_TIMESTAMP AT TIME ZONE 'UTC' FROM companies;
