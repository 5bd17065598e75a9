-- Primary keys, unique, foreign key, check and exclusion constraints of every table in
-- the given schemas. Foreign key targets come from pg_constraint itself
-- (never guessed from names): a tenant table may point at its own schema or
-- at a shared table of the same name in public.
SELECT n.nspname                       AS schema,
       c.relname                       AS table,
       con.conname                     AS name,
       con.contype                     AS kind,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord)::text[]  AS columns,
       fn.nspname                      AS ref_schema,
       fc.relname                      AS ref_table,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord)::text[]  AS ref_columns,
       con.confupdtype                 AS on_update,
       con.confdeltype                 AS on_delete,
       -- ON DELETE SET NULL / SET DEFAULT (columns): only these columns are set (PostgreSQL 15+,
       -- confdelsetcols; NULL for all of them). Read by name from the row's JSON, for foreign keys
       -- with such an action only, so that the same text runs on 14, which has no such column.
       CASE WHEN con.contype = 'f' AND con.confdeltype IN ('n', 'd') THEN
         ARRAY(SELECT a.attname FROM pg_catalog.jsonb_array_elements_text(
                 CASE WHEN pg_catalog.jsonb_typeof(pg_catalog.to_jsonb(con) -> 'confdelsetcols') = 'array'
                      THEN pg_catalog.to_jsonb(con) -> 'confdelsetcols' ELSE '[]' END) WITH ORDINALITY k(num, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num::int2
               ORDER BY k.ord)::text[] END  AS on_delete_set_columns,
       con.confmatchtype               AS match_type,
       con.condeferrable               AS deferrable,
       con.condeferred                 AS deferred,
       con.connoinherit                AS no_inherit,
       -- deparsed only where it is used (checks are recreated from their text): at 10,000
       -- tenants there are 60,000 keys whose text nobody reads
       CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_constraintdef(con.oid) END AS definition,
       con.contype = 'c' AND EXISTS (
         -- a check constraint calling a function or naming a type of a non-system schema cannot be copied as text
         SELECT 1 FROM pg_catalog.pg_depend dep
         LEFT JOIN pg_catalog.pg_proc p ON dep.refclassid = 'pg_catalog.pg_proc'::regclass AND p.oid = dep.refobjid
         LEFT JOIN pg_catalog.pg_type ty ON dep.refclassid = 'pg_catalog.pg_type'::regclass AND ty.oid = dep.refobjid
         WHERE dep.classid = 'pg_catalog.pg_constraint'::regclass AND dep.objid = con.oid
           AND COALESCE(p.pronamespace, ty.typnamespace) = n.oid
       )                               AS uses_local_objects
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c     ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class fc     ON fc.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = ANY ($1::text[])
  AND con.contype IN ('p', 'u', 'f', 'c', 'x')
  AND NOT c.relispartition
  AND con.conparentid = 0;
