-- One line per catalog fact of every user schema except those in $1 (the
-- tenant schemas and oasys_migrate): relations and their RLS flags, columns,
-- constraints, indexes, policies, types. Two equal sets of lines mean two
-- equal definitions. OIDs are left out: a dropped and re-created object with
-- the same definition counts as the same.
WITH schemas AS (
  SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n
  WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND NOT (n.nspname = ANY ($1::text[]))
)
SELECT line FROM (
  SELECT format('relation %I.%I kind=%s rls=%s force=%s', s.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity) AS line
    FROM pg_catalog.pg_class c JOIN schemas s ON s.oid = c.relnamespace
  UNION ALL
  SELECT format('column %I.%I.%I %s notnull=%s identity=%s generated=%s default=%s', s.nspname, c.relname, a.attname,
                pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, a.attgenerated, pg_catalog.pg_get_expr(d.adbin, d.adrelid))
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN schemas s ON s.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  UNION ALL
  SELECT format('constraint %I.%I.%I %s', s.nspname, c.relname, con.conname, pg_catalog.pg_get_constraintdef(con.oid))
    FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid JOIN schemas s ON s.oid = c.relnamespace
  UNION ALL
  SELECT format('index %s', pg_catalog.pg_get_indexdef(i.indexrelid))
    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN schemas s ON s.oid = c.relnamespace
  UNION ALL
  SELECT format('policy %I.%I.%I cmd=%s permissive=%s using=%s check=%s', s.nspname, c.relname, p.polname, p.polcmd, p.polpermissive,
                pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
    FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN schemas s ON s.oid = c.relnamespace
  UNION ALL
  SELECT format('type %I.%I kind=%s labels=%s', s.nspname, t.typname, t.typtype,
                (SELECT string_agg(e.enumlabel::text, ',' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid))
    FROM pg_catalog.pg_type t JOIN schemas s ON s.oid = t.typnamespace
   WHERE t.typtype IN ('e', 'd', 'c') AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.reltype = t.oid AND c.relkind <> 'c')
  UNION ALL
  SELECT format('sequence %I.%I last=%s called=%s', sq.schemaname, sq.sequencename, sq.last_value, sq.last_value IS NOT NULL)
    FROM pg_catalog.pg_sequences sq WHERE sq.schemaname IN (SELECT nspname FROM schemas)
) x
ORDER BY line;
