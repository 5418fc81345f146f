/* cloud_fdw--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION cloud_fdw UPDATE TO '1.1'" to load this file. \quit

-- The cache of read answers (option cache_ttl): shared by all backends when
-- cloud_fdw is in shared_preload_libraries, else this backend's.
CREATE FUNCTION cloud_fdw_cache_stats(
    OUT entries bigint,
    OUT bytes bigint,
    OUT hits bigint,
    OUT misses bigint,
    OUT evictions bigint,
    OUT size bigint,
    OUT shared boolean)
RETURNS record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- Drops every answer for a superuser; for anyone else, those cached under
-- the credentials of their own user mappings.  Returns how many it dropped.
CREATE FUNCTION cloud_fdw_cache_clear()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
