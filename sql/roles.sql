--
-- Whose user mapping a query uses: a view's owner's, for scans and updates
-- through the view, also of a foreign partition; the invoker's for a
-- security_invoker view.  (Where PostgreSQL keeps that user moved in 16.)
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=roles/api/v1/cloud'

CREATE ROLE regress_cloud_owner;
CREATE ROLE regress_cloud_reader;
CREATE SCHEMA roles;
GRANT USAGE, CREATE ON SCHEMA roles TO regress_cloud_owner;
GRANT USAGE ON SCHEMA roles TO regress_cloud_reader;
SET search_path = roles;
CREATE SERVER regress_roles FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint');
-- Only the owner has credentials, and they may write; the reader has none.
CREATE USER MAPPING FOR regress_cloud_owner SERVER regress_roles OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE envs (id text, name text, status text)
  SERVER regress_roles OPTIONS (resource 'environments');
CREATE TABLE envs_all (id text, name text, status text) PARTITION BY LIST (status);
CREATE FOREIGN TABLE envs_any PARTITION OF envs_all DEFAULT
  SERVER regress_roles OPTIONS (resource 'environments');
GRANT SELECT, UPDATE ON envs, envs_all TO regress_cloud_owner, regress_cloud_reader;

SET ROLE regress_cloud_owner;
CREATE VIEW owner_envs AS SELECT id, name, status FROM envs;
CREATE VIEW owner_envs_all AS SELECT id, name, status FROM envs_all;
CREATE VIEW invoker_envs WITH (security_invoker = true) AS SELECT id, name FROM envs;
GRANT SELECT, UPDATE ON owner_envs, owner_envs_all, invoker_envs TO regress_cloud_reader;
RESET ROLE;

SET ROLE regress_cloud_reader;
-- Directly, the reader has no credentials.  (PostgreSQL's message for a
-- missing mapping changed in 18: its SQLSTATE, undefined_object, did not.)
\set VERBOSITY sqlstate
SELECT count(*) FROM envs;
SELECT count(*) FROM envs_all;
\set VERBOSITY default
-- Through the owner's views, the owner's are used: scans, gets, a partition.
SELECT count(*) FROM owner_envs;
SELECT name FROM owner_envs WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT count(*) FROM owner_envs_all;
-- ...and for updates, of the table and of its partition.
UPDATE owner_envs SET name = 'via-view' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'
  RETURNING name;
UPDATE owner_envs_all SET name = 'via-partition' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'
  RETURNING name;
-- A security_invoker view checks as the reader, who has no credentials.
\set VERBOSITY sqlstate
SELECT count(*) FROM invoker_envs;
UPDATE invoker_envs SET name = 'no' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
\set VERBOSITY default
RESET ROLE;

-- A PUBLIC mapping serves the reader, directly and through that view.
CREATE USER MAPPING FOR PUBLIC SERVER regress_roles OPTIONS (token 'pt-test-readonly');
SET ROLE regress_cloud_reader;
SELECT count(*) FROM invoker_envs;
-- It may not write (the API refuses a read-only token), while the owner's view still may.
UPDATE invoker_envs SET name = 'read-only' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
UPDATE owner_envs SET name = 'doc-env' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'
  RETURNING name;
RESET ROLE;

DROP SCHEMA roles CASCADE;
DROP SERVER regress_roles CASCADE;
DROP OWNED BY regress_cloud_owner, regress_cloud_reader;
DROP ROLE regress_cloud_owner, regress_cloud_reader;
RESET search_path;
