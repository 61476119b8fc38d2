-- Creating jobs and the API's state transitions (complete, fail, retry, cancel).
-- Readiness of children is handled by the chronosched_job_transition trigger.

-- name: allocate_job_ids
-- The sequence is looked up once (a scalar subquery): as a plain argument of nextval() it was
-- looked up again for every id, 5 ms instead of 1 ms for 1,000 ids.
SELECT nextval((SELECT pg_get_serial_sequence('jobs', 'id')::regclass)) AS id
  FROM generate_series(1, %(n)s);

-- name: insert_jobs
-- `payload` is merged over the definition's template. A job without parents is ready at once,
-- so its delay counts from creation; edges added later make it wait for its parents.
-- `parent_counts`/`child_counts` are set only when a whole new graph is inserted at once
-- (dependencies_repo.insert_graph): its jobs are born waiting with their final counts, so no
-- row is updated again in the same transaction (which would re-run every foreign-key check).
INSERT INTO jobs (id, namespace_id, dag_id, def_id, def_version, name, kind, priority, due_at,
                  delay_interval, payload, max_attempts, timeout_seconds, scheduled_for,
                  status, parent_count, unmet_count, child_count)
OVERRIDING SYSTEM VALUE
SELECT u.id, d.namespace_id, %(dag_id)s::uuid, d.id, d.version, coalesce(u.name, d.name), d.kind,
       coalesce(u.priority, d.priority),
       greatest(coalesce(u.due_at, now()), now() + d.delay_interval),
       d.delay_interval,
       d.payload_template || coalesce(u.payload, '{}'::jsonb),
       coalesce(u.max_attempts, d.max_attempts),
       d.timeout_seconds,
       u.scheduled_for,
       CASE WHEN coalesce(u.parents, 0) > 0 THEN 'waiting' ELSE 'queued' END,
       coalesce(u.parents, 0), coalesce(u.parents, 0), coalesce(u.children, 0)
  FROM unnest(%(ids)b::bigint[], %(def_ids)b::uuid[], %(names)b::text[], %(payloads)b::jsonb[],
              %(priorities)b::integer[], %(due_ats)b::timestamptz[], %(max_attempts)b::integer[],
              %(scheduled_fors)b::timestamptz[], %(parent_counts)b::integer[],
              %(child_counts)b::integer[])
       AS u(id, def_id, name, payload, priority, due_at, max_attempts, scheduled_for, parents,
            children)
  JOIN job_definitions d ON d.id = u.def_id
ON CONFLICT (def_id, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING
RETURNING id;

-- name: get_job
SELECT j.*, d.name AS def_name,
       (SELECT coalesce(array_agg(e.parent_job_id ORDER BY e.parent_job_id), '{}')
          FROM job_dependencies e
         WHERE e.child_job_id = j.id AND NOT e.met) AS unmet_parents
  FROM jobs j JOIN job_definitions d ON d.id = j.def_id
 WHERE j.id = %(id)s;

-- name: job_status
SELECT status, result, last_error, version, deleted FROM jobs WHERE id = %(id)s;

-- name: edit_job
-- DESIGN §2: priority, dueAt and payload may change while a job is waiting or queued, and each
-- change bumps `version`. The payload is merged over the definition's template, as at creation.
-- The status check in the WHERE clause makes an edit and a claim exclusive (whichever locks the
-- row first wins); `expected_version` makes the edit conditional on nobody else's in between.
-- An edit that changes nothing matches no row here (the caller tells why).
UPDATE jobs j
   SET priority = coalesce(%(priority)s, j.priority),
       due_at = coalesce(%(due_at)s, j.due_at),
       payload = coalesce(d.payload_template || %(payload)s::jsonb, j.payload),
       version = j.version + 1
  FROM job_definitions d
 WHERE j.id = %(id)s AND d.id = j.def_id
   AND j.status IN ('waiting', 'queued') AND NOT j.deleted
   AND (%(expected_version)s::integer IS NULL OR j.version = %(expected_version)s::integer)
   AND (j.priority, j.due_at, j.payload)
       IS DISTINCT FROM (coalesce(%(priority)s, j.priority), coalesce(%(due_at)s, j.due_at),
                         coalesce(d.payload_template || %(payload)s::jsonb, j.payload))
RETURNING j.status, j.due_at;

-- name: notify_ready
-- Wake idle workers for a job whose due time or priority changed (see 0002_readiness).
SELECT chronosched_notify_ready_v1(%(due_at)s);

-- name: complete_job
-- External or manual completion: allowed while queued or running (a running job's worker loses
-- its lease and drops its own result).
UPDATE jobs
   SET status = 'succeeded', result = %(result)s, finished_at = now(),
       started_at = coalesce(started_at, now()), lease_owner = NULL, lease_until = NULL,
       last_error = NULL
 WHERE id = %(id)s AND status IN ('queued', 'running')
RETURNING id;

-- name: fail_job
-- Manual failure is final: no automatic retry.
UPDATE jobs
   SET status = 'failed', last_error = %(error)s, result = coalesce(%(result)s, result),
       finished_at = now(), started_at = coalesce(started_at, now()),
       lease_owner = NULL, lease_until = NULL
 WHERE id = %(id)s AND status IN ('queued', 'running')
RETURNING id;

-- name: failed_data_parent
-- A job whose data parent did not succeed cannot be retried on its own.
SELECT p.id, p.status FROM job_dependencies e JOIN jobs p ON p.id = e.parent_job_id
 WHERE e.child_job_id = %(id)s AND e.dependency_type = 'data'
   AND p.status IN ('failed', 'cancelled', 'upstream_failed')
 ORDER BY p.id LIMIT 1;

-- name: retry_job
-- A manual retry grants a fresh set of attempts (attempt numbers keep counting, so logs of
-- earlier attempts stay distinct); the data descendants it had blocked go back to waiting.
WITH upd AS (
    UPDATE jobs j
       SET status = CASE WHEN j.unmet_count > 0 THEN 'waiting' ELSE 'queued' END,
           max_attempts = j.attempt + d.max_attempts,
           due_at = now(), enqueued_at = now(), finished_at = NULL, result = NULL,
           last_error = NULL, upstream_failed_from = NULL, deleted = false
      FROM job_definitions d
     WHERE j.id = %(id)s AND d.id = j.def_id AND j.status IN ('failed', 'cancelled')
    RETURNING j.id, j.status
), woke AS (
    SELECT chronosched_notify_ready_v1(NULL) FROM upd WHERE status = 'queued'
)
SELECT upd.id FROM upd LEFT JOIN woke ON true;

-- name: cancel_job
UPDATE jobs
   SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_until = NULL,
       last_error = coalesce(%(reason)s, 'cancelled'),
       deleted = deleted OR %(delete)s
 WHERE id = %(id)s AND status IN ('waiting', 'queued', 'running')
RETURNING id;

-- name: mark_job_deleted
UPDATE jobs SET deleted = true WHERE id = %(id)s RETURNING id;

-- name: cancel_dag_jobs
-- Deleting a DAG cancels what has not finished; running jobs lose their lease (their worker's
-- next heartbeat fails and it kills the process group).
UPDATE jobs
   SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_until = NULL,
       last_error = 'DAG deleted', deleted = true
 WHERE dag_id = %(dag_id)s AND status IN ('waiting', 'queued', 'running')
RETURNING id;

-- name: job_logs
SELECT attempt, worker_id, stdout, stderr, error, exit_code, created_at
  FROM job_logs WHERE job_id = %(id)s ORDER BY attempt;

-- name: list_jobs
-- Across DAGs, newest first (keyset on id); every filter is optional. Unmet parents are looked
-- up for waiting jobs only.
SELECT j.*, d.name AS def_name,
       CASE WHEN j.status = 'waiting' THEN
           (SELECT coalesce(array_agg(e.parent_job_id ORDER BY e.parent_job_id), '{}')
              FROM job_dependencies e WHERE e.child_job_id = j.id AND NOT e.met)
       ELSE '{}' END AS unmet_parents
  FROM jobs j JOIN job_definitions d ON d.id = j.def_id
 WHERE (%(namespace_id)s::uuid IS NULL OR j.namespace_id = %(namespace_id)s::uuid)
   AND (%(dag_id)s::uuid IS NULL OR j.dag_id = %(dag_id)s::uuid)
   AND (%(def_id)s::uuid IS NULL OR j.def_id = %(def_id)s::uuid)
   AND (%(status)s::text IS NULL OR j.status = %(status)s::text)
   AND (%(before_id)s::bigint IS NULL OR j.id < %(before_id)s::bigint)
 ORDER BY j.id DESC
 LIMIT %(limit)s;

-- name: list_dag_jobs
-- The jobs of one DAG in creation order (keyset on id).
SELECT j.*, d.name AS def_name,
       CASE WHEN j.status = 'waiting' THEN
           (SELECT coalesce(array_agg(e.parent_job_id ORDER BY e.parent_job_id), '{}')
              FROM job_dependencies e WHERE e.child_job_id = j.id AND NOT e.met)
       ELSE '{}' END AS unmet_parents
  FROM jobs j JOIN job_definitions d ON d.id = j.def_id
 WHERE j.dag_id = %(dag_id)s::uuid AND j.id > %(after_id)s::bigint
   AND (%(status)s::text IS NULL OR j.status = %(status)s::text)
 ORDER BY j.id
 LIMIT %(limit)s;

-- name: get_jobs
-- Several jobs by id, in id order (the response of a bulk insert).
SELECT j.*, d.name AS def_name, '{}'::bigint[] AS unmet_parents
  FROM jobs j JOIN job_definitions d ON d.id = j.def_id
 WHERE j.id = ANY (%(ids)s::bigint[])
 ORDER BY j.id;
