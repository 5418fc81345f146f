--
-- Huawei Cloud authentication styles, each checked for real by the mock:
-- AK/SK request signing (permanent and temporary keys), and IAM password
-- login with a cached, scoped token that is replaced once when refused.
--
\getenv mock_url MOCK_URL
\set endpoint :mock_url '/_mock/tenant=huawei_auth'
\set iam_endpoint :mock_url '/_mock/tenant=huawei_auth'

CREATE SERVER hw FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'endpoint',
           iam_endpoint :'iam_endpoint');
CREATE SCHEMA cloud;
IMPORT FOREIGN SCHEMA huaweicloud FROM SERVER hw INTO cloud
  OPTIONS (codearts_project_id '55837d272adf4eee90319800e2da6961');
SET cloud_fdw.trace = on;

-- AK/SK: every request signed.  Global EPS wants the account id, regional
-- CodeArts the IAM project id.
CREATE USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (access_key 'HWTESTAK0000000000000', secret_key 'HWTESTSK00000000000000000000000000000000');
SELECT count(*) FROM cloud.enterprise_projects;
ALTER SERVER hw OPTIONS (ADD domain_id 'd0000000000000000000000000000001');
SELECT count(*) FROM cloud.enterprise_projects;
UPDATE cloud.enterprise_projects SET description = 'signed update' WHERE name = 'marketing'
RETURNING description;
SELECT count(*) FROM cloud.deploy_environments WHERE application_id = '8ddf0566c1784da29faac80516fa8425';
ALTER USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (ADD iam_project_id 'p0000000000000000000000000000001');
SELECT count(*) FROM cloud.deploy_environments WHERE application_id = '8ddf0566c1784da29faac80516fa8425';

-- A wrong secret key: the gateway refuses the signature.
ALTER USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (SET secret_key 'HWTESTSK00000000000000000000000000000001');
SELECT count(*) FROM cloud.enterprise_projects;

-- Temporary keys need their security token, which is signed too.
ALTER USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (SET access_key 'HWTEMPAK0000000000000', SET secret_key 'HWTEMPSK00000000000000000000000000000000');
SELECT count(*) FROM cloud.enterprise_projects;
ALTER USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (ADD security_token 'hw-test-security-token');
SELECT count(*) FROM cloud.enterprise_projects;

-- One style at a time, and complete.
ALTER USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (ADD auth_token 'hw-test-token');
SELECT count(*) FROM cloud.enterprise_projects;
DROP USER MAPPING FOR CURRENT_USER SERVER hw;
CREATE USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (access_key 'HWTESTAK0000000000000');
SELECT count(*) FROM cloud.enterprise_projects;
DROP USER MAPPING FOR CURRENT_USER SERVER hw;
CREATE USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (user 'test-user', password 'test-password');
SELECT count(*) FROM cloud.enterprise_projects;
DROP USER MAPPING FOR CURRENT_USER SERVER hw;
CREATE USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (token 'pt-test-admin');
SELECT count(*) FROM cloud.enterprise_projects;
DROP USER MAPPING FOR CURRENT_USER SERVER hw;

-- IAM password login: one token per scope (the account for EPS, the
-- region's project for CodeArts), reused by later queries.  The login body
-- holds the password and is never shown.
CREATE USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (user 'test-user', password 'test-password', domain_name 'test-domain');
SELECT count(*) FROM cloud.enterprise_projects;
SELECT count(*) FROM cloud.enterprise_projects WHERE id = '0';
SELECT count(*) FROM cloud.deploy_environments WHERE application_id = '8ddf0566c1784da29faac80516fa8425';
SELECT count(*) FROM cloud.deploy_environments WHERE application_id = '8ddf0566c1784da29faac80516fa8425';

-- A cached token the API refuses (401) is replaced once, then the request
-- is sent again.  Faults come with the endpoint, a server option, so this
-- table has a server of its own: its first token is new, and a new token
-- refused is an error; the second query has a cached one.
\set ep_401_twice :mock_url '/_mock/tenant=huawei_auth,status=401,fault_count=2'
CREATE SERVER hw_401 FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'huaweicloud', region 'cn-north-4', endpoint :'ep_401_twice',
           iam_endpoint :'iam_endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_401
  OPTIONS (user 'test-user', password 'test-password', domain_name 'test-domain');
CREATE FOREIGN TABLE eps_401_once (id text, name text) SERVER hw_401
  OPTIONS (resource 'enterprise_projects');
SELECT count(*) FROM eps_401_once;
SELECT count(*) FROM eps_401_once;
-- A token that is refused again is an error, not a loop.
\set ep_401 :mock_url '/_mock/tenant=huawei_auth,status=401'
ALTER SERVER hw_401 OPTIONS (SET endpoint :'ep_401');
SELECT count(*) FROM eps_401_once;
SELECT count(*) FROM eps_401_once;
DROP SERVER hw_401 CASCADE;

-- A token is renewed when less than five minutes of it are left: these live
-- two minutes, so each query logs in again.
\set iam_short :mock_url '/_mock/tenant=huawei_auth,token_ttl_s=120'
ALTER SERVER hw OPTIONS (SET iam_endpoint :'iam_short');
SELECT count(*) FROM cloud.enterprise_projects WHERE id = '0';
SELECT count(*) FROM cloud.enterprise_projects WHERE id = '0';
ALTER SERVER hw OPTIONS (SET iam_endpoint :'iam_endpoint');

-- A wrong password.
ALTER USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (SET password 'wrong');
SELECT count(*) FROM cloud.enterprise_projects;

RESET cloud_fdw.trace;
DROP SCHEMA cloud CASCADE;
DROP SERVER hw CASCADE;
