"""Tables of the welfare snapshots (生活保護・障害者手帳, feeds.md §3): status periods per person.

Each monthly full snapshot opens a period for a row not already open with the same values,
and closes (``closed_month`` = the snapshot month) every open period whose row is absent or
changed. The registry derives each person's self-pay class and the 60–64 B-class eligibility
from these periods (``registry/welfare.py``). Alembic branch ``doses``, ``0003_vrs_welfare``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from vaxreg.registry.schema import Id, metadata


def _period_columns() -> list[Column]:
    return [
        Column("first_month", String(6), nullable=False),  # YYYYMM of the snapshot that opened it
        Column("closed_month", String(6)),  # YYYYMM of the first snapshot without it; NULL: open
        Column("opened_by", BigInteger, nullable=False),  # manifest id
        Column("closed_by", BigInteger),
        Column("row_no", Integer, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("closed_at", DateTime(timezone=True)),
    ]


# 生活保護受給者: one period per person and set of received values.
welfare_seiho_periods = Table(
    "welfare_seiho_periods",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("atena_no", String(10), nullable=False),
    Column("case_no", Text, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    *_period_columns(),
    Index("ix_welfare_seiho_periods_atena_no", "atena_no"),
)

# 障害者手帳: one period per person, certificate type and set of received values.
welfare_techo_periods = Table(
    "welfare_techo_periods",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("atena_no", String(10), nullable=False),
    Column("techo_type", String(1), nullable=False),  # 1 身体, 2 療育, 3 精神
    Column("grade", String(1), nullable=False),
    Column("part", String(1)),  # H K R I O, or NULL
    Column("issued_date", Date, nullable=False),
    Column("expiry_date", Date),
    *_period_columns(),
    Index("ix_welfare_techo_periods_atena_no", "atena_no"),
)

# One row per applied snapshot: the month and its size (the shrunken-snapshot guard).
welfare_snapshots = Table(
    "welfare_snapshots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(5), nullable=False),  # seiho | techo
    Column("month", String(6), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("manifest_id", BigInteger, nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("opened", Integer, nullable=False),
    Column("closed", Integer, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "month", name="uq_welfare_snapshots_month"),
)
