--
-- Push-down and request economy: keys sent as gets (concurrently), LIMIT
-- as a smaller page, joins as parameterized gets when that is cheaper, and
-- rescans replayed.  Request counts come from EXPLAIN ANALYZE and the trace.
--
\getenv mock_url MOCK_URL
\i sql/include/explain.sql
\set endpoint :mock_url '/_mock/tenant=pushdown/api/v1/cloud'

CREATE SERVER regress_qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint', page_size '5');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE envs (id text, name text, status text,
  networking_type text OPTIONS (path 'config.networking.type'))
  SERVER regress_qoder OPTIONS (resource 'environments');

SET cloud_fdw.trace = on;

-- IN: one get per distinct value, sent concurrently, rows in key order;
-- unknown ids are no rows.
SELECT id, name FROM envs
 WHERE id IN ('env_019e3bb39b6774d8878cd0b9d237574b', 'env_019b92947fa97faaacdf8beed28a7fc0',
              'env_00000000000000000000000000000000', 'env_019e3bb39b6774d8878cd0b9d237574b');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM envs WHERE id = ANY (ARRAY['env_1', 'env_2']);
SELECT explain_stable($$(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF)
SELECT name FROM envs WHERE id IN ('env_019e3bb39b6774d8878cd0b9d237574b', 'env_019b92947fa97faaacdf8beed28a7fc0')$$);

-- A full scan of 12 items in pages of 5: 3 requests.
SELECT explain_stable($$(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT * FROM envs$$);

-- LIMIT: a smaller first page, and no page after the rows needed.
SELECT name FROM envs LIMIT 2;
SELECT name FROM envs LIMIT 7;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM envs LIMIT 2;
-- ...but not when rows could be dropped locally, or all rows are needed first.
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM envs WHERE status = 'ready' LIMIT 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM envs ORDER BY name LIMIT 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM envs LIMIT 2;
RESET cloud_fdw.trace;

-- Joins: a few local rows against a large remote listing is a get per row;
-- many local rows against a small listing is one listing and a hash join.
CREATE TABLE few (env_id text);
INSERT INTO few VALUES ('env_019e3bb39b6774d8878cd0b9d237574b'), ('env_019b92947fa97faaacdf8beed28a7fc0');
ANALYZE few;
ALTER FOREIGN TABLE envs OPTIONS (ADD estimated_items '100000');
SELECT explain_stable($$(VERBOSE, COSTS OFF)
SELECT e.name FROM few f JOIN envs e ON e.id = f.env_id$$);
SELECT explain_stable($$(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF)
SELECT e.name FROM few f JOIN envs e ON e.id = f.env_id$$);
SELECT e.name FROM few f JOIN envs e ON e.id = f.env_id ORDER BY 1;
CREATE TABLE many AS SELECT 'env_' || lpad(i::text, 32, '0') AS env_id FROM generate_series(1, 1000) i;
INSERT INTO many VALUES ('env_019e3bb39b6774d8878cd0b9d237574b');
ANALYZE many;
ALTER FOREIGN TABLE envs OPTIONS (SET estimated_items '100');
SELECT explain_stable($$(COSTS OFF)
SELECT e.name FROM many m JOIN envs e ON e.id = m.env_id$$);
SELECT explain_stable($$(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF)
SELECT e.name FROM many m JOIN envs e ON e.id = m.env_id$$);

-- A rescan with the same key values (here: none) replays the rows already
-- fetched: the subquery runs once per outer row, the listing once.
SELECT explain_stable($$(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF)
SELECT f.env_id, (SELECT count(*) FROM envs e WHERE e.id <> f.env_id) FROM few f$$);
SELECT f.env_id, (SELECT count(*) FROM envs e WHERE e.id <> f.env_id) FROM few f ORDER BY 1;

-- Bulk UPDATE without RETURNING sends its PUTs concurrently; RETURNING waits
-- for each answer, since the rows come from it.  Both give the same result.
SET cloud_fdw.trace = on;
UPDATE envs SET name = name || '-x' WHERE networking_type = 'unrestricted';
UPDATE envs SET name = regexp_replace(name, '-x$', '') WHERE name LIKE '%-x' RETURNING name;
RESET cloud_fdw.trace;
SELECT explain_stable($$(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF)
UPDATE envs SET name = name || '-y' WHERE networking_type = 'unrestricted'$$);

DROP TABLE few, many;
DROP SERVER regress_qoder CASCADE;
