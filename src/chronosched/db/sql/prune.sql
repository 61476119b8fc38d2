-- Prune: move finished rows into the *_history tables in bounded batches (one statement per
-- batch, so each batch is atomic and short). History tables are the live tables' columns plus
-- `pruned_at`, in the same order, so `SELECT x.*` lines up.

-- name: prune_jobs_batch
-- A job moves when it finished before the cutoff and either has no edges or every job of its
-- DAG is movable too: a live edge is never broken. Its edges and logs move with it.
WITH blocked AS (
    SELECT DISTINCT dag_id FROM jobs
     WHERE dag_id IS NOT NULL AND (finished_at IS NULL OR finished_at >= %(cutoff)s)
), victims AS (
    SELECT j.id FROM jobs j
     WHERE j.finished_at < %(cutoff)s
       AND (j.dag_id IS NULL
            OR j.dag_id NOT IN (SELECT dag_id FROM blocked)
            OR (NOT EXISTS (SELECT 1 FROM job_dependencies e WHERE e.parent_job_id = j.id)
                AND NOT EXISTS (SELECT 1 FROM job_dependencies e WHERE e.child_job_id = j.id)))
     ORDER BY j.finished_at
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED
), gone_edges AS (
    DELETE FROM job_dependencies e
     WHERE e.parent_job_id IN (SELECT id FROM victims)
        OR e.child_job_id IN (SELECT id FROM victims)
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
