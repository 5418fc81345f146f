--
-- UPDATE under real use: joins, triggers, generated columns, several
-- foreign tables in one statement, and what a refused write reports.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=writes/api/v1/cloud'
CREATE SERVER w_qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint', concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER w_qoder OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE wenvs (id text, name text, description text, config jsonb, metadata jsonb)
  SERVER w_qoder OPTIONS (resource 'environments');
SET cloud_fdw.trace = on;

-- UPDATE ... FROM joining one remote row twice updates it once, like
-- PostgreSQL.  (Both rows give the same value: which one PostgreSQL takes
-- depends on the plan.)
CREATE TABLE twice (k text, d text);
INSERT INTO twice VALUES ('env_019e3bb39b6774d8878cd0b9d237574b', 'twice'),
                         ('env_019e3bb39b6774d8878cd0b9d237574b', 'twice');
UPDATE wenvs e SET description = 'joined ' || t.d FROM twice t WHERE e.id = t.k;

-- A BEFORE ROW trigger's change to a column outside SET is sent too; one
-- to a column the API cannot change is refused.
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.description := 'touched by ' || TG_NAME;
  RETURN NEW;
END $$;
CREATE TRIGGER stamp BEFORE UPDATE ON wenvs FOR EACH ROW EXECUTE FUNCTION stamp();
UPDATE wenvs SET name = 'doc-test-env' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'
  RETURNING name, description;
DROP TRIGGER stamp ON wenvs;
CREATE FOREIGN TABLE envs_status (id text, name text, status text)
  SERVER w_qoder OPTIONS (resource 'environments');
CREATE FUNCTION unarchive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.status := 'ready'; RETURN NEW; END $$;
CREATE TRIGGER unarchive BEFORE UPDATE ON envs_status FOR EACH ROW EXECUTE FUNCTION unarchive();
UPDATE envs_status SET name = 'legacy-ci' WHERE id = 'env_019c226880c07a79af31c5d0c2a70152';

-- A stored generated column is computed locally, never sent, and RETURNING shows it.
CREATE FOREIGN TABLE envs_gen (id text, name text,
  shout text GENERATED ALWAYS AS (upper(name)) STORED)
  SERVER w_qoder OPTIONS (resource 'environments');
UPDATE envs_gen SET name = 'go-services-2' WHERE id = 'env_019d8b0121f474738346ed1b96bfd0f5'
  RETURNING name, shout;
UPDATE envs_gen SET name = 'go-services' WHERE id = 'env_019d8b0121f474738346ed1b96bfd0f5'
  RETURNING name, shout;

-- Values the API would refuse are refused before anything is sent.
UPDATE wenvs SET config = '"cloud"' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
UPDATE wenvs SET metadata = '[1, 2]' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';

-- Several foreign tables of one server in one statement: each update waits
-- for its own requests.
CREATE TABLE envs_parent (id text, name text, description text);
CREATE FOREIGN TABLE envs_child1 () INHERITS (envs_parent)
  SERVER w_qoder OPTIONS (resource 'environments');
CREATE FOREIGN TABLE envs_child2 () INHERITS (envs_parent)
  SERVER w_qoder OPTIONS (resource 'environments');
RESET cloud_fdw.trace;
ALTER SERVER w_qoder OPTIONS (SET concurrency '8');
UPDATE envs_parent SET description = 'inherited'
  WHERE id IN ('env_019e3bb39b6774d8878cd0b9d237574b', 'env_019d8b0121f474738346ed1b96bfd0f5');
SELECT tableoid::regclass, count(*) FROM envs_parent WHERE description = 'inherited' GROUP BY 1 ORDER BY 1;
WITH a AS (UPDATE envs_child1 SET description = 'cte one'
             WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b' RETURNING id),
     b AS (UPDATE envs_child2 SET description = 'cte two'
             WHERE id = 'env_019d8b0121f474738346ed1b96bfd0f5' RETURNING id)
SELECT (SELECT count(*) FROM a) AS a, (SELECT count(*) FROM b) AS b;
-- A partitioned table with a foreign partition per account (here: per
-- tenant of the mock, each with rows of its own), updated in one statement.
\set part_a :mock_url '/_mock/tenant=writes_part_a,rows=2/api/v1/cloud'
\set part_b :mock_url '/_mock/tenant=writes_part_b,rows=2,rows_from=2/api/v1/cloud'
CREATE SERVER w_part_a FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'part_a');
CREATE SERVER w_part_b FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'part_b');
CREATE USER MAPPING FOR CURRENT_USER SERVER w_part_a OPTIONS (token 'pt-test-admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER w_part_b OPTIONS (token 'pt-test-admin');
CREATE TABLE envs_part (id text, name text, description text) PARTITION BY LIST (name);
CREATE FOREIGN TABLE envs_part_a PARTITION OF envs_part FOR VALUES IN ('env-000001', 'env-000002')
  SERVER w_part_a OPTIONS (resource 'environments');
CREATE FOREIGN TABLE envs_part_b PARTITION OF envs_part FOR VALUES IN ('env-000003', 'env-000004')
  SERVER w_part_b OPTIONS (resource 'environments');
UPDATE envs_part SET description = 'partitioned' WHERE name <> 'env-000002';
SELECT tableoid::regclass, name, description FROM envs_part ORDER BY name;
-- An UPDATE whose SET updates another foreign table of the server.
CREATE FUNCTION note_elsewhere(text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  UPDATE envs_child2 SET description = 'nested ' || $1 WHERE id = 'env_019d8b0121f474738346ed1b96bfd0f5';
  RETURN 'outer ' || $1;
END $$;
UPDATE envs_child1 SET description = note_elsewhere(id)
  WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT id, description FROM wenvs WHERE id IN ('env_019e3bb39b6774d8878cd0b9d237574b', 'env_019d8b0121f474738346ed1b96bfd0f5') ORDER BY id;
-- cloud_fdw_disconnect_all() while writes are on their way is refused.
CREATE FUNCTION disconnect_text() RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM cloud_fdw_disconnect_all(); RETURN 'x'; END $$;
-- (In a block: the WARNING of an error raised elsewhere comes when the
-- block's subtransaction aborts, before the handler runs.)
DO $$
BEGIN
  UPDATE wenvs SET description = disconnect_text()
    WHERE id IN ('env_019e3bb39b6774d8878cd0b9d237574b', 'env_019d8b0121f474738346ed1b96bfd0f5',
                 'env_019c226880c07a79af31c5d0c2a70152');
EXCEPTION WHEN object_in_use THEN
  RAISE NOTICE 'caught: %', SQLERRM;
END $$;

-- concurrency 64 with an IN list: gets and PUTs share the connection.
ALTER SERVER w_qoder OPTIONS (SET concurrency '64');
UPDATE wenvs SET description = 'bulk' WHERE id IN (SELECT id FROM wenvs);
SELECT count(*) FROM wenvs WHERE description = 'bulk';

-- A refused PUT part-way (the third, at concurrency 1): the WARNING names
-- the rows already changed, the error the item refused.
\set refuse3 :mock_url '/_mock/tenant=writes,status=409,fault_methods=PUT,fault_skip=2,fault_count=1/api/v1/cloud'
ALTER SERVER w_qoder OPTIONS (SET endpoint :'refuse3', SET concurrency '1');
UPDATE wenvs SET description = 'part-way'
  WHERE id IN ('env_019e3bb39b6774d8878cd0b9d237574b', 'env_019d8b0121f474738346ed1b96bfd0f5',
               'env_019c226880c07a79af31c5d0c2a70152', 'env_019b92947fa97faaacdf8beed28a7fc0');
ALTER SERVER w_qoder OPTIONS (SET endpoint :'endpoint');
SELECT id FROM wenvs WHERE description = 'part-way' ORDER BY id;

-- A row whose key names no item (null, empty, "..") is refused before its
-- PUT, which would address the collection or its parent.
\set nullid :mock_url '/_mock/tenant=writes,body=null_id,fault_methods=GET/api/v1/cloud'
ALTER SERVER w_qoder OPTIONS (SET endpoint :'nullid');
UPDATE wenvs SET description = 'x';
\set emptyid :mock_url '/_mock/tenant=writes,body=empty_id,fault_methods=GET/api/v1/cloud'
ALTER SERVER w_qoder OPTIONS (SET endpoint :'emptyid');
UPDATE wenvs SET description = 'x';
\set dotid :mock_url '/_mock/tenant=writes,body=dot_id,fault_methods=GET/api/v1/cloud'
ALTER SERVER w_qoder OPTIONS (SET endpoint :'dotid');
UPDATE wenvs SET description = 'x';
ALTER SERVER w_qoder OPTIONS (SET endpoint :'endpoint');

-- EPS: name is required, type is prod or poc, the default project is fixed.
\set hw :mock_url '/_mock/tenant=writes'
CREATE SERVER w_hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'hw');
CREATE USER MAPPING FOR CURRENT_USER SERVER w_hw OPTIONS (auth_token 'hw-test-token');
CREATE FOREIGN TABLE weps (id text, name text, description text, status integer, type text)
  SERVER w_hw OPTIONS (resource 'enterprise_projects');
UPDATE weps SET name = NULL WHERE id = '5aa119a8-d25b-45a7-8d1b-88e127885635';
UPDATE weps SET type = 'Prod' WHERE id = '5aa119a8-d25b-45a7-8d1b-88e127885635';
UPDATE weps SET description = 'mine' WHERE id = '0';
-- The CJK name rule takes CJK ideographs only, not any non-ASCII letter.
UPDATE weps SET name = 'équipe' WHERE id = '5aa119a8-d25b-45a7-8d1b-88e127885635';
UPDATE weps SET name = '质量保障组' WHERE id = '5aa119a8-d25b-45a7-8d1b-88e127885635' RETURNING name;
-- An enable that succeeded before a refused PUT is reported: the row changed partly.
\set put_refused :mock_url '/_mock/tenant=writes,status=400,fault_methods=PUT'
ALTER SERVER w_hw OPTIONS (SET endpoint :'put_refused');
SELECT id, status FROM weps WHERE status = 2;
UPDATE weps SET status = 1, description = 'enabled'
  WHERE id = (SELECT id FROM weps WHERE status = 2 LIMIT 1);
ALTER SERVER w_hw OPTIONS (SET endpoint :'hw');
SELECT id, status, description FROM weps WHERE description = 'enabled' OR id = (SELECT id FROM weps WHERE status = 1 AND name = 'legacy-migration');

DROP SERVER w_qoder, w_hw, w_part_a, w_part_b CASCADE;
DROP TABLE twice, envs_parent, envs_part;
DROP FUNCTION stamp(), unarchive(), note_elsewhere(text), disconnect_text();
