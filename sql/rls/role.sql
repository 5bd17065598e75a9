-- The application role: superuser, BYPASSRLS, and the superuser or BYPASSRLS roles it can become ($1 = role name).
SELECT r.oid::int8::text AS oid, r.rolsuper, r.rolbypassrls,
       CASE WHEN r.rolsuper THEN ARRAY[]::text[] ELSE ARRAY(
         SELECT b.rolname::text FROM pg_catalog.pg_roles b
          WHERE b.oid <> r.oid AND (b.rolsuper OR b.rolbypassrls) AND pg_catalog.pg_has_role(r.oid, b.oid, 'MEMBER')
          ORDER BY 1) END AS can_become
  FROM pg_catalog.pg_roles r WHERE r.rolname = $1;
