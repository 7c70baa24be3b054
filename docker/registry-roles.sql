-- The registry's login roles (docs/decisions.md, "Login roles"). Run as a superuser with psql:
--   psql -v ON_ERROR_STOP=1 -v owner=vaxreg -v owner_pw=… -v app=vaxreg_app -v app_pw=… \
--        -v keeper=vaxreg_keeper -v keeper_pw=… -f docker/registry-roles.sql
-- The compose init (docker/postgres-init.sh) runs it on the first start; tests replay it.
-- Idempotent: an existing role keeps its memberships and gets the password given here.
--
--   vaxreg_vault   NOLOGIN  owns the My Number vault (schema <registry>_vault, put_numbers)
--   vaxreg_loader  NOLOGIN  reads and writes the registry tables, may only call put_numbers
--   :owner         LOGIN    owns the registry database and schema; runs `vaxreg db upgrade` and the
--                           retention purge (VACUUM needs table ownership)
--                           (member of vaxreg_vault so that the migrations can hand it the vault)
--   :app           LOGIN    the pipeline (Airflow tasks, `vaxreg run`): member of vaxreg_loader
--   :keeper        LOGIN    vault work (rotate-key, exchanges): vaxreg_vault + vaxreg_loader
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I NOLOGIN', r) FROM unnest(ARRAY['vaxreg_vault', 'vaxreg_loader']) AS r
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec

SELECT format('CREATE ROLE %I LOGIN', r)
FROM unnest(ARRAY[:'owner', :'app', :'keeper']) AS r
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec

ALTER ROLE :"owner"  LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB INHERIT PASSWORD :'owner_pw';
ALTER ROLE :"app"    LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB INHERIT PASSWORD :'app_pw';
ALTER ROLE :"keeper" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB INHERIT PASSWORD :'keeper_pw';

GRANT vaxreg_vault TO :"owner";
GRANT vaxreg_loader TO :"app";
GRANT vaxreg_vault, vaxreg_loader TO :"keeper";
