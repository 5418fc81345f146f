--
-- Huawei Cloud AK/SK signing (SDK-HMAC-SHA256) against published answers:
-- the four official examples (the signing guide's, two of the Go SDK's
-- tests, one of the Python SDK's), and three computed independently with a
-- reference implementation that reproduces those four.
--
CREATE FUNCTION sig(header text) RETURNS text LANGUAGE sql
  AS $$ SELECT substring(header from 'Signature=([0-9a-f]+)$') $$;

-- KAT-1: the signing guide's example.
SELECT cloud_fdw_huawei_signature('GET',
  'https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0',
  ARRAY['Content-Type: application/json', 'Host: service.region.example.com', 'X-Sdk-Date: 20191115T033655Z'],
  '', 'QTWAOYTTINDUT2QVKYUC', 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc') AS authorization;
SELECT sig(cloud_fdw_huawei_signature('GET',
  'https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0',
  ARRAY['Content-Type: application/json', 'Host: service.region.example.com', 'X-Sdk-Date: 20191115T033655Z'],
  '', 'QTWAOYTTINDUT2QVKYUC', 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc'))
  = '7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe' AS kat1;

-- KAT-2 and KAT-3: the Go SDK's tests (only X-Sdk-Date signed; a body).
SELECT sig(cloud_fdw_huawei_signature('GET', 'https://example.huaweicloud.com/path?limit=1',
  ARRAY['X-Sdk-Date: 20060102T150405Z'], '', 'AccessKey', 'SecretKey'))
  = '5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624' AS kat2;
SELECT sig(cloud_fdw_huawei_signature('POST', 'https://example.huaweicloud.com/path?key=value',
  ARRAY['X-Sdk-Date: 20060102T150405Z'], E'{"Name":"test","Id":1}\n', 'AccessKey', 'SecretKey'))
  = 'cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59' AS kat3;

-- KAT-4: the Python SDK's test (Host signed, keys with spaces).
SELECT sig(cloud_fdw_huawei_signature('GET', 'https://service.endpoint.myhuaweicloud.com/resources?size=1',
  ARRAY['Host: service.endpoint.myhuaweicloud.com', 'X-Sdk-Date: 20200608T023900Z'], '', 'my ak', 'my sk'))
  = '6d5bc610d3d4475346aae5cd7ed8d99585e60c0430a1d3d6e2f54e2bdd633701' AS kat4;

-- D1: a CodeArts Deploy list, query parameters out of order.
SELECT sig(cloud_fdw_huawei_signature('GET',
  'https://codearts-deploy.cn-north-4.myhuaweicloud.com/v1/applications/8ddf0566c1784da29faac80516fa8425/environments?project_id=55837d272adf4eee90319800e2da6961&page_index=1&page_size=100',
  ARRAY['Host: codearts-deploy.cn-north-4.myhuaweicloud.com', 'X-Project-Id: 0123456789abcdef0123456789abcdef',
        'Content-Type: application/json', 'X-Sdk-Date: 20240102T030405Z'],
  '', 'AKEXAMPLE0000000000', 'SKEXAMPLE0000000000000000000000000000000'))
  = 'e122b3723418981d162e60752e7c5389da89e93673127b20515068618e2a8c5f' AS d1;

-- D2: an EPS update with a body.
SELECT sig(cloud_fdw_huawei_signature('PUT',
  'https://eps.myhuaweicloud.com/v1.0/enterprise-projects/5aa119a8-d25b-45a7-8d1b-88e127885635',
  ARRAY['Host: eps.myhuaweicloud.com', 'X-Domain-Id: fedcba9876543210fedcba9876543210',
        'Content-Type: application/json;charset=UTF-8', 'X-Sdk-Date: 20240102T030405Z'],
  '{"name":"ep_renamed","description":"d","type":"prod"}',
  'AKEXAMPLE0000000000', 'SKEXAMPLE0000000000000000000000000000000'))
  = 'e3f3deaacc265ecb2a55dd0439837afeb9b2e054e91cf49d55161aeebe51dc3b' AS d2;

-- D3: escaping of spaces, "/" and non-ASCII in the query.
SELECT sig(cloud_fdw_huawei_signature('GET',
  'https://eps.myhuaweicloud.com/v1.0/enterprise-projects?sort_dir=asc&offset=0&name=a%20b%2F%C3%A7&limit=1000',
  ARRAY['Host: eps.myhuaweicloud.com', 'X-Sdk-Date: 20240102T030405Z'],
  '', 'AKEXAMPLE0000000000', 'SKEXAMPLE0000000000000000000000000000000'))
  = 'f85f5b6e41567f9dce02106c5eb1871fbb1d56b2b22550cdd4436796d00cde86' AS d3;

-- Without X-Sdk-Date there is nothing to sign against.
SELECT cloud_fdw_huawei_signature('GET', 'https://h/p', ARRAY['Host: h'], '', 'ak', 'sk');
-- A header that is not "Name: value" is the caller's error.
SELECT cloud_fdw_huawei_signature('GET', 'https://x/', ARRAY['nocolon'], '', 'ak', 'sk');

DROP FUNCTION sig(text);
