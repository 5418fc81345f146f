--
-- The cache of read answers: opt-in through cache_ttl, lowered by
-- cloud_fdw.cache_ttl, ages counted from the query's start, dropped by our
-- own writes, shown by EXPLAIN ANALYZE, the trace and the statistics, kept
-- apart per credentials; new in extension version 1.1.  This cluster does
-- not preload cloud_fdw, so the cache is this backend's; sharing it
-- between backends is test/t_cache.py's.
--
\getenv mock_url MOCK_URL
\i sql/include/explain.sql
\set endpoint :mock_url '/_mock/tenant=cache/api/v1/cloud'
\set doc_env 'env_019e3bb39b6774d8878cd0b9d237574b'

-- Options: cache_ttl on servers and tables, a duration, or 0 for off.
CREATE SERVER regress_cache FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint', cache_ttl 'forever');
CREATE SERVER regress_cache FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint', cache_ttl '-5s');
CREATE SERVER regress_cache FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint', cache_ttl '60s');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_cache OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE cached_envs (id text, name text, status text)
  SERVER regress_cache OPTIONS (resource 'environments');
CREATE FOREIGN TABLE fresh_envs (id text, name text, status text)
  SERVER regress_cache OPTIONS (resource 'environments', cache_ttl '0');
CREATE FOREIGN TABLE bad (id text) SERVER regress_cache
  OPTIONS (resource 'environments', cache_ttl '1 fortnight');
-- The GUC takes a duration too, and -1 (the tables' own); its range
-- message differs between majors, its SQLSTATE does not.
\set VERBOSITY sqlstate
SET cloud_fdw.cache_ttl = -2;
\set VERBOSITY default
SHOW cloud_fdw.cache_ttl;
SELECT cloud_fdw_cache_clear() >= 0 AS cleared;

-- Counters of this backend, read as differences from a starting point.
CREATE FUNCTION cache_delta(OUT entries bigint, OUT hits bigint, OUT misses bigint)
LANGUAGE sql AS $$
  SELECT s.entries, s.hits - coalesce(current_setting('regress.hits', true)::bigint, 0),
         s.misses - coalesce(current_setting('regress.misses', true)::bigint, 0)
  FROM cloud_fdw_cache_stats() s
$$;
CREATE PROCEDURE cache_mark() LANGUAGE plpgsql AS $$
DECLARE s record;
BEGIN
  SELECT * INTO s FROM cloud_fdw_cache_stats();
  PERFORM set_config('regress.hits', s.hits::text, false);
  PERFORM set_config('regress.misses', s.misses::text, false);
END
$$;

-- The second query is answered from the cache; the trace says which.
SET cloud_fdw.trace = on;
CALL cache_mark();
SELECT count(name) FROM cached_envs;
SELECT count(name) FROM cached_envs;
-- A table with cache_ttl 0 on the same server always asks.
SELECT count(name) FROM fresh_envs;
RESET cloud_fdw.trace;
SELECT * FROM cache_delta();

-- EXPLAIN ANALYZE counts hits and misses per scan, and no remote request for a hit.
SELECT explain_stable('(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT count(name) FROM cached_envs');
SELECT explain_stable('(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT count(name) FROM fresh_envs');

-- cloud_fdw.cache_ttl lowers it for a session or one transaction; 0 turns it off.
SET cloud_fdw.trace = on;
BEGIN;
SET LOCAL cloud_fdw.cache_ttl = 0;
SELECT count(name) FROM cached_envs;
COMMIT;
SELECT count(name) FROM cached_envs;
-- An answer is used only within the TTL: a 2.2 s old answer, under 2s, is not.
-- (2s leaves a slow machine, or valgrind, time between two statements.)
SET cloud_fdw.cache_ttl = '2s';
SELECT pg_sleep(2.2);
SELECT count(name) FROM cached_envs;
SELECT count(name) FROM cached_envs;
-- ... but never expires half way through a query: its age counts from the
-- query's start, so the second subquery, 2.2s later, still has it.
SELECT pg_sleep(2.2);
SELECT (SELECT count(name) FROM cached_envs) AS first, pg_sleep(2.2) IS NULL AS slept,
       (SELECT count(name) FROM cached_envs) AS second;
RESET cloud_fdw.cache_ttl;
-- A get is cached like a listing, under its own key.
SELECT name FROM cached_envs WHERE id = :'doc_env';
SELECT name FROM cached_envs WHERE id = :'doc_env';

-- Our writes drop the listings and gets of the resource for these
-- credentials, at the end of the statement; the scan of the rows an UPDATE
-- changes never reads the cache.  The item the PUT answers becomes the
-- cached get (with RETURNING, and without: then its answer is read only
-- for the cache).
UPDATE cached_envs SET name = 'cached-rename' WHERE id = :'doc_env' RETURNING name;
SELECT name FROM cached_envs WHERE id = :'doc_env';
SELECT count(name) FROM cached_envs WHERE name = 'cached-rename';
UPDATE cached_envs SET name = 'cached-again' WHERE id = :'doc_env';
SELECT name FROM cached_envs WHERE id = :'doc_env';
-- A write through another table of the server drops them too.
SELECT count(name) FROM cached_envs;
UPDATE fresh_envs SET name = 'fresh-rename' WHERE id = :'doc_env';
SELECT count(name) FROM cached_envs WHERE name = 'fresh-rename';
SELECT name FROM cached_envs WHERE id = :'doc_env';
-- A transaction that rolls back does not undo the write, nor the drop:
-- the next statement already sees the change.
BEGIN;
UPDATE fresh_envs SET name = 'rolled-back' WHERE id = :'doc_env';
SELECT name FROM cached_envs WHERE id = :'doc_env';
ROLLBACK;
SELECT name FROM cached_envs WHERE id = :'doc_env';
-- A statement that fails after a write drops them as it aborts.  (Only its
-- ERROR is shown: psql may print the WARNING of the abort, which names the
-- row changed, before or after it.)
SELECT count(name) FROM cached_envs;
SET client_min_messages = error;
UPDATE fresh_envs SET name = CASE WHEN name = 'rolled-back' THEN 'aborted' ELSE (1 / (length(name) - length(name)))::text END
  WHERE id IN (:'doc_env', 'env_019f230cb2187f9a855770a8a3be88c7') RETURNING name;
RESET client_min_messages;
SELECT count(name) FROM cached_envs WHERE name = 'aborted';
UPDATE fresh_envs SET name = 'doc-test-env' WHERE id = :'doc_env';
RESET cloud_fdw.trace;

-- Huawei Cloud: a PUT whose answer holds the item under "enterprise_project"
-- (EPS), and a PUT that answers none, whose row comes from a get with
-- RETURNING (CodeArts): either way the get is then answered from the cache.
\set hw_endpoint :mock_url '/_mock/tenant=cache_hw'
CREATE SERVER regress_cache_hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'hw_endpoint', cache_ttl '60s');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_cache_hw OPTIONS (auth_token 'hw-test-token');
CREATE FOREIGN TABLE cached_eps (id text, name text, description text)
  SERVER regress_cache_hw OPTIONS (resource 'enterprise_projects');
CREATE FOREIGN TABLE cached_deploy (application_id text, id text, name text, description text)
  SERVER regress_cache_hw OPTIONS (resource 'deploy_environments');
UPDATE cached_eps SET description = 'cached by its PUT' WHERE id = 'e88f40a2-3bd4-4e94-b114-f27eab195b47';
UPDATE cached_deploy SET description = 'cached by its get'
  WHERE application_id = '43943381f7764c52baae8e697720873f' AND id = '83faac572f564652466de486522c4f8d'
  RETURNING description;
SET cloud_fdw.trace = on;
SELECT name, description FROM cached_eps WHERE id = 'e88f40a2-3bd4-4e94-b114-f27eab195b47';
SELECT name, description FROM cached_deploy
  WHERE application_id = '43943381f7764c52baae8e697720873f' AND id = '83faac572f564652466de486522c4f8d';
RESET cloud_fdw.trace;

-- Errors are never cached: after a refused listing, the next query asks again.
\set faulty :mock_url '/_mock/tenant=cache,status=400,fault_count=1/api/v1/cloud'
CREATE SERVER regress_cache_faulty FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'faulty', cache_ttl '60s');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_cache_faulty OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE faulty_envs (id text, name text) SERVER regress_cache_faulty
  OPTIONS (resource 'environments');
SET cloud_fdw.trace = on;
SELECT count(name) FROM faulty_envs;
SELECT count(name) FROM faulty_envs;
SELECT count(name) FROM faulty_envs;
RESET cloud_fdw.trace;

-- Credentials keep entries apart: another role's token gets its own
-- answers, and a token the API refuses gets the refusal, never the rows
-- cached for someone else.
CREATE ROLE regress_cache_reader;
CREATE USER MAPPING FOR regress_cache_reader SERVER regress_cache OPTIONS (token 'pt-test-readonly');
GRANT SELECT ON cached_envs TO regress_cache_reader;
SELECT count(name) FROM cached_envs;
SET cloud_fdw.trace = on;
SET ROLE regress_cache_reader;
SELECT count(name) FROM cached_envs;
SELECT count(name) FROM cached_envs;
RESET ROLE;
RESET cloud_fdw.trace;
SELECT entries FROM cloud_fdw_cache_stats();
-- Altering a user mapping drops what it cached.
ALTER USER MAPPING FOR regress_cache_reader SERVER regress_cache OPTIONS (SET token 'pt-not-a-token');
SELECT entries FROM cloud_fdw_cache_stats();
SET ROLE regress_cache_reader;
SELECT count(name) FROM cached_envs;
RESET ROLE;
-- A user clears only the answers of their own credentials; a superuser clears all.
ALTER USER MAPPING FOR regress_cache_reader SERVER regress_cache OPTIONS (SET token 'pt-test-readonly');
SET ROLE regress_cache_reader;
SELECT count(name) FROM cached_envs;
SELECT entries FROM cloud_fdw_cache_stats();
SELECT cloud_fdw_cache_clear();
SELECT entries FROM cloud_fdw_cache_stats();
RESET ROLE;
SET cloud_fdw.trace = on;
SELECT count(name) FROM cached_envs;
RESET cloud_fdw.trace;
SELECT cloud_fdw_cache_clear();
SELECT entries, bytes FROM cloud_fdw_cache_stats();
-- Dropping a server drops its entries.
SELECT count(name) FROM cached_envs;
SELECT entries > 0 AS cached FROM cloud_fdw_cache_stats();
DROP SERVER regress_cache_faulty CASCADE;
DROP SERVER regress_cache_hw CASCADE;
DROP SERVER regress_cache CASCADE;
SELECT entries, bytes FROM cloud_fdw_cache_stats();
-- The statistics: size and mode are there, and no backend shares this one.
SELECT size > 0 AS has_size, shared FROM cloud_fdw_cache_stats();
DROP FUNCTION cache_delta();
DROP PROCEDURE cache_mark();
DROP ROLE regress_cache_reader;

-- Version 1.1 brings the cache's functions: a database created at 1.0
-- gets the same objects by ALTER EXTENSION UPDATE as this one, created at 1.1.
SELECT extversion FROM pg_extension WHERE extname = 'cloud_fdw';
CREATE VIEW extension_objects AS
  SELECT pg_describe_object(classid, objid, 0) AS object FROM pg_depend
  WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'cloud_fdw');
CREATE TEMP TABLE fresh_objects AS SELECT object FROM extension_objects;
SELECT object FROM fresh_objects ORDER BY object;
\set regress_db :DBNAME
CREATE DATABASE regress_cloud_fdw_upgrade;
\c regress_cloud_fdw_upgrade
CREATE EXTENSION cloud_fdw VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'cloud_fdw';
SELECT cloud_fdw_cache_stats();
ALTER EXTENSION cloud_fdw UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'cloud_fdw';
SELECT pg_describe_object(classid, objid, 0) AS object FROM pg_depend
  WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'cloud_fdw')
  ORDER BY object;
SELECT entries, shared FROM cloud_fdw_cache_stats();
\c :regress_db
DROP DATABASE regress_cloud_fdw_upgrade;
DROP VIEW extension_objects;
