--
-- Conversion: date-times into time types.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=conversion/api/v1/cloud'

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

DROP SERVER regress_conv CASCADE;
