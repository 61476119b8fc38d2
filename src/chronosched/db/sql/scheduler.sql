-- The cron scheduler: load live schedules with their positions, advance positions with a
-- compare-and-set, and leave visible traces of skipped and caught-up ticks.
-- Positions live in cron_state (migration 0005), keyed by definition name.

-- name: scheduler_cron_definitions
-- One row per live, unpaused cron definition (or one row of NULLs but `db_now` when there is
-- none): the database clock, the schedule, its position, and whether the job of its newest
-- fired tick is still queued or running (found through the unique index jobs_cron_tick).
WITH clock AS (SELECT now() AS db_now)
SELECT clock.db_now, d.id::text AS def_id, d.namespace_id::text AS namespace_id, d.name,
       d.cron_spec, d.timezone, d.catchup, d.catchup_limit, d.overlap, d.created_at,
       s.last_tick, j.id AS previous_job_id,
       coalesce(j.status IN ('queued', 'running'), false) AS previous_active
  FROM clock
  LEFT JOIN (job_definitions d
             LEFT JOIN cron_state s ON s.namespace_id = d.namespace_id AND s.name = d.name
             LEFT JOIN jobs j ON j.def_id = s.last_fired_def_id AND j.scheduled_for = s.last_fired)
         ON d.cron_spec IS NOT NULL AND NOT d.deleted AND NOT d.paused
 ORDER BY d.namespace_id, d.name;

-- name: scheduler_claim_ticks
-- Compare-and-set of many positions in one statement: a row moves from `previous_tick` (the
-- position the plan started from; NULL: none yet) to `last_tick` only if nobody moved it
-- meanwhile. Rows are taken in the order given (callers sort by namespace and name), so
-- concurrent replicas cannot deadlock; a replica that waited on another's row lock re-checks the
-- condition against the committed row and loses. A definition paused or deleted since the plan
-- claims nothing; with `not_early`, neither does a position the database clock has not reached
-- (a round planned ahead of its tick).
INSERT INTO cron_state AS s (namespace_id, name, previous_tick, last_tick, last_fired,
                             last_fired_def_id)
SELECT d.namespace_id, d.name, u.previous_tick, u.last_tick, u.last_fired,
       CASE WHEN u.last_fired IS NOT NULL THEN d.id END
  FROM unnest(%(def_ids)b::uuid[], %(previous_ticks)b::timestamptz[],
              %(last_ticks)b::timestamptz[], %(last_fireds)b::timestamptz[])
       WITH ORDINALITY AS u(def_id, previous_tick, last_tick, last_fired, ord)
  JOIN job_definitions d ON d.id = u.def_id AND NOT d.deleted AND NOT d.paused
 WHERE NOT %(not_early)s OR u.last_tick <= now()
 ORDER BY u.ord
ON CONFLICT (namespace_id, name) DO UPDATE
   SET previous_tick = s.last_tick,
       last_tick = excluded.last_tick,
       last_fired = coalesce(excluded.last_fired, s.last_fired),
       last_fired_def_id = coalesce(excluded.last_fired_def_id, s.last_fired_def_id),
       updated_at = now()
 WHERE s.last_tick IS NOT DISTINCT FROM excluded.previous_tick
RETURNING s.namespace_id::text AS namespace_id, s.name;

-- name: scheduler_positions
-- Where the positions a replica failed to move stand now (to tell "another replica did the same
-- work" from "the position moved only part of the way: plan again").
SELECT s.namespace_id::text AS namespace_id, s.name, s.last_tick
  FROM cron_state s
  JOIN unnest(%(namespace_ids)b::uuid[], %(names)b::text[]) AS u(namespace_id, name)
    ON s.namespace_id = u.namespace_id AND s.name = u.name;

-- name: scheduler_insert_events
INSERT INTO scheduler_events (def_id, scheduled_for, event, detail)
SELECT * FROM unnest(%(def_ids)b::uuid[], %(scheduled_fors)b::timestamptz[], %(events)b::text[],
                     %(details)b::text[]);

-- name: scheduler_listen
LISTEN chronosched_definitions;

-- name: scheduler_ping
SELECT 1;

-- name: list_scheduler_events
-- What the scheduler decided about a definition's ticks (skipped, caught up, paused…), newest
-- first; the name covers every version of the definition.
SELECT e.id, e.def_id, e.scheduled_for, e.event, e.detail, e.created_at
  FROM scheduler_events e
 WHERE e.def_id IN (SELECT o.id FROM job_definitions o, job_definitions d
                     WHERE d.id = %(def_id)s AND o.namespace_id = d.namespace_id
                       AND o.name = d.name)
   AND (%(before_id)s::bigint IS NULL OR e.id < %(before_id)s)
 ORDER BY e.id DESC
 LIMIT %(limit)s;
