-- Liveness of the database connection (health endpoints).

-- name: health_check
SELECT 1 AS ok;
