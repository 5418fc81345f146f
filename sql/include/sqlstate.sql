\set ECHO none
-- sqlstate_of(query): 'ok', or the SQLSTATE the query fails with, so that a
-- test can show the class of an error whose message is not its point.
CREATE OR REPLACE FUNCTION sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE query;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END
$fn$;
\set ECHO all
