--
-- Faults: retries where they are safe, limits on what a server may send,
-- and refusals that protect credentials and transactions.
--
\getenv mock_url MOCK_URL
\i sql/include/explain.sql
\set endpoint :mock_url '/_mock/tenant=faults/api/v1/cloud'

CREATE SERVER regress_qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE envs (id text, name text, description text)
  SERVER regress_qoder OPTIONS (resource 'environments');
SET cloud_fdw.trace = on;

-- Faults are chosen by the server's endpoint.
-- A get is retried on 503 and 429, after the pause the server asks for
-- (Retry-After in seconds, Retry-After-Ms in milliseconds); nothing is lost.
\set ep :mock_url '/_mock/tenant=faults,status=503,fault_count=2,retry_after=0/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
SELECT count(*) FROM envs;
\set ep :mock_url '/_mock/tenant=faults,status=429,fault_count=1,retry_after_ms=20/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
SELECT count(*) FROM envs;
RESET cloud_fdw.trace;
-- A connection reset: libcurl itself retries on a reused connection; the
-- ALTER SERVER closed the handle, so this starts afresh and shows ours.
\set ep :mock_url '/_mock/tenant=faults,reset=1,fault_count=1/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
SELECT explain_stable($$(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT count(*) FROM envs$$);
SET cloud_fdw.trace = on;

-- When retries run out, an error: never fewer rows than exist.
\set ep :mock_url '/_mock/tenant=faults,status=502,retry_after=0/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
ALTER SERVER regress_qoder OPTIONS (ADD max_retries '2');
SELECT count(*) FROM envs;
ALTER SERVER regress_qoder OPTIONS (SET max_retries '0');
SELECT count(*) FROM envs;
ALTER SERVER regress_qoder OPTIONS (DROP max_retries);
-- A server asking for a pause of an hour gets an error instead of a wait.
\set ep :mock_url '/_mock/tenant=faults,status=503,retry_after=3600/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
SELECT count(*) FROM envs;

-- An update is retried only where it cannot have been applied: a 429 or
-- 503 that says when to come back.  A 500 is not retried.
\set ep :mock_url '/_mock/tenant=faults,status=503,fault_count=1,fault_methods=PUT,retry_after=0/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
UPDATE envs SET description = 'retried' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b'
RETURNING description;
\set ep :mock_url '/_mock/tenant=faults,status=500,fault_methods=PUT/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
UPDATE envs SET description = 'not retried' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'endpoint');
RESET cloud_fdw.trace;

-- Hostile bodies: NUL characters, invalid UTF-8, deep nesting, a huge one.
\set ep :mock_url '/_mock/tenant=faults,body=nul/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
SELECT * FROM envs;
\set ep :mock_url '/_mock/tenant=faults,body=bad_utf8/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
SELECT * FROM envs;
\set ep :mock_url '/_mock/tenant=faults,body=deep/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
SELECT * FROM envs;
\set ep :mock_url '/_mock/tenant=faults,body=huge/api/v1/cloud'
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'ep');
SELECT count(*) FROM envs;
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'endpoint');

-- Header values come from options: a line break is refused, not sent.
ALTER USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (SET token E'pt-test-admin\r\nX-Evil: 1');
SELECT count(*) FROM envs;
ALTER USER MAPPING FOR CURRENT_USER SERVER regress_qoder OPTIONS (SET token 'pt-test-admin');

-- Plain http is for loopback; elsewhere only if a superuser allows it.
-- (EXPLAIN makes no request: nothing leaves this machine.)
CREATE SERVER regress_remote FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint 'http://cloud.example.com/api/v1/cloud');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_remote OPTIONS (token 'pt-test-admin');
CREATE FOREIGN TABLE remote_envs (id text) SERVER regress_remote OPTIONS (resource 'environments');
EXPLAIN (COSTS OFF) SELECT * FROM remote_envs;
CREATE ROLE regress_fault_owner;
ALTER SERVER regress_remote OWNER TO regress_fault_owner;
SET ROLE regress_fault_owner;
ALTER SERVER regress_remote OPTIONS (ADD allow_http 'true');
RESET ROLE;
ALTER SERVER regress_remote OPTIONS (ADD allow_http 'true');
EXPLAIN (COSTS OFF) SELECT * FROM remote_envs;
DROP SERVER regress_remote CASCADE;
DROP ROLE regress_fault_owner;

-- TLS is verified; a CA file must be an absolute path.
ALTER SERVER regress_qoder OPTIONS (ADD ca_file 'certs/ca.pem');
\set https_endpoint :mock_url '/api/v1/cloud'
\set https_endpoint `echo :https_endpoint | sed 's/^http:/https:/'`
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'https_endpoint');
\set VERBOSITY terse
SELECT count(*) FROM envs;
\set VERBOSITY default
ALTER SERVER regress_qoder OPTIONS (SET endpoint :'endpoint');

-- Cloud APIs are not transactional: a transaction that changed cloud
-- resources cannot be prepared (a later ROLLBACK PREPARED could not undo it).
BEGIN;
SELECT count(*) FROM envs;
UPDATE envs SET description = 'in a transaction' WHERE id = 'env_019e3bb39b6774d8878cd0b9d237574b';
PREPARE TRANSACTION 'regress_cloud';
-- Reading only is fine (here the cluster has prepared transactions disabled;
-- terse, as the hint's wording differs between PostgreSQL majors).
BEGIN;
SELECT count(*) FROM envs;
\set VERBOSITY terse
PREPARE TRANSACTION 'regress_cloud';
\set VERBOSITY default

DROP SERVER regress_qoder CASCADE;
