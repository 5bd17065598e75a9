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
),
-- Decorrelated: one aggregate of every index's pages, joined (a correlated sub-select per table
-- would build a hash of pg_class per row once nested loops are off, as discovery turns them).
idx AS (
  SELECT x.indrelid, sum(ic.relpages::float8) AS pages, count(*) AS n
  FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid
  GROUP BY x.indrelid
)
SELECT tree.relname AS "table",
       sum(c.relpages::float8 + coalesce(t.relpages, 0) + coalesce(idx.pages, 0)) * current_setting('block_size')::float8 AS bytes,
       -- What the estimate of the unified table needs (src/report/estimate.ts): rows, pages per kind, and
       -- the same for the tenants big enough (8+ heap pages) that their pages say how wide a row is.
       count(*) FILTER (WHERE c.relkind = 'r')::float8 AS relations,
       sum(CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE pg_catalog.pg_stat_get_live_tuples(c.oid) END)::float8 AS "rows",
       sum(c.relpages)::float8 AS heap_pages,
       sum(coalesce(t.relpages, 0))::float8 AS toast_pages,
       sum(coalesce(idx.pages, 0))::float8 AS index_pages,
       sum(coalesce(idx.n, 0))::float8 AS index_files,
       count(*) FILTER (WHERE c.relkind = 'r' AND c.relpages = 0 AND c.reltuples < 0)::float8 AS unmeasured,
       coalesce(sum(pg_catalog.pg_stat_get_live_tuples(c.oid)) FILTER (WHERE c.relpages = 0 AND c.reltuples < 0), 0)::float8 AS unmeasured_rows,
       sum(c.reltuples) FILTER (WHERE c.relpages >= 8 AND c.reltuples > 0)::float8 AS dense_rows,
       sum(c.relpages) FILTER (WHERE c.relpages >= 8 AND c.reltuples > 0)::float8 AS dense_heap_pages,
       sum(coalesce(idx.pages, 0)) FILTER (WHERE c.relpages >= 8 AND c.reltuples > 0)::float8 AS dense_index_pages
FROM tree
JOIN pg_catalog.pg_class c ON c.oid = tree.oid
LEFT JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid
LEFT JOIN idx ON idx.indrelid = c.oid
GROUP BY tree.relname;
