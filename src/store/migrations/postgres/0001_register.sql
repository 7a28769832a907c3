-- The register, its history and the runs. Personal values live only in `sealed`
-- (encrypted per person); `employee_id` is the register's key, kept in clear.
CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    report      TEXT NOT NULL
);
CREATE INDEX runs_tenant_started ON runs (tenant, started_at);
CREATE UNIQUE INDEX runs_applied_once ON runs (tenant, sha256) WHERE status = 'applied';

CREATE TABLE employees (
    tenant      TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    key_id      BYTEA NOT NULL,
    fingerprint BYTEA NOT NULL,
    ended       BOOLEAN NOT NULL,
    sealed      BYTEA NOT NULL,
    -- The run that added the person; later changes are in `history`.
    created_run TEXT NOT NULL,
    PRIMARY KEY (tenant, employee_id)
);

-- Field names of sealed payloads, stored once per layout instead of in every sealed row.
CREATE TABLE layouts (
    id    BYTEA PRIMARY KEY,
    names TEXT NOT NULL
);

CREATE TABLE history (
    seq         BIGSERIAL PRIMARY KEY,
    tenant      TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    fields      TEXT NOT NULL
);
CREATE INDEX history_person ON history (tenant, employee_id);

CREATE TABLE deletions (
    tenant      TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    due_on      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    PRIMARY KEY (tenant, employee_id)
);

CREATE TABLE quarantine (
    run_id      TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    row_number  BIGINT NOT NULL,
    line        BIGINT NOT NULL,
    employee_id TEXT,
    errors      TEXT NOT NULL,
    key_id      BYTEA NOT NULL,
    sealed      BYTEA NOT NULL,
    PRIMARY KEY (run_id, row_number)
);
