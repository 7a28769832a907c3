-- Cells prints of people found unchanged in cells written another way than those their row was
-- stored from (a re-rendered export), packed in pages of up to 16,384 entries per tenant and
-- rewritten whole at the end of a run (`store::prints`): a re-rendering costs a few megabytes,
-- not a new row version of every person. A page is named by its last key, in byte order.
CREATE TABLE cells_overlay (
    tenant   TEXT NOT NULL,
    last_key TEXT COLLATE "C" NOT NULL,
    prints   BYTEA NOT NULL,
    PRIMARY KEY (tenant, last_key)
);
-- Prints are keyed hashes, which do not compress: stored out of line without trying to.
ALTER TABLE cells_overlay ALTER COLUMN prints SET STORAGE EXTERNAL;
