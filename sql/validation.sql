--
-- Validation: options that decide where credentials go are the server's,
-- plain http is for loopback hosts only, and values are checked when they
-- are set, against each other too.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=validation/api/v1/cloud'

\i sql/include/sqlstate.sql

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

--
-- Plain http goes to loopback hosts only, decided on the parsed host: a
-- name that merely starts like 127.x or localhost is not loopback.  (EXPLAIN
-- makes no request.)
--
CREATE SERVER regress_http FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_http OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE http_envs (id text) SERVER regress_http OPTIONS (resource 'environments');
CREATE FUNCTION plain_http_verdict(url text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER SERVER regress_http OPTIONS (SET endpoint %L)', url);
  EXECUTE 'EXPLAIN (COSTS OFF) SELECT * FROM http_envs';
  RETURN 'allowed';
EXCEPTION WHEN insufficient_privilege THEN
  RETURN 'refused';
END $$;
ALTER SERVER regress_http OPTIONS (ADD endpoint 'https://example.com');
SELECT url, plain_http_verdict(url) FROM (VALUES
  ('http://127.0.0.1/api'),
  ('http://127.0.0.1:8080/api'),
  ('http://127.255.3.4:1'),
  ('http://localhost/api'),
  ('http://LocalHost:8080'),
  ('http://[::1]/api'),
  ('http://[::1]:8080/api'),
  ('http://[0:0:0:0:0:0:0:1]:8080'),
  ('http://127.0.0.1.example.com/api'),
  ('http://127.example.com/api'),
  ('http://localhost.example.com/api'),
  ('http://localhostx/api'),
  ('http://127.1/api'),
  ('http://0x7f.0.0.1/api'),
  ('http://127.0.0.1:80x/api'),
  ('http://127.0.0.1:/api'),
  ('http://[::1].example.com/api'),
  ('http://[::2]/api'),
  ('http://[::ffff:127.0.0.1]/api'),
  ('http://128.0.0.1/api'),
  ('http://example.com/api')
) AS t(url);
DROP FUNCTION plain_http_verdict(text);
DROP SERVER regress_http CASCADE;

--
-- Counts are plain decimal integers, as written.
--
SELECT v, sqlstate_of(format(
  'CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider %L, %s %L)',
  'qoder', o, v)) FROM (VALUES
  ('concurrency', '8.5'), ('concurrency', '0x10'), ('concurrency', ' 8'),
  ('concurrency', '8 '), ('concurrency', '+8'), ('concurrency', ''),
  ('max_retries', '1e1'), ('max_retries', '-1'), ('max_retries', '99999999999'),
  ('page_size', '50.0'), ('page_size', '0')
) AS t(o, v);
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', concurrency '8.5');
-- A leading zero is still decimal: "010" is ten, not eight.
CREATE SERVER regress_counts FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint', page_size '010');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_counts OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE counts_envs (id text) SERVER regress_counts OPTIONS (resource 'environments');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM counts_envs;
DROP SERVER regress_counts CASCADE;

--
-- page_size fits the resource when it is set: on a table, its resource's
-- maximum; on a server, that of every resource of the provider.
--
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', page_size '101');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', page_size '500');
CREATE SERVER regress_pages FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', page_size '100');
ALTER SERVER regress_pages OPTIONS (SET page_size '101');
CREATE FOREIGN TABLE pages_eps (id text) SERVER regress_pages
  OPTIONS (resource 'enterprise_projects', page_size '1001');
CREATE FOREIGN TABLE pages_eps (id text) SERVER regress_pages
  OPTIONS (resource 'enterprise_projects', page_size '1000');
ALTER FOREIGN TABLE pages_eps OPTIONS (SET resource 'deploy_environments');
ALTER FOREIGN TABLE pages_eps OPTIONS (SET page_size '1001');
ALTER FOREIGN TABLE pages_eps OPTIONS (SET page_size '250');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'pages_eps'::regclass;
DROP SERVER regress_pages CASCADE;

--
-- allow_http: a superuser's to give; the server's owner may then change
-- other options, but not the endpoints it was given for.
--
CREATE ROLE regress_http_owner;
CREATE ROLE regress_http_other;
GRANT USAGE ON FOREIGN DATA WRAPPER cloud_fdw TO regress_http_owner, regress_http_other;
CREATE SERVER regress_plain FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', endpoint 'http://cloud.example.com/api/v1/cloud', allow_http 'true');
ALTER SERVER regress_plain OWNER TO regress_http_owner;
SET ROLE regress_http_owner;
ALTER SERVER regress_plain OPTIONS (ADD concurrency '2', ADD request_timeout '5s');
ALTER SERVER regress_plain OPTIONS (SET allow_http 'on');
ALTER SERVER regress_plain OPTIONS (SET endpoint 'http://elsewhere.example.com/api/v1/cloud');
ALTER SERVER regress_plain OPTIONS (ADD iam_endpoint 'http://iam.example.com');
-- Another server of the same owner with the endpoints a superuser allowed.
CREATE SERVER regress_plain_twin FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', endpoint 'http://cloud.example.com/api/v1/cloud', allow_http 'true');
CREATE SERVER regress_plain_other FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', endpoint 'http://elsewhere.example.com/api/v1/cloud', allow_http 'true');
-- Dropping allow_http is always allowed; taking it back is not.
ALTER SERVER regress_plain OPTIONS (DROP allow_http);
ALTER SERVER regress_plain_twin OPTIONS (DROP allow_http);
ALTER SERVER regress_plain OPTIONS (ADD allow_http 'true');
RESET ROLE;
-- A superuser gives it back; other users have no server to vouch for them.
ALTER SERVER regress_plain OPTIONS (ADD allow_http 'true');
SET ROLE regress_http_other;
CREATE SERVER regress_plain_other FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', endpoint 'http://cloud.example.com/api/v1/cloud', allow_http 'true');
RESET ROLE;
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname LIKE 'regress_plain%' ORDER BY 1;
DROP SERVER regress_plain, regress_plain_twin;
REVOKE USAGE ON FOREIGN DATA WRAPPER cloud_fdw FROM regress_http_owner, regress_http_other;
DROP ROLE regress_http_owner, regress_http_other;

--
-- Base URLs lose their trailing slashes, the IAM endpoint's too: the login
-- goes to /v3/auth/tokens, not //v3/auth/tokens.
--
\set hw_endpoint :mock_url '/_mock/tenant=validation/'
CREATE SERVER regress_hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'hw_endpoint',
           iam_endpoint :'hw_endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_hw
  OPTIONS (user 'test-user', password 'test-password', domain_name 'test-domain');
CREATE FOREIGN TABLE hw_eps (id text, name text) SERVER regress_hw
  OPTIONS (resource 'enterprise_projects');
SET cloud_fdw.trace = on;
SELECT count(*) FROM hw_eps;
RESET cloud_fdw.trace;
DROP SERVER regress_hw CASCADE;

DROP ROLE regress_victim, regress_intruder;
DROP FUNCTION sqlstate_of(text);
