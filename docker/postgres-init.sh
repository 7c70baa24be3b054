#!/bin/bash
# First start of an empty PostgreSQL volume (docker-entrypoint-initdb.d): two databases, the
# Airflow metadata role and the registry's login roles (docker/registry-roles.sql).
# Replayed by tests/compose/test_compose_init.py on a local server with throwaway names.
set -euo pipefail
here=${VAXREG_INIT_DIR:-/opt/vaxreg-init}
airflow_db=${AIRFLOW_DB_NAME:-airflow}
airflow_user=${AIRFLOW_DB_USER:-airflow}
registry_db=${VAXREG_DB_NAME:-vaxreg}
owner=${VAXREG_DB_OWNER:-vaxreg}
app=${VAXREG_DB_APP:-vaxreg_app}
keeper=${VAXREG_DB_KEEPER:-vaxreg_keeper}
export PGUSER=${PGUSER:-${POSTGRES_USER:-postgres}}
export PGDATABASE=${PGDATABASE:-postgres}

psql -X -v ON_ERROR_STOP=1 -v db="$airflow_db" -v user="$airflow_user" -v pw="$AIRFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"user";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL

psql -X -v ON_ERROR_STOP=1 -v owner="$owner" -v owner_pw="$VAXREG_DB_PASSWORD" \
  -v app="$app" -v app_pw="$VAXREG_APP_DB_PASSWORD" \
  -v keeper="$keeper" -v keeper_pw="$VAXREG_KEEPER_DB_PASSWORD" -f "$here/registry-roles.sql"

psql -X -v ON_ERROR_STOP=1 -v db="$registry_db" -v owner="$owner" <<'SQL'
CREATE DATABASE :"db" OWNER :"owner" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO vaxreg_loader, vaxreg_vault;
SQL
# The registry lives in public (owned by pg_database_owner, i.e. the owner login); the vault in
# the schema "vault" that the first `vaxreg db upgrade` creates for vaxreg_vault.
