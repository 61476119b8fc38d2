-- Job definitions: immutable versions (the content trigger of 0001 refuses UPDATEs of content);
-- only `paused` and the deletion columns change in place.

-- name: lock_definitions_namespace
-- Serialises definition writers of one namespace for the rest of the transaction, so the
-- compare-then-insert of an upsert cannot race. One lock per namespace (key class 1), not per
-- name: a 50,000-item bulk upsert must not exhaust the shared lock table.
SELECT pg_advisory_xact_lock(1, hashtext(%(namespace_id)s::text));

-- name: live_definition_by_name
SELECT * FROM job_definitions
 WHERE namespace_id = %(namespace_id)s AND name = %(name)s AND NOT deleted;

-- name: last_definition_version
SELECT last_version FROM definition_versions
 WHERE namespace_id = %(namespace_id)s AND name = %(name)s;

-- name: insert_definition
INSERT INTO job_definitions (namespace_id, name, version, kind, payload_template, cron_spec,
                             timezone, delay_interval, priority, max_attempts, timeout_seconds,
                             backoff_base_seconds, backoff_max_seconds, catchup, catchup_limit,
                             overlap, description, paused)
VALUES (%(namespace_id)s, %(name)s, %(version)s, %(kind)s, %(payload_template)s, %(cron_spec)s,
        %(timezone)s, %(delay_interval)s, %(priority)s, %(max_attempts)s, %(timeout_seconds)s,
        %(backoff_base_seconds)s, %(backoff_max_seconds)s, %(catchup)s, %(catchup_limit)s,
        %(overlap)s, %(description)s, %(paused)s)
RETURNING *;

-- name: retire_definition
UPDATE job_definitions SET deleted = true, deleted_at = now()
 WHERE id = %(id)s AND NOT deleted RETURNING id;

-- name: get_definition
SELECT * FROM job_definitions WHERE id = %(id)s;

-- name: list_definitions
SELECT * FROM job_definitions
 WHERE namespace_id = %(namespace_id)s
   AND (%(name)s::text IS NULL OR name = %(name)s)
   AND (%(include_deleted)s OR NOT deleted)
   AND (%(cron)s::boolean IS NULL OR (cron_spec IS NOT NULL) = %(cron)s)
   AND (name, version) > (%(after_name)s, %(after_version)s)
 ORDER BY name, version LIMIT %(limit)s;

-- name: set_definition_paused
UPDATE job_definitions SET paused = %(paused)s WHERE id = %(id)s AND NOT deleted RETURNING *;

-- name: live_definitions_in_namespace
-- Which of these ids are live definitions of the namespace (jobs may only be made from those).
SELECT id, name FROM job_definitions
 WHERE id = ANY (%(ids)s::uuid[]) AND namespace_id = %(namespace_id)s AND NOT deleted;

-- name: notify_reload
SELECT pg_notify('chronosched_definitions', 'reload');
