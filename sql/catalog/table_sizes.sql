-- On-disk size (heap, TOAST and indexes) of the tenant tables, summed per table
-- name over the given tenant schemas; a partitioned table counts its leaves.
-- $1 = tenant schemas (text[]), $2 = table names (text[]).
SELECT c.relname AS "table",
       sum(CASE WHEN c.relkind = 'p'
                THEN (SELECT coalesce(sum(pg_catalog.pg_total_relation_size(p.relid)), 0)
                        FROM pg_catalog.pg_partition_tree(c.oid) p WHERE p.isleaf)
                ELSE pg_catalog.pg_total_relation_size(c.oid) END)::float8 AS bytes
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1::text[])
  AND c.relname = ANY ($2::text[])
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
GROUP BY c.relname;
