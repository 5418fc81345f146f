--
-- Validation: options that decide where credentials go are the server's.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=validation/api/v1/cloud'

--
-- A user with USAGE on a server cannot send the server's requests, with
-- other users' tokens, to an endpoint of their own.
--
CREATE ROLE regress_victim;
CREATE ROLE regress_intruder;
CREATE SERVER regress_shared FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint');
CREATE USER MAPPING FOR regress_victim SERVER regress_shared OPTIONS (token 'pt-test-admin');
CREATE USER MAPPING FOR regress_intruder SERVER regress_shared OPTIONS (token 'pt-test-readonly');
GRANT USAGE ON FOREIGN SERVER regress_shared TO regress_intruder;
CREATE SCHEMA regress_intruder_schema AUTHORIZATION regress_intruder;
GRANT USAGE ON SCHEMA regress_intruder_schema TO regress_victim;
SET ROLE regress_intruder;
CREATE FOREIGN TABLE regress_intruder_schema.envs (id text) SERVER regress_shared
  OPTIONS (resource 'environments', endpoint 'http://127.0.0.1:1/collect');
CREATE FOREIGN TABLE regress_intruder_schema.envs (id text) SERVER regress_shared
  OPTIONS (resource 'environments');
ALTER FOREIGN TABLE regress_intruder_schema.envs OPTIONS (ADD endpoint 'http://127.0.0.1:1/collect');
ALTER FOREIGN TABLE regress_intruder_schema.envs OPTIONS (ADD iam_endpoint 'http://127.0.0.1:1/collect');
ALTER FOREIGN TABLE regress_intruder_schema.envs OPTIONS (ADD allow_http 'true');
IMPORT FOREIGN SCHEMA qoder FROM SERVER regress_shared INTO regress_intruder_schema
  OPTIONS (endpoint 'http://127.0.0.1:1/collect');
GRANT SELECT ON regress_intruder_schema.envs TO regress_victim;
RESET ROLE;
-- The victim's query goes where the server says.
SET ROLE regress_victim;
SELECT count(*) FROM regress_intruder_schema.envs;
RESET ROLE;
DROP SCHEMA regress_intruder_schema CASCADE;
DROP SERVER regress_shared CASCADE;

-- Tables stored without the validator (by an older cloud_fdw, or under a
-- wrapper created without one) are checked again when they are used.
CREATE FOREIGN DATA WRAPPER regress_unvalidated HANDLER cloud_fdw_handler;
CREATE SERVER regress_unvalidated_srv FOREIGN DATA WRAPPER regress_unvalidated
  OPTIONS (provider 'qoder', endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_unvalidated_srv OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE regress_stale (id text) SERVER regress_unvalidated_srv
  OPTIONS (resource 'environments', endpoint 'http://127.0.0.1:1/collect', page_size '500');
SELECT count(*) FROM regress_stale;
ALTER FOREIGN TABLE regress_stale OPTIONS (DROP endpoint);
SELECT count(*) FROM regress_stale;
ALTER FOREIGN TABLE regress_stale OPTIONS (DROP page_size);
SELECT count(*) FROM regress_stale;
CREATE FOREIGN TABLE regress_no_resource (id text) SERVER regress_unvalidated_srv;
SELECT count(*) FROM regress_no_resource;
DROP FOREIGN DATA WRAPPER regress_unvalidated CASCADE;

DROP ROLE regress_victim, regress_intruder;
