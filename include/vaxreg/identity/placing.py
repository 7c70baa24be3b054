"""Placing a record on a registry person (privacy.md §Matching): the identity matcher
(:mod:`vaxreg.identity.matching`) run against the registry's persons, read as columns.

Every feed whose records name a person (clinic and other-ward records, VRS subjects) places
them here; anything not clearly one person goes to review with its candidates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from vaxreg.identity import matching
from vaxreg.identity.matching import REGISTRY_COLUMNS
from vaxreg.registry.db import bulk_insert, read_table


def matching_view(conn: Connection) -> pd.DataFrame:
    """Every person's matching fields (:data:`vaxreg.identity.matching.REGISTRY_COLUMNS`), one COPY.

    Removed, moved-out and deceased persons stay candidates: a record may be of a dose
    given before they left, and the apply step judges that from the person's state. In
    ``atena_no`` order: the matcher measures u on a seeded sample of these rows, so the same
    registry gives the same weights on every database and every run."""
    return read_table(
        conn,
        "SELECT atena_no, name_kana, CAST(birth_date AS TEXT), sex, address FROM persons ORDER BY atena_no",
        list(REGISTRY_COLUMNS),
    ).to_pandas()


def named_persons(conn: Connection, atena: np.ndarray) -> pd.DataFrame:
    """The matching fields of the persons named by 宛名番号 (nulls and repeats ignored)."""
    keys = pd.unique(pd.Series(atena, dtype=object).dropna())
    if len(keys) == 0:
        return pd.DataFrame(columns=list(REGISTRY_COLUMNS))
    conn.exec_driver_sql("CREATE TEMP TABLE tmp_named (atena_no VARCHAR(10) NOT NULL)")
    bulk_insert(conn, "tmp_named", pa.table({"atena_no": pa.array(keys, pa.string())}))
    found = read_table(
        conn,
        "SELECT p.atena_no, p.name_kana, CAST(p.birth_date AS TEXT), p.sex, p.address "
        "FROM persons p JOIN tmp_named t ON t.atena_no = p.atena_no",
        list(REGISTRY_COLUMNS),
    )
    conn.exec_driver_sql("DROP TABLE tmp_named")
    return found.to_pandas()


def place(conn: Connection, records: pd.DataFrame) -> pd.DataFrame:
    """:func:`vaxreg.identity.matching.link` against the registry, in two reads: the deterministic pass
    against the persons the records name, then the probabilistic pass against every person
    (:func:`matching_view`) only if records are left. Adds ``how`` (what ``decided_by`` and the
    audit detail say: ``deterministic``, ``match weight 23.4`` or ``review``) and
    ``atena_known`` (the record's 宛名番号 names a person, for the review reasons)."""
    named = named_persons(conn, records["atena_no"].to_numpy())
    result = matching.link(records, named, probabilistic=False)
    rest = result.index[result["decision"] == "review"]
    if len(rest):
        result.loc[rest] = matching.link(records.loc[rest], matching_view(conn))
    how = result["decision"].astype(object).to_numpy().copy()
    prob = (result["decision"] == "probabilistic").to_numpy()
    how[prob] = [f"match weight {w:.1f}" for w in result["weight"].to_numpy()[prob]]
    return result.assign(how=how, atena_known=records["atena_no"].isin(named["atena_no"]).to_numpy())
