-- `hrfeed runs people` lists a run's people by their history rows.
CREATE INDEX history_run ON history (run_id);
