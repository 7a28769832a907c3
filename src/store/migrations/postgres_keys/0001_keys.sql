-- The key store, in its own schema (or database) apart from the register.
CREATE TABLE tenant_keys (
    tenant     TEXT PRIMARY KEY,
    wrapped    BYTEA NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE data_keys (
    key_id  BYTEA PRIMARY KEY,
    tenant  TEXT NOT NULL,
    wrapped BYTEA NOT NULL
);
