--
-- Huawei Cloud: CodeArts Deploy environments and enterprise projects (EPS),
-- created by IMPORT FOREIGN SCHEMA, with a token; the other authentication
-- styles are in huawei_auth.
--
\getenv mock_url MOCK_URL
\i sql/include/explain.sql
\set endpoint :mock_url '/_mock/tenant=huawei'

CREATE SERVER hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (auth_token 'hw-test-token');

-- The remote schema is the provider; the registry writes the tables.
CREATE SCHEMA cloud;
IMPORT FOREIGN SCHEMA qoder FROM SERVER hw INTO cloud;
IMPORT FOREIGN SCHEMA huaweicloud FROM SERVER hw INTO cloud OPTIONS (colour 'red');
IMPORT FOREIGN SCHEMA huaweicloud FROM SERVER hw INTO cloud
  OPTIONS (codearts_project_id '55837d272adf4eee90319800e2da6961');
\d cloud.deploy_environments
\d cloud.enterprise_projects
SELECT foreign_table_name, option_name, option_value
  FROM information_schema.foreign_table_options
 WHERE foreign_table_schema = 'cloud' ORDER BY 1, 2;
-- LIMIT TO and EXCEPT pick resources.
CREATE SCHEMA only_eps;
IMPORT FOREIGN SCHEMA huaweicloud LIMIT TO (enterprise_projects) FROM SERVER hw INTO only_eps;
CREATE SCHEMA no_eps;
IMPORT FOREIGN SCHEMA huaweicloud EXCEPT (enterprise_projects) FROM SERVER hw INTO no_eps;
SELECT foreign_table_schema, foreign_table_name FROM information_schema.foreign_tables
 WHERE foreign_table_schema IN ('only_eps', 'no_eps') ORDER BY 1, 2;
DROP SCHEMA only_eps, no_eps CASCADE;

SET cloud_fdw.trace = on;
SET timezone = 'UTC';
SET datestyle = 'ISO';

-- CodeArts Deploy lists environments per application: it is required.
SELECT name FROM cloud.deploy_environments;
SELECT name FROM cloud.deploy_environments WHERE os = 'linux';

-- One application: its pages (page_index from 1); every other qual local.
SELECT id, name, os, deploy_type, instance_count, created_time, created_by_name,
       can_edit, can_deploy
  FROM cloud.deploy_environments
 WHERE application_id = '43943381f7764c52baae8e697720873f' AND os = 'linux'
 ORDER BY created_time;
ALTER FOREIGN TABLE cloud.deploy_environments OPTIONS (ADD page_size '2');
SELECT count(id) FROM cloud.deploy_environments
 WHERE application_id = '43943381f7764c52baae8e697720873f';
ALTER FOREIGN TABLE cloud.deploy_environments OPTIONS (DROP page_size);

-- IN: one listing per application, the application filled from the request.
SELECT application_id, name FROM cloud.deploy_environments
 WHERE application_id IN ('8ddf0566c1784da29faac80516fa8425', '43943381f7764c52baae8e697720873f',
                          '8ddf0566c1784da29faac80516fa8425')
   AND name LIKE 'prod%' ORDER BY name;

-- An unknown application (CodeArts' 404 in its own envelope) lists no rows.
SELECT count(*) FROM cloud.deploy_environments WHERE application_id = 'ffffffffffffffffffffffffffffffff';

-- Application and id: one get; an unknown id is no row.
SELECT name FROM cloud.deploy_environments
 WHERE application_id = '43943381f7764c52baae8e697720873f'
   AND id = 'ffffffffffffffffffffffffffffffff';
SELECT name, description, created_by, permission FROM cloud.deploy_environments
 WHERE application_id = '43943381f7764c52baae8e697720873f'
   AND id = '140ca97e701d4c4c93c5932d5bdb32ec';

-- A join gives the application per outer row: a nested loop of listings.
CREATE TABLE apps (app_id text, team text);
INSERT INTO apps VALUES ('43943381f7764c52baae8e697720873f', 'orders'),
                        ('8ddf0566c1784da29faac80516fa8425', 'billing');
SELECT explain_stable($$(VERBOSE, COSTS OFF)
SELECT a.team, e.name FROM apps a JOIN cloud.deploy_environments e ON e.application_id = a.app_id$$);
SELECT a.team, count(*) AS environments, sum(e.instance_count) AS hosts
  FROM apps a JOIN cloud.deploy_environments e ON e.application_id = a.app_id
 GROUP BY a.team ORDER BY a.team;

-- created_time has no zone; the registry reads it as UTC, a column option
-- can say otherwise.
ALTER FOREIGN TABLE cloud.deploy_environments
  ALTER COLUMN created_time OPTIONS (ADD timezone 'Asia/Shanghai');
SELECT created_time FROM cloud.deploy_environments
 WHERE application_id = '43943381f7764c52baae8e697720873f' AND id = '140ca97e701d4c4c93c5932d5bdb32ec';
ALTER FOREIGN TABLE cloud.deploy_environments
  ALTER COLUMN created_time OPTIONS (SET timezone 'Mars/Olympus');

-- UPDATE: a partial PUT; the API answers with an id only, so the row is got again.
UPDATE cloud.deploy_environments SET description = 'Integration tests, 3 hosts'
 WHERE application_id = '43943381f7764c52baae8e697720873f' AND name = 'test'
RETURNING id, name, description;
-- The API's name rules are checked before anything is sent.
UPDATE cloud.deploy_environments SET name = 'qa'
 WHERE application_id = '43943381f7764c52baae8e697720873f' AND name = 'test';
UPDATE cloud.deploy_environments SET name = 'qa env!'
 WHERE application_id = '43943381f7764c52baae8e697720873f' AND name = 'test';
UPDATE cloud.deploy_environments SET os = 'windows'
 WHERE application_id = '43943381f7764c52baae8e697720873f';

-- Enterprise projects: offset pages up to total_count.
ALTER FOREIGN TABLE cloud.enterprise_projects OPTIONS (ADD page_size '3');
SELECT id, name, status, type, created_at FROM cloud.enterprise_projects ORDER BY created_at;
-- The list call's filters are pushed down (and rechecked).
SELECT name FROM cloud.enterprise_projects WHERE status = 2;
SELECT name FROM cloud.enterprise_projects WHERE type = 'poc' AND name = 'finance_poc';
-- By id: a get.
SELECT name, description FROM cloud.enterprise_projects
 WHERE id = '5aa119a8-d25b-45a7-8d1b-88e127885635';
ALTER FOREIGN TABLE cloud.enterprise_projects OPTIONS (DROP page_size);

-- Join with local data, then report.
CREATE TABLE cost_centres (ep_id text, centre text, budget numeric);
INSERT INTO cost_centres VALUES
  ('e88f40a2-3bd4-4e94-b114-f27eab195b47', 'CC-100', 50000),
  ('5622276a-4637-4f37-89a4-62ce0fa030a0', 'CC-100', 5000),
  ('7c213c12-8f4c-4fc3-a9f0-665958282d8a', 'CC-200', 30000);
SELECT c.centre, count(*), sum(c.budget), string_agg(p.name, ', ' ORDER BY p.name)
  FROM cloud.enterprise_projects p JOIN cost_centres c ON c.ep_id = p.id
 GROUP BY c.centre ORDER BY c.centre;

-- UPDATE: the API wants the name in every body.
UPDATE cloud.enterprise_projects SET description = 'owned by data team'
 WHERE name LIKE 'data-%' RETURNING name, description;
-- Name rules: 1-255 of letters, digits, CJK, "_" and "-"; never "default".
UPDATE cloud.enterprise_projects SET name = 'Default' WHERE name = 'marketing';
UPDATE cloud.enterprise_projects SET name = 'marketing team' WHERE name = 'marketing';
UPDATE cloud.enterprise_projects SET name = '市场部' WHERE name = 'marketing' RETURNING name;
-- Status changes through the enable/disable action; a disabled project is
-- enabled before it is updated, and disabled after.
UPDATE cloud.enterprise_projects SET status = 1, description = 'back in use'
 WHERE name = 'legacy-migration' RETURNING name, status, description;
UPDATE cloud.enterprise_projects SET status = 2 WHERE name = 'legacy-migration'
RETURNING name, status;
UPDATE cloud.enterprise_projects SET status = 3 WHERE name = 'legacy-migration';
-- The default project cannot be changed: refused before any PUT.
UPDATE cloud.enterprise_projects SET description = 'x' WHERE id = '0';

RESET cloud_fdw.trace;
DROP TABLE apps, cost_centres;
DROP SCHEMA cloud CASCADE;
DROP SERVER hw CASCADE;
