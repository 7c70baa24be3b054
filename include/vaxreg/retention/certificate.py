"""The deletion certificate (消去証明) of a purge run, as HTML and CSV, from the deletion log
(privacy.md P6)."""

from __future__ import annotations

import csv
import hashlib
import html
import io
from pathlib import Path

from sqlalchemy import Connection

from vaxreg import config
from vaxreg.registry import audit, db, ledger

CERT_COLUMNS = (
    "run_id",
    "policy",
    "kind",
    "basis",
    "period",
    "as_of",
    "cutoff",
    "deleted",
    "counts",
    "digest",
    "note",
)


def certificate_rows(conn: Connection, run_id: str) -> list[dict[str, str]]:
    cols = ", ".join(f"CAST({c} AS TEXT)" if c in ("as_of", "cutoff", "deleted") else c for c in CERT_COLUMNS)
    m = db.mark(conn)
    rows = conn.exec_driver_sql(f"SELECT {cols} FROM deletion_log WHERE run_id = {m} ORDER BY id", (run_id,))
    return [{c: "" if v is None else str(v) for c, v in zip(CERT_COLUMNS, r, strict=True)} for r in rows]


def write_certificate(run_id: str, *, db_url: str | None = None, folder: Path | None = None) -> list[Path]:
    """HTML and CSV of what the run deleted (every attempt of the run), with the audit chain's state."""
    with db.transaction(db_url) as conn:
        rows = certificate_rows(conn, run_id)
        verdict = audit.verify(conn)
    folder = folder or config.var_dir() / "retention" / run_id.replace("/", "_").replace(":", "_")
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CERT_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    csv_path = folder / "deletion_certificate.csv"
    csv_path.write_text(buf.getvalue(), encoding="utf-8")
    csv_sha = hashlib.sha256(buf.getvalue().encode("utf-8")).hexdigest()
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(r[c])}</td>" for c in CERT_COLUMNS[1:]) + "</tr>\n" for r in rows
    )
    head = "".join(f"<th>{c}</th>" for c in CERT_COLUMNS[1:])
    total = sum(int(r["deleted"] or 0) for r in rows)
    page = f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<title>消去証明書 deletion certificate {html.escape(run_id)}</title>
<style>body{{font-family:sans-serif}} table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:2px 6px;font-size:12px}}</style>
</head><body>
<h1>消去証明書 (deletion certificate)</h1>
<p>予防接種台帳 vaccination registry &middot; retention purge run <b>{html.escape(run_id)}</b>
&middot; as of {html.escape(rows[0]["as_of"] if rows else "")} &middot; policies {len(rows)}
&middot; units deleted {total}</p>
<p>Data whose basis date is before each policy's cut-off was deleted in one transaction per policy
and the database was vacuumed. Each digest is the SHA-256 of the sorted keys deleted; no personal
data is shown here. The deletion log (table <code>deletion_log</code>) holds the same rows and is
never purged.</p>
<table><tr>{head}</tr>
{cells}</table>
<p>Audit log after the purge: {html.escape(verdict.line())}</p>
<p>CSV: deletion_certificate.csv, SHA-256 {csv_sha}. Issued {ledger.now_text()} (UTC).</p>
</body></html>
"""
    html_path = folder / "deletion_certificate.html"
    html_path.write_text(page, encoding="utf-8")
    return [html_path, csv_path]
