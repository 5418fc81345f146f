/* cloud_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION cloud_fdw" to load this file. \quit

CREATE FUNCTION cloud_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION cloud_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER cloud_fdw
  HANDLER cloud_fdw_handler
  VALIDATOR cloud_fdw_validator;

-- The connection cache of this backend: one handle per user mapping.
CREATE FUNCTION cloud_fdw_get_connections(
    OUT server_name text,
    OUT user_name text,
    OUT valid boolean,
    OUT requests bigint,
    OUT connections_opened bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT PARALLEL RESTRICTED;

CREATE FUNCTION cloud_fdw_disconnect_all()
RETURNS bool
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT PARALLEL RESTRICTED;

-- The Authorization header Huawei Cloud's SDK-HMAC-SHA256 (AK/SK) signing
-- gives a request; every header in "signed_headers" ("Name: value") is
-- signed, and one must be X-Sdk-Date.  For checking signatures by hand.
CREATE FUNCTION cloud_fdw_huawei_signature(
    method text, url text, signed_headers text[], body text,
    access_key text, secret_key text)
RETURNS text
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
