-- Job definitions: immutable versions (the content trigger of 0001 refuses UPDATEs of content);
-- only `paused` and the deletion columns change in place.

-- name: lock_definitions_namespace
-- Serialises definition writers of one namespace for the rest of the transaction, so the
-- compare-then-insert of an upsert cannot race. One lock per namespace (key class 1), not per
-- name: a 50,000-item bulk upsert must not exhaust the shared lock table.
SELECT pg_advisory_xact_lock(1, hashtext(%(namespace_id)s::text));

-- name: live_definitions_by_names
SELECT * FROM job_definitions
 WHERE namespace_id = %(namespace_id)s AND name = ANY (%(names)s::text[]) AND NOT deleted;

-- name: last_definition_versions
SELECT name, last_version FROM definition_versions
 WHERE namespace_id = %(namespace_id)s AND name = ANY (%(names)s::text[]);

-- name: insert_definitions
-- New versions, one row per array element (an upsert's whole batch in one statement; the
-- per-row version trigger of 0001 still checks each). Rows come back in no particular order.
INSERT INTO job_definitions (namespace_id, name, version, kind, payload_template, cron_spec,
                             timezone, delay_interval, priority, max_attempts, timeout_seconds,
                             backoff_base_seconds, backoff_max_seconds, catchup, catchup_limit,
                             overlap, description, paused)
SELECT %(namespace_id)s, u.*
  FROM unnest(%(names)s::text[], %(versions)s::integer[], %(kinds)s::text[],
              %(payload_templates)s::jsonb[], %(cron_specs)s::text[], %(timezones)s::text[],
              %(delay_intervals)s::interval[], %(priorities)s::integer[],
              %(max_attempts)s::integer[], %(timeout_seconds)s::float8[],
              %(backoff_base_seconds)s::float8[], %(backoff_max_seconds)s::float8[],
              %(catchups)s::text[], %(catchup_limits)s::integer[], %(overlaps)s::text[],
              %(descriptions)s::text[], %(paused)s::boolean[]) AS u
RETURNING *;

-- name: retire_definition
UPDATE job_definitions SET deleted = true, deleted_at = now()
 WHERE id = %(id)s AND NOT deleted RETURNING id;

-- name: retire_definitions
-- The versions an upsert replaces (one statement for a whole bulk request).
UPDATE job_definitions SET deleted = true, deleted_at = now()
 WHERE id = ANY (%(ids)s::uuid[]) AND NOT deleted;

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
