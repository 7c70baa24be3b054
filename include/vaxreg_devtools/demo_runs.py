"""Make the runs ``airflow dags test`` leaves look in the UI like the runs they were (``make demo``).

``dags test`` runs the tasks in its own process: it writes no task log files (the UI said "Log file
not found on worker") and it starts the run at its logical date (a demo run dated 2026-04-08 lasted
238 days). :func:`adopt_run` gives the latest run of a DAG its real start and end and writes each
task's part of the command's output where Airflow's log reader looks for it.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
_END = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")


def task_segments(output: str) -> dict[tuple[str, int], list[str]]:
    """The lines of ``output`` between each task's start and end markers, by (task_id, map_index)."""
    parts: dict[tuple[str, int], list[str]] = {}
    current: tuple[str, int] | None = None
    for line in output.splitlines():
        if m := _START.search(line):
            current = (m.group(1), int(m.group(2)))
            parts.setdefault(current, [])
        elif (m := _END.search(line)) and current == (m.group(1), int(m.group(2))):
            current = None
        elif current is not None:
            parts[current].append(line)
    return parts


def adopt_run(dag_id: str, started: dt.datetime, ended: dt.datetime, output: str) -> list[Path]:
    """The latest run of ``dag_id``: real start and end; each task's log file; the files written."""
    from airflow.configuration import conf
    from airflow.models.dagrun import DagRun
    from airflow.utils.log.file_task_handler import FileTaskHandler
    from airflow.utils.session import create_session
    from sqlalchemy import select

    base = Path(conf.get("logging", "base_log_folder"))
    handler = FileTaskHandler(base_log_folder=str(base))
    segments = task_segments(output)
    written = []
    with create_session() as session:
        run: Any = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1)
        ).first()
        if run is None:
            return []
        run.start_date = started
        if run.end_date is not None:
            run.end_date = max(run.end_date, started)
        else:
            run.end_date = ended
        for ti in run.get_task_instances(session=session):
            lines = segments.get((ti.task_id, ti.map_index))
            if lines is None or not ti.try_number:
                continue
            path = base / handler._render_filename(ti, ti.try_number, session=session)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            written.append(path)
    return written
