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
-- A file's content is applied at most once per tenant.
CREATE UNIQUE INDEX runs_applied_once ON runs (tenant, sha256) WHERE status = 'applied';

CREATE TABLE employees (
    tenant      TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    key_id      BLOB NOT NULL,
    fingerprint BLOB NOT NULL,
    ended       INTEGER NOT NULL,
    sealed      BLOB NOT NULL,
    -- The run that added the person; later changes are in `history`.
    created_run TEXT NOT NULL,
    PRIMARY KEY (tenant, employee_id)
) WITHOUT ROWID;

-- The register's index (key, ended, fingerprint) apart from the sealed values: loading the
-- register for a diff reads this narrow index, not every person's sealed record.
CREATE INDEX employees_register ON employees (tenant, employee_id, ended, fingerprint);

-- Field names of sealed payloads, stored once per layout instead of in every sealed row.
CREATE TABLE layouts (
    id    BLOB PRIMARY KEY,
    names TEXT NOT NULL
) WITHOUT ROWID;

-- Field-level change history: which fields changed in which run, never the values.
CREATE TABLE history (
    tenant      TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    fields      TEXT NOT NULL
);
CREATE INDEX history_person ON history (tenant, employee_id);

-- Storage limitation: one pending deletion per ended person.
CREATE TABLE deletions (
    tenant      TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    due_on      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    PRIMARY KEY (tenant, employee_id)
) WITHOUT ROWID;

-- Rejected rows for stewards: mapped fields only, sealed under the run's quarantine key.
CREATE TABLE quarantine (
    run_id      TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    row_number  INTEGER NOT NULL,
    line        INTEGER NOT NULL,
    employee_id TEXT,
    errors      TEXT NOT NULL,
    key_id      BLOB NOT NULL,
    sealed      BLOB NOT NULL,
    PRIMARY KEY (run_id, row_number)
);
