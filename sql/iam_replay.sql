--
-- A cached IAM token the API refuses (401) is replaced and the request sent
-- again, for every kind of request: a get by id, an IN list, a PUT without
-- RETURNING.  Logins are retried like GETs, and iam_endpoint may end in "/".
--
\getenv mock_url MOCK_URL
SET cloud_fdw.trace = on;
CREATE FUNCTION iam_server(name text, opts text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider %L, region %L, endpoint %L, iam_endpoint %L)',
                 name, 'huaweicloud', 'cn-north-4',
                 current_setting('regress.mock') || '/_mock/tenant=iam_' || name || ',' || opts,
                 current_setting('regress.mock') || '/_mock/tenant=iam_replay/');
  EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (%s)', name,
                 'user ''test-user'', password ''test-password'', domain_name ''test-domain''');
  EXECUTE format('CREATE FOREIGN TABLE %I (id text, name text, description text) SERVER %I OPTIONS (resource %L)',
                 name || '_eps', name, 'enterprise_projects');
END $$;
SELECT set_config('regress.mock', :'mock_url', false) IS NOT NULL AS mock_set;

-- A get by id: the first GET passes with a fresh token, the second (cached) is refused once.
SELECT iam_server('iam_get', 'status=401,fault_methods=GET,fault_skip=1,fault_count=1');
SELECT name FROM iam_get_eps WHERE id = '5aa119a8-d25b-45a7-8d1b-88e127885635';
SELECT name FROM iam_get_eps WHERE id = '5aa119a8-d25b-45a7-8d1b-88e127885635';
-- An IN list, with the token cached by the query before.
SELECT iam_server('iam_in', 'status=401,fault_methods=GET,fault_skip=1,fault_count=1');
-- (one get at a time, so that the refused one is always the first)
ALTER SERVER iam_in OPTIONS (ADD concurrency '1');
SELECT count(*) FROM iam_in_eps WHERE id = '0';
SELECT count(*) FROM iam_in_eps WHERE id IN ('5aa119a8-d25b-45a7-8d1b-88e127885635', 'e88f40a2-3bd4-4e94-b114-f27eab195b47');
-- A PUT without RETURNING (sent without waiting for its answer).
SELECT iam_server('iam_put', 'status=401,fault_methods=PUT,fault_count=1');
SELECT count(*) FROM iam_put_eps WHERE id = '0';
UPDATE iam_put_eps SET description = 'after a refused token' WHERE id = 'e88f40a2-3bd4-4e94-b114-f27eab195b47';
SELECT description FROM iam_put_eps WHERE id = 'e88f40a2-3bd4-4e94-b114-f27eab195b47';
-- Gets on their way at once, all with the cached token: the one refused is
-- sent again alone (the trace is off: which one is refused is a race).
SELECT iam_server('iam_many', 'status=401,fault_methods=GET,fault_skip=1,fault_count=1');
SELECT count(*) FROM iam_many_eps WHERE id = '0';
SET cloud_fdw.trace = off;
SELECT count(*) FROM iam_many_eps
  WHERE id IN ('0', '5aa119a8-d25b-45a7-8d1b-88e127885635', 'e88f40a2-3bd4-4e94-b114-f27eab195b47');
-- So are PUTs on their way at once without RETURNING.
SELECT iam_server('iam_puts', 'status=401,fault_methods=PUT,fault_count=1');
SELECT count(*) FROM iam_puts_eps WHERE id = '0';
UPDATE iam_puts_eps SET description = 'refused once, sent again'
  WHERE id IN ('5aa119a8-d25b-45a7-8d1b-88e127885635', 'e88f40a2-3bd4-4e94-b114-f27eab195b47');
SELECT id, description FROM iam_puts_eps
  WHERE id IN ('5aa119a8-d25b-45a7-8d1b-88e127885635', 'e88f40a2-3bd4-4e94-b114-f27eab195b47')
  ORDER BY id;
SET cloud_fdw.trace = on;
-- A login answered 502 once is retried, at once as Retry-After: 0 asks.
CREATE SERVER iam_retry FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4');
DO $$
BEGIN
  EXECUTE format('ALTER SERVER iam_retry OPTIONS (ADD endpoint %L, ADD iam_endpoint %L)',
                 current_setting('regress.mock') || '/_mock/tenant=iam_replay',
                 current_setting('regress.mock') || '/_mock/tenant=iam_replay,status=502,fault_methods=POST,fault_count=1,retry_after=0');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER iam_retry
  OPTIONS (user 'test-user', password 'test-password', domain_name 'test-domain');
CREATE FOREIGN TABLE iam_retry_eps (id text) SERVER iam_retry OPTIONS (resource 'enterprise_projects');
SELECT count(*) FROM iam_retry_eps WHERE id = '0';
RESET cloud_fdw.trace;

DROP SERVER iam_get, iam_in, iam_put, iam_many, iam_puts, iam_retry CASCADE;
DROP FUNCTION iam_server(text, text);
RESET regress.mock;
