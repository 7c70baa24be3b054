"""Every Asset of vaxreg, declared once. Feed DAGs announce the registry areas their feed changes
(:attr:`vaxreg.feeds.Feed.changes`); DAGs that must run after them are scheduled on these."""

from __future__ import annotations

from airflow.sdk import Asset


def _asset(name: str) -> Asset:
    return Asset(name=name, uri=f"vaxreg://{name.replace('.', '/')}", group="vaxreg")


PERSONS = _asset("registry.persons")  # resident diff: persons, their status and history
DOSES = _asset("registry.doses")  # clinic, other-ward and VRS doses
WELFARE = _asset("registry.welfare")  # welfare and disability status periods
INTEGRATED_NUMBERS = _asset("registry.integrated_numbers")  # TOGO: integrated numbers (outputs.md §5.1)
FEES = _asset("outbound.fees")  # FEES_YYYYMM.csv published
VRS_FLAGS = _asset("outbound.vrs_flags")  # VRS_FLAGS_YYYYMMDD.csv published
FUKUHON = _asset("outbound.fukuhon")  # FUKUHON_YYYYMMDD.csv published (provision copy)
SHOKAI = _asset("outbound.shokai")  # SHOKAI_YYYYMMDD.csv published (history inquiries)
DUE = _asset("registry.due_doses")  # due doses refreshed (extra: as-of date, counts by state)
FORMS = _asset("outbound.forms")  # YOSHIN_YYYYMM.csv published
REMINDERS = _asset("outbound.reminders")  # REMINDERS_YYYYMMDD.csv published
STATS = _asset("outbound.stats")  # STATS_FY.csv (and .html) published

# A feed's registry areas (Feed.changes) and an output target (vaxreg.outputs) -> its Asset.
REGISTRY = {
    "persons": PERSONS,
    "doses": DOSES,
    "welfare": WELFARE,
    "due": DUE,
    "integrated_numbers": INTEGRATED_NUMBERS,
}
OUTBOUND = {
    "fees": FEES,
    "vrs_flags": VRS_FLAGS,
    "forms": FORMS,
    "reminders": REMINDERS,
    "stats": STATS,
    "fukuhon": FUKUHON,
    "shokai": SHOKAI,
}
# What the due doses are derived from: the registry refresh runs when any of them changed.
DUE_INPUTS = (PERSONS, DOSES, WELFARE)
