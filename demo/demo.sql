-- cloud_fdw demo: cloud environments as a foreign table, next to local data.
-- Runs against the mock cloud (test/mock_cloud.py); psql gets :mock_url.

\set ON_ERROR_STOP 1
\pset footer off
\set endpoint :mock_url '/_mock/tenant=demo/api/v1/cloud'

CREATE EXTENSION cloud_fdw;

-- Where the API is, and who we are there.  The token lives only in the user
-- mapping: never in server or table options, logs, errors or EXPLAIN.
CREATE SERVER qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER qoder OPTIONS (token 'pt-test-admin');

CREATE FOREIGN TABLE qoder_environments (
  id text, name text, description text, status text,
  networking_type text OPTIONS (path 'config.networking.type'),
  allowed_hosts text[] OPTIONS (path 'config.networking.allowed_hosts'),
  config jsonb, metadata jsonb,
  created_at timestamptz, updated_at timestamptz
) SERVER qoder OPTIONS (resource 'environments');

-- Local data: who owns which environment, and what each team may spend.
CREATE TABLE teams (env_id text PRIMARY KEY, owner text, monthly_budget numeric);
INSERT INTO teams VALUES
  ('env_019be0ddcb5a737c9ff4c8e1b065359a', 'web',      1200),
  ('env_019c6b6e269b7aa38b7af332193e9c96', 'data',     5400),
  ('env_019cd4ab02ce7811ae96659c6830218b', 'research', 9800),
  ('env_019d8b0121f474738346ed1b96bfd0f5', 'platform', 2500),
  ('env_01a18b64c6ff76f09c79febaef956579', 'mobile',    800);

\echo '== 1. A join: cloud environments with their owners =='
SELECT t.owner, e.name, e.networking_type, e.created_at::date AS created
  FROM qoder_environments e JOIN teams t ON t.env_id = e.id
 ORDER BY t.owner;

\echo '== 2. A report: network exposure per networking type, owned or not =='
SELECT e.networking_type,
       count(*) AS environments,
       count(t.owner) AS owned,
       coalesce(sum(t.monthly_budget), 0) AS budget
  FROM qoder_environments e LEFT JOIN teams t ON t.env_id = e.id
 GROUP BY e.networking_type
 ORDER BY environments DESC, e.networking_type;

\echo '== 3. EXPLAIN shows the request a lookup by id makes: one GET =='
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM qoder_environments WHERE id = 'env_019be0ddcb5a737c9ff4c8e1b065359a';

\echo '== 4. A bulk UPDATE: tag owned environments with their owner, and close open networks =='
\echo '   (cloud_fdw.trace shows each request: every PUT body holds only what changed in that row)'
SET cloud_fdw.trace = on;
UPDATE qoder_environments e
   SET metadata = e.metadata || jsonb_build_object('owner', t.owner),
       networking_type = 'limited'
  FROM teams t
 WHERE t.env_id = e.id
RETURNING e.name, e.networking_type, e.metadata, e.updated_at::date AS updated;
RESET cloud_fdw.trace;

\echo '== 5. Requests this session made, over one kept-alive connection =='
SELECT server_name, requests, connections_opened FROM cloud_fdw_get_connections();

\echo '== 6. The cloud now says =='
SELECT t.owner, e.name, e.networking_type, e.metadata->>'owner' AS owner_tag
  FROM qoder_environments e JOIN teams t ON t.env_id = e.id
 ORDER BY t.owner;
