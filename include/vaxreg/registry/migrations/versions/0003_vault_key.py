"""vault key: the key ids the vault holds, readable by the loading role (a fingerprint check)

The vault seals every number with one key; :func:`vaxreg.registry.vault.put` refuses a key other
than the one the vault already holds before it writes anything. On PostgreSQL the loading role
cannot read the vault table, so the vault schema gets ``key_ids()`` (``SECURITY DEFINER``): the
comma-joined distinct key ids (fingerprints derived from the key, not the key) and nothing else.
On SQLite nothing changes: the check reads the table.

Revision ID: 0003_vault_key
Revises: 0002_privacy
Create Date: 2026-12-02
"""

from alembic import op

from vaxreg.registry import vault

revision = "0003_vault_key"
down_revision = "0002_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    q = f'"{vault.schema_name(conn)}"'
    fn = f"{q}.key_ids()"
    for sql in (
        f"""CREATE OR REPLACE FUNCTION {fn} RETURNS text
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
              SELECT coalesce(string_agg(DISTINCT key_id, ',' ORDER BY key_id), '')
              FROM {q}.{vault.VAULT_TABLE} $f$""",
        f"ALTER FUNCTION {fn} OWNER TO {vault.VAULT_ROLE}",
        f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {fn} TO {vault.LOADER_ROLE}",
    ):
        conn.exec_driver_sql(sql)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f'DROP FUNCTION IF EXISTS "{vault.schema_name(conn)}".key_ids()')
