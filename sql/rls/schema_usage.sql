-- Does the role have USAGE on the target schema ($1 = role, $2 = schema; NULL when the schema is missing).
SELECT CASE WHEN n.oid IS NULL THEN NULL ELSE pg_catalog.has_schema_privilege($1::text::name, n.oid, 'USAGE') END AS ok
  FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = $2;
