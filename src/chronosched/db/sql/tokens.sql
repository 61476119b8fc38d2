-- API bearer tokens, stored as sha256 hex digests (the token itself is shown once, at creation).

-- name: insert_token
INSERT INTO api_tokens (name, token_hash) VALUES (%(name)s, %(token_hash)s)
RETURNING id, name, created_at, revoked_at;

-- name: live_token_hashes
SELECT token_hash FROM api_tokens WHERE revoked_at IS NULL;

-- name: list_tokens
SELECT id, name, created_at, revoked_at FROM api_tokens ORDER BY created_at;

-- name: revoke_token
UPDATE api_tokens SET revoked_at = now() WHERE name = %(name)s AND revoked_at IS NULL
RETURNING id;
