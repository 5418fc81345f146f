--
-- Options: where each one may appear, how values are checked, and the
-- connection cache that follows server and user mapping changes.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=options/api/v1/cloud'

-- The wrapper itself takes no options.
ALTER FOREIGN DATA WRAPPER cloud_fdw OPTIONS (ADD endpoint 'http://x');

-- Servers: provider is required and must be known.
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw;
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'aws');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', resource 'environments');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', colour 'blue');

-- Endpoints are http(s) URLs without credentials, query or fragment.
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint 'ftp://example.com');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint 'https://user:pw@example.com/api');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint 'https://example.com/api?x=1');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint 'https://exa mple.com');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', endpoint 'https:///api');

-- Durations take units; sizes too.
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', connect_timeout 'soon');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', request_timeout '-5s');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', max_response_size '2GB');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', page_size '0');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', concurrency '65');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', rate_limit '-1');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', request_latency 'slow');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', region 'CN North');
-- A provider's own options belong to servers of that provider.
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', region 'cn-north-4');

-- Credentials belong in user mappings only.
CREATE SERVER regress_bad FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'qoder', token 'pt-not-here');

-- A valid server.
CREATE SERVER regress_qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint', connect_timeout '2s',
           request_timeout '10s', max_response_size '8MB', page_size '50');
ALTER SERVER regress_qoder OPTIONS (DROP provider);

-- User mappings take credentials only.
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (colour 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (token 'pt-test-admin');

-- Tables: resource is required and must exist.
CREATE FOREIGN TABLE regress_t (id text) SERVER regress_qoder;
CREATE FOREIGN TABLE regress_t (id text) SERVER regress_qoder OPTIONS (resource 'vpcs');
CREATE FOREIGN TABLE regress_t (id text) SERVER regress_qoder OPTIONS (resource 'environments', token 'pt-no');
CREATE FOREIGN TABLE regress_t (id text) SERVER regress_qoder OPTIONS (resource 'environments', provider 'qoder');
CREATE FOREIGN TABLE regress_t (id text) SERVER regress_qoder OPTIONS (resource 'environments', estimated_items 'many');

-- Columns: path is a dotted JSON path.
CREATE FOREIGN TABLE regress_t (id text OPTIONS (path '')) SERVER regress_qoder OPTIONS (resource 'environments');
CREATE FOREIGN TABLE regress_t (id text OPTIONS (path 'config..type')) SERVER regress_qoder OPTIONS (resource 'environments');
CREATE FOREIGN TABLE regress_t (id text OPTIONS (path '.id')) SERVER regress_qoder OPTIONS (resource 'environments');
CREATE FOREIGN TABLE regress_t (id text OPTIONS (path 'config.')) SERVER regress_qoder OPTIONS (resource 'environments');
CREATE FOREIGN TABLE regress_t (id text OPTIONS (token 'x')) SERVER regress_qoder OPTIONS (resource 'environments');

CREATE FOREIGN TABLE regress_envs (
  id text,
  name text,
  networking_type text OPTIONS (path 'config.networking.type')
) SERVER regress_qoder OPTIONS (resource 'environments');

-- A table option wins over the server option; the resource caps page_size
-- (more in the validation suite).
ALTER FOREIGN TABLE regress_envs OPTIONS (ADD page_size '500');
ALTER FOREIGN TABLE regress_envs OPTIONS (ADD page_size '4');
SET cloud_fdw.trace = on;
SELECT count(*) FROM regress_envs;
RESET cloud_fdw.trace;

-- Where requests go is the server's to say, not a table's.
ALTER FOREIGN TABLE regress_envs OPTIONS (ADD endpoint 'http://127.0.0.1:1/api/v1/cloud');

-- A credential of another provider is refused when the mapping is used.
CREATE ROLE regress_cloud_user;
GRANT SELECT ON regress_envs TO regress_cloud_user;
CREATE USER MAPPING FOR regress_cloud_user SERVER regress_qoder OPTIONS (password 'x');
SET ROLE regress_cloud_user;
SELECT count(*) FROM regress_envs;
RESET ROLE;
DROP USER MAPPING FOR regress_cloud_user SERVER regress_qoder;

-- Regional endpoints need the server's region.
CREATE SERVER regress_hw FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'huaweicloud');
CREATE FOREIGN TABLE regress_deploy (id text, application_id text) SERVER regress_hw
  OPTIONS (resource 'deploy_environments', codearts_project_id 'p1');
SELECT * FROM regress_deploy WHERE application_id = 'a1';
-- A resource of another provider.
CREATE FOREIGN TABLE regress_wrong (id text) SERVER regress_hw OPTIONS (resource 'environments');
SELECT * FROM regress_wrong;
DROP SERVER regress_hw CASCADE;

-- Non-superusers need a credential in their user mapping.
CREATE USER MAPPING FOR regress_cloud_user SERVER regress_qoder;
SET ROLE regress_cloud_user;
SELECT count(*) FROM regress_envs;
RESET ROLE;
ALTER USER MAPPING FOR regress_cloud_user SERVER regress_qoder OPTIONS (ADD token 'pt-test-readonly');
SET ROLE regress_cloud_user;
SELECT count(*) FROM regress_envs;
RESET ROLE;

-- One cached handle per user mapping; ALTER invalidates it (valid = false
-- until the end of the transaction, which closes it), and the next query
-- opens a new one.
SELECT cloud_fdw_disconnect_all();
SELECT * FROM cloud_fdw_get_connections();
SELECT count(*) FROM regress_envs;
SELECT count(*) FROM regress_envs WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT server_name, user_name, valid, requests, connections_opened FROM cloud_fdw_get_connections();
BEGIN;
ALTER SERVER regress_qoder OPTIONS (SET request_timeout '20s');
SELECT server_name, valid, requests FROM cloud_fdw_get_connections();
COMMIT;
SELECT server_name, valid, requests FROM cloud_fdw_get_connections();
SELECT count(*) FROM regress_envs WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT server_name, valid, requests, connections_opened FROM cloud_fdw_get_connections();
BEGIN;
ALTER USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (SET token 'pt-test-admin');
SELECT server_name, valid FROM cloud_fdw_get_connections();
COMMIT;
SELECT count(*) FROM regress_envs WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT cloud_fdw_disconnect_all();
SELECT count(*) FROM cloud_fdw_get_connections();

-- A PUBLIC user mapping is listed as "public", whoever used it; dropped
-- mappings and servers are listed until the end of the transaction.
CREATE SERVER regress_public FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint');
CREATE USER MAPPING FOR PUBLIC SERVER regress_public OPTIONS (token 'pt-test-readonly');
CREATE FOREIGN TABLE public_envs (id text) SERVER regress_public OPTIONS (resource 'environments');
GRANT SELECT ON public_envs TO regress_cloud_user;
SELECT count(*) FROM public_envs WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SET ROLE regress_cloud_user;
SELECT count(*) FROM public_envs WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
RESET ROLE;
SELECT server_name, user_name, valid, requests FROM cloud_fdw_get_connections();
BEGIN;
DROP USER MAPPING FOR PUBLIC SERVER regress_public;
SELECT server_name, user_name, valid FROM cloud_fdw_get_connections();
COMMIT;
SELECT server_name, user_name, valid FROM cloud_fdw_get_connections();
CREATE USER MAPPING FOR PUBLIC SERVER regress_public OPTIONS (token 'pt-test-readonly');
SELECT count(*) FROM public_envs WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
BEGIN;
DROP SERVER regress_public CASCADE;
SELECT server_name, user_name, valid FROM cloud_fdw_get_connections();
COMMIT;
SELECT server_name, user_name, valid FROM cloud_fdw_get_connections();

-- Secrets stay out of what everybody can read.
SELECT count(*) FROM pg_foreign_server WHERE array_to_string(srvoptions, ',') LIKE '%pt-test%';

DROP USER MAPPING FOR regress_cloud_user SERVER regress_qoder;
REVOKE ALL ON regress_envs FROM regress_cloud_user;
DROP ROLE regress_cloud_user;
DROP SERVER regress_qoder CASCADE;
