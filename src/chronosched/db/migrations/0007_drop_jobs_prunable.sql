-- Prune reads the jobs table by ranges of blocks (TID range scans) instead of through an index
-- on finished_at: that index took one more entry on every completion (a non-HOT update writes
-- every index whose predicate the new row meets), ~12% of PostgreSQL's CPU per job in a no-op
-- drain, for an admin operation that runs now and then. See docs/architecture.md, "Indexes".
DROP INDEX IF EXISTS jobs_prunable;
