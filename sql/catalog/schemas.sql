-- All user schemas (not the system's, not the tool's own state schema).
SELECT n.nspname AS schema
FROM pg_catalog.pg_namespace n
WHERE n.nspname NOT LIKE 'pg\_%'
  AND n.nspname <> 'information_schema'
  AND n.nspname <> 'oasys_migrate'
ORDER BY n.nspname;
