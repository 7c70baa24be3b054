"""Comparison forms of names, kana and addresses (privacy.md §Matching) and the old-form kanji map."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pyarrow as pa
import pytest
from vaxreg_devtools.synth import _BUILDINGS, _TOWNS

from vaxreg.identity import normalise

MAP_FILE = Path(normalise.__file__).parents[1] / "data" / "old_form_kanji.tsv"


def _map_lines() -> list[tuple[str, str]]:
    pairs = []
    for line in MAP_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            old, new = line.split("\t")
            pairs.append((old, new))
    return pairs


# --------------------------------------------------------------------------- the old-form map


def test_map_lines_are_single_distinct_characters_and_not_redundant_with_nfkc() -> None:
    pairs = _map_lines()
    olds = [old for old, _ in pairs]
    assert len(olds) == len(set(olds)), "an old form is listed twice"
    for old, new in pairs:
        assert len(old) == 1 and len(new) == 1, (old, new)
        assert old != new, old
        assert unicodedata.category(old) == "Lo" and unicodedata.category(new) == "Lo", (old, new)
        # NFKC runs first: a line for a character NFKC already maps would never fire.
        assert unicodedata.normalize("NFKC", old) == old, f"{old} U+{ord(old):04X} is mapped by NFKC"
        assert unicodedata.normalize("NFKC", new) == new, new
        # One step is enough: no standard form is itself an old form.
        assert new not in olds, new


def test_map_does_not_fold_different_standard_characters() -> None:
    olds = {old for old, _ in _map_lines()}
    # Look-alikes that are distinct characters (埼玉 is not 崎玉), and standard forms.
    for c in "埼崎降隆辻斉高浜辺徳島富":
        assert c not in olds


@pytest.mark.parametrize(("old", "new"), _map_lines())
def test_every_map_entry_applies_to_names_and_addresses(old: str, new: str) -> None:
    assert normalise.normalise_name(f"山{old}") == f"山{new}"
    assert normalise.normalise_address(f"{old}町1丁目2番3号") == f"{new}町1-2-3"


@pytest.mark.parametrize(
    ("compat", "standard"),
    [("\uf9dc", "隆"), ("\ufa10", "塚"), ("\ufa4f", "祐"), ("\ufa12", "晴"), ("\ufa1b", "福")],
)
def test_compatibility_ideographs_are_left_to_nfkc(compat: str, standard: str) -> None:
    assert normalise.normalise_name(f"{compat}") == standard
    assert normalise.normalise_address(f"{compat}町") == f"{standard}町"


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ｶﾞｸ ﾊﾟｸ", "ガク　パク"),  # half-width, separate voiced marks, ASCII space vs U+3000
        ("ｶ\uff9eｸ", "ガク"),  # half-width voiced mark U+FF9E
        ("ﾊ\uff9fｸ", "パク"),  # half-width semi-voiced mark U+FF9F
        ("ｳﾞｨｸﾄﾙ", "ヴィクトル"),
        ("がく　ぱく", "ガクパク"),  # hiragana
        ("ゔぃくとる", "ヴィクトル"),
        ("スミス・ジョン", "スミスジョン"),  # katakana middle dot
        ("ｽﾐｽ･ｼﾞｮﾝ", "スミスジョン"),  # half-width middle dot
        ("Smith John", "SMITH　JOHN"),
        ("ＳＭＩＴＨ　Ｊｏｈｎ", "smith john"),  # full-width alphabet
        ("山田\u3000太郎", "山田 太郎"),
        ("山田\t太郎", "山田太郎"),
        ("髙橋", "高橋"),
        ("齋藤", "斎藤"),
        ("齊藤", "斉藤"),
        ("冨田 嶋", "富田島"),
        ("𠮷田", "吉田"),
    ],
)
def test_names_equal_after_normalisation(a: str, b: str) -> None:
    assert normalise.normalise_name(a) == normalise.normalise_name(b)


def test_name_forms() -> None:
    assert normalise.normalise_name("ｶﾞｸ ﾊﾟｸ") == "ガクパク"
    assert normalise.normalise_name("がっこう") == "ガッコウ"
    assert normalise.normalise_name("Smith John") == "smithjohn"
    assert normalise.normalise_name("") == ""


@pytest.mark.parametrize(("a", "b"), [("カク", "ガク"), ("ヨウコ", "ヨーコ"), ("埼玉", "崎玉")])
def test_names_that_stay_different(a: str, b: str) -> None:
    assert normalise.normalise_name(a) != normalise.normalise_name(b)


def test_names_vectorised_with_nulls_and_chunks() -> None:
    chunked = pa.chunked_array([["ﾀﾛｳ", None], ["たろう", "", None]], pa.string())
    assert normalise.normalise_names(chunked).to_pylist() == ["タロウ", None, "タロウ", "", None]
    assert normalise.normalise_names(pa.array([], pa.string())).to_pylist() == []
    assert normalise.normalise_names(pa.array([None, None], pa.string())).to_pylist() == [None, None]


# --------------------------------------------------------------------------- fold_kana


@pytest.mark.parametrize(
    ("kana", "folded"),
    [
        ("ガク", "カク"),
        ("パク", "ハク"),
        ("ヴィクトル", "ウイクトル"),
        ("ガッコウ", "カツコウ"),
        ("キョウコ", "キヨウコ"),
        ("ヨーコ", "ヨコ"),
        ("パーティー", "ハテイ"),
        ("ヲノ", "オノ"),
        ("ヰヱ", "イエ"),
        ("ヮヵヶ", "ワカケ"),
        ("ァィゥェォッャュョ", "アイウエオツヤユヨ"),
        ("ツヅキ", "ツスキ"),
        ("ツズキ", "ツスキ"),  # ヅ and ズ agree
        ("ハナヂ", "ハナシ"),  # ヂ and ジ agree
        ("ハナジ", "ハナシ"),
        ("ボブ", "ホフ"),
        ("ヷヸヹヺ", "ワイエオ"),
        ("", ""),
        ("タナカ", "タナカ"),
    ],
)
def test_fold_kana(kana: str, folded: str) -> None:
    assert normalise.fold_kana_one(kana) == folded
    assert normalise.fold_kana(pa.array([kana], pa.string())).to_pylist() == [folded]


def test_fold_kana_keys_agree_on_typical_spelling_variants() -> None:
    for a, b in [("サイトウ", "サイドウ"), ("ヨシダ", "ヨシタ"), ("ショウ", "シヨウ"), ("ユーコ", "ユコ")]:
        assert normalise.fold_kana_one(a) == normalise.fold_kana_one(b)
    assert normalise.fold_kana_one("サトウ") != normalise.fold_kana_one("サイトウ")


def test_fold_kana_is_idempotent_and_leaves_only_large_unvoiced_kana() -> None:
    every = "".join(chr(cp) for cp in range(0x30A1, 0x30FB)) + "ー"
    once = normalise.fold_kana_one(every)
    assert normalise.fold_kana_one(once) == once
    assert not set(once) & set("ガパヴァッャヮヵヶヲヰヱーヂヅ")
    assert all(unicodedata.normalize("NFD", c) == c for c in once)


def test_fold_kana_of_normalised_names_keeps_nulls() -> None:
    names = normalise.normalise_names(pa.array(["ｶﾞｯｺｰ", None, "がっこう", "ガッコウ"], pa.string()))
    assert normalise.fold_kana(names).to_pylist() == ["カツコ", None, "カツコウ", "カツコウ"]
    chunked = pa.chunked_array([["ガ"], [None]], pa.string())
    assert normalise.fold_kana(chunked).to_pylist() == ["カ", None]


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    "address",
    [
        "東京都港区芝一丁目二番三号",
        "東京都港区芝1-2-3",
        "東京都港区芝１丁目２番地３",
        "東京都港区芝1丁目2-3",
        "東京都港区芝１－２－３",
        "東京都港区芝1‐2‐3",  # U+2010
        "東京都港区芝1−2−3",  # U+2212 minus
        "東京都港区芝1–2—3",  # en and em dash
        "東京都港区芝1―2―3",  # U+2015 horizontal bar
        "東京都港区芝1ー2ー3",  # katakana long-vowel mark between digits
        "東京都港区芝1ｰ2ｰ3",  # half-width long-vowel mark
        "東京都港区芝1丁目2番3号",
        "東京都港区芝1丁目2番地3号",
        "東京都港区芝1丁目2番地の3",
        "東京都港区芝 1丁目 2-3",
        "東京都　港区　芝一丁目二－三",
        "東京都港区芝一丁目二番地三",
    ],
)
def test_address_block_forms_are_one_canonical_form(address: str) -> None:
    assert normalise.normalise_address(address) == "東京都港区芝1-2-3"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("六本木七丁目十一番二十三号", "六本木7-11-23"),
        ("赤坂九丁目三十一番地", "赤坂9-31"),
        ("三田三丁目", "三田3"),  # the 三 of 三田 stays a kanji
        ("六本木6-10-1", "六本木6-10-1"),
        ("芝浦二丁目百二番", "芝浦2-102"),
        ("二〇三番地", "203"),
        ("弐拾壱番地", "21"),
        ("千代田区一番町二十三番地", "千代田区一番町23"),  # a town name's 番 stays
        ("港区麻布十番一丁目二番三号", "港区麻布十番1-2-3"),
        ("港区麻布十番1-2-3", "港区麻布十番1-2-3"),
        ("大字山田字中島百二十三番地の四", "山田中島123-4"),
        ("〇〇村大字山田123番地", "〇〇村山田123"),
        ("〇〇町字中島5番地", "〇〇町中島5"),
        ("123の4", "123-4"),
        ("霞ヶ関1-1", "霞ケ関1-1"),
        ("霞が関一丁目一番", "霞ケ関1-1"),
        ("港区虎の門3-4-5", "港区虎ノ門3-4-5"),
        ("港区虎ノ門三丁目四番五号", "港区虎ノ門3-4-5"),
        ("東京都港區芝浦一丁目", "東京都港区芝浦1"),
        ("渡邊町1-2-3", "渡辺町1-2-3"),
        ("髙輪2-3-4", "高輪2-3-4"),
        ("芝1-2-3 ABC Bldg 4F", "芝1-2-3abcbldg4f"),
        ("芝1-2-3　ザ・タワー1203号室", "芝1-2-3ザタワー1203号室"),  # 号室 stays
        ("", ""),
    ],
)
def test_address_forms(address: str, expected: str) -> None:
    assert normalise.normalise_address(address) == expected


def test_addresses_vectorised_with_nulls_and_chunks() -> None:
    values = pa.chunked_array([["一丁目二番三号", None], ["1-2-3", "", None]], pa.string())
    assert normalise.normalise_addresses(values).to_pylist() == ["1-2-3", None, "1-2-3", "", None]
    assert normalise.normalise_addresses(pa.array([], pa.string())).to_pylist() == []


def test_generated_addresses_normalise_to_the_canonical_form() -> None:
    """The synthetic resident feed writes 東京都港区<town><c>丁目<b>番<g>号[　<town><building><room>号室]."""
    plain, expected = [], []
    for town, chome, _ in _TOWNS:
        for c in (1, chome):
            for b, g in ((1, 1), (40, 30)):
                plain.append(f"東京都港区{town}{c}丁目{b}番{g}号")
                expected.append(f"東京都港区{town}{c}-{b}-{g}")
                kanji = "".join("〇一二三四五六七八九"[int(d)] for d in str(c))
                plain.append(f"東京都港区{town}{kanji}丁目{b}－{g}")
                expected.append(f"東京都港区{town}{c}-{b}-{g}")
    for building in _BUILDINGS:
        plain.append(f"東京都港区芝1丁目2番3号　芝{building}305号室")
        expected.append(f"東京都港区芝1-2-3芝{building.replace('・', '')}305号室")
    assert normalise.normalise_addresses(pa.array(plain, pa.string())).to_pylist() == expected


def test_address_scalar_agrees_with_vectorised() -> None:
    values = ["一丁目二番三号", "１－２－３", "大字山田字中島百二十三番地の四", "ＡＢＣ　ﾋﾞﾙ", "〇〇町"]
    assert normalise.normalise_addresses(pa.array(values, pa.string())).to_pylist() == [
        normalise.normalise_address(v) for v in values
    ]
