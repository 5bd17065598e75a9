-- Row-level security policies on tables of the given schemas.
SELECT n.nspname AS schema, c.relname AS table, p.polname AS name, p.polpermissive AS permissive
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c     ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1::text[])
ORDER BY 1, 2, 3;
