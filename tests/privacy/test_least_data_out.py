"""P7: every registered outbound layout holds exactly the columns its specification lists (the table
of feeds.md §7, or the section of outputs.md it points to), and a published file holds exactly those
columns (one test per file)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pyarrow as pa
import pytest

import vaxreg.outputs
from vaxreg.outputs import outbound
from vaxreg.transport import LocalSource

from helpers.paths import SPECS

# Every outbound layout is registered by its module of vaxreg.outputs at import: import them all.
for _m in pkgutil.walk_packages(vaxreg.outputs.__path__, "vaxreg.outputs."):
    importlib.import_module(_m.name)

# Where §7 describes a column in words rather than by name, the name the code uses for it.
WORDS: dict[str, str | None] = {
    "per routine dose": None,  # which rows, not a column
    "vaccine code": "vaccine_code",
    "dose date": "dose_date",
    "the vaccine product name for HPV and rotavirus only (nothing else)": "product_name",
}


def section_7() -> dict[str, tuple[str, str]]:
    """file pattern (``FUKUHON_{date}.csv``) → (target, content) from the table of feeds.md §7."""
    text = (SPECS / "feeds.md").read_text(encoding="utf-8")
    body = text[text.index("## 7. Outbound files") :]
    body = body[: body.index("\n## ", 5)] if "\n## " in body[5:] else body
    out = {}
    for line in body.splitlines():
        m = re.match(r"\|\s*`(\w+)`\s*\|\s*`([A-Z_]+)_(YYYYMMDD|YYYYMM|FY)\.csv`\s*\|\s*(.+?)\s*\|$", line)
        if m:
            target, stem, _stamp, content = m.groups()
            out[f"{stem}_{{}}.csv"] = (target, content)
    return out


def spec_columns(content: str) -> tuple[str, ...] | None:
    """The columns a §7 row lists, or None when it lists none (it describes the content only)."""
    if ":" not in content:
        return None
    listed = content.split(":", 1)[1]
    listed = re.sub(r"\(`[^`]*`(/`[^`]*`)+\)", "", listed)  # value lists such as (`MOVED_OUT`/`DECEASED`)
    cols = []
    for part in re.split(r",\s*(?:and\s+)?", listed):
        part = part.strip()
        if named := re.search(r"\(`(\w+)`\)", part):
            cols.append(named.group(1))
        elif re.fullmatch(r"\w+", part):
            cols.append(part)
        elif part in WORDS:
            if col := WORDS[part]:
                cols.append(col)
        else:
            raise AssertionError(f"feeds.md §7: cannot read a column from {part!r}")
    return tuple(cols)


def outputs_columns(section: str) -> tuple[str, ...]:
    """The columns outputs.md lists for a file: the first column of the section's
    ``| column | content |`` table (several names in a cell count each), or, where the section
    names them in prose ("with `a` (…), `b`, …"), those names in order."""
    text = (SPECS / "outputs.md").read_text(encoding="utf-8")
    start = re.search(rf"^#+ {re.escape(section)}[ .]", text, re.M)
    assert start, f"outputs.md has no section {section}"
    body = text[start.end() :]
    body = body[: m.start()] if (m := re.search(r"^#+ \d", body, re.M)) else body
    cols: list[str] = []
    for line in body.splitlines():
        if line.startswith("| `"):
            cols += re.findall(r"`(\w+)`", line.split("|")[1])
    if not cols and (prose := re.search(r"with (`\w+`.*?)\. ", body, re.S)):
        cols = re.findall(r"`(\w+)`(?![^(]*\))", prose.group(1))
    return tuple(cols)


def spec_layout(pattern: str) -> tuple[str, tuple[str, ...] | None] | None:
    """(target, columns or None) of a file pattern such as ``FUKUHON_{}.csv``; None when no
    specification names it."""
    spec = section_7()
    if pattern not in spec:
        return None
    target, content = spec[pattern]
    if ref := re.search(r"`outputs\.md` §([0-9.]+)", content):
        return target, outputs_columns(ref.group(1))
    return target, spec_columns(content)


def test_specifications_are_read() -> None:
    spec = section_7()
    assert set(spec) >= {"FUKUHON_{}.csv", "VRS_FLAGS_{}.csv", "FEES_{}.csv", "STATS_{}.csv"}
    assert spec_layout("VRS_FLAGS_{}.csv") == ("vrs", ("voucher_no", "municipality_code", "flag", "date"))
    assert spec_layout("FEES_{}.csv") == ("fees", None)  # described, no column list
    assert spec_layout("FUKUHON_{}.csv") == (
        "fukuhon",
        ("op", "integrated_no", "vaccine_code", "dose_date", "product_name"),
    )
    assert spec_layout("SHOKAI_{}.csv") == (
        "shokai",
        ("inquiry_no", "integrated_no", "municipality_code", "birth_date"),
    )
    assert spec_layout("YOSHIN_{}.csv")[1][:4] == ("form_no", "atena_no", "vaccine_code", "phase")  # type: ignore[index]
    assert spec_layout("STATS_{}.csv")[1][-2:] == ("target_persons", "coverage")  # type: ignore[index]


@pytest.mark.parametrize("kind", sorted(outbound.LAYOUTS))
def test_outbound_file_holds_exactly_its_specified_columns(kind: str, tmp_path: Path) -> None:
    layout = outbound.LAYOUTS[kind]
    spec = section_7()
    pattern = re.sub(r"\{\w+\}", "{}", layout.name_pattern)
    if (found := spec_layout(pattern)) is not None:
        target, cols = found
        assert layout.target == target
        if cols is not None:
            assert layout.columns == cols
    else:  # a companion file of a §7 target (e.g. the fee detail): its columns are its own layout's
        assert layout.target in {t for t, _ in spec.values()}, f"{kind}: target {layout.target} not in §7"
    # Published, the file's header is exactly the layout; one column more or less is refused.
    table = pa.table({c: ["x"] for c in layout.columns})
    name, _ = outbound.publish(
        LocalSource(tmp_path), kind, table, date="20260402", month="202604", fy="2026", n="2"
    )
    # utf-8-sig: forms and reminders carry a BOM (outputs.md §2, §3), which is not part of the header
    header = (tmp_path / "inbox" / layout.target / name).read_text(encoding="utf-8-sig").splitlines()[0]
    assert tuple(header.split(",")) == layout.columns
    with pytest.raises(outbound.OutboundError):
        outbound.publish(
            LocalSource(tmp_path),
            kind,
            table.append_column("name_kana", pa.array(["x"])),
            date="20260403",
            month="202605",
        )
