--
-- UPDATE: partial PUT bodies with only what changed, rows from the answer.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=update/api/v1/cloud'

CREATE SERVER regress_qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (token 'pt-test-admin');

CREATE FOREIGN TABLE qoder_environments (
  id text, name text, description text, status text,
  networking_type text OPTIONS (path 'config.networking.type'),
  allowed_hosts text[] OPTIONS (path 'config.networking.allowed_hosts'),
  config jsonb, metadata jsonb,
  created_at timestamptz, updated_at timestamptz
) SERVER regress_qoder OPTIONS (resource 'environments');

SET cloud_fdw.trace = on;

-- Nested paths become nested JSON, with config.type (required whenever
-- config is sent) taken from the row; RETURNING comes from the API's answer.
UPDATE qoder_environments SET description = 'nightly', networking_type = 'allowlist'
  WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'
  RETURNING description, networking_type, config, updated_at > created_at AS touched;

-- Only columns whose value changed are sent; a row with no change sends nothing.
UPDATE qoder_environments SET description = 'nightly', name = name
  WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
UPDATE qoder_environments SET description = 'nightly', name = 'doc-env'
  WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b' RETURNING name, description;

-- Arrays are sent whole.
UPDATE qoder_environments SET allowed_hosts = allowed_hosts || 'example.com'::text
  WHERE id = 'env_019f230cb2187f9a855770a8a3be88c7' RETURNING allowed_hosts;

-- A jsonb column is sent as a merge patch against the old value: changed
-- keys, and null for removed ones.
UPDATE qoder_environments SET metadata = metadata - 'tier' || '{"owner": "bi"}'
  WHERE id = 'env_019c6b6e269b7aa38b7af332193e9c96' RETURNING metadata;
UPDATE qoder_environments SET config = jsonb_set(config, '{packages,apt}', '["curl", "jq"]')
  WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b' RETURNING config;

-- NULL is sent as JSON null: the API clears the description.
UPDATE qoder_environments SET description = NULL
  WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b' RETURNING description IS NULL AS cleared;

-- Bulk UPDATE: one PUT per row that changes.
UPDATE qoder_environments SET metadata = metadata || '{"reviewed": "2026-11"}'
  WHERE networking_type = 'limited' RETURNING name, metadata->>'reviewed' AS reviewed;

-- An id that does not exist updates nothing.
UPDATE qoder_environments SET description = 'x' WHERE id = 'env_00000000000000000000000000000000';

-- Read-only fields are refused before anything is sent.
UPDATE qoder_environments SET status = 'archived';
UPDATE qoder_environments SET id = 'env_new';
UPDATE qoder_environments SET created_at = now();
CREATE FOREIGN TABLE qoder_odd (
  id text, kind text OPTIONS (path 'type'), colour text
) SERVER regress_qoder OPTIONS (resource 'environments');
UPDATE qoder_odd SET kind = 'x';
UPDATE qoder_odd SET colour = 'red';

-- Two columns writing the same JSON field cannot both change.
UPDATE qoder_environments SET config = '{"type": "cloud", "networking": {"type": "limited"}}',
  networking_type = 'unrestricted'
  WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';

-- A table without the key column cannot be updated.
CREATE FOREIGN TABLE qoder_nokey (name text) SERVER regress_qoder OPTIONS (resource 'environments');
UPDATE qoder_nokey SET name = 'x';

-- Only UPDATE is supported.
INSERT INTO qoder_environments (id, name) VALUES ('env_new', 'new');
DELETE FROM qoder_environments WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';

-- EXPLAIN shows the update call and sends nothing.
EXPLAIN (VERBOSE, COSTS OFF)
UPDATE qoder_environments SET description = 'x' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';

-- A failure part-way: the API rejects the third row; the error says how
-- many rows it had already changed (they stay changed: no transactions).
UPDATE qoder_environments SET name = CASE WHEN name = 'data-pipeline' THEN '' ELSE name || '-v2' END
  WHERE name IN ('go-services', 'ml-training', 'data-pipeline');
RESET cloud_fdw.trace;
SELECT name FROM qoder_environments WHERE name LIKE '%-v2' ORDER BY name;

DROP SERVER regress_qoder CASCADE;
