-- The key store, a database apart from the register: destroying a person's data key here
-- makes their sealed values unreadable in every copy of the register.
CREATE TABLE tenant_keys (
    tenant     TEXT PRIMARY KEY,
    wrapped    BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- Key ids start with the time they were made, so a run's keys append to the end of the table.
CREATE TABLE data_keys (
    key_id  BLOB PRIMARY KEY,
    tenant  TEXT NOT NULL,
    wrapped BLOB NOT NULL
) WITHOUT ROWID;
