-- Indexes of every table in the given schemas, one row per index. For those
-- not backing a constraint: each key column's text (a column name or an
-- expression), its sort options and a non-default operator class, so the
-- index can be rebuilt with the tenant column in front. Indexes that back a
-- constraint are only flagged: the constraint recreates them.
SELECT n.nspname                       AS schema,
       c.relname                       AS table,
       ic.relname                      AS name,
       am.amname                       AS method,
       i.indisunique                   AS is_unique,
       i.indisprimary                  AS is_primary,
       (con.oid IS NOT NULL)           AS backs_constraint,
       i.indnkeyatts                   AS key_count,
       -- the first key column, cheaply, for every index (is there one leading with the tenant column?)
       (SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0]) AS first_column,
       -- UNIQUE NULLS NOT DISTINCT (PostgreSQL 15+). Read by name from the row's JSON so that the
       -- same text runs on 14, which has no such column (and no such indexes); only for unique
       -- indexes other than primary keys (whose columns are NOT NULL), as the JSON costs ~25 µs a row.
       CASE WHEN i.indisunique AND NOT i.indisprimary
            THEN COALESCE((pg_catalog.to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false)
            ELSE false END             AS nulls_not_distinct,
       -- the rest is deparsed only for indexes that are rebuilt as they are (a constraint rebuilds its own)
       CASE WHEN con.oid IS NULL THEN ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnatts) k ORDER BY k)::text[] END AS column_defs,
       CASE WHEN con.oid IS NULL THEN ARRAY(SELECT i.indoption[k - 1]::int
             FROM generate_series(1, i.indnkeyatts) k ORDER BY k) END AS options,
       CASE WHEN con.oid IS NULL THEN ARRAY(SELECT CASE WHEN opc.opcdefault THEN NULL ELSE quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname) END
             FROM generate_series(1, i.indnkeyatts) k
             JOIN pg_catalog.pg_opclass opc ON opc.oid = i.indclass[k - 1]
             JOIN pg_catalog.pg_namespace opn ON opn.oid = opc.opcnamespace
             ORDER BY k)::text[] END AS opclasses,
       CASE WHEN con.oid IS NULL THEN pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) END AS predicate,
       con.oid IS NULL AND EXISTS (
         SELECT 1 FROM pg_catalog.pg_depend dep
         LEFT JOIN pg_catalog.pg_proc p ON dep.refclassid = 'pg_catalog.pg_proc'::regclass AND p.oid = dep.refobjid
         LEFT JOIN pg_catalog.pg_type ty ON dep.refclassid = 'pg_catalog.pg_type'::regclass AND ty.oid = dep.refobjid
         WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = i.indexrelid
           AND COALESCE(p.pronamespace, ty.typnamespace) = n.oid
       )                               AS uses_local_objects
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic    ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_class c     ON c.oid = i.indrelid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_am am       ON am.oid = ic.relam
LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE n.nspname = ANY ($1::text[]);
