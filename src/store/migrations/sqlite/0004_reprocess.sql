-- A file applied again on purpose (`ingest --reprocess`) names the run whose content it
-- repeats; only the first application of a content per tenant is unique, which still keeps two
-- concurrent ordinary runs of one file from both applying it.
ALTER TABLE runs ADD COLUMN reprocess_of TEXT;
DROP INDEX runs_applied_once;
CREATE UNIQUE INDEX runs_applied_once ON runs (tenant, sha256) WHERE status = 'applied' AND reprocess_of IS NULL;
