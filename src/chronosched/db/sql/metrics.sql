-- Scrape-time figures for /metrics and the UI's overview. Each is one cheap aggregate; the API
-- caches the result for a few seconds so frequent scrapes and UI polls cost one query.

-- name: metrics_jobs_by_status_kind
-- Live (not deleted) jobs by state and kind. A sequential scan of `jobs`, which pruning keeps
-- small (finished rows move to jobs_history); the API caches the answer (metrics.CACHE_SECONDS).
SELECT status, kind, count(*)::bigint AS n
  FROM jobs
 WHERE NOT deleted
 GROUP BY status, kind;

-- name: metrics_workers_alive
-- Registered workers by liveness (heartbeat within the last minute, as `list_workers` says).
SELECT count(*) FILTER (WHERE stopped_at IS NULL
                          AND last_heartbeat > now() - interval '60 seconds')::bigint AS alive,
       count(*) FILTER (WHERE stopped_at IS NULL
                          AND last_heartbeat <= now() - interval '60 seconds')::bigint AS silent
  FROM workers;

-- name: metrics_database_now
-- The database clock: every displayed "next fire time" is computed from it, never the host's.
SELECT now() AS now;
