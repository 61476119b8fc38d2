-- One definition of a DAG with its job counts and derived status, shared by `get_dag` and
-- `list_dags` (filters on `dags` columns are pushed into the view, so the counts are computed
-- only for the DAGs a query returns).
CREATE VIEW dag_summaries AS
SELECT d.id, d.namespace_id, d.name, d.version, d.description, d.created_at, d.deleted,
       d.deleted_at, c.*,
       chronosched_dag_status_v1(c.total, c.waiting + c.queued, c.running,
                                 c.failed + c.upstream_failed, c.cancelled) AS status
  FROM dags d
 CROSS JOIN LATERAL (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE j.status = 'waiting') AS waiting,
           count(*) FILTER (WHERE j.status = 'queued') AS queued,
           count(*) FILTER (WHERE j.status = 'running') AS running,
           count(*) FILTER (WHERE j.status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE j.status = 'failed') AS failed,
           count(*) FILTER (WHERE j.status = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE j.status = 'upstream_failed') AS upstream_failed
      FROM jobs j WHERE j.dag_id = d.id) c;
