-- Prune: move finished rows into the *_history tables in bounded batches (one statement per
-- batch, so each batch is atomic and short). History tables are the live tables' columns plus
-- `pruned_at`, in the same order, so `SELECT x.*` lines up.

-- name: prune_jobs_batch
-- The jobs in one range of the table's blocks (from the tuple id `from_tid` up to `to_tid`, both
-- '(block,0)': a TID range scan, PostgreSQL reads just those blocks) that finished before the
-- cutoff. No index serves this on purpose: one on finished_at was one more index entry written
-- by every completion, for the sake of a prune that runs now and then (docs/architecture.md,
-- "Indexes").
-- A candidate moves when it is standalone, has no edges, or every job of its DAG finished
-- before the cutoff: a live edge is never broken. Only the DAGs of this batch's candidates are
-- checked (asking it of every DAG on every batch made a prune quadratic in the DAG jobs).
-- Its edges and logs move with it. Returns the counts.
WITH candidates AS MATERIALIZED (
    SELECT j.id, j.dag_id FROM jobs j
     WHERE j.ctid >= %(from_tid)s::tid AND j.ctid < %(to_tid)s::tid
       AND j.finished_at < %(cutoff)s
), blocked AS (
    -- LATERAL ... LIMIT 1: one index probe per DAG (jobs_dag). As an EXISTS the planner made it
    -- a semi join over a sequential scan of every job, once per batch.
    SELECT c.dag_id FROM (SELECT DISTINCT dag_id FROM candidates WHERE dag_id IS NOT NULL) c
     CROSS JOIN LATERAL (
        SELECT 1 FROM jobs k
         WHERE k.dag_id = c.dag_id AND (k.finished_at IS NULL OR k.finished_at >= %(cutoff)s)
         LIMIT 1) live
), victims AS (
    SELECT j.id FROM jobs j
     WHERE j.id IN (
            SELECT c.id FROM candidates c
             WHERE c.dag_id IS NULL
                OR c.dag_id NOT IN (SELECT dag_id FROM blocked)
                OR (NOT EXISTS (SELECT 1 FROM job_dependencies e WHERE e.parent_job_id = c.id)
                    AND NOT EXISTS (SELECT 1 FROM job_dependencies e WHERE e.child_job_id = c.id)))
       AND j.finished_at < %(cutoff)s  -- re-checked on the locked row (a re-run un-finishes it)
       FOR UPDATE SKIP LOCKED
), gone_edges AS (
    -- `= ANY (ARRAY(...))`: two index scans (parent: the primary key; child) OR-ed in a bitmap;
    -- with `IN (SELECT ...)` the planner scanned every edge on every batch.
    DELETE FROM job_dependencies e
     WHERE e.parent_job_id = ANY (ARRAY(SELECT id FROM victims))
        OR e.child_job_id = ANY (ARRAY(SELECT id FROM victims))
    RETURNING e.*
), kept_edges AS (
    INSERT INTO job_dependencies_history SELECT g.* FROM gone_edges g RETURNING 1
), gone_logs AS (
    DELETE FROM job_logs l WHERE l.job_id IN (SELECT id FROM victims) RETURNING l.*
), kept_logs AS (
    INSERT INTO job_logs_history SELECT g.* FROM gone_logs g RETURNING 1
), gone_jobs AS (
    DELETE FROM jobs j WHERE j.id IN (SELECT id FROM victims) RETURNING j.*
), kept_jobs AS (
    INSERT INTO jobs_history SELECT g.* FROM gone_jobs g RETURNING 1
)
SELECT (SELECT count(*) FROM kept_jobs) AS jobs,
       (SELECT count(*) FROM kept_edges) AS job_dependencies,
       (SELECT count(*) FROM kept_logs) AS job_logs;

-- name: prune_jobs_extent
-- How many blocks the jobs table has now (a prune visits these; rows written later wait for the
-- next prune), and how many rows a block holds on average (NULL before the first ANALYZE).
SELECT pg_relation_size('jobs') / current_setting('block_size')::bigint AS blocks,
       CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages END
           AS rows_per_block
  FROM pg_class c
 WHERE c.oid = 'jobs'::regclass;

-- name: prune_definitions_batch
-- Deleted definitions that no job (live table) references any more.
WITH victims AS (
    SELECT d.id FROM job_definitions d
     WHERE d.deleted AND d.deleted_at < %(cutoff)s
       AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.def_id = d.id)
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM job_definitions d WHERE d.id IN (SELECT id FROM victims) RETURNING d.*
), kept AS (
    INSERT INTO job_definitions_history SELECT g.* FROM gone g RETURNING 1
)
SELECT count(*) AS moved FROM kept;

-- name: prune_dags_batch
-- Deleted DAGs that no job or edge references any more.
WITH victims AS (
    SELECT d.id FROM dags d
     WHERE d.deleted AND d.deleted_at < %(cutoff)s
       AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.dag_id = d.id)
       AND NOT EXISTS (SELECT 1 FROM job_dependencies e WHERE e.dag_id = d.id)
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM dags d WHERE d.id IN (SELECT id FROM victims) RETURNING d.*
), kept AS (
    INSERT INTO dags_history SELECT g.* FROM gone g RETURNING 1
)
SELECT count(*) AS moved FROM kept;

-- name: prune_scheduler_events_batch
-- Scheduler traces have no history table: old ones are dropped.
WITH victims AS (
    SELECT id FROM scheduler_events WHERE created_at < %(cutoff)s LIMIT %(batch)s
), gone AS (
    DELETE FROM scheduler_events s WHERE s.id IN (SELECT id FROM victims) RETURNING 1
)
SELECT count(*) AS moved FROM gone;

-- name: prune_cutoff
SELECT now() - %(older_than)s::interval AS cutoff;
