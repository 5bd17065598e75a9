-- Every column of every ordinary or partitioned table in the given schemas.
-- Unordered: the caller sorts (a server-side sort of 200,000 rows at 10,000 tenants spills to disk).
-- Types are rendered with search_path = pg_catalog, so a type outside
-- pg_catalog comes schema-qualified; type_schema/type_name/elem_* let the
-- caller recognise types defined in the tenant's own schema.
SELECT n.nspname                                  AS schema,
       c.relname                                  AS table,
       a.attnum                                   AS num,
       a.attname                                  AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull                               AS not_null,
       a.attidentity                              AS identity,
       a.attgenerated                             AS generated,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expr,
       tn.nspname                                 AS type_schema,
       t.typname                                  AS type_name,
       t.typtype                                  AS type_kind,
       en.nspname                                 AS elem_schema,
       e.typname                                  AS elem_name,
       e.typtype                                  AS elem_kind,
       s.seq_schema                               AS owned_seq_schema,
       s.seq_name                                 AS owned_seq_name,
       co.collname                                AS collation
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c      ON c.oid = a.attrelid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
JOIN pg_catalog.pg_namespace n  ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t       ON t.oid = a.atttypid
JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_type e      ON e.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_catalog.pg_namespace en ON en.oid = e.typnamespace
LEFT JOIN pg_catalog.pg_attrdef d   ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
LEFT JOIN (
  -- the sequence a serial or identity column owns (one set-based join, not a lookup per column)
  SELECT dep.refobjid, dep.refobjsubid, sn.nspname AS seq_schema, sc.relname AS seq_name
  FROM pg_catalog.pg_depend dep
  JOIN pg_catalog.pg_class sc ON sc.oid = dep.objid AND sc.relkind = 'S'
  JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace
  WHERE dep.classid = 'pg_catalog.pg_class'::regclass
    AND dep.refclassid = 'pg_catalog.pg_class'::regclass
    AND dep.deptype IN ('a', 'i')
    AND sn.nspname = ANY ($1::text[])
) s ON s.refobjid = a.attrelid AND s.refobjsubid = a.attnum
WHERE n.nspname = ANY ($1::text[])
  AND a.attnum > 0
  AND NOT a.attisdropped;
