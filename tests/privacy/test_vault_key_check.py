"""Issue 15 defect 7: the vault seals with the key it holds only. A loading login configured with
another key cannot add nor overwrite a row (``put_numbers`` checks the key id on PostgreSQL, the
vault module on SQLite); rotation, as the vault login, stays the only way to change the key."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from vaxreg.registry import db, vault

from helpers.db import APP, OWNER, login_url, pg_schema_url, vault_url

ATENA = ["0000000001", "0000000002"]
NUMBERS = ["111122223333", "444455556666"]


def test_a_second_key_cannot_seal_or_overwrite(db_url: str) -> None:
    first, second = (vault.key_from_text(vault.generate_key()) for _ in range(2))
    with db.transaction(db_url) as conn:
        vault.put(conn, ATENA[:1], NUMBERS[:1], key=first)
    # overwrite the row, or add one beside it; past the Python check (check=False) the database refuses
    for batch in (ATENA[:1], ATENA[1:]):
        for check, reason in ((True, "not the key the vault holds"), (False, "refusing to seal")):
            with pytest.raises((DBAPIError, vault.VaultError), match=reason), db.transaction(db_url) as conn:
                vault.put(conn, batch, NUMBERS[:1], key=second, check=check)
    with db.transaction(db_url) as conn:  # the key in force still writes
        vault.put(conn, ATENA[1:], NUMBERS[1:], key=first)
    with db.transaction(vault_url(db_url)) as conn:
        assert vault.read_all(conn, key=first) == dict(zip(ATENA, NUMBERS, strict=True))
        vault.rotate(conn, first, second)
    with db.transaction(db_url) as conn:  # after rotation the new key is the one in force
        vault.put(conn, ATENA[:1], NUMBERS[:1], key=second)
        with (
            pytest.raises((DBAPIError, vault.VaultError), match="not the key the vault holds"),
            conn.begin_nested(),
        ):
            vault.put(conn, ATENA[:1], NUMBERS[:1], key=first)
    with db.transaction(vault_url(db_url)) as conn:
        assert vault.read_all(conn, key=second) == dict(zip(ATENA, NUMBERS, strict=True))


def test_the_loading_login_cannot_call_the_rotation_path(pg_logins: str) -> None:
    for url in pg_schema_url(pg_logins, owner=OWNER):
        db.upgrade(login_url(url, OWNER))
        app = login_url(url, APP)
        with db.transaction(app) as conn:
            assert conn.exec_driver_sql("SELECT current_user").scalar_one() == APP
        _reseal_refused(app)


def _reseal_refused(db_url: str) -> None:
    key = vault.key_from_text(vault.generate_key())
    with pytest.raises(DBAPIError, match="permission denied"), db.transaction(db_url) as conn:
        vault._write_sealed(conn, ATENA[:1], [key.id], [key.seal(ATENA[0], NUMBERS[0])], ["x"], reseal=True)
