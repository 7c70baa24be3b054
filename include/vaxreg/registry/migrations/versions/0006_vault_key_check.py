"""vault key check: ``put_numbers`` refuses a key other than the one the vault holds

* PostgreSQL: ``put_numbers`` (the loader's only entry to the vault) raises when a
  batch carries a key id other than the one every existing row is sealed with, so a
  loader login with another ``VAXREG_VAULT_KEY`` cannot seal or overwrite a row
  (issue 15, defect 7). ``reseal_numbers`` (same arguments, no check) is the
  rotation's write path, executable by ``vaxreg_vault`` only.
* SQLite has no roles: the same check is made in :mod:`vaxreg.registry.vault`.

Revision ID: 0006_vault_key_check
Revises: 0003_vault_key
Create Date: 2026-12-02
"""

from alembic import op

from vaxreg.registry import vault

revision = "0006_vault_key_check"
down_revision = "0003_vault_key"  # after the key-id check the pipeline reads
branch_labels = None
depends_on = None

ARGS = "text, text, text, text, timestamptz"

_INSERT = """
    INSERT INTO {table} AS v (atena_no, key_id, ciphertext, lookup_hmac, updated_at)
    SELECT a, k, decode(c, 'hex'), h, p_at
    FROM unnest(string_to_array(p_atena, ','), string_to_array(p_key_id, ','),
                string_to_array(p_cipher_hex, ','), string_to_array(p_hmac, ',')) AS u(a, k, c, h)
    ON CONFLICT (atena_no) DO UPDATE SET key_id = excluded.key_id,
      ciphertext = excluded.ciphertext, lookup_hmac = excluded.lookup_hmac,
      updated_at = excluded.updated_at"""


def _put_numbers(q: str, table: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION {q}.put_numbers(
            p_atena text, p_key_id text, p_cipher_hex text, p_hmac text, p_at timestamptz)
        RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
        DECLARE
          incoming text[] := ARRAY(SELECT DISTINCT k FROM unnest(string_to_array(p_key_id, ',')) AS k);
          held text;
          n integer;
        BEGIN
          IF cardinality(incoming) > 1 THEN
            RAISE EXCEPTION 'vault: one batch carries %% key ids', cardinality(incoming)
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          SELECT key_id INTO held FROM {table} WHERE key_id <> ALL(incoming) LIMIT 1;
          IF held IS NOT NULL THEN
            RAISE EXCEPTION 'vault holds key %%, refusing to seal with key %%', held, incoming[1]
              USING ERRCODE = 'insufficient_privilege',
                    HINT = 'configure the vault key in force; only vault rotate-key changes it';
          END IF;
          {_INSERT.format(table=table)};
          GET DIAGNOSTICS n = ROW_COUNT;
          RETURN n;
        END $f$"""


def _reseal_numbers(q: str, table: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION {q}.reseal_numbers(
            p_atena text, p_key_id text, p_cipher_hex text, p_hmac text, p_at timestamptz)
        RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
        DECLARE n integer;
        BEGIN
          {_INSERT.format(table=table)};
          GET DIAGNOSTICS n = ROW_COUNT;
          RETURN n;
        END $f$"""


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    q = f'"{vault.schema_name(conn)}"'
    table = f"{q}.{vault.VAULT_TABLE}"
    for sql in (
        _put_numbers(q, table),
        _reseal_numbers(q, table),
        f"ALTER FUNCTION {q}.put_numbers({ARGS}) OWNER TO {vault.VAULT_ROLE}",
        f"ALTER FUNCTION {q}.reseal_numbers({ARGS}) OWNER TO {vault.VAULT_ROLE}",
        f"REVOKE ALL ON FUNCTION {q}.reseal_numbers({ARGS}) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {q}.reseal_numbers({ARGS}) TO {vault.VAULT_ROLE}",
    ):
        conn.exec_driver_sql(sql)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    q = f'"{vault.schema_name(conn)}"'
    # put_numbers keeps its check: a downgrade must not reopen the hole.
    conn.exec_driver_sql(f"DROP FUNCTION {q}.reseal_numbers({ARGS})")
