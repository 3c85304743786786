-- What agents upload. Each row carries the id its agent generated, unique per agent, so a batch resent after
-- a timeout is stored once. `size_bytes` is what the row counts against the tier's storage limit.
CREATE TABLE activity_records (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (id),
    agent_id     TEXT NOT NULL REFERENCES agents (id),
    employee_id  TEXT REFERENCES employees (id) ON DELETE SET NULL,
    client_id    TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('ACTIVE', 'IDLE')),
    application  TEXT NOT NULL,
    window_title TEXT,
    url          TEXT,
    started_at   TIMESTAMP NOT NULL,
    ended_at     TIMESTAMP NOT NULL CHECK (ended_at >= started_at),
    size_bytes   BIGINT NOT NULL,
    received_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX activity_records_agent_client_idx ON activity_records (agent_id, client_id);
CREATE INDEX activity_records_employee_day_idx ON activity_records (company_id, employee_id, started_at);
CREATE INDEX activity_records_retention_idx ON activity_records (company_id, started_at);

-- Screenshot metadata; the image itself is in the object store under `object_key`.
CREATE TABLE screenshots (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (id),
    agent_id     TEXT NOT NULL REFERENCES agents (id),
    employee_id  TEXT REFERENCES employees (id) ON DELETE SET NULL,
    client_id    TEXT NOT NULL,
    taken_at     TIMESTAMP NOT NULL,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
    size_bytes   BIGINT NOT NULL,
    object_key   TEXT NOT NULL UNIQUE,
    received_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX screenshots_agent_client_idx ON screenshots (agent_id, client_id);
CREATE INDEX screenshots_employee_taken_idx ON screenshots (company_id, employee_id, taken_at);
CREATE INDEX screenshots_retention_idx ON screenshots (company_id, taken_at);

-- Blobs whose rows are gone: deleted from the object store after the rows' transaction commits, so a crash in
-- between leaves a blob to retry, never a row pointing at nothing.
CREATE TABLE blob_deletions (
    object_key TEXT PRIMARY KEY,
    queued_at  TIMESTAMP NOT NULL
);

-- Bytes the company stores (activity and screenshots), kept current in the transactions that add or remove
-- data, so the limit check and the dashboard read one row.
ALTER TABLE companies ADD COLUMN storage_bytes BIGINT NOT NULL DEFAULT 0;
