-- Objects in tenant schemas that are not migrated, counted per schema and
-- kind so that plan can warn about them without listing thousands of rows.
SELECT schema, kind, count(*)::int AS count, (array_agg(name::text ORDER BY name))[1:5] AS examples
FROM (
  SELECT n.nspname AS schema, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END AS kind, c.relname AS name
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('v', 'm', 'f')
  UNION ALL
  SELECT n.nspname, 'function', p.proname
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT n.nspname, 'trigger', c.relname || '.' || tg.tgname
  FROM pg_catalog.pg_trigger tg
  JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1::text[]) AND NOT tg.tgisinternal
) o
GROUP BY schema, kind
ORDER BY schema, kind;
