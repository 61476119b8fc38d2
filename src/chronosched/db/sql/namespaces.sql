-- Namespaces: soft-deleted; names are unique among live namespaces.

-- name: insert_namespace
INSERT INTO namespaces (name, description) VALUES (%(name)s, %(description)s)
RETURNING id, name, description, created_at, deleted;

-- name: namespace_by_id
SELECT id, name, description, created_at, deleted FROM namespaces
 WHERE id = %(id)s AND NOT deleted;

-- name: namespace_by_name
SELECT id, name, description, created_at, deleted FROM namespaces
 WHERE name = %(name)s AND NOT deleted;

-- name: list_namespaces
SELECT id, name, description, created_at, deleted FROM namespaces
 WHERE NOT deleted AND name > %(after)s
 ORDER BY name LIMIT %(limit)s;

-- name: update_namespace
UPDATE namespaces
   SET name = coalesce(%(name)s, name), description = coalesce(%(description)s, description)
 WHERE id = %(id)s AND NOT deleted
RETURNING id, name, description, created_at, deleted;

-- name: namespace_in_use
-- What still lives in a namespace (a namespace is deleted only when empty).
SELECT (SELECT count(*) FROM job_definitions WHERE namespace_id = %(id)s AND NOT deleted)
           AS definitions,
       (SELECT count(*) FROM dags WHERE namespace_id = %(id)s AND NOT deleted) AS dags;

-- name: delete_namespace
UPDATE namespaces SET deleted = true, deleted_at = now()
 WHERE id = %(id)s AND NOT deleted RETURNING id;
