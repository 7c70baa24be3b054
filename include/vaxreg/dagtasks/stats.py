"""The task of the ``prefecture_stats`` DAG: publish STATS_FY.csv and .html (vaxreg.outputs.stats)."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import task

from vaxreg.dagtasks import assets

log = logging.getLogger("vaxreg")


def stats_tasks() -> Any:
    @task(outlets=[assets.STATS])
    def publish(**context: Any) -> list[str]:
        """The statistics of the fiscal year just ended on the run's date, or of the param
        ``fiscal_year``; a re-issue (STATS_FY_vN) when the param ``reissue_reason`` is set."""
        from airflow.sdk.exceptions import AirflowFailException

        from vaxreg import config
        from vaxreg.dagtasks.feed import logical_day
        from vaxreg.outputs import stats
        from vaxreg.registry import ledger
        from vaxreg.transport import OutboundConflict, open_source

        ti, params = context["ti"], context["params"]
        actor = ledger.Actor(
            dag_id=ti.dag_id, run_id=context["run_id"], task_id=ti.task_id, purpose=stats.PURPOSE
        )
        fy = params.get("fiscal_year")
        reason = params.get("reissue_reason") or None
        try:
            with open_source(config.source_url()) as src:
                names = stats.publish(
                    src,
                    actor,
                    logical_day(context),
                    fiscal_year=int(fy) if fy not in (None, "") else None,
                    reissue_reason=reason,
                )
        except (OutboundConflict, stats.StatsError) as exc:  # a person must look: no retry
            raise AirflowFailException(str(exc)) from exc
        log.info("stats: %s", ", ".join(names) or "nothing new (that year's file exists)")
        return names

    return publish()
