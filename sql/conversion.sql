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

--
-- Only the columns a query reads are converted: a value that cannot become
-- its column's type fails the queries that read it, and no other.  The
-- name of every item is no boolean.
--
CREATE FOREIGN TABLE unread (
  id text,
  name text,
  name_flag boolean OPTIONS (path 'name'),
  created_at timestamptz
) SERVER regress_conv OPTIONS (resource 'environments');
SELECT count(*) FROM unread;
SELECT count(id), min(name), max(created_at) FROM unread;
SELECT name FROM unread WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT name_flag FROM unread WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT count(*) FROM unread WHERE name_flag;
SELECT sqlstate_of('SELECT u FROM unread u');

--
-- Date-times in the RFC 3339 forms the APIs send are read without the
-- general parser, every other form through it: each reads as a cast of
-- its text does, in the session's zone where it has none.
--
CREATE FOREIGN TABLE stamp_texts (id text, description text)
  SERVER regress_conv OPTIONS (resource 'environments');
CREATE FOREIGN TABLE stamps (
  id text,
  at timestamptz OPTIONS (path 'description'),
  at_3 timestamptz(3) OPTIONS (path 'description')
) SERVER regress_conv OPTIONS (resource 'environments');
CREATE FUNCTION read_stamp(sent text) RETURNS TABLE (at timestamptz, at_3 timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE stamp_texts SET description = sent WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
  RETURN QUERY SELECT s.at, s.at_3 FROM stamps s WHERE s.id = 'env_019b92947fa97faaacdf8beed28a7fc0';
END $$;
SET timezone = 'America/Sao_Paulo';
SELECT sent, r.at AT TIME ZONE 'UTC' AS utc, r.at = sent::timestamptz AS same, r.at_3 = sent::timestamptz(3) AS same_3
  FROM unnest(ARRAY['2026-05-18T15:28:08.093156Z', '2026-05-18T15:28:08Z', '2026-05-18t15:28:08z',
                    '2026-05-18 15:28:08+08:00', '2026-05-18T15:28:08.1-03:30',
                    '2024-02-29T23:59:59.999999+15:59', '0001-01-01T00:00:00Z',
                    '9999-12-31T23:59:59.999999-12:00', '2026-05-18T15:28:08.1234567Z',
                    '2026-05-18T15:28:59.9999995Z', '2026-12-31T23:59:60Z',
                    '2026-05-18T15:28:08+0800', '2026-05-18T15:28:08', '2026-05-18',
                    'May 18 2026 15:28:08 UTC']) WITH ORDINALITY AS t(sent, n),
       read_stamp(sent) r
 ORDER BY n;
SELECT sqlstate_of($$SELECT * FROM read_stamp('2026-02-30T00:00:00Z')$$);
SELECT sqlstate_of($$SELECT * FROM read_stamp('2026-05-18T24:00:01Z')$$);
RESET timezone;

--
-- Escapes and UTF-8 read alike through every type: text decodes them, jsonb
-- is built from the answer's values as jsonb_in builds it from their text,
-- and json keeps its canonical text.
--
CREATE FOREIGN TABLE escapes (
  id text,
  description text,
  metadata jsonb,
  metadata_json json OPTIONS (path 'metadata'),
  metadata_text text OPTIONS (path 'metadata'),
  note text OPTIONS (path 'metadata.note')
) SERVER regress_conv OPTIONS (resource 'environments');
UPDATE escapes SET description = E'caf\u00e9 \U0001F600 "quoted" back\\slash\ttab\nline/slash',
                   metadata = jsonb_build_object('note', E'\u00e9t\u00e9 "q"\n', 'ctl', E'\u0001\u001f', 'empty', '')
 WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT description, note, metadata, metadata_json, metadata_text,
       metadata = metadata_json::jsonb AS same_jsonb, metadata = metadata_text::jsonb AS same_text
  FROM escapes WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';
SELECT length(description), octet_length(description) FROM escapes
 WHERE id = 'env_019b92947fa97faaacdf8beed28a7fc0';

DROP SERVER regress_conv CASCADE;
DROP FUNCTION sqlstate_of(text);
DROP FUNCTION read_stamp(text);
