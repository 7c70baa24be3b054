"""Tests of the matcher benchmark's generator (`vaxreg_devtools.synth_match`) and its scoring
(`vaxreg_devtools.bench_match.evaluate`), at small scale."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from vaxreg_devtools.bench_match import evaluate
from vaxreg_devtools.synth_match import NOISE, RATES, MatchData, generate, write

PERSONS, RECORDS, SEED = 20_000, 2_000, 20260501
FULL_KANA = re.compile("^[\u30a1-\u30fa\u30fc\u30fb]+\u3000[\u30a1-\u30fa\u30fc\u30fb]+$")


@pytest.fixture(scope="module")
def data() -> MatchData:
    return generate(PERSONS, RECORDS, SEED)


def _col(t: pa.Table, name: str) -> list:
    return t.column(name).to_pylist()


def _share(data: MatchData, name: str) -> float:
    noise = data.records.column("noise").to_numpy()
    return float(((noise & NOISE[name]) != 0).mean())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes(tmp_path: Path, data: MatchData) -> None:
    a = write(data, tmp_path / "a")
    b = write(generate(PERSONS, RECORDS, SEED), tmp_path / "b")
    assert {k: _digest(p) for k, p in a.items()} == {k: _digest(p) for k, p in b.items()}
    c = write(generate(PERSONS, RECORDS, SEED + 1), tmp_path / "c")
    assert _digest(c["records"]) != _digest(a["records"])


def test_registry_shape(data: MatchData) -> None:
    reg = data.registry
    assert reg.num_rows == PERSONS
    assert reg.column_names == ["atena_no", "name_kana", "name_kanji", "birth_date", "sex", "address"]
    atena = _col(reg, "atena_no")
    assert len(set(atena)) == PERSONS and all(re.fullmatch(r"[0-9]{10}", a) for a in atena)
    assert all(FULL_KANA.match(k) for k in _col(reg, "name_kana"))
    assert set(_col(reg, "sex")) == {"1", "2"}
    assert all(re.fullmatch(r"(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}", d) for d in _col(reg, "birth_date"))
    assert all(a.startswith("東京都港区") and "丁目" in a for a in _col(reg, "address"))


def test_names_have_realistic_frequencies(data: MatchData) -> None:
    family = [k.split("\u3000")[0] for k in _col(data.registry, "name_kana")]
    counts = {f: family.count(f) for f in ("サトウ", "スズキ", "タカハシ", "オオタ", "ミヤケ")}
    assert counts["サトウ"] > 0.01 * PERSONS and counts["スズキ"] > 0.01 * PERSONS
    assert counts["サトウ"] > 3 * counts["ミヤケ"]  # heavy-tailed: common names are common


def test_households_share_surname_and_address(data: MatchData) -> None:
    reg = data.registry.to_pandas()
    reg["family"] = reg["name_kana"].str.split("\u3000").str[0]
    by_address = reg.groupby("address")["family"].agg(["size", "nunique"])
    shared = by_address[by_address["size"] >= 2]
    assert len(shared) > PERSONS / 20
    assert (shared["nunique"] == 1).mean() > 0.9


def test_twins_in_registry_and_records(data: MatchData) -> None:
    reg = data.registry.to_pandas()
    reg["family"] = reg["name_kana"].str.split("\u3000").str[0]
    young = reg[reg["birth_date"] >= "2000-01-01"]
    twins = young[young.duplicated(["address", "family", "birth_date"], keep=False)]
    assert len(twins) >= 0.01 * len(young)
    pairs = twins.groupby(["address", "birth_date"])
    assert (pairs["name_kana"].nunique() == pairs.size()).all()  # twins have different given names
    assert (pairs["sex"].nunique() == 1).mean() > 0.4  # often the same sex
    rec = data.records.to_pandas()
    twin_rows = rec[(rec["noise"] & NOISE["twin"]) != 0]
    assert len(twin_rows) >= 0.9 * RATES["twin_records"] * RECORDS
    assert set(twin_rows["truth"]) <= set(twins["atena_no"])


def test_truth_and_non_registry_persons(data: MatchData) -> None:
    rec = data.records
    assert rec.num_rows == RECORDS
    truth = _col(rec, "truth")
    noise = rec.column("noise").to_numpy()
    out = (noise & NOISE["not_in_registry"]) != 0
    assert [t is None for t in truth] == out.tolist()
    assert out.sum() == round(RATES["not_in_registry"] * RECORDS)
    registry = set(_col(data.registry, "atena_no"))
    assert {t for t in truth if t is not None} <= registry
    # The non-registry persons are not in the registry: not by number, nor by name + birth + sex.
    wrong = (noise & (NOISE["atena_typo"] | NOISE["atena_other"])) != 0
    own = [a for a, o, w in zip(_col(rec, "atena_no"), out, wrong, strict=True) if o and not w and a]
    assert own and not set(own) & registry  # their old numbers are nobody's in the registry
    reg = data.registry.to_pandas()
    keys = set(zip(reg["name_kana"], reg["birth_date"], reg["sex"], strict=True))
    r = rec.to_pandas()
    clean_out = r[out & ((noise & ~(NOISE["address_present"] | NOISE["atena_present"])) == 0)]
    full = [unicodedata.normalize("NFKC", k) for k in clean_out["name_kana"]]
    hits = sum(
        (k, b, s) in keys for k, b, s in zip(full, clean_out["birth_date"], clean_out["sex"], strict=True)
    )
    assert hits <= 1


def test_records_agree_with_their_person_when_clean(data: MatchData) -> None:
    reg = data.registry.to_pandas().set_index("atena_no")
    rec = data.records.to_pandas()
    clean = rec[(rec["noise"] & ~(NOISE["address_present"] | NOISE["atena_present"])) == 0]
    clean = clean[clean["truth"].notna()]
    assert len(clean) > 0.05 * RECORDS
    person = reg.loc[clean["truth"]]
    assert (clean["name_kana"].to_numpy() == person["name_kana"].to_numpy()).all()
    assert (clean["birth_date"].to_numpy() == person["birth_date"].to_numpy()).all()
    assert (clean["sex"].to_numpy() == person["sex"].to_numpy()).all()
    given = clean[clean["atena_no"].notna()]
    assert (given["atena_no"] == given["truth"]).all()


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("half_width", 0.70, 0.80),
        ("hiragana", 0.015, 0.05),
        ("no_space", 0.12, 0.18),
        ("address_present", 0.66, 0.74),
        ("atena_present", 0.08, 0.12),
        ("addr_kanji", 0.08, 0.13),
        ("addr_hyphen", 0.18, 0.24),
        ("addr_fullwidth", 0.05, 0.09),
        ("addr_fullwidth_hyphen", 0.05, 0.09),
        ("old_residence", 0.02, 0.05),
        ("old_form_kanji", 0.015, 0.04),
        ("building_dropped", 0.08, 0.17),
    ],
)
def test_noise_rates(data: MatchData, name: str, low: float, high: float) -> None:
    assert low <= _share(data, name) <= high


def test_rare_noise_present(data: MatchData) -> None:
    typos = sum(_share(data, k) for k in ("typo_sub", "typo_del", "typo_ins", "typo_voiced", "typo_small"))
    assert 0.03 <= typos + _share(data, "typo_long") <= 0.07
    for kind in ("typo_sub", "typo_del", "typo_ins", "typo_voiced"):
        assert _share(data, kind) > 0, kind
    births = sum(_share(data, k) for k in ("birth_swap", "birth_transpose", "birth_digit"))
    assert 0.01 <= births <= 0.03
    assert _share(data, "birth_transpose") > 0 and _share(data, "birth_digit") > 0
    assert 0 < _share(data, "sex_wrong") < 0.01
    assert 0 < _share(data, "atena_typo") + _share(data, "atena_other") < 0.02


def test_noise_forms_look_right(data: MatchData) -> None:
    rec = data.records.to_pandas()
    noise = rec["noise"].to_numpy()

    def rows(name: str) -> list[str]:
        return rec.loc[(noise & NOISE[name]) != 0, "name_kana"].tolist()

    assert all(re.search("[\uff66-\uff9f]", k) for k in rows("half_width"))
    assert all(re.search("[\u3041-\u3096]", k) for k in rows("hiragana"))
    assert all(" " not in k and "\u3000" not in k for k in rows("no_space"))
    addr = rec.loc[(noise & NOISE["addr_kanji"]) != 0, "address"].dropna().tolist()
    assert addr and all("丁目" in a and re.search("[一二三四五六七八九十]", a) for a in addr)
    addr = rec.loc[(noise & NOISE["addr_fullwidth_hyphen"]) != 0, "address"].dropna().tolist()
    assert addr and all("－" in a for a in addr)
    absent = (noise & NOISE["address_present"]) == 0
    assert rec.loc[absent, "address"].isna().all() and rec.loc[~absent, "address"].notna().all()
    typo_dates = rec.loc[(noise & NOISE["birth_swap"]) != 0]
    reg = data.registry.to_pandas().set_index("atena_no")
    known = typo_dates[typo_dates["truth"].notna()]
    true_dates = reg.loc[known["truth"], "birth_date"].to_numpy()
    assert (known["birth_date"].to_numpy() != true_dates).all()
    assert all(
        a[:5] == b[:5] and a[5:7] == b[8:10] for a, b in zip(known["birth_date"], true_dates, strict=True)
    )


def test_evaluate_arithmetic() -> None:
    truth = ["A", "B", "C", "D", None, None]
    pred = ["A", "X", None, "D", "A", None]
    s = evaluate(truth, pred)
    assert (s.records, s.in_registry, s.links, s.correct, s.false_positive, s.review) == (6, 4, 4, 2, 2, 2)
    assert s.precision == pytest.approx(2 / 4)
    assert s.recall == pytest.approx(2 / 4)
    assert s.f1 == pytest.approx(0.5)
    assert s.review_rate == pytest.approx(2 / 6)
    s = evaluate(np.array(["A", None], dtype=object), [float("nan"), ""])
    assert (s.links, s.review, s.precision == s.precision) == (0, 2, False)
    assert evaluate(["A", "B"], ["A", "B"]).f1 == pytest.approx(1.0)
