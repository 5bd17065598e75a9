-- Each unified table: RLS flags, owner, the role's privileges, the tenant column's type
-- ($1 = schema, $2 = table names, $3 = role, $4 = tenant column).
SELECT t.name, c.oid::int8::text AS oid, c.relrowsecurity, c.relforcerowsecurity,
        pg_catalog.pg_get_userbyid(c.relowner)::text AS owner,
        pg_catalog.pg_has_role($3::text::name, c.relowner, 'MEMBER') AS role_owns,
        pg_catalog.has_table_privilege($3::text::name, c.oid, 'SELECT') AS can_select,
        pg_catalog.has_table_privilege($3::text::name, c.oid, 'INSERT') AS can_insert,
        pg_catalog.has_column_privilege($3::text::name, c.oid, a.attnum, 'UPDATE') AS can_update_tenant,
        pg_catalog.has_table_privilege($3::text::name, c.oid, 'DELETE') AS can_delete,
        pg_catalog.format_type(a.atttypid, a.atttypmod) AS tenant_type
   FROM unnest($2::text[]) WITH ORDINALITY AS t(name, ord)
   LEFT JOIN pg_catalog.pg_class c
          ON c.relname = t.name AND c.relkind IN ('r', 'p')
         AND c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)
   LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = $4 AND a.attnum > 0 AND NOT a.attisdropped
  ORDER BY t.ord;
