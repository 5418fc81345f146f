--
-- The README's IMPORT FOREIGN SCHEMA examples, verbatim, against the mock.
-- Lines marked "test only" point the servers at the mock and put its test
-- credentials in place of the README's placeholders; the other statements,
-- up to the cleanup at the end, are the README's own (test/t_readme.py
-- checks that they still are).
--
\getenv mock_url MOCK_URL
\set qoder_endpoint :mock_url '/_mock/tenant=readme/api/v1/cloud'
\set hw_endpoint :mock_url '/_mock/tenant=readme'
SET enable_hashagg = off;  -- test only: groups in a stable order

-- Quick start: the Qoder server and user mapping the IMPORT section uses.
CREATE SERVER qoder FOREIGN DATA WRAPPER cloud_fdw
  OPTIONS (provider 'qoder');          -- endpoint defaults to https://openapi.qoder.sh/api/v1/cloud
CREATE USER MAPPING FOR CURRENT_USER SERVER qoder OPTIONS (token 'pt-...');
ALTER SERVER qoder OPTIONS (ADD endpoint :'qoder_endpoint');                          -- test only
ALTER USER MAPPING FOR CURRENT_USER SERVER qoder OPTIONS (SET token 'pt-test-admin');  -- test only

-- Quick start: Huawei Cloud.
CREATE TABLE cost_centres (ep_id text, centre text);                                  -- test only
INSERT INTO cost_centres VALUES ('e88f40a2-3bd4-4e94-b114-f27eab195b47', 'CC-100'),
  ('5622276a-4637-4f37-89a4-62ce0fa030a0', 'CC-100'), ('7c213c12-8f4c-4fc3-a9f0-665958282d8a', 'CC-200');  -- test only
CREATE SERVER hw FOREIGN DATA WRAPPER cloud_fdw OPTIONS (provider 'huaweicloud', region 'cn-north-4');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (access_key '...', secret_key '...', domain_id '...', iam_project_id '...');
ALTER SERVER hw OPTIONS (ADD endpoint :'hw_endpoint');                                -- test only
ALTER USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (SET access_key 'HWTESTAK0000000000000',
           SET secret_key 'HWTESTSK00000000000000000000000000000000',
           SET domain_id 'd0000000000000000000000000000001',
           SET iam_project_id 'p0000000000000000000000000000001');                 -- test only
CREATE SCHEMA cloud;
IMPORT FOREIGN SCHEMA huaweicloud FROM SERVER hw INTO cloud
  OPTIONS (codearts_project_id '55837d272adf4eee90319800e2da6961');

SELECT p.name, count(*) FROM cloud.enterprise_projects p JOIN cost_centres c ON c.ep_id = p.id GROUP BY 1;
SELECT * FROM cloud.deploy_environments WHERE application_id = '43943381f7764c52baae8e697720873f' AND os = 'linux';
UPDATE cloud.enterprise_projects SET description = 'owned by data team' WHERE name LIKE 'data-%';
SELECT name, description FROM cloud.enterprise_projects WHERE name LIKE 'data-%';  -- test only

DROP SCHEMA cloud CASCADE;                                                            -- test only

-- IMPORT FOREIGN SCHEMA.
CREATE SCHEMA cloud;
IMPORT FOREIGN SCHEMA qoder FROM SERVER qoder INTO cloud;                 -- cloud.environments
IMPORT FOREIGN SCHEMA huaweicloud LIMIT TO (enterprise_projects)          -- or EXCEPT (...)
  FROM SERVER hw INTO cloud;                                              -- cloud.enterprise_projects

SELECT foreign_table_name FROM information_schema.foreign_tables
 WHERE foreign_table_schema = 'cloud' ORDER BY 1;                                     -- test only
SELECT (SELECT count(*) FROM cloud.environments) AS environments,
       (SELECT count(*) FROM cloud.enterprise_projects) AS enterprise_projects;       -- test only

-- cleanup
DROP SCHEMA cloud CASCADE;
DROP SERVER qoder, hw CASCADE;
DROP TABLE cost_centres;
RESET enable_hashagg;
