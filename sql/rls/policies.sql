-- Every policy on the unified tables, and whether it applies to the role ($1 = table oids, $2 = role).
SELECT p.polrelid::int8::text AS relid, p.polname::text AS polname, p.polcmd::text AS polcmd, p.polpermissive,
        ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(r)::text END FROM unnest(p.polroles) AS r) AS roles,
        (0 = ANY (p.polroles) OR EXISTS (SELECT 1 FROM unnest(p.polroles) AS r WHERE r <> 0 AND pg_catalog.pg_has_role($2::text::name, r, 'USAGE'))) AS applies,
        pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS qual,
        pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS wcheck
   FROM pg_catalog.pg_policy p WHERE p.polrelid = ANY ($1::int8[]::oid[])
  ORDER BY p.polname;
