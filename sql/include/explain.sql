\set ECHO none
-- explain_stable(options_and_query): EXPLAIN, written the same on every
-- PostgreSQL major the suite runs on.  Since 18, EXPLAIN ANALYZE shows row
-- counts with two decimals, and the planner may write an equality it derives
-- between two columns either way round; neither is cloud_fdw's to test.
-- (Callers say BUFFERS OFF, which 18 would otherwise imply with ANALYZE.)
CREATE OR REPLACE FUNCTION explain_stable(query text) RETURNS SETOF text
LANGUAGE plpgsql AS $fn$
DECLARE
  line text;
  sides text[];
BEGIN
  FOR line IN EXECUTE 'EXPLAIN ' || query LOOP
    line := regexp_replace(line, '(rows=\d+)\.00\M', '\1', 'g');
    sides := regexp_match(line, '^(\s*(?:Join )?Filter: \()([\w.]+) = ([\w.]+)\)$');
    IF sides IS NOT NULL AND sides[2] > sides[3] THEN
      line := sides[1] || sides[3] || ' = ' || sides[2] || ')';
    END IF;
    RETURN NEXT line;
  END LOOP;
END
$fn$;
\set ECHO all
