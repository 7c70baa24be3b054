"""P3 canary: a recognisable My Number and name are planted in the inputs; every DAG runs end to end over
SFTP with ``dag.test()`` on both databases; then every artefact is searched.

Zero hits for the My Number anywhere but the vault (where it is encrypted) and the raw inbound copies
(the sender's ``outbox/`` and our landing copy of it: raw inbound data under retention, decisions.md §17).
The name only where a step needs it: the person's registry rows, the staging Parquet that validation
reads, the quarantined row kept for staff, and the personal-data export.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import inspect

from vaxreg import cli
from vaxreg.identity.validators import my_number_check_digit
from vaxreg.registry import db, vault

from helpers.db import owner_url, vault_url
from helpers.paths import REPO
from helpers.resident import deliver, person, resident_csv
from helpers.smtp import Inbox

pytestmark = pytest.mark.airflow

CANARY_NUMBER = "31415926535" + str(my_number_check_digit("31415926535"))
CANARY_KANJI = "金糸雀　鳴子"
CANARY_KANA = "カナリア　ナルコ"
SECRETS = (CANARY_NUMBER, CANARY_KANJI, CANARY_KANA)
NAME_ALLOWED_TABLES = {"persons", "person_history", "quarantine"}
PREV_CODE = "011002"  # the canary moved in from Sapporo
CANARY_INTEGRATED = "900000000000777"
# The resident diff first, then the exchange in its order (they run on its persons); then the rest.
FIRST = ("resident_diff", "atena_numbers", "history_inquiries", "prior_records", "provision_copy")
DUE_DAGS = ["registry_refresh", "publish_forms", "publish_reminders"]
NAMED_FILES = ("YOSHIN_202604.csv", "REMINDERS_20260403.csv")  # forms and reminders carry the name


@pytest.fixture(scope="module")
def dagbag(airflow_home: Path):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def canary_files(root: Path) -> None:
    canary = dict(
        kojin_no=CANARY_NUMBER,
        name_kanji=CANARY_KANJI,
        name_kana=CANARY_KANA,
        householder_name=CANARY_KANJI,
        birth_date="2025-08-01",  # a child: due doses, forms and a reminder (BCG overdue) in April 2026
    )
    day1 = resident_csv(
        [
            person("0000000777", **canary, prev_municipality_code=PREV_CODE),
            person("0000000778", **canary | {"sex": "9", "household_no": "5000000778"}),  # quarantined row
            person("0000000779", kojin_no=CANARY_NUMBER[:11] + str((int(CANARY_NUMBER[11]) + 1) % 10)),
        ]
    )
    # A malformed row (one field too many) carrying the number: cut out at parse time.
    day1 += f"4,0000000780,{CANARY_NUMBER},10,2026-04-01,x,extra\n".encode()
    deliver(root, "JUKI_DIFF_20260401.csv", day1)
    deliver(
        root,
        "JUKI_DIFF_20260402.csv",
        resident_csv(
            [
                person(
                    "0000000777",
                    **canary | {"event_code": "30", "event_date": "2026-04-02", "address": "港区3"},
                )
            ]
        ),
    )
    # A corrupt transfer: the run fails, and the failure mail goes out.
    bad = resident_csv([person("0000000781", kojin_no=CANARY_NUMBER, name_kanji=CANARY_KANJI)])
    deliver(root, "JUKI_DIFF_20260403.csv", bad, marker=hashlib.sha256(b"not it").hexdigest())
    # The exchange (outputs.md §5): the canary's integrated number, then the reply to the history
    # inquiry its move-in produces (SHOKAI), whose dose goes out in the provision copy (FUKUHON).
    togo = f"seq,atena_no,integrated_no,event,event_date\n1,0000000777,{CANARY_INTEGRATED},A,2026-04-02\n"
    deliver(root, "TOGO_20260403.csv", togo.encode(), feed="atena")
    kaito = (
        "inquiry_no,integrated_no,municipality_code,vaccine_code,phase,dose_no,dose_date,product_name\n"
        f"20260403000001,{CANARY_INTEGRATED},{PREV_CODE},01,11,1,2025-10-10,製品\n"
    )
    deliver(root, "KAITO_20260403.csv", kaito.encode(), feed="prior")


def hits(text: str, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    return [s for s in secrets if s in text]


def parquet_text(path: Path) -> str:
    return repr(pq.read_table(path).to_pylist())


def test_canary_never_leaks(  # type: ignore[no-untyped-def]
    dagbag,
    monkeypatch: pytest.MonkeyPatch,
    feed_root: Path,
    sftp_server,
    db_url: str,
    smtp_inbox: Inbox,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    import pendulum

    canary_files(feed_root)
    monkeypatch.setenv("VAXREG_DATABASE_URL", db_url)
    monkeypatch.setenv("VAXREG_MAINTENANCE_DATABASE_URL", owner_url(db_url))  # retention_purge
    monkeypatch.setenv("VAXREG_SOURCE_URL", sftp_server.url(feed_root))
    for feed in ("clinic", "otherward", "welfare", "vrs"):
        (feed_root / "outbox" / feed).mkdir(parents=True, exist_ok=True)

    # Every DAG that exists, end to end; the resident run fails on the corrupt third file (by design).
    # The DAGs drawn from the due doses run after the feeds (as their schedules put them).
    states = {}
    order = {d: i for i, d in enumerate(FIRST)}
    for dag_id in sorted(
        dagbag.dag_ids,
        key=lambda d: (d in DUE_DAGS, DUE_DAGS.index(d) if d in DUE_DAGS else 0, order.get(d, len(FIRST)), d),
    ):
        for day in ("2026-04-03", "2026-05-01") if dag_id == "retention_purge" else ("2026-04-03",):
            conf = {"dry_run": False} if dag_id == "retention_purge" else None  # by hand: dry by default
            run = dagbag.get_dag(dag_id).test(
                logical_date=pendulum.parse(day, tz="Asia/Tokyo"), run_conf=conf
            )
            states[(dag_id, day)] = run.state
    assert states[("resident_diff", "2026-04-03")] == "failed"
    # No welfare snapshot of April was delivered by the 2nd: feed_deadlines mails it (file names only).
    assert states[("feed_deadlines", "2026-04-03")] == "failed"
    expected_failures = ("resident_diff", "feed_deadlines")
    assert {k: v for k, v in states.items() if k[0] not in expected_failures} == {
        k: "success" for k in states if k[0] not in expected_failures
    }
    assert len(dagbag.dag_ids) >= 2
    assert cli.main(["export", "quarantine"]) == 0
    assert cli.main(["summary"]) == 0
    assert cli.main(["export", "persons", "--purpose", "canary test"]) == 0
    logs = capfd.readouterr()
    task_output = logs.out + logs.err

    # The canary did go in: applied, quarantined, cut out, and its number is in the vault.
    with db.transaction(vault_url(db_url)) as conn:  # the vault login: it may read the vault too
        assert vault.read_all(conn)["0000000777"] == CANARY_NUMBER
        assert conn.exec_driver_sql("SELECT status FROM persons WHERE atena_no = '0000000777'").scalar() == (
            "resident"
        )
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM quarantine").scalar_one() == 3

    # 1. Task logs (dag.test logs to the console; the log folder too), CLI output (the persons export
    #    needs the name; nothing else does).
    export_persons = task_output[task_output.index("atena_no,status,name_kana") :]
    assert hits(export_persons) == [CANARY_KANA]
    assert hits(task_output.replace(export_persons, "")) == []
    assert "0000000777" in task_output or "JUKI_DIFF_20260401.csv" in task_output  # logs say which file
    home = Path(os.environ["AIRFLOW_HOME"])
    for f in (home / "logs").rglob("*"):
        if f.is_file():
            assert hits(f.read_text(errors="replace")) == [], f

    # 2. XCom and everything else in Airflow's metadata database (raw bytes of the file and its WAL).
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = [repr(x.value) for x in session.query(XComModel).all()]
    assert xcoms and hits("\n".join(xcoms)) == []
    for f in home.glob("airflow.db*"):
        raw = f.read_bytes()
        assert all(s.encode() not in raw for s in SECRETS), f

    # 3. Mails (failure and data quality): no number, no name.
    assert smtp_inbox.messages, "the failing run and the quarantine rate mail the on-call address"
    for m in smtp_inbox.messages:
        assert hits(str(m["Subject"]) + Inbox.text(m)) == [], m["Subject"]

    # 4. Staging (Parquet decoded, validation.json, cut-out rows), certificates, outbound, anything under
    #    VAXREG_HOME: no My Number; names only in the Parquet validation reads and the cut-out row.
    staging = Path(os.environ["VAXREG_STAGING_DIR"])
    landing = staging / "landing"
    checked = 0
    for root in (staging, Path(os.environ["VAXREG_HOME"]), feed_root / "inbox"):
        for f in root.rglob("*") if root.exists() else []:
            if not f.is_file() or landing in f.parents:
                continue
            checked += 1
            text = parquet_text(f) if f.suffix == ".parquet" else f.read_bytes().decode("utf-8", "replace")
            assert CANARY_NUMBER not in text, f
            if f.name in NAMED_FILES:  # the name is what a form or a reminder is for; the number never
                assert hits(text) == [CANARY_KANJI, CANARY_KANA], f
            elif f.name not in ("staged.parquet", "validated.parquet", "rejected.parquet"):
                assert hits(text) == [], f
    for name in NAMED_FILES:  # the canary did reach both files
        assert list((feed_root / "inbox").rglob(name)), name
    assert checked >= 12  # staged, validated, rejected Parquet and validation.json of two files, certificates
    data_docs = list((staging / "data-docs").rglob("*.html"))  # searched above like every staging file
    assert len(data_docs) >= 3, "the Data Docs site: its index and a page per validated file"
    assert list(landing.rglob("JUKI_DIFF_20260401.csv"))  # the raw inbound copy (under retention)
    for out in ("shokai/SHOKAI_20260403.csv", "fukuhon/FUKUHON_20260403.csv"):  # scanned above
        assert CANARY_INTEGRATED in (feed_root / "inbox" / out).read_text(encoding="utf-8"), out

    # 5. A purge two centuries on: staging and landing go, the living canary stays; its certificate and
    #    log are clean too.
    run = dagbag.get_dag("retention_purge").test(
        logical_date=pendulum.parse("2227-01-01", tz="Asia/Tokyo"), run_conf={"dry_run": False}
    )
    assert run.state == "success"
    after = capfd.readouterr()
    assert hits(after.out + after.err) == []
    assert list(landing.rglob("*.csv")) == [] and list(staging.rglob("*.parquet")) == []
    certs = list(Path(os.environ["VAXREG_HOME"]).glob("retention/*/deletion_certificate.*"))
    assert len(certs) == 3 * 2, "HTML and CSV of each real retention run"
    for f in certs:
        assert hits(f.read_text(encoding="utf-8")) == [], f

    # 6. Every registry table but the vault; the registry file itself holds no plain number.
    with db.transaction(vault_url(db_url)) as conn:  # the vault login reads the tables and the vault
        tables = inspect(conn).get_table_names()
        assert "deletion_log" in tables and "audit_log" in tables
        for t in tables:
            dump = repr(conn.exec_driver_sql(f"SELECT * FROM {t}").fetchall())
            allowed = {CANARY_KANJI, CANARY_KANA} if t in NAME_ALLOWED_TABLES else set()
            assert set(hits(dump)) <= allowed, t
        sealed = b"".join(
            bytes(r[0]) for r in conn.exec_driver_sql(f"SELECT ciphertext FROM {vault.table(conn)}")
        )
        assert CANARY_NUMBER.encode() not in sealed
    if db_url.startswith("sqlite"):
        path = Path(re.sub("^sqlite:///", "", db_url))
        for f in path.parent.glob(path.name + "*"):
            assert CANARY_NUMBER.encode() not in f.read_bytes(), f
