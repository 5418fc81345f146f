--
-- SELECT: list pages, get by id, types, and what EXPLAIN shows.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=select/api/v1/cloud'

CREATE SERVER regress_qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint', page_size '5');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (token 'pt-test-admin');

CREATE FOREIGN TABLE qoder_environments (
  id text, name text, description text, status text,
  networking_type text OPTIONS (path 'config.networking.type'),
  allowed_hosts text[] OPTIONS (path 'config.networking.allowed_hosts'),
  config jsonb, metadata jsonb,
  created_at timestamptz, updated_at timestamptz
) SERVER regress_qoder OPTIONS (resource 'environments');

SET cloud_fdw.trace = on;
SET timezone = 'UTC';
SET datestyle = 'ISO';

-- A full scan of 12 environments (one archived) in pages of 5 makes ceil(12/5) = 3 requests,
-- following after_id = last_id (the seed API has no next_page).
SELECT id, name, status, networking_type, allowed_hosts FROM qoder_environments;

-- The newer API generation sends an opaque next_page cursor: it wins.
\set endpoint_gen_c :mock_url '/_mock/tenant=select,gen=c/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'endpoint_gen_c');
SELECT count(*) FROM qoder_environments;
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'endpoint');

-- WHERE id = '...' is exactly one GET of that item.
SELECT id, name, description, created_at, updated_at
  FROM qoder_environments WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
-- A missing item is a 404, which means no row.
SELECT id FROM qoder_environments WHERE id = 'env_00000000000000000000000000000000';
-- Ids are percent-encoded: they cannot escape their path segment.
SELECT id FROM qoder_environments WHERE id = '../environments?limit=1';
SELECT id FROM qoder_environments WHERE id = 'a/b c';
-- No item has an empty, "." or ".." id, or a NULL one: no request at all.
SELECT id FROM qoder_environments WHERE id = '';
SELECT id FROM qoder_environments WHERE id = '..';
SELECT id FROM qoder_environments WHERE id = NULL;
-- Other quals are checked locally, on top of the get.
SELECT id FROM qoder_environments
  WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b' AND status = 'archived';
-- A key computed at run time (an init plan) is still a get.
SELECT name FROM qoder_environments
  WHERE id = (SELECT 'env_019e3bb39b6774d8878cd0b9d237574b'::text);

-- Archived environments are not listed by the API, but can be got by id.
SELECT name, status FROM qoder_environments WHERE id = 'env_019c226880c07a79af31c5d0c2a70152';

-- Types: text[], jsonb, boolean, timestamptz, date, varchar, integer and
-- numeric (the API's metadata holds numbers as strings), and NULL for what
-- is missing.
CREATE FOREIGN TABLE qoder_types (
  id text,
  archived boolean,
  archived_at timestamptz,
  apt text[] OPTIONS (path 'config.packages.apt'),
  networking jsonb OPTIONS (path 'config.networking'),
  cost_center text OPTIONS (path 'metadata.cost_center'),
  max_runners integer OPTIONS (path 'metadata.max_runners'),
  hourly_cost numeric(6,2) OPTIONS (path 'metadata.hourly_cost'),
  not_there integer OPTIONS (path 'config.no.such.field'),
  created date OPTIONS (path 'created_at'),
  kind varchar(20) OPTIONS (path 'type')
) SERVER regress_qoder OPTIONS (resource 'environments');
SELECT * FROM qoder_types WHERE id = 'env_019be0ddcb5a737c9ff4c8e1b065359a';
SELECT * FROM qoder_types WHERE id = 'env_019c226880c07a79af31c5d0c2a70152';
SELECT max_runners * hourly_cost AS cost_at_full_load FROM qoder_types
  WHERE id = 'env_019cd4ab02ce7811ae96659c6830218b';

RESET cloud_fdw.trace;

-- Join with local data.
CREATE TABLE teams (env_id text, owner text);
INSERT INTO teams VALUES
  ('env_019be0ddcb5a737c9ff4c8e1b065359a', 'web team'),
  ('env_019c6b6e269b7aa38b7af332193e9c96', 'data team'),
  ('env_missing', 'nobody');
SELECT e.name, e.status, t.owner
  FROM qoder_environments e JOIN teams t ON t.env_id = e.id ORDER BY e.name;
-- A report.
SELECT networking_type, count(*), string_agg(name, ', ' ORDER BY name) AS names
  FROM qoder_environments GROUP BY networking_type ORDER BY networking_type;

-- EXPLAIN shows the request a scan starts with, and makes none.
SET cloud_fdw.trace = on;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM qoder_environments;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM qoder_environments WHERE id = 'env_1';
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM qoder_environments WHERE id = 'env_1' AND name <> 'x';
PREPARE by_id(text) AS SELECT name FROM qoder_environments WHERE id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_id('env_1');
EXECUTE by_id('env_019be0ddcb5a737c9ff4c8e1b065359a');
RESET plan_cache_mode;
-- Not a key lookup: id compared with another column, or by a non-equality.
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM qoder_environments WHERE id = name;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM qoder_environments WHERE id > 'env_1';
RESET cloud_fdw.trace;

DROP TABLE teams;
DROP SERVER regress_qoder CASCADE;
