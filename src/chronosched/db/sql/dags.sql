-- DAGs: versioned by name within a namespace, soft-deleted; `status` is derived from the jobs.

-- name: lock_dag_name
-- Serialises creators of one (namespace, name) so version numbers cannot race (class 2).
SELECT pg_advisory_xact_lock(2, hashtext(%(namespace_id)s::text || '/' || %(name)s));

-- name: retire_live_dag_by_name
-- The live DAG of that name becomes an old version; its jobs keep running.
UPDATE dags SET deleted = true, deleted_at = now()
 WHERE namespace_id = %(namespace_id)s AND name = %(name)s AND NOT deleted
RETURNING id, version;

-- name: next_dag_version
-- Versions never repeat, even after old ones were pruned into dags_history.
SELECT greatest(
    (SELECT max(version) FROM dags WHERE namespace_id = %(namespace_id)s AND name = %(name)s),
    (SELECT max(version) FROM dags_history
      WHERE namespace_id = %(namespace_id)s AND name = %(name)s),
    0) + 1 AS version;

-- name: insert_dag
INSERT INTO dags (namespace_id, name, version, description)
VALUES (%(namespace_id)s, %(name)s, %(version)s, %(description)s)
RETURNING id;

-- name: get_dag
SELECT * FROM dag_summaries WHERE id = %(id)s;

-- name: list_dags
-- Newest first; the status filter applies to the derived status.
SELECT * FROM dag_summaries
 WHERE namespace_id = %(namespace_id)s
   AND (%(include_deleted)s OR NOT deleted)
   AND (%(name)s::text IS NULL OR name = %(name)s)
   AND (%(after_created)s::timestamptz IS NULL
        OR (created_at, id) < (%(after_created)s, %(after_id)s::uuid))
   AND (%(status)s::text IS NULL OR status = %(status)s)
 ORDER BY created_at DESC, id DESC LIMIT %(limit)s;

-- name: delete_dag
UPDATE dags SET deleted = true, deleted_at = now() WHERE id = %(id)s AND NOT deleted
RETURNING id;

-- name: dag_job_names
SELECT name FROM jobs WHERE dag_id = %(dag_id)s;
