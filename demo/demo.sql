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

-- Huawei Cloud: enterprise projects and what runs under them, CodeArts
-- Deploy applications and their environments, tables written by IMPORT
-- FOREIGN SCHEMA from the registry.  The user mapping holds an AK/SK pair:
-- every request is signed (SDK-HMAC-SHA256).
\set hw_endpoint :mock_url '/_mock/tenant=demo'
CREATE SERVER hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'hw_endpoint',
           domain_id 'd0000000000000000000000000000001');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (access_key 'HWTESTAK0000000000000',
           secret_key 'HWTESTSK00000000000000000000000000000000',
           iam_project_id 'p0000000000000000000000000000001');
CREATE SCHEMA cloud;
IMPORT FOREIGN SCHEMA huaweicloud FROM SERVER hw INTO cloud
  OPTIONS (codearts_project_id '55837d272adf4eee90319800e2da6961');

CREATE TABLE cost_centres (ep_id text, centre text, budget numeric);
INSERT INTO cost_centres VALUES
  ('e88f40a2-3bd4-4e94-b114-f27eab195b47', 'CC-100 finance', 50000),
  ('5622276a-4637-4f37-89a4-62ce0fa030a0', 'CC-100 finance',  5000),
  ('7c213c12-8f4c-4fc3-a9f0-665958282d8a', 'CC-200 data',    30000),
  ('64ffc604-9b70-4769-bb05-816fac0e36d5', 'CC-300 research', 80000);

\echo '== 7. Enterprise projects per cost centre =='
SELECT c.centre, count(*) AS projects, sum(c.budget) AS budget,
       string_agg(p.name, ', ' ORDER BY p.name) AS names
  FROM cloud.enterprise_projects p JOIN cost_centres c ON c.ep_id = p.id
 GROUP BY c.centre ORDER BY c.centre;

\echo '== 8. Deployment environments of two applications, hosts per OS =='
SELECT os, count(*) AS environments, sum(instance_count) AS hosts
  FROM cloud.deploy_environments
 WHERE application_id IN ('43943381f7764c52baae8e697720873f', '8ddf0566c1784da29faac80516fa8425')
 GROUP BY os ORDER BY os;

\echo '== 9. Describe every project of a cost centre; bodies hold the name, which the API requires =='
SET cloud_fdw.trace = on;
UPDATE cloud.enterprise_projects p
   SET description = 'budget owner: ' || c.centre
  FROM cost_centres c
 WHERE c.ep_id = p.id
RETURNING p.name, p.description;
RESET cloud_fdw.trace;

-- Local data for CodeArts Deploy: which team runs each application.
CREATE TABLE app_owners (application text PRIMARY KEY, team text, on_call text);
INSERT INTO app_owners VALUES
  ('order-service',  'web',     'alice'),
  ('billing-portal', 'finance', 'bob'),
  ('legacy-batch',   'data',    'carol');

\echo '== 10. Every environment of every application, with the team that runs it =='
\echo '   (the CodeArts project is the imported tables'' codearts_project_id: one listing'
\echo '    of applications, then one listing of environments per application)'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT o.team, a.name AS application, e.name AS environment
  FROM cloud.deploy_applications a
  JOIN cloud.deploy_environments e ON e.application_id = a.id
  JOIN app_owners o ON o.application = a.name;
SELECT o.team, o.on_call, a.name AS application, a.execution_state AS last_run,
       e.name AS environment, e.os, e.instance_count AS hosts
  FROM cloud.deploy_applications a
  JOIN cloud.deploy_environments e ON e.application_id = a.id
  JOIN app_owners o ON o.application = a.name
 ORDER BY o.team, a.name, e.name;

-- Local data for the cost report: the resource types we watch in each
-- region (IAM region project), with a monthly list price per resource.
\set north 'e1eb7c40cbea4c8389cde527594a306d'
\set south '030eb8c716a3f1ce972006b0388bdef6'
CREATE TABLE watched (resource_type text, region text, project_id text, unit_cost numeric);
INSERT INTO watched VALUES
  ('ecs',  'cn-north-4', :'north', 120),
  ('ecs',  'cn-south-1', :'south', 110),
  ('disk', 'cn-north-4', :'north',   8),
  ('disk', 'cn-south-1', :'south',   8),
  ('eip',  'cn-north-4', :'north',  20),
  ('eip',  'cn-south-1', :'south',  20),
  ('rds',  'cn-north-4', :'north', 300),
  ('rds',  'cn-south-1', :'south', 280);

\echo '== 11. What runs under each enterprise project: resources per type, monthly cost, cost centre =='
\echo '   (EPS lists one project, type and region at a time: the joins give the three values,'
\echo '    so 8 enterprise projects x 8 watched rows make 64 listings)'
SELECT p.name AS enterprise_project, p.status = 1 AS enabled,
       coalesce(c.centre, '-') AS centre,
       count(*) FILTER (WHERE r.resource_type = 'ecs')  AS ecs,
       count(*) FILTER (WHERE r.resource_type = 'disk') AS disk,
       count(*) FILTER (WHERE r.resource_type = 'eip')  AS eip,
       count(*) FILTER (WHERE r.resource_type = 'rds')  AS rds,
       sum(w.unit_cost) AS monthly_cost
  FROM cloud.enterprise_projects p
  CROSS JOIN watched w
  JOIN cloud.enterprise_project_resources r
    ON r.enterprise_project_id = p.id AND r.resource_type = w.resource_type
   AND r.project_id = w.project_id
  LEFT JOIN cost_centres c ON c.ep_id = p.id
 GROUP BY p.name, p.status, c.centre
 ORDER BY monthly_cost DESC, p.name;

\echo '== 12. Move web-server-01, its disk and its EIP out of the default project =='
\echo '   (UPDATE ... SET enterprise_project_id is a move: one POST resources-migrate per row.'
\echo '    EPS applies a move asynchronously and answers 204 with no body, so RETURNING is refused)'
SET cloud_fdw.trace = on;
UPDATE cloud.enterprise_project_resources
   SET enterprise_project_id = '5aa119a8-d25b-45a7-8d1b-88e127885635'
 WHERE enterprise_project_id = '0' AND resource_type IN ('ecs', 'disk', 'eip')
   AND project_id = :'north' AND resource_name LIKE 'web-server-01%';
RESET cloud_fdw.trace;

\echo '== 13. enterprise_project1 now holds both web servers =='
\echo '   (the mock applies a move at once; on EPS a listing shows it once the move is done)'
SELECT r.project_name AS region, r.resource_type, r.resource_name
  FROM cloud.enterprise_project_resources r
  JOIN watched w ON w.resource_type = r.resource_type AND w.project_id = r.project_id
 WHERE r.enterprise_project_id = '5aa119a8-d25b-45a7-8d1b-88e127885635'
 ORDER BY 1, 2, 3;

\echo '== 14. Three accounts in one table: a partition per account, all listed at once =='
\echo '   (each account is a server of its own; the account column is fixed per partition'
\echo '    by the column option value, so WHERE account = ... asks only that account)'
\set acct_a :mock_url '/_mock/tenant=demo_acct_a,rows=150,latency_ms=30/api/v1/cloud'
\set acct_b :mock_url '/_mock/tenant=demo_acct_b,rows=150,rows_from=150,latency_ms=30/api/v1/cloud'
\set acct_c :mock_url '/_mock/tenant=demo_acct_c,rows=150,rows_from=300,latency_ms=30/api/v1/cloud'
CREATE TABLE all_envs (account text NOT NULL, id text, name text, status text)
  PARTITION BY LIST (account);
CREATE SERVER acct_a FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint :'acct_a');
CREATE SERVER acct_b FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint :'acct_b');
CREATE SERVER acct_c FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint :'acct_c');
CREATE USER MAPPING FOR CURRENT_USER SERVER acct_a OPTIONS (token 'pt-test-admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER acct_b OPTIONS (token 'pt-test-admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER acct_c OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE envs_acct_a (account text OPTIONS (value 'acct-a') NOT NULL, id text, name text, status text)
  SERVER acct_a OPTIONS (resource 'environments');
CREATE FOREIGN TABLE envs_acct_b (account text OPTIONS (value 'acct-b') NOT NULL, id text, name text, status text)
  SERVER acct_b OPTIONS (resource 'environments');
CREATE FOREIGN TABLE envs_acct_c (account text OPTIONS (value 'acct-c') NOT NULL, id text, name text, status text)
  SERVER acct_c OPTIONS (resource 'environments');
ALTER TABLE all_envs ATTACH PARTITION envs_acct_a FOR VALUES IN ('acct-a');
ALTER TABLE all_envs ATTACH PARTITION envs_acct_b FOR VALUES IN ('acct-b');
ALTER TABLE all_envs ATTACH PARTITION envs_acct_c FOR VALUES IN ('acct-c');
EXPLAIN (COSTS OFF) SELECT account, status, count(*) FROM all_envs GROUP BY account, status;
SELECT account, status, count(*) FROM all_envs GROUP BY account, status ORDER BY account, status;
\echo '   (timed: every partition at once, then one after the other with enable_async_append = off)'
\timing on
SELECT count(id) FROM all_envs;
SET enable_async_append = off;
SELECT count(id) FROM all_envs;
RESET enable_async_append;
\timing off

\echo '== 15. count(*) from the API''s total: one request for one item =='
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cloud.enterprise_projects;
SELECT count(*) FROM cloud.enterprise_projects;

\echo '== 16. A report refreshed again within cache_ttl: answered from the cache =='
\echo '   (the trace marks cached answers; an UPDATE drops them for these credentials)'
ALTER SERVER qoder OPTIONS (ADD cache_ttl '60s');
SET cloud_fdw.trace = on;
SELECT networking_type, count(*) FROM qoder_environments GROUP BY 1 ORDER BY 1;
SELECT networking_type, count(*) FROM qoder_environments GROUP BY 1 ORDER BY 1;
UPDATE qoder_environments SET networking_type = 'unrestricted' WHERE id = 'env_019be0ddcb5a737c9ff4c8e1b065359a';
SELECT networking_type, count(*) FROM qoder_environments GROUP BY 1 ORDER BY 1;
RESET cloud_fdw.trace;
SELECT entries, hits, misses, shared FROM cloud_fdw_cache_stats();
