--
-- Two resources added as registry data only: CodeArts Deploy applications
-- (a POST that reads, paged in its body) and the resources of enterprise
-- projects (lists and a fuzzy match in the body, errors[] inside a 200, an
-- UPDATE that is a move).
--
\getenv mock_url MOCK_URL
\i sql/include/explain.sql
\set endpoint :mock_url '/_mock/tenant=resources'
\set north 'e1eb7c40cbea4c8389cde527594a306d'
\set south '030eb8c716a3f1ce972006b0388bdef6'
\set flaky :mock_url '/_mock/tenant=resources,eps_errors=ecs:e1eb7c40cbea4c8389cde527594a306d'

CREATE SERVER res FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER res OPTIONS (auth_token 'hw-test-token');
CREATE SCHEMA hw;
IMPORT FOREIGN SCHEMA huaweicloud LIMIT TO (deploy_applications, deploy_environments, enterprise_project_resources)
  FROM SERVER res INTO hw;
\d hw.deploy_applications
\d hw.enterprise_project_resources
SET timezone = 'UTC';
SET datestyle = 'ISO';
SET cloud_fdw.trace = on;

-- Applications: the CodeArts project goes in the body, with the page.
SELECT name, is_disable, execution_state, release_id, create_time, jsonb_array_length(arrange_infos) AS arranged
  FROM hw.deploy_applications WHERE project_id = '55837d272adf4eee90319800e2da6961' ORDER BY name;
SELECT name, project_name FROM hw.deploy_applications
  WHERE project_id IN ('55837d272adf4eee90319800e2da6961', 'ad957ed43291f05287cf00a5c920724d') ORDER BY name;
-- Without a project there is nothing to list.
SELECT name FROM hw.deploy_applications;
-- A get by id needs no project; a filter the API lacks is checked locally.
SELECT name, project_id FROM hw.deploy_applications WHERE id = '93d2a2643c610360b7019fe7c199ed83';
SELECT count(*) FROM hw.deploy_applications
  WHERE project_id = '55837d272adf4eee90319800e2da6961' AND execution_state = 'succeeded';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM hw.deploy_applications WHERE project_id = '55837d272adf4eee90319800e2da6961';
-- Small pages: page after page, in the body (count(name) lists them all;
-- count(*) would read the total).
ALTER FOREIGN TABLE hw.deploy_applications OPTIONS (ADD page_size '2');
SELECT count(name) FROM hw.deploy_applications WHERE project_id = '55837d272adf4eee90319800e2da6961';
ALTER FOREIGN TABLE hw.deploy_applications OPTIONS (DROP page_size);
RESET cloud_fdw.trace;

-- Every environment of every application of a CodeArts project: one listing
-- of applications, then one listing of environments per application.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.name AS application, e.name AS environment
  FROM hw.deploy_applications a
  JOIN hw.deploy_environments e ON e.application_id = a.id AND e.project_id = a.project_id
 WHERE a.project_id = '55837d272adf4eee90319800e2da6961';
SELECT a.name AS application, e.name AS environment, e.os
  FROM hw.deploy_applications a
  JOIN hw.deploy_environments e ON e.application_id = a.id AND e.project_id = a.project_id
 WHERE a.project_id = '55837d272adf4eee90319800e2da6961'
 ORDER BY 1, 2;

-- Disabling and enabling is a call of its own; the row comes back from a get.
SET cloud_fdw.trace = on;
UPDATE hw.deploy_applications SET is_disable = true
 WHERE id = '8ddf0566c1784da29faac80516fa8425' RETURNING name, is_disable;
UPDATE hw.deploy_applications SET is_disable = false
 WHERE id = '8ddf0566c1784da29faac80516fa8425' RETURNING name, is_disable;
UPDATE hw.deploy_applications SET name = 'renamed' WHERE id = '8ddf0566c1784da29faac80516fa8425';
RESET cloud_fdw.trace;

-- Resources of an enterprise project: its id, and the type, are needed.
SELECT resource_name FROM hw.enterprise_project_resources WHERE enterprise_project_id = '0';
SET cloud_fdw.trace = on;
SELECT resource_type, resource_name, project_name
  FROM hw.enterprise_project_resources
 WHERE enterprise_project_id = '0' AND resource_type IN ('disk', 'ecs') AND project_id = :'north'
 ORDER BY 1, 2;
-- A name is a fuzzy "matches" filter, and PostgreSQL checks the exact one.
SELECT resource_name FROM hw.enterprise_project_resources
 WHERE enterprise_project_id = '0' AND resource_type = 'disk' AND project_id = :'north'
   AND resource_name = 'lhj1-volume-0001';
-- The region project is needed too, or a plan could list a region-level type
-- without it; a global type has none: project_id = '' lists it without one.
SELECT resource_name FROM hw.enterprise_project_resources
 WHERE enterprise_project_id = '0' AND resource_type = 'cdn';
SELECT resource_name, project_id = '' AS no_region
  FROM hw.enterprise_project_resources
 WHERE enterprise_project_id = '0' AND resource_type = 'cdn' AND project_id = '';
-- A region-level type without a region, or a global one with a region, is the API's to refuse.
SELECT resource_name FROM hw.enterprise_project_resources
 WHERE enterprise_project_id = '0' AND resource_type = 'cdn' AND project_id = :'north';
RESET cloud_fdw.trace;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT resource_name FROM hw.enterprise_project_resources
 WHERE enterprise_project_id = '0' AND resource_type = 'ecs' AND project_id = :'north'
   AND resource_name = 'web-server-01';

-- What runs under each enterprise project: joins supply the values, one
-- listing per combination of the rows they give.
CREATE TEMP TABLE wanted (resource_type text, project_id text);
INSERT INTO wanted VALUES ('ecs', :'north'), ('ecs', :'south'), ('rds', :'north'), ('rds', :'south');
SELECT r.enterprise_project_id, w.resource_type, count(*) AS resources
  FROM (VALUES ('0'), ('5aa119a8-d25b-45a7-8d1b-88e127885635'), ('e88f40a2-3bd4-4e94-b114-f27eab195b47')) p(id)
  CROSS JOIN wanted w
  JOIN hw.enterprise_project_resources r
    ON r.enterprise_project_id = p.id AND r.resource_type = w.resource_type AND r.project_id = w.project_id
 GROUP BY 1, 2 ORDER BY 1, 2;
-- (the plan's nodes and requests; majors write derived join filters either way round)
SELECT plan FROM explain_stable($$ (VERBOSE, COSTS OFF)
SELECT r.resource_name
  FROM (VALUES ('0')) p(id) CROSS JOIN wanted w
  JOIN hw.enterprise_project_resources r
    ON r.enterprise_project_id = p.id AND r.resource_type = w.resource_type AND r.project_id = w.project_id
$$) AS plan WHERE plan !~ '^\s*(Output|Filter):';

-- A region that fails inside a 200 is never fewer rows in silence: an
-- error, or the rows and a WARNING when the table opts in.
CREATE FOREIGN TABLE hw.flaky_resources (enterprise_project_id text, project_id text,
  resource_type text, resource_id text, resource_name text)
  SERVER res OPTIONS (resource 'enterprise_project_resources');
ALTER SERVER res OPTIONS (SET endpoint :'flaky');
SELECT resource_type, resource_name FROM hw.flaky_resources
 WHERE enterprise_project_id = '0' AND resource_type IN ('disk', 'ecs') AND project_id = :'north'
 ORDER BY 1, 2;
ALTER FOREIGN TABLE hw.flaky_resources OPTIONS (ADD on_partial_error 'warn');
SELECT resource_type, resource_name FROM hw.flaky_resources
 WHERE enterprise_project_id = '0' AND resource_type IN ('disk', 'ecs') AND project_id = :'north'
 ORDER BY 1, 2;
ALTER FOREIGN TABLE hw.flaky_resources OPTIONS (SET on_partial_error 'sometimes');
ALTER SERVER res OPTIONS (SET endpoint :'endpoint');

-- UPDATE of enterprise_project_id is a move: 204, applied asynchronously,
-- so RETURNING cannot show the moved resource.
SET cloud_fdw.trace = on;
UPDATE hw.enterprise_project_resources SET enterprise_project_id = 'e88f40a2-3bd4-4e94-b114-f27eab195b47'
 WHERE enterprise_project_id = '0' AND resource_type = 'disk' AND project_id = :'north'
   AND resource_name LIKE 'web-server-01%';
UPDATE hw.enterprise_project_resources SET enterprise_project_id = '0'
 WHERE enterprise_project_id = 'e88f40a2-3bd4-4e94-b114-f27eab195b47' AND resource_type = 'disk'
   AND project_id = :'north' RETURNING resource_name;
RESET cloud_fdw.trace;
SELECT enterprise_project_id, resource_name FROM hw.enterprise_project_resources
 WHERE enterprise_project_id IN ('0', 'e88f40a2-3bd4-4e94-b114-f27eab195b47')
   AND resource_type = 'disk' AND project_id = :'north' ORDER BY 2;
-- Other columns are not the API's to change; a null target is refused.
UPDATE hw.enterprise_project_resources SET resource_name = 'x'
 WHERE enterprise_project_id = '0' AND resource_type = 'disk' AND project_id = :'north';
UPDATE hw.enterprise_project_resources SET enterprise_project_id = NULL
 WHERE enterprise_project_id = '0' AND resource_type = 'disk' AND project_id = :'north';
-- The API refuses a disabled target, and says so.
UPDATE hw.enterprise_project_resources SET enterprise_project_id = 'c958a792-4e9a-430c-9cfd-c56a522162b3'
 WHERE enterprise_project_id = 'e88f40a2-3bd4-4e94-b114-f27eab195b47' AND resource_type = 'disk'
   AND project_id = :'north' AND resource_name = 'finance-app-01-volume-0000';
EXPLAIN (VERBOSE, COSTS OFF)
UPDATE hw.enterprise_project_resources SET enterprise_project_id = '0'
 WHERE enterprise_project_id = 'e88f40a2-3bd4-4e94-b114-f27eab195b47' AND resource_type = 'disk'
   AND project_id = :'north';

DROP SERVER res CASCADE;
DROP SCHEMA hw CASCADE;
