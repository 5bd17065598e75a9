-- Estimated on-disk size of the tenant tables (heap, TOAST and indexes), summed
-- per table name over the given tenant schemas; a partitioned table counts its
-- partitions. From the catalog's page counts (kept by VACUUM and ANALYZE, like
-- the row estimates): no function that locks a table, so `plan` never waits
-- behind a lock the application holds.
-- $1 = tenant schemas (text[]), $2 = table names (text[]).
WITH RECURSIVE roots AS (
  SELECT c.oid, c.relname
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1::text[])
    AND c.relname = ANY ($2::text[])
    AND c.relkind IN ('r', 'p')
    AND NOT c.relispartition
), tree AS (
  SELECT oid, relname FROM roots
  UNION ALL
  SELECT i.inhrelid, tree.relname FROM tree JOIN pg_catalog.pg_inherits i ON i.inhparent = tree.oid
)
SELECT tree.relname AS "table",
       sum(c.relpages::float8
           + coalesce((SELECT t.relpages FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid), 0)
           + coalesce((SELECT sum(ix.relpages) FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class ix ON ix.oid = x.indexrelid WHERE x.indrelid = c.oid), 0)
       ) * current_setting('block_size')::float8 AS bytes
FROM tree
JOIN pg_catalog.pg_class c ON c.oid = tree.oid
GROUP BY tree.relname;
