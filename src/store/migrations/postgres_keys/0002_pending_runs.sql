-- A run that may write data keys: its keys (`key_prefix` + a 4-byte counter) commit here before
-- the register commits. A row left behind by a crash between the two names keys that no
-- committed run refers to; the tenant's next apply removes them (`store::orphans`).
CREATE TABLE pending_runs (
    run_id     TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    key_prefix BYTEA NOT NULL
);
