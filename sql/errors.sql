--
-- Errors: remote failures become clear errors with fitting SQLSTATEs, and
-- a context line naming the request.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=errors/api/v1/cloud'

\i sql/include/sqlstate.sql

CREATE SERVER regress_qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (token 'pt-wrong');
CREATE FOREIGN TABLE envs (id text, name text, created_at timestamptz)
  SERVER regress_qoder OPTIONS (resource 'environments');

-- 401: a wrong token.
SELECT * FROM envs;
SELECT sqlstate_of('SELECT * FROM envs');

-- 403: a read-only token cannot update.
ALTER USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (SET token 'pt-test-readonly');
UPDATE envs SET name = 'x' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT sqlstate_of($$UPDATE envs SET name = 'x' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'$$);
ALTER USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (SET token 'pt-test-admin');

-- A server whose endpoint leads nowhere: 404 on a list is an error.
\set ep_wrong_path :mock_url '/_mock/tenant=errors/api/v9'
CREATE SERVER regress_lost FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'ep_wrong_path');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_lost OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE lost (id text) SERVER regress_lost OPTIONS (resource 'environments');
SELECT * FROM lost;
SELECT sqlstate_of('SELECT * FROM lost');
DROP SERVER regress_lost CASCADE;

-- Injected server failures, with the API's envelope or a gateway's HTML.
-- The faults are chosen by the endpoint, so the failing table has a server
-- of its own.
\set ep_500 :mock_url '/_mock/tenant=errors,status=500/api/v1/cloud'
CREATE SERVER regress_failing FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'ep_500');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_failing OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE failing (id text) SERVER regress_failing OPTIONS (resource 'environments');
SELECT * FROM failing;
SELECT sqlstate_of('SELECT * FROM failing');
\set ep_503 :mock_url '/_mock/tenant=errors,status=503/api/v1/cloud'
ALTER SERVER regress_failing OPTIONS (SET endpoint :'ep_503');
SELECT * FROM failing;
SELECT sqlstate_of('SELECT * FROM failing');
\set ep_html :mock_url '/_mock/tenant=errors,status=502,body=html/api/v1/cloud'
ALTER SERVER regress_failing OPTIONS (SET endpoint :'ep_html');
SELECT * FROM failing;

-- Bodies that are not what the API documents.
\set ep_empty :mock_url '/_mock/tenant=errors,body=empty/api/v1/cloud'
ALTER SERVER regress_failing OPTIONS (SET endpoint :'ep_empty');
SELECT * FROM failing;
\set ep_malformed :mock_url '/_mock/tenant=errors,body=malformed/api/v1/cloud'
ALTER SERVER regress_failing OPTIONS (SET endpoint :'ep_malformed');
SELECT * FROM failing;
SELECT sqlstate_of('SELECT * FROM failing');
\set ep_truncated :mock_url '/_mock/tenant=errors,body=truncated/api/v1/cloud'
ALTER SERVER regress_failing OPTIONS (SET endpoint :'ep_truncated');
SELECT * FROM failing;
\set ep_wrong_types :mock_url '/_mock/tenant=errors,body=wrong_types/api/v1/cloud'
ALTER SERVER regress_failing OPTIONS (SET endpoint :'ep_wrong_types');
SELECT * FROM failing;
\set ep_no_envelope :mock_url '/_mock/tenant=errors,body=no_envelope/api/v1/cloud'
ALTER SERVER regress_failing OPTIONS (SET endpoint :'ep_no_envelope');
SELECT * FROM failing;
-- A pagination cursor that comes back is a loop, stopped with an error.
\set ep_cursor_loop :mock_url '/_mock/tenant=errors,cursor_loop=1/api/v1/cloud'
ALTER SERVER regress_failing OPTIONS (SET endpoint :'ep_cursor_loop');
SELECT count(*) FROM failing;
-- A response over max_response_size.
ALTER SERVER regress_qoder OPTIONS (ADD max_response_size '1kB');
SELECT count(*) FROM envs;
ALTER SERVER regress_qoder OPTIONS (DROP max_response_size);

-- Transport failures: nothing listening, and a server slower than the timeout.
ALTER SERVER regress_failing OPTIONS (SET endpoint 'http://127.0.0.1:1/api/v1/cloud');
\set VERBOSITY terse
SELECT * FROM failing;
SELECT sqlstate_of('SELECT * FROM failing');
\set ep_slow :mock_url '/_mock/tenant=errors,latency_ms=2000/api/v1/cloud'
ALTER SERVER regress_failing OPTIONS (SET endpoint :'ep_slow');
ALTER SERVER regress_failing OPTIONS (ADD request_timeout '200ms');
SELECT * FROM failing;
SELECT sqlstate_of('SELECT * FROM failing');
\set VERBOSITY default
ALTER SERVER regress_failing OPTIONS (DROP request_timeout);

-- JSON values that do not fit the column type: errors naming column and value.
CREATE FOREIGN TABLE badtypes (
  id text,
  name_as_bool boolean OPTIONS (path 'name'),
  name_as_int integer OPTIONS (path 'name'),
  name_as_time timestamptz OPTIONS (path 'name'),
  config_as_int integer OPTIONS (path 'config'),
  type_as_short varchar(5) OPTIONS (path 'type'),
  metadata_as_array text[] OPTIONS (path 'metadata')
) SERVER regress_qoder OPTIONS (resource 'environments');
SELECT name_as_bool FROM badtypes WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT sqlstate_of($$SELECT name_as_bool FROM badtypes WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'$$);
SELECT name_as_int FROM badtypes WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT name_as_time FROM badtypes WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT config_as_int FROM badtypes WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT metadata_as_array FROM badtypes WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT type_as_short FROM badtypes WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
-- Columns the query does not read are not converted.
SELECT id FROM badtypes WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';

-- The API's own validation errors come through with its message.
UPDATE envs SET name = repeat('n', 300) WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
SELECT sqlstate_of($$UPDATE envs SET name = repeat('n', 300) WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'$$);

DROP SERVER regress_failing CASCADE;
DROP SERVER regress_qoder CASCADE;
DROP FUNCTION sqlstate_of(text);
