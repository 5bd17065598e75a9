-- Tenants' tables grouped by shape: one row per (table name, digest of its definition) with the
-- schemas that have exactly that definition. The digest is taken over the raw catalog rows that
-- columns.sql, constraints.sql and indexes.sql deparse (nothing is deparsed here: at 50,000 tenants
-- deparsing 1,000,000 columns is most of discovery), with every reference to an object of the
-- table's own schema (a local type, a foreign key to a sibling table) made relative: its name,
-- never its oid or schema. Equal digests therefore mean the same definition up to the tenant's
-- own schema name, and discovery reads one of them in full (src/discover/catalog.ts).
-- Deliberately left out: default expressions' text (their sequences' oids differ per tenant, and
-- only the reference tenant's defaults are ever read; the reference is always the first tenant of
-- its shape). Whether a column has a default is in.
WITH tab AS MATERIALIZED (
  SELECT c.oid, c.relnamespace AS nsp, n.nspname AS schema, c.relname AS "table"
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1::text[])
    AND c.relkind IN ('r', 'p')
    AND NOT c.relispartition
),
parts AS (
  SELECT t.oid,
         ROW(a.attnum, a.attname, a.atttypmod, a.attnotnull, a.attidentity, a.attgenerated, a.attcollation, a.atthasdef,
             -- a built-in type is the same everywhere; any other is named when it is the tenant's own
             CASE WHEN a.atttypid < 16384 THEN a.atttypid::text ELSE (
               SELECT ROW(ty.typnamespace = t.nsp, CASE WHEN ty.typnamespace = t.nsp THEN ty.typname::text ELSE ty.oid::text END,
                          el.typnamespace = t.nsp, CASE WHEN el.typnamespace = t.nsp THEN el.typname::text ELSE el.oid::text END)::text
               FROM pg_catalog.pg_type ty
               LEFT JOIN pg_catalog.pg_type el ON el.oid = ty.typelem AND ty.typcategory = 'A'
               WHERE ty.oid = a.atttypid) END)::text AS x
  FROM tab t
  JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT t.oid,
         ROW(k.conname, k.contype, k.conkey,
             -- the referenced table: by name when it is the tenant's own, and its columns by name
             -- (a sibling table's attnums alone do not say which)
             CASE WHEN k.contype = 'f' THEN (
               SELECT ROW(fc.relnamespace = t.nsp, CASE WHEN fc.relnamespace = t.nsp THEN fc.relname::text ELSE fc.oid::text END,
                          ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(num, ord)
                                JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.ord))::text
               FROM pg_catalog.pg_class fc WHERE fc.oid = k.confrelid) END,
             CASE WHEN k.contype = 'f' AND k.confdeltype IN ('n', 'd') THEN pg_catalog.to_jsonb(k) -> 'confdelsetcols' END,
             k.confupdtype, k.confdeltype, k.confmatchtype, k.condeferrable, k.condeferred, k.connoinherit,
             -- a check's expression tree: column numbers (named by the column rows) and the oids of
             -- what it calls (the same everywhere unless the tenant's own: then no two tenants share)
             k.conbin::text)::text
  FROM tab t
  JOIN pg_catalog.pg_constraint k ON k.conrelid = t.oid AND k.contype IN ('p', 'u', 'f', 'c', 'x') AND k.conparentid = 0
  UNION ALL
  SELECT t.oid,
         ROW((SELECT ROW(ic.relname, ic.relam) FROM pg_catalog.pg_class ic WHERE ic.oid = i.indexrelid)::text,
             i.indisunique, i.indisprimary, i.indnkeyatts, i.indkey, i.indclass, i.indoption,
             i.indcollation, i.indexprs::text, i.indpred::text,
             CASE WHEN i.indisunique AND NOT i.indisprimary THEN pg_catalog.to_jsonb(i) ->> 'indnullsnotdistinct' END)::text
  FROM tab t
  JOIN pg_catalog.pg_index i ON i.indrelid = t.oid
),
shapes AS (
  SELECT oid, pg_catalog.md5(pg_catalog.array_agg(x ORDER BY x)::text) AS digest FROM parts GROUP BY oid
)
SELECT t."table", s.digest, pg_catalog.array_agg(t.schema::text) AS schemas
FROM tab t
LEFT JOIN shapes s ON s.oid = t.oid
GROUP BY t."table", s.digest;
