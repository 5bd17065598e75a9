-- Partitions and inheritance children of the unified tables: queried directly, the parent's policies
-- do not apply ($1 = table oids, $2 = role, $3 = the policy name).
WITH RECURSIVE d(root, child) AS (
    SELECT i.inhparent, i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent = ANY ($1::int8[]::oid[])
    UNION ALL
    SELECT d.root, i.inhrelid FROM d JOIN pg_catalog.pg_inherits i ON i.inhparent = d.child)
  SELECT d.root::int8::text AS root, format('%I.%I', n.nspname, c.relname) AS child, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
         EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid AND p.polname = $3) AS has_policy,
         pg_catalog.has_table_privilege($2::text::name, c.oid, 'SELECT, INSERT, UPDATE, DELETE') AS reachable
    FROM d JOIN pg_catalog.pg_class c ON c.oid = d.child JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   ORDER BY 2;
