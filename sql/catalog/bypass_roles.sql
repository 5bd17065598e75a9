-- Roles that would not be subject to row-level security: superusers and
-- BYPASSRLS roles that can log in or are granted to roles that can.
SELECT r.rolname AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls, r.rolcanlogin AS can_login
FROM pg_catalog.pg_roles r
WHERE (r.rolsuper OR r.rolbypassrls)
  AND r.rolname NOT LIKE 'pg\_%'
ORDER BY r.rolname;
