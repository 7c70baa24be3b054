"""Feed ``vrs``: the VRS exports (ワクチン接種記録システム, vrs.md) under ``outbox/vrs/``, two kinds of
file: the subjects file (:mod:`vaxreg.feeds.vrs_subjects`) before the records file of the same
date (:mod:`vaxreg.feeds.vrs_records`). After the apply step the VRS flags are published
(:mod:`vaxreg.outputs.vrs_flags`)."""

from __future__ import annotations

from vaxreg.feeds import Feed, feeds_of, vrs_records, vrs_subjects

FEEDS = feeds_of(
    __name__,
    [
        Feed(
            name="vrs",
            purpose="VRS接種記録の台帳登録・転出死亡の連携 "
            "(COVID-19 records from VRS; move-out/death flags to VRS)",
            kinds=(vrs_subjects.KIND, vrs_records.KIND),  # subjects before records of a date (vrs.md)
            changes=("doses",),
            after_apply=("vrs_flags",),
            reviews=True,
            name_pattern=r"VRS_(?:SUBJECTS|RECORDS)_(?P<date>[0-9]{8})\.csv",
        )
    ],
)
