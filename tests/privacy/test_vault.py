"""P1: My Number only in the vault, encrypted (AES-256-GCM) under an external key, keyed-HMAC look-ups,
rotation without loss; on PostgreSQL its own schema and role, unreadable by the loading role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import ProgrammingError

from vaxreg import cli, pipeline
from vaxreg.identity.validators import my_number_check_digit
from vaxreg.registry import db, vault
from vaxreg.registry.schema_privacy import my_number_vault

from helpers.db import pg_schema_url, vault_url
from helpers.resident import deliver, person, resident_csv

ACTOR = pipeline.make_actor("resident", run_id="vault-test", task_id="test")


def number(body: str) -> str:
    return body + str(my_number_check_digit(body))


NUMBERS = {"0000000001": number("11112222333"), "0000000002": number("44445555666")}


def load(feed_root: Path, db_url: str) -> None:
    rows = [
        person(a, kojin_no=k, household_no=f"50000000{i:02d}") for i, (a, k) in enumerate(NUMBERS.items())
    ]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(rows))
    pipeline.report(pipeline.run_feed("resident", ACTOR, source_url=f"file://{feed_root}", db_url=db_url))


def raw_vault(db_url: str) -> list[tuple]:
    with db.transaction(vault_url(db_url)) as conn:  # the vault login (the pipeline's cannot read it)
        sql = f"SELECT atena_no, key_id, ciphertext, lookup_hmac FROM {vault.table(conn)} ORDER BY 1"
        return [(a, k, bytes(c), h) for a, k, c, h in conn.exec_driver_sql(sql)]


def test_my_number_is_stored_encrypted_in_the_vault_only(feed_root: Path, db_url: str) -> None:
    load(feed_root, db_url)
    key = vault.current_key()
    rows = raw_vault(db_url)
    assert [r[0] for r in rows] == list(NUMBERS)
    for atena, key_id, sealed, mac in rows:
        assert key_id == key.id
        assert NUMBERS[atena].encode() not in sealed and len(sealed) == 12 + 12 + 16  # nonce, number, tag
        assert mac == key.lookup_hash(NUMBERS[atena]) and NUMBERS[atena] not in mac
    with db.transaction(vault_url(db_url)) as conn:
        assert vault.read_all(conn) == NUMBERS
        assert vault.lookup(conn, NUMBERS["0000000002"]) == ["0000000002"]  # keyed hash, not the number
        assert vault.lookup(conn, number("99998888777")) == []
        # The plain-text table of the core schema is gone; no other table has a My Number column.
        names = inspect(conn).get_table_names()
        assert "my_number" not in names
        for t in names:
            assert "kojin_no" not in {c["name"] for c in inspect(conn).get_columns(t)}, t


def test_wrong_key_tampering_and_swapping_are_detected(feed_root: Path, db_url: str) -> None:
    load(feed_root, db_url)
    (a1, _, s1, _), (_a2, _, s2, _) = raw_vault(db_url)
    with db.transaction(vault_url(db_url)) as conn:
        with pytest.raises(vault.VaultError, match="sealed with key"):
            vault.read_all(conn, vault.key_from_text(vault.generate_key()))
        t = vault.table(conn)
        p = "%s" if conn.dialect.name == "postgresql" else "?"
        # Another person's ciphertext in this row: the associated data (atena_no) no longer matches.
        conn.exec_driver_sql(f"UPDATE {t} SET ciphertext = {p} WHERE atena_no = {p}", (s2, a1))
        with pytest.raises(vault.VaultError, match=f"{a1} does not authenticate"):
            vault.read_all(conn)
        conn.exec_driver_sql(f"UPDATE {t} SET ciphertext = {p} WHERE atena_no = {p}", (s1[:-1] + b"x", a1))
        with pytest.raises(vault.VaultError, match="does not authenticate"):
            vault.read_all(conn)


def test_rotate_key_re_encrypts_without_loss(
    feed_root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    load(feed_root, db_url)
    old = vault.current_key()
    new_text = vault.generate_key()
    new = vault.key_from_text(new_text)
    before = raw_vault(db_url)

    monkeypatch.setenv(vault.NEW_KEY_ENV, new_text)
    assert cli.main(["--database-url", vault_url(db_url), "vault", "rotate-key"]) == 0
    assert f"2 of 2 numbers re-encrypted from key {old.id} to key {new.id}" in capsys.readouterr().out

    after = raw_vault(db_url)
    assert {r[1] for r in after} == {new.id}
    assert all(b[2] != a[2] and b[3] != a[3] for b, a in zip(before, after, strict=True))
    with db.transaction(vault_url(db_url)) as conn:
        assert vault.read_all(conn, new) == NUMBERS  # every number, unchanged
        assert vault.lookup(conn, NUMBERS["0000000001"], new) == ["0000000001"]
        with pytest.raises(vault.VaultError):
            vault.read_all(conn, old)  # the old key no longer opens anything
        assert vault.lookup(conn, NUMBERS["0000000001"], old) == []
        audit = conn.exec_driver_sql(
            "SELECT action, table_name, detail FROM audit_log WHERE action = 'rotate'"
        )
        [(_, table, detail)] = audit.fetchall()
        assert table == "my_number_vault" and old.id in detail and new.id in detail

    # The new key is now the configured one; a new load seals with it, nothing needs the old key.
    monkeypatch.setenv(vault.KEY_ENV, new_text)
    same_key = cli.main(["--database-url", vault_url(db_url), "vault", "rotate-key"])
    assert same_key == 1  # same key: refused, one line
    assert "the new key is the current key" in capsys.readouterr().err


def test_without_a_key_a_number_is_never_written(
    feed_root: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(vault.KEY_ENV)
    monkeypatch.delenv(vault.KEY_FILE_ENV, raising=False)  # `make` points it at the demo key
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    with pytest.raises(vault.VaultError, match="no vault key"):
        load(feed_root, db_url)
    with db.transaction(vault_url(db_url)) as conn:  # the file's transaction rolled back as a whole
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM persons").scalar_one() == 0
        assert conn.exec_driver_sql(f"SELECT COUNT(*) FROM {vault.table(conn)}").scalar_one() == 0


def test_key_from_file_and_from_airflow_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = vault.generate_key()
    monkeypatch.delenv(vault.KEY_ENV)
    monkeypatch.delenv("AIRFLOW_CONN_VAXREG_VAULT", raising=False)
    (tmp_path / "vault.key").write_text(text + "\n")
    monkeypatch.setenv(vault.KEY_FILE_ENV, str(tmp_path / "vault.key"))
    assert vault.current_key().id == vault.key_from_text(text).id
    monkeypatch.delenv(vault.KEY_FILE_ENV)
    monkeypatch.setenv("AIRFLOW_CONN_VAXREG_VAULT", f'{{"conn_type": "generic", "password": "{text}"}}')
    assert vault.current_key().id == vault.key_from_text(text).id
    assert text not in repr(vault.current_key())
    monkeypatch.setenv(vault.KEY_ENV, "c2hvcnQ=")
    with pytest.raises(vault.VaultError, match="32"):
        vault.current_key()


def test_vault_table_matches_its_metadata(db_url: str) -> None:
    with db.transaction(db_url) as conn:
        cols = inspect(conn).get_columns(my_number_vault.name, schema=vault.schema_name(conn))
        indexes = inspect(conn).get_indexes(my_number_vault.name, schema=vault.schema_name(conn))
    assert [c["name"] for c in cols] == [c.name for c in my_number_vault.columns]
    assert [(c["name"], c["nullable"]) for c in cols] == [
        (c.name, c.nullable) for c in my_number_vault.columns
    ]
    assert [i["column_names"] for i in indexes] == [["lookup_hmac"]]


# --- PostgreSQL: own schema, own role ---------------------------------------------------------------


@pytest.fixture
def pg_registry(pg_url: str) -> Iterator[str]:
    for url in pg_schema_url(pg_url):
        db.upgrade(url)
        yield url


def as_role(url: str, role: str) -> str:
    return f"{url}%20-crole%3D{role}"


def test_loading_role_loads_but_cannot_read_the_vault(pg_registry: str, feed_root: Path) -> None:
    loader = as_role(pg_registry, vault.LOADER_ROLE)
    with db.transaction(pg_registry) as conn:
        schema = vault.schema_name(conn)
        registry = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        owner = conn.exec_driver_sql(
            "SELECT tableowner FROM pg_tables WHERE schemaname = %s AND tablename = 'my_number_vault'",
            (schema,),
        ).scalar_one()
    assert schema == f"{registry}_vault" and owner == vault.VAULT_ROLE

    # The whole resident pipeline runs as the loading role, My Numbers included ...
    load(feed_root, loader)
    with db.engine(loader).connect() as conn:
        assert conn.exec_driver_sql("SELECT current_user").scalar_one() == vault.LOADER_ROLE
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM persons").scalar_one() == 2
    # ... but it cannot read the vault, nor rewrite or delete audit records.
    for sql in (
        f'SELECT * FROM "{schema}".my_number_vault',
        f'SELECT lookup_hmac FROM "{schema}".my_number_vault',
        "UPDATE audit_log SET detail = 'x'",
        "DELETE FROM audit_log",
        "DELETE FROM deletion_log",
    ):
        with pytest.raises(ProgrammingError, match="permission denied"), db.transaction(loader) as conn:
            conn.exec_driver_sql(sql)
    # The vault role reads it.
    with db.transaction(as_role(pg_registry, vault.VAULT_ROLE)) as conn:
        assert vault.read_all(conn) == NUMBERS
    for url in (loader, as_role(pg_registry, vault.VAULT_ROLE)):
        db.engine(url).dispose()


def test_roles_are_created_once_for_every_registry(pg_url: str) -> None:
    """Roles are cluster-wide: a second registry (another schema) reuses them."""
    for first in pg_schema_url(pg_url):
        db.upgrade(first)
        for second in pg_schema_url(pg_url):
            db.upgrade(second)
            with db.transaction(second) as conn:
                roles = conn.exec_driver_sql(
                    "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN (%s, %s) ORDER BY 1",
                    (vault.LOADER_ROLE, vault.VAULT_ROLE),
                ).fetchall()
                assert roles == [(vault.LOADER_ROLE, False), (vault.VAULT_ROLE, False)]
                assert vault.schema_name(conn) != first.rsplit("%3D", 1)[1] + "_vault"


def test_matching_places_records_as_a_role_that_cannot_read_the_vault(
    pg_registry: str, feed_root: Path
) -> None:
    """P2: records without 宛名番号 are put on their person by the matcher running as the loading
    role, which cannot read My Number (above): the matcher never uses it."""
    from helpers.clinic import HEADER, clinic_csv, rec

    loader = as_role(pg_registry, vault.LOADER_ROLE)
    people = [
        person(
            "0000000001", kojin_no=NUMBERS["0000000001"], name_kana="タカハシ　レン", birth_date="1957-01-31"
        ),
        person("0000000002", kojin_no=NUMBERS["0000000002"], name_kana="サイトウ　ヨウコ", sex="2"),
    ]
    deliver(feed_root, "JUKI_DIFF_20260401.csv", resident_csv(people))
    source = f"file://{feed_root}"
    pipeline.report(pipeline.run_feed("resident", ACTOR, source_url=source, db_url=loader))
    flu = rec("", "ﾀｶﾊｼ ﾚﾝ", "S320131", "1", "21", "00", "1", "R080318", 接種地コード="131075", 住所="")
    deliver(feed_root, "TAKU_202603_131075.csv", clinic_csv([flu], [*HEADER, "住所"]), feed="otherward")
    actor = pipeline.make_actor("otherward", run_id="vault-test", task_id="test")
    [s] = pipeline.report(pipeline.run_feed("otherward", actor, source_url=source, db_url=loader))
    assert (s["rows"], s["accepted"], s["review"]) == (1, 1, 0)
    with db.transaction(loader) as conn:
        [(atena, how)] = conn.exec_driver_sql("SELECT atena_no, decided_by FROM doses").fetchall()
    assert atena == "0000000001" and "(match weight " in how
    db.engine(loader).dispose()
