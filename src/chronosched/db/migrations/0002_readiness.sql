-- Readiness in the database: children become ready in the same transaction as their parent's
-- transition, so no process has to poll for it.
--
-- Bookkeeping: every edge carries `met`; every job carries `unmet_count` (edges with met = false),
-- `parent_count` and `child_count`. A `data` edge is met when the parent succeeded; an
-- `order-only` edge when the parent reached any terminal state.

CREATE FUNCTION chronosched_is_terminal_v1(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('succeeded', 'failed', 'cancelled', 'upstream_failed')
$$;

CREATE FUNCTION chronosched_edge_met_v1(parent_status text, dependency_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN dependency_type = 'data' THEN parent_status = 'succeeded'
                ELSE parent_status IN ('succeeded', 'failed', 'cancelled', 'upstream_failed') END
$$;

-- Wake idle workers: one notification per statement (pg_notify collapses identical payloads in a
-- transaction). The payload is the earliest future due time (epoch seconds) or '' for "due now",
-- so a worker can set a timer for delayed jobs instead of polling.
CREATE FUNCTION chronosched_notify_ready_v1(earliest_due timestamptz) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('chronosched_jobs',
        CASE WHEN earliest_due IS NULL OR earliest_due <= now() THEN ''
             ELSE extract(epoch FROM earliest_due)::text END)
$$;

CREATE FUNCTION chronosched_jobs_inserted_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    earliest timestamptz;
    any_queued boolean;
BEGIN
    SELECT bool_or(status = 'queued'), min(due_at) FILTER (WHERE status = 'queued')
      INTO any_queued, earliest FROM inserted;
    IF any_queued THEN
        PERFORM chronosched_notify_ready_v1(earliest);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER chronosched_jobs_inserted
    AFTER INSERT ON jobs REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION chronosched_jobs_inserted_v1();

-- A job's status changed into or out of a terminal state and it has children: re-evaluate its
-- out-edges, ready or re-block the children, propagate upstream_failed along data edges, and undo
-- that propagation when the job is retried.
CREATE FUNCTION chronosched_job_transition_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    readied_due timestamptz;
    readied integer;
    subtree bigint[];
    blocked bigint[];
BEGIN
    -- 1. Edges whose met-ness changed. Re-opening an edge (the parent was retried) only affects
    --    children that have not started: a running or finished child keeps what it consumed.
    WITH flipped AS (
        UPDATE job_dependencies d
           SET met = chronosched_edge_met_v1(NEW.status, d.dependency_type)
          FROM jobs c
         WHERE d.parent_job_id = NEW.id
           AND c.id = d.child_job_id
           AND d.met IS DISTINCT FROM chronosched_edge_met_v1(NEW.status, d.dependency_type)
           AND (chronosched_edge_met_v1(NEW.status, d.dependency_type)
                OR c.status IN ('waiting', 'queued', 'upstream_failed'))
        RETURNING d.child_job_id, d.met
    ), deltas AS (
        SELECT child_job_id, sum(CASE WHEN met THEN -1 ELSE 1 END)::integer AS delta
          FROM flipped GROUP BY child_job_id
    ), changed AS (
        UPDATE jobs c
           SET unmet_count = c.unmet_count + deltas.delta,
               status = CASE
                   WHEN c.status = 'waiting' AND c.unmet_count + deltas.delta = 0 THEN 'queued'
                   WHEN c.status = 'queued' AND c.unmet_count + deltas.delta > 0 THEN 'waiting'
                   ELSE c.status END,
               due_at = CASE
                   WHEN c.status = 'waiting' AND c.unmet_count + deltas.delta = 0
                   THEN greatest(c.due_at, now() + c.delay_interval)
                   ELSE c.due_at END,
               enqueued_at = CASE
                   WHEN c.status = 'waiting' AND c.unmet_count + deltas.delta = 0 THEN now()
                   ELSE c.enqueued_at END
          FROM deltas
         WHERE c.id = deltas.child_job_id
        RETURNING c.status, c.due_at
    )
    SELECT count(*) FILTER (WHERE status = 'queued'), min(due_at) FILTER (WHERE status = 'queued')
      INTO readied, readied_due FROM changed;
    IF readied > 0 THEN
        PERFORM chronosched_notify_ready_v1(readied_due);
    END IF;

    -- 2. Failed for good, cancelled or upstream_failed: pending data descendants can never run.
    IF NEW.status IN ('failed', 'cancelled', 'upstream_failed') THEN
        WITH RECURSIVE down(id) AS (
            SELECT d.child_job_id
              FROM job_dependencies d JOIN jobs c ON c.id = d.child_job_id
             WHERE d.parent_job_id = NEW.id AND d.dependency_type = 'data'
               AND c.status IN ('waiting', 'queued')
            UNION
            SELECT d.child_job_id
              FROM down JOIN job_dependencies d ON d.parent_job_id = down.id
              JOIN jobs c ON c.id = d.child_job_id
             WHERE d.dependency_type = 'data' AND c.status IN ('waiting', 'queued')
        )
        UPDATE jobs j
           SET status = 'upstream_failed',
               upstream_failed_from = coalesce(NEW.upstream_failed_from, NEW.id),
               finished_at = now(),
               last_error = 'upstream job ' || coalesce(NEW.upstream_failed_from, NEW.id)
                            || ' did not succeed'
          FROM down
         WHERE j.id = down.id AND j.status IN ('waiting', 'queued');
    END IF;

    -- 3. Retried: give back the descendants this job had blocked, unless another failed
    --    ancestor (outside the reset set) still blocks them.
    IF OLD.status IN ('failed', 'cancelled', 'upstream_failed')
       AND NEW.status IN ('waiting', 'queued') THEN
        WITH RECURSIVE down(id) AS (
            SELECT d.child_job_id
              FROM job_dependencies d JOIN jobs c ON c.id = d.child_job_id
             WHERE d.parent_job_id = NEW.id AND d.dependency_type = 'data'
               AND c.status = 'upstream_failed'
            UNION
            SELECT d.child_job_id
              FROM down JOIN job_dependencies d ON d.parent_job_id = down.id
              JOIN jobs c ON c.id = d.child_job_id
             WHERE d.dependency_type = 'data' AND c.status = 'upstream_failed'
        )
        SELECT array_agg(id) INTO subtree FROM down;
        IF subtree IS NOT NULL THEN
            WITH RECURSIVE seeds AS (
                SELECT DISTINCT d.child_job_id AS id
                  FROM job_dependencies d JOIN jobs p ON p.id = d.parent_job_id
                 WHERE d.child_job_id = ANY (subtree) AND d.dependency_type = 'data'
                   AND p.status IN ('failed', 'cancelled', 'upstream_failed')
                   AND p.id <> NEW.id AND NOT (p.id = ANY (subtree))
            ), still(id) AS (
                SELECT id FROM seeds
                UNION
                SELECT d.child_job_id FROM still JOIN job_dependencies d ON d.parent_job_id = still.id
                 WHERE d.dependency_type = 'data' AND d.child_job_id = ANY (subtree)
            )
            SELECT array_agg(id) INTO blocked FROM still;
            UPDATE jobs j
               SET status = CASE WHEN j.unmet_count > 0 THEN 'waiting' ELSE 'queued' END,
                   upstream_failed_from = NULL,
                   finished_at = NULL,
                   last_error = NULL,
                   enqueued_at = now()
             WHERE j.id = ANY (subtree) AND NOT (j.id = ANY (coalesce(blocked, '{}')))
               AND j.status = 'upstream_failed';
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- Fires only on a status change into or out of a terminal state of a job that has children:
-- claims (queued -> running) and leaf jobs (most cron and ad-hoc jobs) skip it entirely.
CREATE TRIGGER chronosched_job_transition
    AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.child_count > 0
          AND (chronosched_is_terminal_v1(OLD.status) OR chronosched_is_terminal_v1(NEW.status)))
    EXECUTE FUNCTION chronosched_job_transition_v1();

-- Adds edges in one set-based pass (a 100,000-edge DAG must not pay a trigger per row). The
-- caller holds the DAG's row lock and has already refused cycles (chronosched.dag). Edges from
-- parents that already finished are met at once; a data edge from a parent that failed makes the
-- child upstream_failed at once: no child waits forever. Refuses children that already started.
CREATE FUNCTION chronosched_add_edges_v1(
    p_dag uuid, p_parents bigint[], p_children bigint[], p_types text[]
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    inserted integer;
    bad_child bigint;
BEGIN
    SELECT c.id INTO bad_child
      FROM unnest(p_children) AS u(id) JOIN jobs c ON c.id = u.id
     WHERE c.status NOT IN ('waiting', 'queued') LIMIT 1;
    IF bad_child IS NOT NULL THEN
        RAISE EXCEPTION 'job % has already started or finished; it cannot get a new parent',
            bad_child USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    CREATE TEMP TABLE IF NOT EXISTS chronosched_new_edges (
        parent_job_id bigint, child_job_id bigint, dependency_type text, met boolean,
        parent_failed boolean
    ) ON COMMIT DROP;
    TRUNCATE chronosched_new_edges;

    WITH ins AS (
        INSERT INTO job_dependencies (dag_id, parent_job_id, child_job_id, dependency_type, met)
        SELECT p_dag, u.parent, u.child, coalesce(u.typ, 'data'),
               chronosched_edge_met_v1(p.status, coalesce(u.typ, 'data'))
          FROM unnest(p_parents, p_children, p_types) AS u(parent, child, typ)
          JOIN jobs p ON p.id = u.parent
        RETURNING parent_job_id, child_job_id, dependency_type, met
    )
    INSERT INTO chronosched_new_edges
    SELECT ins.parent_job_id, ins.child_job_id, ins.dependency_type, ins.met,
           ins.dependency_type = 'data' AND p.status IN ('failed', 'cancelled', 'upstream_failed')
      FROM ins JOIN jobs p ON p.id = ins.parent_job_id;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted <> coalesce(array_length(p_parents, 1), 0) THEN
        RAISE EXCEPTION 'unknown parent job in edge list'
            USING ERRCODE = 'foreign_key_violation';
    END IF;

    UPDATE jobs j SET child_count = j.child_count + n.cnt
      FROM (SELECT parent_job_id AS id, count(*)::integer AS cnt
              FROM chronosched_new_edges GROUP BY 1) n
     WHERE j.id = n.id;

    UPDATE jobs j
       SET parent_count = j.parent_count + n.cnt,
           unmet_count = j.unmet_count + n.unmet,
           status = CASE WHEN n.failed_parent IS NOT NULL THEN 'upstream_failed'
                         WHEN j.unmet_count + n.unmet > 0 THEN 'waiting'
                         ELSE j.status END,
           upstream_failed_from = CASE WHEN n.failed_parent IS NOT NULL THEN
                   coalesce(p.upstream_failed_from, p.id) END,
           finished_at = CASE WHEN n.failed_parent IS NOT NULL THEN now() END,
           last_error = CASE WHEN n.failed_parent IS NOT NULL THEN
                   'upstream job ' || coalesce(p.upstream_failed_from, p.id) || ' did not succeed'
                   ELSE j.last_error END
      FROM (SELECT child_job_id AS id, count(*)::integer AS cnt,
                   (count(*) FILTER (WHERE NOT met))::integer AS unmet,
                   min(parent_job_id) FILTER (WHERE parent_failed) AS failed_parent
              FROM chronosched_new_edges GROUP BY 1) n
      LEFT JOIN jobs p ON p.id = n.failed_parent
     WHERE j.id = n.id;
    RETURN inserted;
END
$$;

-- Removes edges and gives the children their readiness back (a child whose last unmet edge is
-- removed becomes queued, subject to its delay).
CREATE FUNCTION chronosched_remove_edges_v1(p_dag uuid, p_parents bigint[], p_children bigint[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    removed integer;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS chronosched_gone_edges (
        parent_job_id bigint, child_job_id bigint, met boolean
    ) ON COMMIT DROP;
    TRUNCATE chronosched_gone_edges;
    WITH del AS (
        DELETE FROM job_dependencies d
         USING unnest(p_parents, p_children) AS u(parent, child)
         WHERE d.parent_job_id = u.parent AND d.child_job_id = u.child AND d.dag_id = p_dag
        RETURNING d.parent_job_id, d.child_job_id, d.met
    )
    INSERT INTO chronosched_gone_edges SELECT * FROM del;
    GET DIAGNOSTICS removed = ROW_COUNT;

    UPDATE jobs j SET child_count = j.child_count - n.cnt
      FROM (SELECT parent_job_id AS id, count(*)::integer AS cnt
              FROM chronosched_gone_edges GROUP BY 1) n
     WHERE j.id = n.id;
    UPDATE jobs j
       SET parent_count = j.parent_count - n.cnt,
           unmet_count = j.unmet_count - n.unmet,
           status = CASE WHEN j.status = 'waiting' AND j.unmet_count - n.unmet = 0
                         THEN 'queued' ELSE j.status END,
           due_at = CASE WHEN j.status = 'waiting' AND j.unmet_count - n.unmet = 0
                         THEN greatest(j.due_at, now() + j.delay_interval) ELSE j.due_at END
      FROM (SELECT child_job_id AS id, count(*)::integer AS cnt,
                   (count(*) FILTER (WHERE NOT met))::integer AS unmet
              FROM chronosched_gone_edges GROUP BY 1) n
     WHERE j.id = n.id;
    PERFORM chronosched_notify_ready_v1(NULL);
    RETURN removed;
END
$$;

-- Both ends of every edge belong to the edge's DAG. One set-based check per statement, so bulk
-- inserts of 100,000 edges pay one join, not a trigger per row.
CREATE FUNCTION chronosched_edges_same_dag_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT e.parent_job_id, e.child_job_id INTO bad
      FROM new_edges e
      JOIN jobs p ON p.id = e.parent_job_id
      JOIN jobs c ON c.id = e.child_job_id
     WHERE p.dag_id IS DISTINCT FROM e.dag_id OR c.dag_id IS DISTINCT FROM e.dag_id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'edge % -> % joins jobs outside DAG', bad.parent_job_id, bad.child_job_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'job_dependencies_same_dag';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER chronosched_edges_same_dag
    AFTER INSERT ON job_dependencies REFERENCING NEW TABLE AS new_edges
    FOR EACH STATEMENT EXECUTE FUNCTION chronosched_edges_same_dag_v1();
