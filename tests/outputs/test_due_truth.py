"""Truth test: a generated municipality (vaxreg_devtools.synth_due) whose expected due states the
generator computes by its own scalar date logic; the refresh must agree on every checked slot, on
both databases, and give non-residents no rows."""

from __future__ import annotations

import datetime as dt

from vaxreg_devtools.synth_due import municipality

from vaxreg.outputs import due

from helpers.db import rows
from helpers.due import Person, actor, seed_doses, seed_persons


def test_refresh_agrees_with_the_generators_truth(db_url: str) -> None:
    as_of = dt.date(2026, 11, 20)
    town = municipality(seed=20261202, persons=400, as_of=as_of)
    seed_persons(
        db_url,
        [
            Person(a, b, sex=s, status=st, valid_from="2026-01-01" if st != "resident" else "2020-01-01")
            for a, b, s, st in town.persons
        ],
    )
    seed_doses(db_url, town.doses)
    due.refresh(actor(), as_of, db_url=db_url, chunk=37)  # in slices, as at full size
    got = {
        (a, v, p, int(n)): s
        for a, v, p, n, s in rows(
            db_url, "SELECT atena_no, vaccine_code, phase, dose_no, state FROM due_doses"
        )
    }
    checked = {k: got.get(k) for k in town.expected}
    wrong = {k: (checked[k], want) for k, want in town.expected.items() if checked[k] != want}
    assert not wrong, f"{len(wrong)} of {len(town.expected)} differ, e.g. {list(wrong.items())[:5]}"
    residents = {a for a, _, _, st in town.persons if st == "resident"}
    assert {k[0] for k in got} <= residents
    states = {s for s in town.expected.values()}
    assert {"done", "due", "overdue", "not_yet", "closed"} <= states  # the town exercises every state
