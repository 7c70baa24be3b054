"""privacy: My Number vault (own schema and roles on PostgreSQL), audit hash chain, deletion log

* ``my_number`` (plain text, 0001) is replaced by ``my_number_vault`` (AES-256-GCM):
  rows already present are encrypted with the configured vault key and moved.
* PostgreSQL: roles ``vaxreg_vault`` (owns the vault) and ``vaxreg_loader`` (the
  everyday loading role) are created when missing (roles are cluster-wide); the
  vault schema ``<registry schema>_vault`` belongs to ``vaxreg_vault``; the loader
  may use the registry tables (audit and deletion logs: read and append only) and
  call ``put_numbers`` but cannot read the vault.
* ``audit_log`` gains ``prev_hash``/``row_hash`` (existing records are chained).
* ``deletion_log`` is created.

Revision ID: 0002_privacy
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from vaxreg.registry import audit, vault

revision = "0002_privacy"
down_revision = "0001"
branch_labels = ("privacy",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _create_role(conn: sa.Connection, role: str) -> None:
    conn.exec_driver_sql(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
        f"CREATE ROLE {role} NOLOGIN; END IF; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )


def _chain_existing_audit(conn: sa.Connection) -> None:
    cols = ", ".join(("id", *audit.FIELDS))
    rows = conn.exec_driver_sql(f"SELECT {cols} FROM audit_log ORDER BY id").fetchall()
    prev, params = audit.GENESIS, []
    for r in rows:
        values = [audit.at_text(r[1]), *r[2:]]
        h = audit.record_hash(values, prev)
        params.append({"p": prev, "h": h, "i": r[0]})
        prev = h
    if params:
        conn.execute(sa.text("UPDATE audit_log SET prev_hash = :p, row_hash = :h WHERE id = :i"), params)


def _vault_postgres(conn: sa.Connection) -> None:
    schema = vault.schema_name(conn)
    registry = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    loader, owner = vault.LOADER_ROLE, vault.VAULT_ROLE
    for role in (owner, loader):
        _create_role(conn, role)
    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION {owner}')
    op.create_table(
        vault.VAULT_TABLE,
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("lookup_hmac", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("atena_no", name="pk_my_number_vault"),
        schema=schema,
    )
    op.create_index("ix_my_number_vault_lookup_hmac", vault.VAULT_TABLE, ["lookup_hmac"], schema=schema)
    q = f'"{schema}"'
    fn = f"{q}.put_numbers(text, text, text, text, timestamptz)"
    table = f"{q}.{vault.VAULT_TABLE}"
    for sql in (
        f"ALTER TABLE {table} OWNER TO {owner}",
        f"REVOKE ALL ON {table} FROM PUBLIC",
        # Write-only entry point for the loading role: a batch in, a count out, nothing readable.
        # Each column comes as one comma-joined text (digits and hex only), split here in C:
        # far cheaper than building arrays of a million elements on the client.
        f"""CREATE OR REPLACE FUNCTION {q}.put_numbers(
                p_atena text, p_key_id text, p_cipher_hex text, p_hmac text, p_at timestamptz)
            RETURNS integer LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
              WITH w AS (
                INSERT INTO {table} AS v (atena_no, key_id, ciphertext, lookup_hmac, updated_at)
                SELECT a, k, decode(c, 'hex'), h, p_at
                FROM unnest(string_to_array(p_atena, ','), string_to_array(p_key_id, ','),
                            string_to_array(p_cipher_hex, ','), string_to_array(p_hmac, ',')) AS u(a, k, c, h)
                ON CONFLICT (atena_no) DO UPDATE SET key_id = excluded.key_id,
                  ciphertext = excluded.ciphertext, lookup_hmac = excluded.lookup_hmac,
                  updated_at = excluded.updated_at
                RETURNING 1)
              SELECT count(*)::integer FROM w $f$""",
        f"ALTER FUNCTION {fn} OWNER TO {owner}",
        f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {q} TO {loader}",
        f"GRANT EXECUTE ON FUNCTION {fn} TO {loader}",
        # The loading role: the registry tables, but the logs are read-and-append only.
        f'GRANT USAGE ON SCHEMA "{registry}" TO {loader}, {owner}',  # owner: finds its vault by name only
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{registry}" TO {loader}',
        f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{registry}" TO {loader}',
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{registry}" '
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {loader}",
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{registry}" GRANT USAGE ON SEQUENCES TO {loader}',
        f"REVOKE UPDATE, DELETE ON audit_log, deletion_log FROM {loader}",
        f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {loader}",
    ):
        conn.exec_driver_sql(sql)


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    _chain_existing_audit(conn)
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)

    op.create_table(
        "deletion_log",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=24), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("cutoff", sa.Date(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("anchor_id", sa.BigInteger(), nullable=True),
        sa.Column("anchor_hash", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deletion_log"),
    )
    op.create_index("ix_deletion_log_run_id", "deletion_log", ["run_id"])

    if conn.dialect.name == "postgresql":
        _vault_postgres(conn)
    else:
        op.create_table(
            vault.VAULT_TABLE,
            sa.Column("atena_no", sa.String(length=10), nullable=False),
            sa.Column("key_id", sa.String(length=16), nullable=False),
            sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
            sa.Column("lookup_hmac", sa.String(length=64), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("atena_no", name="pk_my_number_vault"),
        )
        op.create_index("ix_my_number_vault_lookup_hmac", vault.VAULT_TABLE, ["lookup_hmac"])

    # Move plain numbers into the vault, encrypted (needs the key only when there are any).
    plain = conn.exec_driver_sql("SELECT atena_no, kojin_no FROM my_number ORDER BY atena_no").fetchall()
    if plain:
        vault.put(conn, [r[0] for r in plain], [r[1] for r in plain], check=False)  # key_ids(): 0003
    op.drop_table("my_number")


def downgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "my_number",
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("kojin_no", sa.String(length=12), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("atena_no", name="pk_my_number"),
    )
    numbers = (
        vault.read_all(conn) if conn.exec_driver_sql(f"SELECT 1 FROM {vault.table(conn)}").first() else {}
    )
    if numbers:
        conn.execute(
            sa.text(
                "INSERT INTO my_number (atena_no, kojin_no, updated_at) VALUES (:a, :k, CURRENT_TIMESTAMP)"
            ),
            [{"a": a, "k": k} for a, k in numbers.items()],
        )
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f'DROP SCHEMA "{vault.schema_name(conn)}" CASCADE')
    else:
        op.drop_table(vault.VAULT_TABLE)
    op.drop_index("ix_deletion_log_run_id", table_name="deletion_log")
    op.drop_table("deletion_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
