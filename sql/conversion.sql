--
-- Conversion: date-times into time types, numbers beyond 64 bits kept
-- exactly, and values JSON cannot carry refused before anything is sent.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=conversion/api/v1/cloud'

\i sql/include/sqlstate.sql

CREATE SERVER regress_conv FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder', endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_conv OPTIONS (token 'pt-test-admin');

--
-- time and timetz take the time of day of an ISO date-time, and timetz its
-- zone, as written (not in the session's zone).
--
SET timezone = 'Asia/Shanghai';
SET datestyle = 'ISO';
CREATE FOREIGN TABLE times (
  id text,
  created_at timestamptz,
  created_time time OPTIONS (path 'created_at'),
  created_timetz timetz OPTIONS (path 'created_at'),
  created_date date OPTIONS (path 'created_at')
) SERVER regress_conv OPTIONS (resource 'environments');
SELECT created_at, created_time, created_timetz, created_date
  FROM times WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT count(*), min(created_time), max(created_timetz) FROM times;
RESET timezone;
RESET datestyle;

--
-- Integers beyond 64 bits (which json-c would clamp) are read exactly into
-- jsonb, numeric and text; a type too small for them says so.
--
\set ep_big :mock_url '/_mock/tenant=conversion,body=big_numbers/api/v1/cloud'
ALTER SERVER regress_conv OPTIONS (SET endpoint :'ep_big');
CREATE FOREIGN TABLE numbers (
  id text,
  metadata jsonb,
  big numeric OPTIONS (path 'metadata.big'),
  negative numeric OPTIONS (path 'metadata.negative'),
  u64_max numeric OPTIONS (path 'metadata.u64_max'),
  i64_min bigint OPTIONS (path 'metadata.i64_min'),
  big_text text OPTIONS (path 'metadata.big'),
  big_float float8 OPTIONS (path 'metadata.big')
) SERVER regress_conv OPTIONS (resource 'environments');
CREATE FOREIGN TABLE too_big (id text, big_int bigint OPTIONS (path 'metadata.big'))
  SERVER regress_conv OPTIONS (resource 'environments');
SELECT metadata FROM numbers WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT big, negative, u64_max, i64_min, big_text, big_float
  FROM numbers WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT big, big + 1 AS next FROM numbers WHERE big IS NOT NULL;
SELECT big_int FROM too_big WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT sqlstate_of($$SELECT big_int FROM too_big WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0'$$);

-- ... and sent exactly: a merge patch tells two of them apart, though one
-- double cannot.  (The mock wants string metadata, so it refuses the
-- update: what matters is the body sent.)
SET cloud_fdw.trace = on;
UPDATE numbers SET metadata = jsonb_set(metadata, '{big}', '123456789012345678901234567891')
 WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
ALTER SERVER regress_conv OPTIONS (SET endpoint :'endpoint');
UPDATE numbers SET metadata = '{"n": -123456789012345678901234567890, "m": 18446744073709551616}'
 WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
RESET cloud_fdw.trace;

-- NaN and Infinity are not JSON: a response with them is invalid.
\set ep_nan :mock_url '/_mock/tenant=conversion,body=nan/api/v1/cloud'
ALTER SERVER regress_conv OPTIONS (SET endpoint :'ep_nan');
SELECT id FROM numbers;
SELECT sqlstate_of('SELECT id FROM numbers');
\set ep_infinity :mock_url '/_mock/tenant=conversion,body=infinity/api/v1/cloud'
ALTER SERVER regress_conv OPTIONS (SET endpoint :'ep_infinity');
SELECT id FROM numbers WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
ALTER SERVER regress_conv OPTIONS (SET endpoint :'endpoint');

--
-- Values JSON cannot carry are refused, naming the column, before the
-- update is sent: the trace shows the get of the row and nothing after.
--
CREATE FOREIGN TABLE writes (
  id text,
  allowed_hosts text[] OPTIONS (path 'config.networking.allowed_hosts'),
  metadata jsonb,
  weight float8 OPTIONS (path 'config.weight'),
  score numeric OPTIONS (path 'config.score'),
  weights float8[] OPTIONS (path 'config.weights')
) SERVER regress_conv OPTIONS (resource 'environments');
SET cloud_fdw.trace = on;
UPDATE writes SET allowed_hosts = '{{a.example.com,b.example.com},{c.example.com,d.example.com}}'
 WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
UPDATE writes SET weight = 'Infinity' WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
UPDATE writes SET score = 'NaN' WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
UPDATE writes SET weights = '{1.5,-Infinity}' WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
UPDATE writes SET metadata = (repeat('{"a":', 70) || '1' || repeat('}', 70))::jsonb
 WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
RESET cloud_fdw.trace;
SELECT s, sqlstate_of(format('UPDATE writes SET %s WHERE id = %L', s, 'env_019b92947fa97faaacdf8beed28a7fc0'))
  FROM (VALUES ($$allowed_hosts = '{{a,b},{c,d}}'$$), ($$weight = '-Infinity'$$),
               ($$weight = 'NaN'$$), ($$score = 'Infinity'$$), ($$weights = '{NaN}'$$),
               ($$metadata = (repeat('[', 65) || repeat(']', 65))::jsonb$$)) AS t(s);
-- Within the limits, such values are sent (the mock refuses the unknown fields).
SET cloud_fdw.trace = on;
UPDATE writes SET weight = 1e300, score = 123456789012345678901234567890.5, weights = '{1.5,-0}'
 WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
RESET cloud_fdw.trace;

DROP SERVER regress_conv CASCADE;
DROP FUNCTION sqlstate_of(text);
