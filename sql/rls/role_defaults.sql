-- Default settings of the role (ALTER ROLE … SET) or of this database (ALTER DATABASE … SET) ($1 = role oid).
SELECT cfg, s.setrole <> 0 AS per_role
   FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) AS cfg
  WHERE (s.setrole = $1::int8::oid OR s.setrole = 0)
    AND (s.setdatabase = 0 OR s.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()));
