-- A DAG's status is derived from its jobs' states, in one place for every query that needs it:
-- no jobs or nothing started yet: pending; anything running or some finished while others wait:
-- running; all finished: failed if any failed (or was blocked by a failure), else cancelled if
-- any was cancelled, else succeeded.
CREATE FUNCTION chronosched_dag_status_v1(
    total bigint, unfinished bigint, running bigint, failed bigint, cancelled bigint
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN total = 0 THEN 'pending'
        WHEN running > 0 THEN 'running'
        WHEN unfinished = total THEN 'pending'
        WHEN unfinished > 0 THEN 'running'
        WHEN failed > 0 THEN 'failed'
        WHEN cancelled > 0 THEN 'cancelled'
        ELSE 'succeeded' END
$$;
