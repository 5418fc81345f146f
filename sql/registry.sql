--
-- The registry checks itself: every {placeholder} has a path parameter and
-- every path parameter a placeholder, each resource has one key and a list
-- call, calls that write say so, parameters are for declared fields, and
-- paging fits its style.  A resource with a problem shows it here.
--
CREATE FUNCTION pg_temp.registry_problems(OUT resource text, OUT provider text,
                                          OUT calls int, OUT problem text)
  RETURNS SETOF record AS '$libdir/cloud_fdw', 'cloud_fdw_registry_problems' LANGUAGE C;
SELECT resource, provider, calls, coalesce(problem, 'ok') AS problem
  FROM pg_temp.registry_problems() ORDER BY provider, resource;
