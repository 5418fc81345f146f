--
-- Organisation scale: a partitioned table of per-account foreign
-- partitions scanned asynchronously, columns with a fixed value per table,
-- count(*) from the API's total, concurrent pages, and partitions skipped
-- by choice.
--
\getenv mock_url MOCK_URL
\i sql/include/explain.sql
SET timezone = 'UTC';

-- Options: async_capable and on_partition_error on servers and tables,
-- value on columns, never with a path.
\set acct1 :mock_url '/_mock/tenant=scale_acct1,rows=3/api/v1/cloud'
\set acct2 :mock_url '/_mock/tenant=scale_acct2,rows=3,rows_from=3/api/v1/cloud'
\set acct3 :mock_url '/_mock/tenant=scale_acct3,rows=3,rows_from=6/api/v1/cloud'
CREATE SERVER acct1 FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint :'acct1');
CREATE SERVER acct2 FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint :'acct2');
CREATE SERVER acct3 FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint :'acct3');
CREATE USER MAPPING FOR CURRENT_USER SERVER acct1 OPTIONS (token 'pt-test-admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER acct2 OPTIONS (token 'pt-test-admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER acct3 OPTIONS (token 'pt-test-admin');
ALTER SERVER acct1 OPTIONS (ADD async_capable 'maybe');
ALTER SERVER acct1 OPTIONS (ADD on_partition_error 'ignore');
CREATE FOREIGN TABLE bad (account text OPTIONS (value 'a', path 'name'))
  SERVER acct1 OPTIONS (resource 'environments');
CREATE FOREIGN TABLE bad (account text) SERVER acct1 OPTIONS (resource 'environments', value 'a');

CREATE TABLE envs (account text NOT NULL, id text, name text, status text)
  PARTITION BY LIST (account);
CREATE FOREIGN TABLE envs_acct1 (account text OPTIONS (value 'acct-1') NOT NULL, id text, name text, status text)
  SERVER acct1 OPTIONS (resource 'environments');
ALTER TABLE envs ATTACH PARTITION envs_acct1 FOR VALUES IN ('acct-1');
CREATE FOREIGN TABLE envs_acct2 (account text OPTIONS (value 'acct-2') NOT NULL, id text, name text, status text)
  SERVER acct2 OPTIONS (resource 'environments');
ALTER TABLE envs ATTACH PARTITION envs_acct2 FOR VALUES IN ('acct-2');
CREATE FOREIGN TABLE envs_acct3 (account text OPTIONS (value 'acct-3') NOT NULL, id text, name text, status text)
  SERVER acct3 OPTIONS (resource 'environments');
ALTER TABLE envs ATTACH PARTITION envs_acct3 FOR VALUES IN ('acct-3');

-- Every partition's listing is on its way at once.
EXPLAIN (COSTS OFF) SELECT account, name FROM envs;
SELECT account, count(*), count(DISTINCT id) FROM envs GROUP BY account ORDER BY account;
CREATE TEMP TABLE async_rows AS SELECT * FROM envs;
SET enable_async_append = off;
EXPLAIN (COSTS OFF) SELECT account, name FROM envs;
SELECT count(*) AS differing FROM
  ((SELECT * FROM envs EXCEPT ALL SELECT * FROM async_rows)
   UNION ALL (SELECT * FROM async_rows EXCEPT ALL SELECT * FROM envs)) d;
RESET enable_async_append;
-- A table (or its server) can say no.
ALTER FOREIGN TABLE envs_acct2 OPTIONS (ADD async_capable 'false');
EXPLAIN (COSTS OFF) SELECT account, name FROM envs;
ALTER FOREIGN TABLE envs_acct2 OPTIONS (DROP async_capable);
-- Joined with a local table, under a LIMIT, and in a prepared statement.
CREATE TABLE owners (account text, team text);
INSERT INTO owners VALUES ('acct-1', 'web'), ('acct-2', 'data'), ('acct-3', 'ops');
SELECT o.team, count(*) FROM envs e JOIN owners o USING (account) GROUP BY o.team ORDER BY 1;
SELECT count(*) FROM (SELECT * FROM envs LIMIT 4) s;
PREPARE by_account(text) AS SELECT count(*) FROM envs WHERE account = $1;
EXECUTE by_account('acct-3');
EXECUTE by_account('acct-9');

-- A fixed column: a qual on it prunes partitions, and on one table it is
-- decided without a request.
EXPLAIN (COSTS OFF) SELECT name FROM envs WHERE account = 'acct-2';
SET cloud_fdw.trace = on;
SELECT name FROM envs_acct1 WHERE account = 'acct-2';
SELECT count(*) FROM envs_acct1 WHERE account IN ('acct-1', 'acct-2');
RESET cloud_fdw.trace;
-- It is never sent in an update, and cannot be set.
UPDATE envs SET account = 'acct-2' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SET cloud_fdw.trace = on;
UPDATE envs SET name = name || '-x' WHERE account = 'acct-1' AND id IN (SELECT id FROM envs_acct1 ORDER BY id LIMIT 1)
  RETURNING account, name;
UPDATE envs SET name = regexp_replace(name, '-x$', '') WHERE account = 'acct-1' AND name LIKE '%-x'
  RETURNING account, name;
RESET cloud_fdw.trace;
-- A value its column's type refuses is an error where it is used.
CREATE FOREIGN TABLE envs_badvalue (account integer OPTIONS (value 'one'), name text)
  SERVER acct1 OPTIONS (resource 'environments');
SELECT name FROM envs_badvalue;
DROP FOREIGN TABLE envs_badvalue;

-- A partition that fails is an ERROR by default, or skipped with a
-- WARNING naming it, its server and the error.
ALTER USER MAPPING FOR CURRENT_USER SERVER acct2 OPTIONS (SET token 'pt-revoked');
SELECT count(*) FROM envs;
ALTER SERVER acct2 OPTIONS (ADD on_partition_error 'warn');
DO $$ DECLARE n bigint; BEGIN
  SELECT count(*) INTO n FROM envs;
  RAISE NOTICE 'rows: %', n;
END $$;
-- ... also when the plan runs synchronously, and for a table's own option.
ALTER SERVER acct2 OPTIONS (DROP on_partition_error);
ALTER FOREIGN TABLE envs_acct2 OPTIONS (ADD on_partition_error 'warn');
SET enable_async_append = off;
DO $$ DECLARE n bigint; BEGIN
  SELECT count(*) INTO n FROM envs;
  RAISE NOTICE 'rows: %', n;
END $$;
RESET enable_async_append;
-- A cancelled query is never skipped.
SET statement_timeout = '300ms';
\set hung :mock_url '/_mock/tenant=scale_acct2,hang=1/api/v1/cloud'
ALTER SERVER acct2 OPTIONS (SET endpoint :'hung');
ALTER USER MAPPING FOR CURRENT_USER SERVER acct2 OPTIONS (SET token 'pt-test-admin');
SELECT count(*) FROM envs;
RESET statement_timeout;
ALTER SERVER acct2 OPTIONS (SET endpoint :'acct2');
SELECT count(*) FROM envs;
-- Nor is an error of the query itself (here in a key's value).
SELECT count(*) FROM envs_acct2 WHERE id = (SELECT (1 / 0)::text);

-- count(*) of a listing that answers its total: one request for one item.
\set hw :mock_url '/_mock/tenant=scale_hw,eps_rows=57'
CREATE SERVER scale_hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', endpoint :'hw', region 'cn-north-4');
CREATE USER MAPPING FOR CURRENT_USER SERVER scale_hw OPTIONS (auth_token 'hw-test-token');
CREATE FOREIGN TABLE eps (id text, name text, status integer, type text)
  SERVER scale_hw OPTIONS (resource 'enterprise_projects');
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM eps;
SET cloud_fdw.trace = on;
SELECT count(*) FROM eps;
SELECT count(*) FROM eps WHERE status = 1;
SELECT count(*), count(*) AS again FROM eps WHERE status = 2;
RESET cloud_fdw.trace;
SELECT count(id) AS listed, (SELECT count(*) FROM eps) AS counted FROM eps;
SELECT count(id) AS listed FROM eps WHERE status = 1;
-- Not when a qual is checked locally, a column is read, or rows are grouped.
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM eps WHERE name LIKE 'p%';
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM eps WHERE name = 'default';
EXPLAIN (COSTS OFF) SELECT count(name) FROM eps;
EXPLAIN (COSTS OFF) SELECT status, count(*) FROM eps GROUP BY status;
-- Nor for a listing without a total (Qoder's cursor pages).
EXPLAIN (COSTS OFF) SELECT count(*) FROM envs_acct1;

-- Concurrent pages: once the first page gives the total, the other pages
-- go "concurrency" at once, and their rows come in the API's order.
ALTER FOREIGN TABLE eps OPTIONS (ADD page_size '5');
ALTER SERVER scale_hw OPTIONS (ADD concurrency '1');
CREATE TEMP TABLE sequential AS SELECT row_number() OVER () AS n, id FROM eps;
ALTER SERVER scale_hw OPTIONS (SET concurrency '4');
CREATE TEMP TABLE concurrent AS SELECT row_number() OVER () AS n, id FROM eps;
SELECT count(*) AS rows, count(*) FILTER (WHERE s.id IS DISTINCT FROM c.id) AS out_of_order
  FROM sequential s FULL JOIN concurrent c USING (n);
-- Never more than "concurrency" pages held: on their way or being read.
SELECT line FROM explain_stable($$(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF)
SELECT id FROM eps$$) AS line WHERE line ~ 'Remote (pages|requests)';
ALTER SERVER scale_hw OPTIONS (SET concurrency '2');
SELECT line FROM explain_stable($$(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF)
SELECT id FROM eps$$) AS line WHERE line ~ 'Remote (pages|requests)';
-- A LIMIT stops early; the pages asked for ahead are abandoned.
SELECT count(*) FROM (SELECT id FROM eps LIMIT 7) s;
SELECT id FROM eps ORDER BY id LIMIT 1;
-- A cursor's pages asked for ahead inside a savepoint that rolls back are
-- aborted with it, and asked for again: no row lost or repeated.
ALTER SERVER scale_hw OPTIONS (SET concurrency '4');
DO $$
DECLARE
  c refcursor;
  r record;
  ids text[] := '{}';
BEGIN
  OPEN c FOR SELECT id FROM eps;
  FOR i IN 1..3 LOOP FETCH c INTO r; ids := ids || r.id; END LOOP;
  BEGIN
    FOR i IN 1..6 LOOP FETCH c INTO r; ids := ids || r.id; END LOOP;
    PERFORM 1 / 0;
  EXCEPTION WHEN division_by_zero THEN NULL;
  END;
  LOOP FETCH c INTO r; EXIT WHEN NOT FOUND; ids := ids || r.id; END LOOP;
  RAISE NOTICE 'rows: %, distinct: %, listed: %', cardinality(ids),
    (SELECT count(DISTINCT i) FROM unnest(ids) i), (SELECT count(id) FROM eps);
END $$;

SET client_min_messages = warning;
DROP SERVER acct1, acct2, acct3, scale_hw CASCADE;
DROP TABLE envs, owners;
