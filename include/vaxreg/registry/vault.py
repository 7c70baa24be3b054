"""The My Number vault (privacy.md P1): AES-256-GCM, keyed-HMAC look-ups, key rotation.

My Number (個人番号) is stored in one table only, ``my_number_vault``, encrypted with
a key that never enters the database:

* the **master key** (32 random bytes, base64) comes from the environment variable
  ``VAXREG_VAULT_KEY``, else the file named by ``VAXREG_VAULT_KEY_FILE`` (the demo's
  ``var/vault.key``, or a mounted secret), else the password of the Airflow
  connection ``vaxreg_vault``. Without one, writing or reading a number fails;
* from it HKDF-SHA256 derives the AES-256-GCM key, the HMAC-SHA256 key for
  equality look-ups, and a key id stored with every row (so that rotation knows
  what each row was sealed with);
* each number gets a fresh 96-bit nonce; the associated data binds the ciphertext
  to its ``atena_no`` and key id, so a ciphertext moved to another person's row
  does not decrypt.

On PostgreSQL the vault is the table ``<registry schema>_vault.my_number_vault``
(``vault`` for ``public``), owned by the role ``vaxreg_vault``. The everyday
loading role ``vaxreg_loader`` has no privilege on the table: it can only call the
``SECURITY DEFINER`` function ``put_numbers`` of that schema, which writes a batch
(one statement, arrays) and returns nothing back. Reading, rotation and purging
need the vault role (a separate login in production). On SQLite the vault is a
table of the registry file, encrypted all the same.

Internal matching never uses My Number (privacy.md P2): :func:`lookup` exists for
exchanges with other municipalities only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pyarrow as pa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection

from vaxreg.registry.schema_privacy import VAULT_TABLE

KEY_ENV = "VAXREG_VAULT_KEY"
KEY_FILE_ENV = "VAXREG_VAULT_KEY_FILE"
NEW_KEY_ENV = "VAXREG_VAULT_NEW_KEY"
VAULT_CONN_ID = "vaxreg_vault"
SCHEMA_ENV = "VAXREG_VAULT_SCHEMA"
VAULT_ROLE = "vaxreg_vault"
LOADER_ROLE = "vaxreg_loader"
NONCE_BYTES = 12


class VaultError(Exception):
    """A vault problem (no key, wrong key, tampered row). One line, never a number."""


def _derive(master: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


@dataclass(frozen=True)
class VaultKey:
    """A master key and what is derived from it. ``repr`` shows the key id only."""

    master: bytes

    def __post_init__(self) -> None:
        if len(self.master) != 32:
            raise VaultError("a vault key is 32 bytes (base64 of 32 random bytes)")

    def __repr__(self) -> str:
        return f"VaultKey(id={self.id})"

    @cached_property
    def id(self) -> str:
        return _derive(self.master, b"vaxreg-vault/key-id", 8).hex()

    @cached_property
    def aead(self) -> AESGCM:
        return AESGCM(_derive(self.master, b"vaxreg-vault/aes-256-gcm"))

    @cached_property
    def mac_key(self) -> bytes:
        return _derive(self.master, b"vaxreg-vault/hmac-sha256")

    def lookup_hash(self, number: str) -> str:
        return hmac.digest(self.mac_key, number.encode("ascii"), hashlib.sha256).hex()

    def seal(self, atena_no: str, number: str, nonce: bytes | None = None) -> bytes:
        """Encrypt with a fresh random nonce (``nonce`` lets a batch draw its nonces at once)."""
        nonce = nonce or os.urandom(NONCE_BYTES)
        return nonce + self.aead.encrypt(nonce, number.encode("ascii"), self._aad(atena_no))

    def open(self, atena_no: str, key_id: str, sealed: bytes) -> str:
        if key_id != self.id:
            raise VaultError(f"vault row of {atena_no} is sealed with key {key_id}, not with key {self.id}")
        try:
            plain = self.aead.decrypt(sealed[:NONCE_BYTES], bytes(sealed[NONCE_BYTES:]), self._aad(atena_no))
        except InvalidTag:
            raise VaultError(
                f"vault row of {atena_no} does not authenticate (tampered or wrong key)"
            ) from None
        return plain.decode("ascii")

    def _aad(self, atena_no: str) -> bytes:
        return f"{atena_no}|{self.id}".encode("ascii")


def generate_key() -> str:
    """A new master key, base64 (what ``VAXREG_VAULT_KEY`` holds)."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def key_from_text(text: str) -> VaultKey:
    try:
        return VaultKey(base64.b64decode(text.strip(), validate=True))
    except (binascii.Error, ValueError):
        raise VaultError("a vault key must be base64 of 32 random bytes") from None


def current_key() -> VaultKey:
    """The configured key: env ``VAXREG_VAULT_KEY``, key file, else the Airflow connection."""
    if text := os.environ.get(KEY_ENV):
        return key_from_text(text)
    if path := os.environ.get(KEY_FILE_ENV):
        try:
            return key_from_text(Path(path).read_text())
        except OSError as exc:
            raise VaultError(f"cannot read the vault key file {path}: {exc.strerror}") from None
    from vaxreg import config

    conn = config._airflow_connection(VAULT_CONN_ID)
    if conn is not None and conn.password:
        return key_from_text(conn.password)
    raise VaultError(
        f"no vault key: set {KEY_ENV} (or {KEY_FILE_ENV}, or the password of the Airflow connection "
        f"{VAULT_CONN_ID})"
    )


def new_key_from_env() -> VaultKey:
    text = os.environ.get(NEW_KEY_ENV)
    if not text:
        raise VaultError(f"no new key: set {NEW_KEY_ENV} to the new key (base64 of 32 bytes)")
    return key_from_text(text)


# --- where the vault is ---------------------------------------------------------------------------


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def schema_name(conn: Connection) -> str | None:
    """The vault's schema on PostgreSQL: ``VAXREG_VAULT_SCHEMA`` or ``<registry schema>_vault``."""
    if not is_postgres(conn):
        return None
    if name := os.environ.get(SCHEMA_ENV):
        return name
    current = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    return "vault" if current in (None, "public") else f"{current}_vault"


def table(conn: Connection) -> str:
    """The vault table's name as SQL (schema-qualified on PostgreSQL)."""
    schema = schema_name(conn)
    return f'"{schema}".{VAULT_TABLE}' if schema else VAULT_TABLE


# --- writing ----------------------------------------------------------------------------------------


def _now_text() -> str:
    from vaxreg.registry.ledger import now_text

    return now_text()


def _write_sealed(
    conn: Connection,
    atena: Sequence[str],
    key_ids: Sequence[str],
    sealed: Sequence[bytes],
    macs: Sequence[str],
    *,
    reseal: bool = False,
) -> int:
    """Insert or replace sealed rows in one bulk statement (function call on PostgreSQL).

    Refuses rows sealed with a key other than the one the vault holds (on PostgreSQL
    the function ``put_numbers`` checks it, so a loader login cannot bypass it); only
    the rotation (``reseal``, vault role) writes under a new key.
    """
    if not atena:
        return 0
    now = _now_text()
    if is_postgres(conn):
        schema = schema_name(conn)
        function = "reseal_numbers" if reseal else "put_numbers"
        return int(
            conn.exec_driver_sql(
                f'SELECT "{schema}".{function}(%s, %s, %s, %s, %s)',
                (",".join(atena), ",".join(key_ids), ",".join(s.hex() for s in sealed), ",".join(macs), now),
            ).scalar_one()
        )
    from vaxreg.registry.db import bulk_insert

    if not reseal:
        _check_key_held(conn, set(key_ids))
    conn.exec_driver_sql(f"CREATE TEMP TABLE tmp_vault AS SELECT * FROM {VAULT_TABLE} WHERE 0")
    bulk_insert(
        conn,
        "tmp_vault",
        pa.table(
            {
                "atena_no": pa.array(atena, pa.string()),
                "key_id": pa.array(key_ids, pa.string()),
                "ciphertext": pa.array(sealed, pa.binary()),
                "lookup_hmac": pa.array(macs, pa.string()),
                "updated_at": pa.repeat(pa.scalar(now, pa.string()), len(atena)),
            }
        ),
    )
    conn.exec_driver_sql(
        f"INSERT INTO {VAULT_TABLE} (atena_no, key_id, ciphertext, lookup_hmac, updated_at) "
        "SELECT atena_no, key_id, ciphertext, lookup_hmac, updated_at FROM tmp_vault WHERE true "
        "ON CONFLICT (atena_no) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, "
        "lookup_hmac = excluded.lookup_hmac, updated_at = excluded.updated_at"
    )
    conn.exec_driver_sql("DROP TABLE tmp_vault")
    return len(atena)


def key_ids(conn: Connection) -> list[str]:
    """The ids of the keys the vault's rows are sealed with (one, except during a rotation)."""
    if is_postgres(conn):  # the loading role may not read the table: a SECURITY DEFINER function
        text = conn.exec_driver_sql(f'SELECT "{schema_name(conn)}".key_ids()').scalar_one()
        return [k for k in (text or "").split(",") if k]
    return [r[0] for r in conn.exec_driver_sql(f"SELECT DISTINCT key_id FROM {VAULT_TABLE} ORDER BY key_id")]


def check_key(conn: Connection, key: VaultKey) -> None:
    """Refuse ``key`` unless the vault is empty or holds rows sealed with it only: a second key
    would leave numbers no one key can read. Rotation (:func:`rotate`) is the way to change it."""
    held = [k for k in key_ids(conn) if k != key.id]
    if held:
        raise VaultError(
            f"the vault key (id {key.id}) is not the key the vault holds (id {', '.join(held)}): "
            "check VAXREG_VAULT_KEY; use `vaxreg vault rotate-key` to change the key"
        )


def _check_key_held(conn: Connection, incoming: set[str]) -> None:
    """SQLite's counterpart of the check in ``put_numbers``: one key per vault."""
    if len(incoming) > 1:
        raise VaultError(f"vault: one batch carries {len(incoming)} key ids")
    marks = ", ".join("?" for _ in incoming)
    held = conn.exec_driver_sql(
        f"SELECT key_id FROM {VAULT_TABLE} WHERE key_id NOT IN ({marks}) LIMIT 1", tuple(incoming)
    ).first()
    if held is not None:
        raise VaultError(
            f"vault holds key {held[0]}, refusing to seal with key {min(incoming)}: configure the key in "
            "force; only vault rotate-key changes it"
        )


def put(
    conn: Connection,
    atena_nos: Iterable[str],
    numbers: Iterable[str],
    key: VaultKey | None = None,
    *,
    check: bool = True,
) -> int:
    """Store (or replace) the My Number of each person, encrypted, inside the caller's transaction.

    The key is checked against the one the vault holds before anything is written (``check``:
    off only for the migration that creates the vault)."""
    key = key or current_key()
    atena, nums = list(atena_nos), list(numbers)
    if not atena:
        return 0
    if check:
        check_key(conn, key)
    nonces = os.urandom(NONCE_BYTES * len(atena))
    sealed = [
        key.seal(a, n, nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES])
        for i, (a, n) in enumerate(zip(atena, nums, strict=True))
    ]
    macs = [key.lookup_hash(n) for n in nums]
    return _write_sealed(conn, atena, [key.id] * len(atena), sealed, macs)


# --- reading (vault role only) -------------------------------------------------------------------


def _rows(conn: Connection) -> list[tuple[str, str, bytes]]:
    rows = conn.exec_driver_sql(f"SELECT atena_no, key_id, ciphertext FROM {table(conn)} ORDER BY atena_no")
    return [(r[0], r[1], bytes(r[2])) for r in rows]


def read_all(conn: Connection, key: VaultKey | None = None) -> dict[str, str]:
    """atena_no → My Number for every row. Needs the vault role on PostgreSQL."""
    key = key or current_key()
    return {a: key.open(a, k, s) for a, k, s in _rows(conn)}


def lookup(conn: Connection, number: str, key: VaultKey | None = None) -> list[str]:
    """atena_no of the persons holding ``number``, by keyed hash (for exchanges only, privacy.md P2)."""
    key = key or current_key()
    rows = conn.exec_driver_sql(
        f"SELECT atena_no FROM {table(conn)} WHERE lookup_hmac = %s ORDER BY atena_no"
        if is_postgres(conn)
        else f"SELECT atena_no FROM {table(conn)} WHERE lookup_hmac = ? ORDER BY atena_no",
        (key.lookup_hash(number),),
    )
    return [r[0] for r in rows]


def rotate(conn: Connection, old: VaultKey, new: VaultKey) -> dict[str, int]:
    """Re-encrypt every row sealed with ``old`` under ``new`` inside the caller's transaction.

    Rows already under ``new`` are left alone (a re-run after a crash is safe); a row
    under any other key, or one that does not authenticate, stops the rotation
    (the transaction rolls back, nothing is lost).
    """
    if old.id == new.id:
        raise VaultError("the new key is the current key")
    rows = _rows(conn)
    plain = [(a, old.open(a, k, s)) for a, k, s in rows if k != new.id]
    atena = [a for a, _ in plain]
    sealed = [new.seal(a, n) for a, n in plain]
    macs = [new.lookup_hash(n) for _, n in plain]
    _write_sealed(conn, atena, [new.id] * len(atena), sealed, macs, reseal=True)
    return {"rows": len(rows), "rotated": len(atena), "already": len(rows) - len(atena)}
