-- Dependency edges. Inserting and removing go through the set-based functions of migration 0002,
-- which keep the readiness bookkeeping (met, unmet_count) right.

-- name: lock_dag
SELECT id, namespace_id FROM dags WHERE id = %(dag_id)s AND NOT deleted FOR UPDATE;

-- name: dag_job_ids
SELECT id FROM jobs WHERE dag_id = %(dag_id)s AND id = ANY (%(ids)b::bigint[]) AND NOT deleted;

-- name: dag_edges
SELECT parent_job_id, child_job_id, dependency_type FROM job_dependencies
 WHERE dag_id = %(dag_id)s;

-- name: add_edges
SELECT chronosched_add_edges_v1(%(dag_id)s::uuid, %(parents)b::bigint[], %(children)b::bigint[],
                                %(types)b::text[]) AS added;

-- name: remove_edges
SELECT chronosched_remove_edges_v1(%(dag_id)s::uuid, %(parents)b::bigint[],
                                   %(children)b::bigint[]) AS removed;

-- name: list_edges
SELECT dag_id, parent_job_id, child_job_id, dependency_type, met, created_at
  FROM job_dependencies
 WHERE dag_id = %(dag_id)s AND (parent_job_id, child_job_id) > (%(after_parent)s, %(after_child)s)
 ORDER BY parent_job_id, child_job_id
 LIMIT %(limit)s;

-- name: insert_new_edges
-- Edges between jobs created in this same transaction (insert_graph): all parents are fresh and
-- unfinished, so every edge starts unmet and the counts were set when the jobs were inserted.
INSERT INTO job_dependencies (dag_id, parent_job_id, child_job_id, dependency_type, met)
SELECT %(dag_id)s::uuid, u.parent, u.child, u.typ, false
  FROM unnest(%(parents)b::bigint[], %(children)b::bigint[], %(types)b::text[])
       AS u(parent, child, typ);
