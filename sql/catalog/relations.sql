-- Every relation in the given schemas (tenants, target, shared). Indexes,
-- sequences and composite types are listed only in the schemas of $2, so that
-- new names given out there can avoid the existing ones.
-- Partitions are reported with their root so that a partitioned table is
-- migrated through its root as one table.
SELECT n.nspname                  AS schema,
       c.relname                  AS name,
       c.relkind                  AS kind,
       c.relispartition           AS is_partition,
       CASE WHEN c.relispartition THEN (SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = pg_catalog.pg_partition_root(c.oid)) END AS root,
       -- reltuples is -1 until the first ANALYZE; the statistics counter knows better then
       (CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE pg_catalog.pg_stat_get_live_tuples(c.oid) END)::int8 AS estimate,
       c.relrowsecurity           AS rls_enabled,
       c.relforcerowsecurity      AS rls_forced
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1::text[])
  AND (c.relkind IN ('r', 'p', 'v', 'm', 'f') OR (c.relkind IN ('i', 'I', 'S', 'c') AND n.nspname = ANY ($2::text[])))
ORDER BY n.nspname, c.relname;
