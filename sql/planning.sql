--
-- Planning and results: the same rows under every plan, keys compared with
-- their type's semantics, estimates that choose between a listing and gets.
--
\getenv mock_url MOCK_URL
\i sql/include/explain.sql
\set endpoint :mock_url '/_mock/tenant=planning/api/v1/cloud'

CREATE SERVER plan_qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint', page_size '100');
CREATE USER MAPPING FOR CURRENT_USER SERVER plan_qoder OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE envs (id text, name text, status text, archived boolean)
  SERVER plan_qoder OPTIONS (resource 'environments');
SET timezone = 'UTC';

-- Two local tables and the foreign table joined on its key: the join clause
-- gives parameterized paths for several sets of outer relations.
CREATE TABLE ta (k text, note text);
CREATE TABLE tb (k text, weight int);
INSERT INTO ta VALUES ('env_019e3bb39b6774d8878cd0b9d237574b', 'a'),
                      ('env_019c226880c07a79af31c5d0c2a70152', 'b'),
                      ('env_00000000000000000000000000000000', 'missing');
INSERT INTO tb SELECT k, length(note) FROM ta;
ANALYZE ta, tb;
SELECT ta.note, tb.weight, e.name, e.status
  FROM ta JOIN tb ON ta.k = tb.k JOIN envs e ON e.id = ta.k ORDER BY 1;
SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT explain_stable($$(COSTS OFF)
SELECT ta.note, tb.weight, e.name FROM ta JOIN tb ON ta.k = tb.k JOIN envs e ON e.id = ta.k$$);
SELECT ta.note, tb.weight, e.name, e.status
  FROM ta JOIN tb ON ta.k = tb.k JOIN envs e ON e.id = ta.k ORDER BY 1;
-- The same shape under UPDATE ... FROM plans (EXPLAIN only: update.sql writes).
SELECT explain_stable($$(COSTS OFF)
UPDATE envs e SET name = e.name FROM ta JOIN tb ON ta.k = tb.k WHERE e.id = ta.k$$);
RESET enable_hashjoin; RESET enable_mergejoin;

-- Archived environments: a listing asks for them, so a listing and gets agree.
SELECT count(*) AS listed FROM envs;
SELECT count(*) AS got FROM envs WHERE id IN (SELECT id FROM envs);
SELECT id, status, archived FROM envs WHERE id = 'env_019c226880c07a79af31c5d0c2a70152';
SELECT count(*) FROM envs WHERE archived;

-- char(n) keys compare without their padding, and are sent without it.
CREATE FOREIGN TABLE envs_char (id char(40), name text)
  SERVER plan_qoder OPTIONS (resource 'environments');
SET cloud_fdw.trace = on;
SELECT id, name FROM envs_char WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT count(*) FROM envs_char WHERE id IN ('env_019e3bb39b6774d8878cd0b9d237574b  ', 'env_019c226880c07a79af31c5d0c2a70152');
-- So do keys of a domain over char(n), also as values from a join.
CREATE DOMAIN env_key AS char(40);
CREATE FOREIGN TABLE envs_dom (id env_key, name text)
  SERVER plan_qoder OPTIONS (resource 'environments');
CREATE TABLE dom_keys (k env_key);
INSERT INTO dom_keys VALUES ('env_019e3bb39b6774d8878cd0b9d237574b');
ANALYZE dom_keys;
ALTER FOREIGN TABLE envs_dom OPTIONS (ADD estimated_items '100000');
SELECT name FROM envs_dom WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'::env_key;
SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT e.name FROM dom_keys d JOIN envs_dom e ON e.id = d.k;
RESET enable_hashjoin; RESET enable_mergejoin;
DROP TABLE dom_keys;
DROP FOREIGN TABLE envs_dom;
DROP DOMAIN env_key;
-- citext-like semantics are not the API's: a case-insensitive key is never a get.
CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM envs WHERE id = 'ENV_019E3BB39B6774D8878CD0B9D237574B' COLLATE ci;
SELECT id FROM envs WHERE id = 'ENV_019E3BB39B6774D8878CD0B9D237574B' COLLATE ci;
-- A volatile value is not a key either: it is evaluated per row.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM envs WHERE id = (CASE WHEN random() >= 0 THEN 'env_019e3bb39b6774d8878cd0b9d237574b' END);
RESET cloud_fdw.trace;

-- Combinations of key values beyond a million are refused, not wrapped.
\set hw_endpoint :mock_url '/_mock/tenant=planning'
CREATE SERVER plan_hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'hw_endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER plan_hw OPTIONS (auth_token 'hw-test-token');
CREATE FOREIGN TABLE deploy (application_id text, id text, name text)
  SERVER plan_hw OPTIONS (resource 'deploy_environments',
                          codearts_project_id '55837d272adf4eee90319800e2da6961');
SELECT count(*) FROM deploy
 WHERE application_id = ANY (ARRAY(SELECT 'a' || g FROM generate_series(1, 50000) g))
   AND id = ANY (ARRAY(SELECT 'e' || g FROM generate_series(1, 50000) g));
\echo :LAST_ERROR_SQLSTATE

-- A list whose parent does not exist has no rows, in an IN list or a LEFT
-- JOIN; a bare 404 (not the API's envelope) is a wrong endpoint: an error.
SELECT application_id, count(*) FROM deploy
 WHERE application_id IN ('43943381f7764c52baae8e697720873f', 'ffffffffffffffffffffffffffffffff')
 GROUP BY 1 ORDER BY 1;
CREATE TABLE apps (id text);
INSERT INTO apps VALUES ('43943381f7764c52baae8e697720873f'), ('ffffffffffffffffffffffffffffffff');
SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT a.id, count(d.id) FROM apps a LEFT JOIN deploy d ON d.application_id = a.id
 GROUP BY 1 ORDER BY 1;
RESET enable_hashjoin; RESET enable_mergejoin;
-- The application comes from one table while another joins on a non-key
-- column: the plan must take it from the first (PostgreSQL builds the join
-- with the second from a path that needs no value).
CREATE TABLE names (n text);
INSERT INTO names VALUES ('生产环境'), ('no such name');
ANALYZE apps, names;
SELECT a.id, d.name FROM apps a JOIN deploy d ON d.application_id = a.id
  JOIN names ON names.n = d.name ORDER BY 1, 2;
-- With no table to take it from, the error says what is missing.
SELECT count(*) FROM deploy d JOIN names ON names.n = d.name;
-- It names only what the query does not give, and the table option of each.
CREATE FOREIGN TABLE deploy_noproj (application_id text, project_id text, id text)
  SERVER plan_hw OPTIONS (resource 'deploy_environments');
SELECT count(*) FROM deploy_noproj;
SELECT count(*) FROM deploy_noproj WHERE project_id = '55837d272adf4eee90319800e2da6961';
SELECT count(*) FROM deploy_noproj WHERE application_id = '43943381f7764c52baae8e697720873f';
\set html404 :mock_url '/_mock/tenant=planning,status=404,body=html'
ALTER SERVER plan_hw OPTIONS (SET endpoint :'html404');
SELECT count(*) FROM deploy WHERE application_id = '43943381f7764c52baae8e697720873f';
ALTER SERVER plan_hw OPTIONS (SET endpoint :'hw_endpoint');

-- An empty value matches nothing either (the API refuses ?project_id=).
SET cloud_fdw.trace = on;
SELECT count(*) FROM deploy_noproj
 WHERE application_id = '43943381f7764c52baae8e697720873f' AND project_id = '';
SELECT count(*) FROM deploy_noproj
 WHERE application_id = '43943381f7764c52baae8e697720873f' AND project_id IN ('', '55837d272adf4eee90319800e2da6961');
RESET cloud_fdw.trace;
-- A filter value outside the API's enumeration matches nothing: no request.
CREATE FOREIGN TABLE eps (id text, name text, status integer, type text)
  SERVER plan_hw OPTIONS (resource 'enterprise_projects');
SET cloud_fdw.trace = on;
SELECT count(*) FROM eps WHERE type = 'Prod';
SELECT count(*) FROM eps WHERE status = 0;
SELECT count(*) FROM eps WHERE type IN ('Prod', 'poc');
-- LIMIT shrinks the page only when the API filters exactly: EPS "name" is
-- fuzzy ("finance" matches "finance-prod" and "finance_poc"), so the page
-- stays whole and the local check keeps the right row.
SELECT name FROM eps WHERE name = 'finance_poc' LIMIT 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM eps WHERE type = 'poc' LIMIT 1;
RESET cloud_fdw.trace;

-- A get answered 401 or 403 is an error, never "no such row".
\set forbidden :mock_url '/_mock/tenant=planning,status=403,fault_methods=GET'
ALTER SERVER plan_hw OPTIONS (SET endpoint :'forbidden');
SELECT count(*) FROM eps WHERE id = '5aa119a8-d25b-45a7-8d1b-88e127885635';
SELECT count(*) FROM eps WHERE id IN ('5aa119a8-d25b-45a7-8d1b-88e127885635', 'e88f40a2-3bd4-4e94-b114-f27eab195b47');
\set unauthorized :mock_url '/_mock/tenant=planning,status=401,fault_methods=GET'
ALTER SERVER plan_hw OPTIONS (SET endpoint :'unauthorized');
SELECT count(*) FROM eps WHERE id = '5aa119a8-d25b-45a7-8d1b-88e127885635';
ALTER SERVER plan_hw OPTIONS (SET endpoint :'hw_endpoint');

-- A server that ignores offset would repeat its first page for ever.
\set no_offset :mock_url '/_mock/tenant=planning_offset,eps_rows=30,ignore_offset=1'
ALTER SERVER plan_hw OPTIONS (SET endpoint :'no_offset');
ALTER FOREIGN TABLE eps OPTIONS (ADD page_size '10');
SELECT count(id) FROM eps;
ALTER SERVER plan_hw OPTIONS (SET endpoint :'hw_endpoint');

-- Estimates: ANALYZE counts the collection, and listings are costed by pages.
\set big :mock_url '/_mock/tenant=planning_big,rows=3000/api/v1/cloud'
CREATE SERVER plan_big FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'big');
CREATE USER MAPPING FOR CURRENT_USER SERVER plan_big OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE big_envs (id text, name text)
  SERVER plan_big OPTIONS (resource 'environments');
ANALYZE big_envs;
SELECT reltuples FROM pg_class WHERE relname = 'big_envs';
-- Two outer rows: two gets, estimated at one row each, beat 30 pages.
CREATE TABLE two (k text);
INSERT INTO two SELECT id FROM big_envs LIMIT 2;
ANALYZE two;
SELECT explain_stable($$(VERBOSE, COSTS OFF) SELECT b.name FROM two JOIN big_envs b ON b.id = two.k$$);
CREATE FUNCTION plan_rows_and_cost(query text, OUT rows float8, OUT cost float8)
LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
  rows := (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
  cost := (plan -> 0 -> 'Plan' ->> 'Total Cost')::float8;
END $$;
SELECT rows FROM plan_rows_and_cost($$SELECT * FROM big_envs WHERE id = 'x'$$);
-- A thousand gets stay below jit_above_cost: waiting is not computing.
CREATE TABLE thousand (k text);
INSERT INTO thousand SELECT 'env_' || g FROM generate_series(1, 1000) g;
ANALYZE thousand;
SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT cost < current_setting('jit_above_cost')::float8 AS below_jit
  FROM plan_rows_and_cost($$SELECT b.name FROM thousand t JOIN big_envs b ON b.id = t.k$$);
RESET enable_hashjoin; RESET enable_mergejoin;
-- An API that reports its total is trusted for the count once the sample
-- is full: with a sample of 300 rows (statistics target 1), 3 pages of 100
-- count 1,000 enterprise projects.
\set eps_big :mock_url '/_mock/tenant=planning_eps_big,eps_rows=1000'
CREATE SERVER plan_eps_big FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'eps_big');
CREATE USER MAPPING FOR CURRENT_USER SERVER plan_eps_big OPTIONS (auth_token 'hw-test-token');
CREATE FOREIGN TABLE eps_big (id text, name text)
  SERVER plan_eps_big OPTIONS (resource 'enterprise_projects', page_size '100');
SET default_statistics_target = 1;
SET cloud_fdw.trace = on;
ANALYZE eps_big;
RESET cloud_fdw.trace;
RESET default_statistics_target;
SELECT reltuples FROM pg_class WHERE relname = 'eps_big';
-- A resource listed only under a parent cannot be counted.
ANALYZE deploy;

DROP SERVER plan_qoder, plan_hw, plan_big, plan_eps_big CASCADE;
DROP TABLE ta, tb, apps, names, two, thousand;
DROP COLLATION ci;
DROP FUNCTION plan_rows_and_cost(text);
RESET timezone;
