"""Deterministic synthetic municipality for the resident-registry change-diff feed (住民記録異動データ).

`synthesize` invents the residents of Minato City (港区, municipality code 131032) and writes the
nightly ``JUKI_DIFF_YYYYMMDD.csv`` files a resident-registry system would deliver, together with a
truth set: the expected outcome of every row and the expected final registry state.

Only generated people appear; names are drawn from frequency-weighted vocabularies and My Numbers
are random bodies with a correct check digit. Everything is column-oriented (numpy arrays for the
registry, pyarrow compute for the text), so one million persons generate in seconds. The same
arguments always give byte-identical files.

Dirt is added as *extra* rows, each with exactly one fault, so the clean event stream and the
final registry state are the same with ``dirt=False``; a fault copy of an event precedes the clean
original (a re-send after a fix), so no quarantined row changes what later rows are judged against.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vaxreg.identity.validators import my_number_check_digit, my_number_valid_mask

__all__ = [
    "FEED_COLUMNS",
    "FEED_HEADER",
    "MUNICIPALITY_CODE",
    "REASONS",
    "synthesize",
]

MUNICIPALITY_CODE = "131032"
FEED_HEADER = (
    "seq,atena_no,kojin_no,event_code,event_date,notified_date,name_kanji,name_kana,name_alpha,"
    "birth_date,sex,household_no,relationship,householder_name,address,address_date,resident_since,"
    "resident_class,foreign_resident_since,removed_date"
)
FEED_COLUMNS = tuple(FEED_HEADER.split(","))
TRUTH_ROWS_HEADER = "file,seq,atena_no,outcome,reason"
TRUTH_PERSONS_HEADER = "atena_no,status,name_kana,birth_date,sex,removed_date"

# Reason codes a dirty row must be quarantined with (``duplicate`` is an outcome, not a reason).
FIELD_REASONS = (
    "kojin_no_check_digit",
    "event_date_invalid",
    "birth_date_invalid",
    "birth_date_after_event",
    "sex_invalid",
    "atena_no_format",
    "event_code_unknown",
    "name_kana_not_katakana",
    "address_missing",
    "event_date_after_file_date",
)
STATE_REASONS = ("person_deceased", "person_not_resident", "not_moved_out")
REASONS = ("unknown_person", *FIELD_REASONS, *STATE_REASONS)
DUPLICATE = "duplicate"

# Registry status codes and their names in truth/persons.csv.
_UNKNOWN, _RESIDENT, _MOVED_OUT, _DECEASED, _REMOVED = 0, 1, 2, 3, 4
_STATUS_NAMES = ("", "resident", "moved_out", "deceased", "removed")

# Relationship to the householder (続柄).
_REL_NAMES = ("世帯主", "妻", "夫", "子", "父", "母")
_HEAD, _WIFE, _HUSBAND, _CHILD, _FATHER, _MOTHER = range(6)

_EPOCH = dt.date(1970, 1, 1)
_NO_DATE = -(2**31)  # blank date (day numbers before 1970 are negative, so not -1)
_FOREIGN_RESIDENT_LAW = (dt.date(2012, 7, 9) - _EPOCH).days  # foreigners became 住民 on this day
_COHORT_MID = (dt.date(1960, 1, 1) - _EPOCH).days
_COHORT_YOUNG = (dt.date(1990, 1, 1) - _EPOCH).days

_INITIAL_DIRT_RATE = 0.005
_NIGHTLY_DIRT_RATE = 0.015
_MY_NUMBER_SHARE = 0.70
_HALF_WIDTH_SHARE = 0.01
_OLD_FORM_SHARE = 0.02
_FOREIGN_SHARE = 0.03
_CHUNK = 1 << 18

# Nightly event mix (event code → share of the night's clean rows).
_MIX = {
    30: 0.30,
    20: 0.15,
    10: 0.15,
    11: 0.08,
    21: 0.08,
    31: 0.05,
    32: 0.08,
    33: 0.04,
    40: 0.02,
    23: 0.02,
    22: 0.01,
    13: 0.02,
}

Block = dict[str, np.ndarray]

# --------------------------------------------------------------------------- vocabularies

# Japanese family names: kanji, reading, relative frequency. Repeated kanji are other readings.
_JP_FAMILY = """
佐藤 サトウ 1870|鈴木 スズキ 1790|高橋 タカハシ 1410|田中 タナカ 1340|伊藤 イトウ 1080|渡辺 ワタナベ 1070
山本 ヤマモト 1070|中村 ナカムラ 1050|小林 コバヤシ 1040|加藤 カトウ 890|吉田 ヨシダ 840|山田 ヤマダ 820
佐々木 ササキ 680|山口 ヤマグチ 640|松本 マツモト 630|井上 イノウエ 610|木村 キムラ 580|林 ハヤシ 550
斎藤 サイトウ 550|清水 シミズ 540|山崎 ヤマザキ 450|山崎 ヤマサキ 40|森 モリ 460|池田 イケダ 440
橋本 ハシモト 440|阿部 アベ 440|石川 イシカワ 430|山下 ヤマシタ 420|中島 ナカジマ 380|中島 ナカシマ 30
石井 イシイ 400|小川 オガワ 400|前田 マエダ 390|岡田 オカダ 390|長谷川 ハセガワ 390|藤田 フジタ 380
後藤 ゴトウ 370|近藤 コンドウ 370|村上 ムラカミ 360|遠藤 エンドウ 340|青木 アオキ 340|坂本 サカモト 330
斉藤 サイトウ 330|福田 フクダ 320|太田 オオタ 320|西村 ニシムラ 320|藤井 フジイ 310|金子 カネコ 300
岡本 オカモト 300|藤原 フジワラ 300|中野 ナカノ 300|三浦 ミウラ 290|原田 ハラダ 290|中川 ナカガワ 290
松田 マツダ 290|竹内 タケウチ 280|小野 オノ 280|田村 タムラ 280|中山 ナカヤマ 270|和田 ワダ 270
石田 イシダ 270|森田 モリタ 260|上田 ウエダ 260|原 ハラ 260|内田 ウチダ 250|柴田 シバタ 250
酒井 サカイ 250|宮崎 ミヤザキ 250|横山 ヨコヤマ 250|高木 タカギ 240|安藤 アンドウ 240|宮本 ミヤモト 240
大野 オオノ 240|小島 コジマ 220|小島 オジマ 10|谷口 タニグチ 230|今井 イマイ 230|工藤 クドウ 230
高田 タカダ 220|増田 マスダ 220|丸山 マルヤマ 220|杉山 スギヤマ 220|村田 ムラタ 220|大塚 オオツカ 220
小山 コヤマ 210|藤本 フジモト 210|平野 ヒラノ 210|新井 アライ 210|河野 コウノ 160|河野 カワノ 40
上野 ウエノ 200|野口 ノグチ 200|武田 タケダ 200|松井 マツイ 200|千葉 チバ 200|岩崎 イワサキ 190
菅原 スガワラ 190|木下 キノシタ 190|久保 クボ 190|佐野 サノ 190|野村 ノムラ 190|松尾 マツオ 190
市川 イチカワ 190|菊地 キクチ 180|杉本 スギモト 180|古川 フルカワ 180|大西 オオニシ 180|島田 シマダ 180
水野 ミズノ 180|桜井 サクライ 170|高野 タカノ 170|渡部 ワタナベ 170|吉川 ヨシカワ 150|吉川 キッカワ 20
山内 ヤマウチ 170|西田 ニシダ 170|飯田 イイダ 170|菊池 キクチ 170|西川 ニシカワ 160|小松 コマツ 160
北村 キタムラ 160|安田 ヤスダ 160|五十嵐 イガラシ 160|川口 カワグチ 160|平田 ヒラタ 160|関 セキ 160
中田 ナカタ 120|中田 ナカダ 40|久保田 クボタ 150|服部 ハットリ 150|東 ヒガシ 110|東 アズマ 40
岩田 イワタ 150|土屋 ツチヤ 150|川崎 カワサキ 150|福島 フクシマ 150|本田 ホンダ 150|辻 ツジ 150
樋口 ヒグチ 140|秋山 アキヤマ 140|田口 タグチ 140|永井 ナガイ 140|山中 ヤマナカ 140|中西 ナカニシ 140
吉村 ヨシムラ 140|川上 カワカミ 140|石原 イシハラ 140|大橋 オオハシ 140|松岡 マツオカ 140|馬場 ババ 140
浅野 アサノ 130|荒木 アラキ 130|大久保 オオクボ 130|野田 ノダ 130|小池 コイケ 130|田辺 タナベ 130
松下 マツシタ 130|菅野 カンノ 90|菅野 スガノ 40|荒井 アライ 130|熊谷 クマガイ 130|小泉 コイズミ 100
浜田 ハマダ 100|徳永 トクナガ 60|沢田 サワダ 90|南 ミナミ 90|上村 ウエムラ 70|上村 カミムラ 40
角田 カクタ 30|角田 ツノダ 30|新田 ニッタ 40|神田 カンダ 50|神田 コウダ 15|長田 ナガタ 40
長田 オサダ 20|三宅 ミヤケ 110|大島 オオシマ 120|片山 カタヤマ 110|星野 ホシノ 120|望月 モチヅキ 100
矢野 ヤノ 120|堀 ホリ 100|大谷 オオタニ 100|本間 ホンマ 90|関口 セキグチ 100|須藤 スドウ 100
早川 ハヤカワ 90|宮下 ミヤシタ 90|桑原 クワハラ 90|横田 ヨコタ 100|岡崎 オカザキ 100|高山 タカヤマ 90
"""

# Old-form kanji (旧字体・異体字) of some family names: variant → ordinary form. These are valid data.
_FAMILY_VARIANTS = """
髙橋:高橋 山﨑:山崎 渡邊:渡辺 渡邉:渡辺 齋藤:斎藤
齊藤:斉藤 濵田:浜田 德永:徳永 澤田:沢田 𠮷田:吉田
"""

# Japanese given names: cohort (o <1960, m 1960–89, y 1990–), sex, kanji, reading, frequency.
_JP_GIVEN = """
o 1 清 キヨシ 30|o 1 茂 シゲル 25|o 1 博 ヒロシ 28|o 1 実 ミノル 20|o 1 勇 イサム 20|o 1 進 ススム 18
o 1 弘 ヒロシ 15|o 1 正 タダシ 18|o 1 正 マサシ 2|o 1 武 タケシ 15|o 1 昭 アキラ 15|o 1 修 オサム 12
o 1 隆 タカシ 14|o 1 和夫 カズオ 16|o 1 正男 マサオ 14|o 1 三郎 サブロウ 10|o 1 健一 ケンイチ 10
o 1 勝 マサル 12|o 1 豊 ユタカ 12|o 1 幸雄 ユキオ 10|o 1 功 イサオ 8
o 2 和子 カズコ 30|o 2 幸子 サチコ 28|o 2 幸子 ユキコ 4|o 2 節子 セツコ 20|o 2 洋子 ヨウコ 22
o 2 京子 キョウコ 18|o 2 恵子 ケイコ 22|o 2 美智子 ミチコ 18|o 2 久子 ヒサコ 12|o 2 悦子 エツコ 12
o 2 弘子 ヒロコ 14|o 2 順子 ジュンコ 15|o 2 道子 ミチコ 12|o 2 文子 フミコ 10|o 2 富子 トミコ 8
o 2 栄子 エイコ 10|o 2 照子 テルコ 8|o 2 千代子 チヨコ 7|o 2 静子 シズコ 8|o 2 君子 キミコ 8
m 1 誠 マコト 25|m 1 大輔 ダイスケ 22|m 1 拓也 タクヤ 18|m 1 直樹 ナオキ 18|m 1 健太 ケンタ 15
m 1 浩 ヒロシ 15|m 1 哲也 テツヤ 14|m 1 剛 ツヨシ 12|m 1 学 マナブ 10|m 1 達也 タツヤ 14
m 1 和也 カズヤ 14|m 1 翔太 ショウタ 10|m 1 大介 ダイスケ 14|m 1 隆之 タカユキ 8|m 1 雅人 マサト 9
m 1 秀樹 ヒデキ 10|m 1 聡 サトシ 14|m 1 聡 サトル 3|m 1 健二 ケンジ 10|m 1 亮 リョウ 10
m 1 浩二 コウジ 9|m 1 純一 ジュンイチ 8
m 2 裕子 ユウコ 22|m 2 裕子 ヒロコ 5|m 2 真由美 マユミ 18|m 2 智子 トモコ 20|m 2 久美子 クミコ 16
m 2 由美子 ユミコ 16|m 2 直美 ナオミ 14|m 2 恵美 エミ 12|m 2 恵美 メグミ 4|m 2 陽子 ヨウコ 12
m 2 愛 アイ 14|m 2 麻衣 マイ 10|m 2 美香 ミカ 12|m 2 さおり サオリ 8|m 2 香織 カオリ 12
m 2 綾 アヤ 8|m 2 舞 マイ 9|m 2 美穂 ミホ 12|m 2 友美 トモミ 9|m 2 純子 ジュンコ 10|m 2 奈美 ナミ 6
y 1 蓮 レン 25|y 1 陽翔 ハルト 24|y 1 陽翔 ヒナト 3|y 1 湊 ミナト 20|y 1 湊 ソウ 2|y 1 悠真 ユウマ 16
y 1 大翔 ヒロト 18|y 1 大翔 ハルト 4|y 1 蒼 アオイ 14|y 1 蒼 ソウ 4|y 1 樹 イツキ 16|y 1 悠人 ユウト 14
y 1 颯太 ソウタ 14|y 1 陽太 ヒナタ 12|y 1 翔 ショウ 10|y 1 大和 ヤマト 12|y 1 朝陽 アサヒ 12
y 1 律 リツ 10|y 1 碧 アオイ 9|y 1 拓海 タクミ 12|y 1 颯 ハヤテ 8|y 1 陸 リク 10|y 1 悠斗 ユウト 10
y 2 陽葵 ヒマリ 22|y 2 陽葵 ヒナタ 4|y 2 凛 リン 20|y 2 芽依 メイ 16|y 2 結菜 ユイナ 14|y 2 葵 アオイ 16
y 2 紬 ツムギ 14|y 2 澪 ミオ 10|y 2 結愛 ユア 14|y 2 結愛 ユイア 2|y 2 さくら サクラ 10|y 2 莉子 リコ 12
y 2 美咲 ミサキ 12|y 2 陽菜 ヒナ 14|y 2 花 ハナ 10|y 2 彩花 アヤカ 10|y 2 美結 ミユ 8|y 2 杏 アン 9
y 2 心春 コハル 10|y 2 咲良 サクラ 8|y 2 ひなた ヒナタ 6|y 2 楓 カエデ 10
"""

# Foreign family names: group, name as written (- = katakana reading), reading, alphabet, frequency.
_FOREIGN_FAMILY = """
cn 王 ワン WANG 10|cn 李 リ LI 10|cn 張 チャン ZHANG 9|cn 劉 リュウ LIU 8|cn 陳 チン CHEN 8|cn 楊 ヤン YANG 6
cn 黄 コウ HUANG 5|cn 趙 チョウ ZHAO 5|cn 周 シュウ ZHOU 4|cn 呉 ゴ WU 4
kr 金 キム KIM 10|kr 李 イ LEE 7|kr 朴 パク PARK 7|kr 崔 チェ CHOI 4|kr 鄭 チョン JUNG 4|kr 姜 カン KANG 3
west - スミス SMITH 8|west - ジョンソン JOHNSON 6|west - ウィリアムズ WILLIAMS 6|west - ブラウン BROWN 6
west - ジョーンズ JONES 5|west - ミラー MILLER 5|west - デイビス DAVIS 5|west - ウィルソン WILSON 4
west - テイラー TAYLOR 4|west - マルタン MARTIN 4|west - ベルナール BERNARD 3|west - デュボワ DUBOIS 3
west - ミュラー MULLER 3|west - シュミット SCHMIDT 3|west - ロッシ ROSSI 2|west - オブライエン O'BRIEN 1
ph - サントス SANTOS 5|ph - レイエス REYES 4|ph - クルス CRUZ 4|ph - ガルシア GARCIA 3
vn - グエン NGUYEN 10|vn - チャン TRAN 5|vn - レ LE 3|vn - ファム PHAM 3
in - シャルマ SHARMA 5|in - パテル PATEL 5|in - シン SINGH 5|in - クマール KUMAR 3
"""

# Foreign given names: group, sex, name as written (- = reading), reading, alphabet (_ = space), frequency.
_FOREIGN_GIVEN = """
cn 1 偉 ウェイ WEI 10|cn 1 強 チャン QIANG 6|cn 1 磊 レイ LEI 6|cn 1 洋 ヤン YANG 5|cn 1 勇 ヨン YONG 5
cn 1 傑 ジエ JIE 5|cn 2 芳 ファン FANG 8|cn 2 娜 ナ NA 6|cn 2 敏 ミン MIN 6|cn 2 静 ジン JING 6
cn 2 麗 リー LI 5|cn 2 艶 イェン YAN 4
kr 1 民俊 ミンジュン MINJUN 8|kr 1 志勲 ジフン JIHOON 6|kr 1 賢宇 ヒョヌ HYUNWOO 5
kr 1 泰亨 テヒョン TAEHYUN 4
kr 2 瑞妍 ソヨン SEOYEON 8|kr 2 秀彬 スビン SUBIN 6|kr 2 敏書 ミンソ MINSEO 5|kr 2 智恩 ジウン JIEUN 5
west 1 - ジョン JOHN 8|west 1 - マイケル MICHAEL 7|west 1 - デイビッド DAVID 7|west 1 - ジェームズ JAMES 6
west 1 - トーマス THOMAS 5|west 1 - ピエール PIERRE 3|west 1 - ルーカス LUCAS 4
west 2 - エミリー EMILY 7|west 2 - サラ SARAH 7|west 2 - エマ EMMA 6|west 2 - オリビア OLIVIA 6
west 2 - ソフィー SOPHIE 4|west 2 - アンナ ANNA 5|west 2 - メアリー・アン MARY_ANN 3
ph 1 - ホセ JOSE 5|ph 1 - マーク MARK 5|ph 1 - ジョン・ポール JOHN_PAUL 3
ph 2 - マリア MARIA 6|ph 2 - アンジェリカ ANGELICA 4|ph 2 - クリスティン KRISTINE 4
vn 1 - ヴァン・アン VAN_AN 5|vn 1 - ミン・ドゥック MINH_DUC 4|vn 1 - クアン QUANG 4
vn 2 - ティ・ラン THI_LAN 5|vn 2 - ティ・フオン THI_HUONG 4|vn 2 - ゴック・アン NGOC_ANH 4
in 1 - ラフル RAHUL 5|in 1 - アミット AMIT 5|in 1 - ヴィクラム VIKRAM 4
in 2 - プリヤ PRIYA 5|in 2 - アンジャリ ANJALI 4|in 2 - ディーピカ DEEPIKA 4
"""

_GROUPS = {"jp": 0, "o": 1, "m": 2, "y": 3, "cn": 10, "kr": 11, "west": 12, "ph": 13, "vn": 14, "in": 15}
_FOREIGN_GROUPS = np.array([10, 11, 12, 13, 14, 15], dtype=np.int8)
_FOREIGN_GROUP_P = np.array([0.30, 0.15, 0.35, 0.05, 0.05, 0.10])
_KANJI_NAMED_GROUPS = (10, 11)  # Chinese/Korean names are written in kanji; others in katakana

# Minato towns (町名): name, number of 丁目, relative population.
_TOWNS = (
    ("芝", 5, 8),
    ("芝浦", 4, 12),
    ("海岸", 3, 3),
    ("三田", 5, 7),
    ("高輪", 4, 9),
    ("白金", 6, 6),
    ("白金台", 5, 4),
    ("南麻布", 5, 5),
    ("元麻布", 3, 2),
    ("西麻布", 4, 2),
    ("六本木", 7, 5),
    ("赤坂", 9, 7),
    ("南青山", 7, 5),
    ("北青山", 3, 1),
    ("虎ノ門", 5, 2),
    ("新橋", 6, 2),
    ("台場", 2, 2),
    ("港南", 4, 10),
)
_BUILDINGS = (
    "パークハウス",
    "タワーレジデンス",
    "ハイツ",
    "コート",
    "レジデンス",
    "ガーデンヒルズ",
    "マンション",
    "ザ・タワー",
    "グランドメゾン",
    "テラス",
)


def _build_half_map() -> dict[str, str]:
    out: dict[str, str] = {}
    for cp in range(0xFF65, 0xFF9E):
        half = chr(cp)
        full = unicodedata.normalize("NFKC", half)
        if len(full) == 1:
            out.setdefault(full, half)
    out.update({"\u3099": "\uff9e", "\u309a": "\uff9f", "\u3000": " "})
    return out


_HALF_MAP = _build_half_map()


def _halfwidth(kana: str) -> str:
    """Full-width katakana → half-width (半角カナ), dakuten split off as the terminals do."""
    return "".join(_HALF_MAP.get(c, c) for c in unicodedata.normalize("NFD", kana))


@dataclass(frozen=True)
class _Names:
    """One name vocabulary (family or given) as arrays indexed by entry."""

    kanji: pa.Array
    kana: pa.Array
    kana_half: pa.Array
    alpha: pa.Array
    weight: np.ndarray  # sampling weight; 0 = only reached through `variant`
    group: np.ndarray  # _GROUPS code
    sex: np.ndarray  # 1/2 for given names, 0 for family names
    alt: np.ndarray  # same kanji, another reading (itself when none)
    variant: np.ndarray  # old-form ↔ ordinary counterpart (itself when none)
    var_first: np.ndarray  # first old-form variant of an ordinary entry, -1 when none
    var_count: np.ndarray
    katakana_written: np.ndarray  # name as written is katakana (Western etc.)

    def draw(self, rng: np.random.Generator, eligible: np.ndarray, k: int) -> np.ndarray:
        """k entries among `eligible` (bool mask) by frequency weight."""
        idx = np.flatnonzero(eligible & (self.weight > 0))
        cum = np.cumsum(self.weight[idx])
        pick = np.searchsorted(cum, rng.random(k) * cum[-1], side="right")
        return idx[np.minimum(pick, idx.size - 1)].astype(np.int32)


def _make_names(rows: list[tuple[str, str, str, float, int, int, str]]) -> _Names:
    """rows: (as written, reading, alphabet, weight, group, sex, ordinary form if old-form variant)."""
    n = len(rows)
    alt = np.arange(n, dtype=np.int32)
    variant = np.arange(n, dtype=np.int32)
    var_first = np.full(n, -1, dtype=np.int32)
    var_count = np.zeros(n, dtype=np.int32)
    by_kanji: dict[tuple[str, int], list[int]] = {}
    for i, (kanji, _kana, _alpha, _w, group, sex, base) in enumerate(rows):
        if not base:
            by_kanji.setdefault((kanji, group * 4 + sex), []).append(i)
    for same in by_kanji.values():
        for j, i in enumerate(same):
            alt[i] = same[(j + 1) % len(same)]
    for i, (_kanji, kana, _alpha, _w, group, sex, base) in enumerate(rows):
        if base:
            b = by_kanji[(base, group * 4 + sex)][0]
            if rows[b][1] != kana:
                raise ValueError(f"variant {rows[i][0]} reads differently from {base}")
            variant[i] = b
            if var_first[b] < 0:
                var_first[b] = i
                variant[b] = i
            var_count[b] += 1
    return _Names(
        kanji=pa.array([r[0] for r in rows], pa.string()),
        kana=pa.array([r[1] for r in rows], pa.string()),
        kana_half=pa.array([_halfwidth(r[1]) for r in rows], pa.string()),
        alpha=pa.array([r[2] for r in rows], pa.string()),
        weight=np.array([r[3] for r in rows], dtype=np.float64),
        group=np.array([r[4] for r in rows], dtype=np.int8),
        sex=np.array([r[5] for r in rows], dtype=np.int8),
        alt=alt,
        variant=variant,
        var_first=var_first,
        var_count=var_count,
        katakana_written=np.array([r[0] == r[1] for r in rows], dtype=bool),
    )


def _records(text: str) -> Iterator[list[str]]:
    for line in text.strip().splitlines():
        for rec in line.split("|"):
            if rec.strip():
                yield rec.split()


@dataclass(frozen=True)
class _Vocab:
    fam: _Names
    giv: _Names
    p_old_form: float  # chance that a family with an old-form variant is written with it


@functools.lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    fam_rows: list[tuple[str, str, str, float, int, int, str]] = []
    for kanji, kana, w in _records(_JP_FAMILY):
        fam_rows.append((kanji, kana, "", float(w), 0, 0, ""))
    for group, kanji, kana, alpha, w in _records(_FOREIGN_FAMILY):
        fam_rows.append((kana if kanji == "-" else kanji, kana, alpha, float(w), _GROUPS[group], 0, ""))
    readings: dict[str, str] = {}
    for r in fam_rows:
        if r[4] == 0:
            readings.setdefault(r[0], r[1])
    for pair in _FAMILY_VARIANTS.split():
        old, base = pair.split(":")
        fam_rows.append((old, readings[base], "", 0.0, 0, 0, base))
    giv_rows: list[tuple[str, str, str, float, int, int, str]] = []
    for cohort, sex, kanji, kana, w in _records(_JP_GIVEN):
        giv_rows.append((kanji, kana, "", float(w), _GROUPS[cohort], int(sex), ""))
    for group, sex, kanji, kana, alpha, w in _records(_FOREIGN_GIVEN):
        written = kana if kanji == "-" else kanji
        giv_rows.append((written, kana, alpha.replace("_", " "), float(w), _GROUPS[group], int(sex), ""))
    fam = _make_names(fam_rows)
    giv = _make_names(giv_rows)
    jp = fam.group == 0
    eligible = float(fam.weight[jp & (fam.var_count > 0)].sum()) / float(fam.weight[jp].sum())
    return _Vocab(fam=fam, giv=giv, p_old_form=min(0.6, _OLD_FORM_SHARE / eligible))


def _town_tables() -> tuple[pa.Array, np.ndarray, np.ndarray]:
    names = pa.array([t[0] for t in _TOWNS], pa.string())
    chome = np.array([t[1] for t in _TOWNS], dtype=np.int64)
    weight = np.array([t[2] for t in _TOWNS], dtype=np.float64)
    return names, chome, weight / weight.sum()


# --------------------------------------------------------------------------- small helpers


def _day(d: dt.date) -> int:
    return (d - _EPOCH).days


def _iso(day: int) -> str:
    return (_EPOCH + dt.timedelta(days=int(day))).isoformat()


def _choose(rng: np.random.Generator, idx: np.ndarray, k: int, w: np.ndarray | None = None) -> np.ndarray:
    """k distinct items of `idx` (weighted without replacement when `w` is given)."""
    k = int(min(k, idx.size))
    if k <= 0:
        return idx[:0]
    if w is None:
        return idx[rng.choice(idx.size, size=k, replace=False)]
    keys = np.log(rng.random(idx.size)) / np.maximum(w, 1e-12)
    top = np.argpartition(-keys, k - 1)[:k]
    return idx[top[np.argsort(-keys[top], kind="stable")]]


def _check_digits(body: np.ndarray) -> np.ndarray:
    """My Number check digits of 11-digit bodies (same rule as `vaxreg.identity`)."""
    rest = body.astype(np.int64)
    total = np.zeros_like(rest)
    for n in range(1, 12):  # P1 is the rightmost body digit; Q = n+1 (n ≤ 6) else n-5
        total += (rest % 10) * (n + 1 if n <= 6 else n - 5)
        rest = rest // 10
    r = total % 11
    return np.where(r <= 1, 0, 11 - r)


def _my_numbers(serial: np.ndarray, mult: int, add: int) -> np.ndarray:
    """Distinct valid My Numbers (個人番号) as int64: an affine bijection of the serial + check digit."""
    body = (serial.astype(np.int64) * mult + add) % 10**11
    return body * 10 + _check_digits(body)


def _random_address(rng: np.random.Generator, k: int) -> Block:
    _names, chome, p = _town_tables()
    town = rng.choice(len(_TOWNS), size=k, p=p).astype(np.int8)
    has_bldg = rng.random(k) < 0.6
    floor = np.minimum(1 + rng.geometric(0.12, size=k), 45)
    return {
        "town": town,
        "chome": (1 + np.floor(rng.random(k) * chome[town])).astype(np.int8),
        "banchi": rng.integers(1, 41, size=k).astype(np.int16),
        "go": rng.integers(1, 31, size=k).astype(np.int16),
        "bldg": np.where(has_bldg, rng.integers(0, len(_BUILDINGS), size=k), -1).astype(np.int16),
        "room": (floor * 100 + rng.integers(1, 16, size=k)).astype(np.int16),
    }


_ADDRESS_FIELDS = ("town", "chome", "banchi", "go", "bldg", "room")


def _cohort(birth: np.ndarray) -> np.ndarray:
    return np.where(birth < _COHORT_MID, 1, np.where(birth < _COHORT_YOUNG, 2, 3)).astype(np.int8)


def _draw_given(rng: np.random.Generator, v: _Vocab, group: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Given names for persons of name group (cohort 1–3 or foreign group) and sex."""
    out = np.zeros(group.size, dtype=np.int32)
    key = group.astype(np.int32) * 4 + sex
    for kv in np.unique(key):
        m = key == kv
        out[m] = v.giv.draw(rng, (v.giv.group == kv // 4) & (v.giv.sex == kv % 4), int(m.sum()))
    return out


def _draw_jp_family(rng: np.random.Generator, v: _Vocab, k: int) -> np.ndarray:
    fam = v.fam.draw(rng, v.fam.group == 0, k)
    old = (v.fam.var_first[fam] >= 0) & (rng.random(k) < v.p_old_form)
    nth = np.floor(rng.random(k) * np.maximum(v.fam.var_count[fam], 1)).astype(np.int32)
    pick = v.fam.var_first[fam] + nth
    return np.where(old, pick, fam).astype(np.int32)


# --------------------------------------------------------------------------- the registry


_PERSON_FIELDS: dict[str, tuple[type, int]] = {
    "kojin": (np.int64, -1),
    "fam": (np.int32, 0),
    "giv": (np.int32, 0),
    "half": (np.bool_, 0),
    "cls": (np.int8, 1),
    "birth": (np.int32, 0),
    "sex": (np.int8, 1),
    "hh": (np.int32, -1),
    "rel": (np.int8, 0),
    "town": (np.int8, 0),
    "chome": (np.int8, 1),
    "banchi": (np.int16, 1),
    "go": (np.int16, 1),
    "bldg": (np.int16, -1),
    "room": (np.int16, 101),
    "addr_date": (np.int32, 0),
    "res_since": (np.int32, 0),
    "frs": (np.int32, _NO_DATE),
    "status": (np.int8, _UNKNOWN),
    "removed": (np.int32, _NO_DATE),
    "last_ev": (np.int32, 0),
    "out_night": (np.int16, -1),
}
_SNAP_FIELDS = (
    "kojin",
    "fam",
    "giv",
    "half",
    "cls",
    "birth",
    "sex",
    "rel",
    "town",
    "chome",
    "banchi",
    "go",
    "bldg",
    "room",
    "addr_date",
    "res_since",
    "frs",
)


class _Registry:
    """Column store of every generated person and household (no per-person Python objects)."""

    def __init__(self, rng: np.random.Generator, cap: int, hcap: int) -> None:
        steps = rng.integers(1, 8, size=cap)
        self.atena = int(rng.integers(1_000_000, 20_000_000)) + np.cumsum(steps)  # 10 digits, leading 0s
        gaps = self.atena[steps >= 2] - 1  # numbers that are never assigned
        self.gaps = gaps[rng.permutation(gaps.size)]
        self.gap_next = 0
        self.hh_no = int(rng.integers(100_000_000, 300_000_000)) + np.cumsum(rng.integers(1, 5, size=hcap))
        self.hh_head = np.full(hcap, -1, dtype=np.int32)
        mult = int(rng.integers(10**10, 10**11))
        while mult % 2 == 0 or mult % 5 == 0:
            mult += 1
        self.my_mult, self.my_add = mult, int(rng.integers(0, 10**11))
        self.c: Block = {k: np.full(cap, d, dtype=t) for k, (t, d) in _PERSON_FIELDS.items()}
        self.n = 0
        self.nh = 0

    def alloc(self, k: int) -> np.ndarray:
        if self.n + k > self.atena.size:
            raise RuntimeError("person capacity exceeded")
        self.n += k
        return np.arange(self.n - k, self.n, dtype=np.int64)

    def alloc_hh(self, k: int) -> np.ndarray:
        if self.nh + k > self.hh_no.size:
            raise RuntimeError("household capacity exceeded")
        self.nh += k
        return np.arange(self.nh - k, self.nh, dtype=np.int64)

    def put(self, pids: np.ndarray, values: Block) -> None:
        for k, arr in values.items():
            if k in self.c:
                self.c[k][pids] = arr

    def assign_my_numbers(self, rng: np.random.Generator, pids: np.ndarray) -> None:
        """About 70% of persons carry a My Number; each is checked against `vaxreg.identity`."""
        has = rng.random(pids.size) < _MY_NUMBER_SHARE
        numbers = _my_numbers(pids[has], self.my_mult, self.my_add)
        if not my_number_valid_mask(_zpad(numbers, 12)).all():
            raise AssertionError("generated My Number fails vaxreg.identity")
        self.c["kojin"][pids] = -1
        self.c["kojin"][pids[has]] = numbers

    def take_gaps(self, k: int) -> np.ndarray:
        out = self.gaps[self.gap_next : self.gap_next + k]
        self.gap_next += out.size
        return out

    def snapshot(self, pids: np.ndarray, code: np.ndarray | int, ev: np.ndarray, notif: np.ndarray) -> Block:
        """Rows showing the persons' full current state (plus the event) — no state change."""
        c = self.c
        b: Block = {k: c[k][pids].copy() for k in _SNAP_FIELDS}
        hh = c["hh"][pids]
        head = self.hh_head[hh]
        code_arr = np.broadcast_to(np.asarray(code, dtype=np.int16), pids.shape).copy()
        b.update(
            pid=pids.astype(np.int64),
            atena=self.atena[pids],
            hh_no=self.hh_no[hh],
            head_fam=c["fam"][head],
            head_giv=c["giv"][head],
            code=code_arr,
            ev=ev.astype(np.int32),
            notif=notif.astype(np.int32),
            row_removed=np.where((code_arr >= 20) & (code_arr <= 23), ev, _NO_DATE).astype(np.int32),
        )
        return b


def _concat(blocks: list[Block]) -> Block:
    return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}


def _take(b: Block, idx: np.ndarray) -> Block:
    return {k: v[idx] for k, v in b.items()}


# --------------------------------------------------------------------------- population


def _household_sizes(rng: np.random.Generator, persons: int, p: list[float]) -> np.ndarray:
    """Household sizes (1..len(p)) summing exactly to `persons`."""
    mean = sum((i + 1) * q for i, q in enumerate(p))
    sizes = rng.choice(len(p), size=int(persons / mean * 1.2) + 8, p=p) + 1
    cs = np.cumsum(sizes)
    n_hh = int(np.searchsorted(cs, persons)) + 1
    sizes = sizes[:n_hh].copy()
    sizes[-1] -= int(cs[n_hh - 1]) - persons
    return sizes


def _people(
    rng: np.random.Generator, v: _Vocab, sizes: np.ndarray, ref: np.ndarray, foreign_share: float
) -> tuple[Block, Block]:
    """Members of new households (relationship, sex, birth, names, address); ref = day per household."""
    n_hh = sizes.size
    n = int(sizes.sum())
    hl = np.repeat(np.arange(n_hh), sizes)
    pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    single = sizes == 1
    u_hh = rng.random(n_hh)
    head_male = np.where(single, u_hh < 0.5, u_hh < 0.82)
    mix = rng.random(n_hh)
    elderly = np.minimum(65 + rng.exponential(10, n_hh), 101)
    head_age = np.where(
        single,
        np.where(
            mix < 0.55, rng.uniform(20, 40, n_hh), np.where(mix < 0.8, rng.uniform(40, 65, n_hh), elderly)
        ),
        rng.uniform(27, 76, n_hh),
    )
    u = rng.random(n)
    is_head = pos == 0
    is_spouse = (pos == 1) & (u < 0.8)
    is_parent = ~is_head & ~is_spouse & (u > 0.93) & (head_age[hl] < 62)
    ha, hm = head_age[hl], head_male[hl]
    sex = np.where(rng.random(n) < 0.5, 1, 2).astype(np.int8)
    sex = np.where(is_head, np.where(hm, 1, 2), np.where(is_spouse, np.where(hm, 2, 1), sex)).astype(np.int8)
    rel = np.full(n, _CHILD, dtype=np.int8)
    rel[is_head] = _HEAD
    rel[is_spouse] = np.where(hm[is_spouse], _WIFE, _HUSBAND)
    rel[is_parent] = np.where(sex[is_parent] == 1, _FATHER, _MOTHER)
    age = np.where(is_head, ha, 0.0)
    age = np.where(is_spouse, np.clip(ha + rng.normal(0, 3, n) + np.where(hm, -2, 2), 18, 100), age)
    age = np.where(is_parent, np.minimum(ha + rng.uniform(24, 34, n), 100), age)
    child = rel == _CHILD
    age = np.where(child, rng.random(n) * np.clip(ha - 19, 0.1, 40), age)
    age_days = np.maximum(1, (age * 365.25).astype(np.int64))
    birth = (ref[hl] - age_days).astype(np.int32)

    foreign_hh = rng.random(n_hh) < foreign_share
    group_hh = np.where(foreign_hh, rng.choice(_FOREIGN_GROUPS, size=n_hh, p=_FOREIGN_GROUP_P), 0)
    fam_hh = _draw_jp_family(rng, v, n_hh)
    for g in _FOREIGN_GROUPS:
        m = group_hh == g
        fam_hh[m] = v.fam.draw(rng, v.fam.group == g, int(m.sum()))
    group = group_hh[hl]
    giv = _draw_given(rng, v, np.where(group == 0, _cohort(birth), group).astype(np.int8), sex)
    addr = _random_address(rng, n_hh)
    people: Block = {
        "hl": hl,
        "pos": pos,
        "rel": rel,
        "sex": sex,
        "birth": birth,
        "fam": fam_hh[hl],
        "giv": giv,
        "half": rng.random(n) < _HALF_WIDTH_SHARE,
        "cls": np.where(group == 0, 1, 2).astype(np.int8),
    }
    people.update({k: a[hl] for k, a in addr.items()})
    return people, {"head_age": head_age, "foreign": foreign_hh}


def _initial(reg: _Registry, v: _Vocab, rng: np.random.Generator, persons: int, start: int) -> Block:
    """Initial load: everybody enters with 10 (move-in), 11 (birth ≤30 days ago) or 12 (record entry)."""
    sizes = _household_sizes(rng, persons, [0.48, 0.25, 0.14, 0.10, 0.03])
    n_hh = sizes.size
    p, h = _people(rng, v, sizes, np.full(n_hh, start, dtype=np.int64), _FOREIGN_SHARE)
    pids = reg.alloc(persons)
    hids = reg.alloc_hh(n_hh)
    reg.hh_head[hids] = pids[p["pos"] == 0]
    years = np.clip(h["head_age"] - 18, 0.5, 45)
    years = np.where(h["foreign"], np.minimum(years, 12), years)
    res_hh = start - (rng.random(n_hh) * years * 365.25).astype(np.int64)
    moved = rng.random(n_hh) < 0.3
    addr_hh = np.where(moved, res_hh + (rng.random(n_hh) * (start - res_hh)).astype(np.int64), res_hh)
    hl, birth = p["hl"], p["birth"]
    res = np.maximum(res_hh[hl], birth).astype(np.int32)
    addr = np.maximum(addr_hh[hl], birth).astype(np.int32)
    code = np.where(addr > res, 12, np.where(res == birth, np.where(start - birth <= 30, 11, 12), 10))
    notif = np.minimum(addr + rng.integers(0, 15, size=persons), start)
    reg.put(pids, {k: p[k] for k in p if k not in ("hl", "pos")})
    reg.put(
        pids,
        {
            "hh": hids[hl].astype(np.int32),
            "addr_date": addr,
            "res_since": res,
            "frs": np.where(p["cls"] == 2, np.maximum(res, _FOREIGN_RESIDENT_LAW), _NO_DATE).astype(np.int32),
            "status": np.full(persons, _RESIDENT, dtype=np.int8),
            "last_ev": addr,
        },
    )
    reg.assign_my_numbers(rng, pids)
    b = reg.snapshot(pids, code.astype(np.int16), addr, notif)
    return b


# --------------------------------------------------------------------------- one night


class _Night:
    """Plans and applies one night of clean events; every event row snapshots the person after it."""

    def __init__(self, reg: _Registry, v: _Vocab, rng: np.random.Generator, night: int, day: int) -> None:
        self.reg, self.v, self.rng, self.night, self.day = reg, v, rng, night, day
        self.used = np.zeros(reg.atena.size, dtype=bool)
        self.blocks: list[Block] = []
        self.groups = 0

    # -- helpers
    def new_groups(self, k: int) -> np.ndarray:
        self.groups += k
        return np.arange(self.groups - k, self.groups, dtype=np.int64)

    @property
    def c(self) -> Block:
        return self.reg.c

    def resident(self) -> np.ndarray:
        return self.c["status"][: self.reg.n] == _RESIDENT

    def free(self) -> np.ndarray:
        return self.resident() & ~self.used[: self.reg.n]

    def age(self) -> np.ndarray:
        return (self.day - self.c["birth"][: self.reg.n]) / 365.25

    def hh_count(self) -> np.ndarray:
        res = self.resident()
        return np.bincount(self.c["hh"][: self.reg.n][res], minlength=self.reg.nh)

    def solo(self) -> np.ndarray:
        """Free persons whose leaving does not orphan a household (not head of a multi-person one)."""
        cnt = self.hh_count()
        c, n = self.c, self.reg.n
        return self.free() & ~((c["rel"][:n] == _HEAD) & (cnt[c["hh"][:n]] > 1))

    def dates(self, pids: np.ndarray, lo: int, hi: int) -> np.ndarray:
        ev = self.day - self.rng.integers(lo, hi + 1, size=pids.size)
        return np.maximum(np.maximum(ev, self.c["last_ev"][pids]), self.c["birth"][pids]).astype(np.int32)

    def emit(
        self,
        pids: np.ndarray,
        code: int,
        ev: np.ndarray,
        groups: np.ndarray,
        step: int,
        sub: np.ndarray | None = None,
    ) -> None:
        notif = ev + np.floor(self.rng.random(pids.size) * (self.day - ev + 1)).astype(np.int32)
        self.c["last_ev"][pids] = ev
        b = self.reg.snapshot(pids, code, ev, notif)
        b["group"] = groups
        b["step"] = np.full(pids.size, step, dtype=np.int16)
        b["sub"] = np.zeros(pids.size, dtype=np.int64) if sub is None else sub.astype(np.int64)
        self.blocks.append(b)

    def mark(self, *pid_arrays: np.ndarray) -> None:
        for a in pid_arrays:
            self.used[a] = True

    def pick(self, mask: np.ndarray, k: int, w: np.ndarray | None = None) -> np.ndarray:
        idx = np.flatnonzero(mask)
        chosen = _choose(self.rng, idx, k, None if w is None else w[idx])
        self.mark(chosen)
        return chosen

    def pick_households(self, target: int) -> tuple[np.ndarray, np.ndarray]:
        """Whole households (all resident members, none busy tonight) totalling `target` persons."""
        reg, c, n = self.reg, self.c, self.reg.n
        res = self.resident()
        hh = c["hh"][:n]
        cnt = np.bincount(hh[res], minlength=reg.nh)
        busy = np.bincount(hh[res & self.used[:n]], minlength=reg.nh)
        head = reg.hh_head[: reg.nh]
        ok = (cnt > 0) & (busy == 0) & (c["status"][head] == _RESIDENT) & (c["hh"][head] == np.arange(reg.nh))
        perm = self.rng.permutation(np.flatnonzero(ok))
        cs = np.cumsum(cnt[perm])
        take = perm[cs <= target]
        short = target - int(cnt[take].sum())
        if short > 0:
            rest = perm[cs > target]
            take = np.concatenate([take, rest[cnt[rest] == 1][:short]])
        chosen = np.zeros(reg.nh, dtype=bool)
        chosen[take] = True
        members = np.flatnonzero(res & chosen[hh])
        members = members[np.lexsort((c["rel"][members], hh[members]))]
        self.mark(members)
        return members, hh[members]

    # -- plans
    def run(self, counts: dict[int, int]) -> Block:
        c, rng = self.c, self.rng
        sink = 0

        # 40 move-out cancelled (転出取消): someone who moved out (20) on an earlier night.
        out_n = c["out_night"][: self.reg.n]
        moved_out = c["status"][: self.reg.n] == _MOVED_OUT
        p = self.pick(moved_out & (out_n >= 0) & (out_n < self.night), counts[40])
        sink += counts[40] - p.size
        c["status"][p], c["removed"][p], c["out_night"][p] = _RESIDENT, _NO_DATE, -1
        self.emit(p, 40, self.dates(p, 0, 3), self.new_groups(p.size), 0)

        # 13 nationality acquired (国籍取得): class 2 → 1; kanji-named persons take a Japanese name.
        p = self.pick(self.solo() & (c["cls"][: self.reg.n] == 2), counts[13])
        sink += counts[13] - p.size
        rename = np.isin(self.v.fam.group[c["fam"][p]], _KANJI_NAMED_GROUPS)
        q = p[rename]
        c["fam"][q] = _draw_jp_family(rng, self.v, q.size)
        c["giv"][q] = _draw_given(rng, self.v, _cohort(c["birth"][q]), c["sex"][q])
        c["cls"][p], c["frs"][p], c["half"][p] = 1, _NO_DATE, False
        self.emit(p, 13, self.dates(p, 0, 14), self.new_groups(p.size), 0)

        age = self.age()
        n30, n31, n32 = counts[30], counts[31], counts[32]
        # Marriage into a spouse's household: 30 (to the spouse's address) → 31 (name) → 32 (household).
        b = min(round(n31 * 0.4), n30, n32)
        jp = c["cls"][: self.reg.n] == 1
        sex = c["sex"][: self.reg.n]
        brides = self.pick(self.solo() & jp & (sex == 2) & (age >= 22) & (age <= 45), b)
        cnt = self.hh_count()
        grooms = self.pick(
            self.free()
            & jp
            & (sex == 1)
            & (c["rel"][: self.reg.n] == _HEAD)
            & (cnt[c["hh"][: self.reg.n]] == 1)
            & (age >= 25)
            & (age <= 60),
            brides.size,
        )
        brides = brides[: grooms.size]
        g = self.new_groups(brides.size)
        for k in _ADDRESS_FIELDS:
            c[k][brides] = c[k][grooms]
        ev = self.dates(brides, 0, 14)
        c["addr_date"][brides] = ev
        self.emit(brides, 30, ev, g, 0)
        c["fam"][brides] = c["fam"][grooms]
        self.emit(brides, 31, self.dates(brides, 0, 7), g, 1)
        c["hh"][brides], c["rel"][brides] = c["hh"][grooms], _WIFE
        self.emit(brides, 32, self.dates(brides, 0, 7), g, 2)
        n30, n31, n32 = n30 - brides.size, n31 - brides.size, n32 - brides.size

        # Leaving home within the ward: 30 (new address) → 32 (own household, 世帯主).
        a = min(round(n32 * 0.4), n30, n32)
        p = self.pick(self.free() & (c["rel"][: self.reg.n] != _HEAD) & (age >= 18) & (age <= 40), a)
        g = self.new_groups(p.size)
        self.move(p, g)
        self.split(p, g, 1)
        n30, n32 = n30 - p.size, n32 - p.size

        # 30 address change (転居) of whole households.
        members, hh = self.pick_households(n30)
        sink += n30 - members.size
        uniq, inv = np.unique(hh, return_inverse=True)
        g = self.new_groups(uniq.size)[inv]
        addr = _random_address(rng, uniq.size)
        for k in _ADDRESS_FIELDS:
            c[k][members] = addr[k][inv]
        ev_hh = self.day - rng.integers(0, 15, size=uniq.size)
        ev = np.maximum(np.maximum(ev_hh[inv], c["last_ev"][members]), c["birth"][members]).astype(np.int32)
        c["addr_date"][members] = ev
        self.emit(members, 30, ev, g, 0, sub=np.arange(members.size))

        # 20 move-out (転出): whole households, then individuals.
        members, hh = self.pick_households(round(counts[20] * 0.6))
        uniq, inv = np.unique(hh, return_inverse=True)
        g = self.new_groups(uniq.size)[inv]
        ev_hh = self.day - rng.integers(0, 15, size=uniq.size)
        ev = np.maximum(np.maximum(ev_hh[inv], c["last_ev"][members]), c["birth"][members]).astype(np.int32)
        self.leave(members, 20, ev, g, np.arange(members.size))
        w = np.where((age >= 18) & (age <= 40), 4.0, 1.0)
        p = self.pick(self.solo() & (age >= 16), counts[20] - members.size, w)
        sink += counts[20] - members.size - p.size
        self.leave(p, 20, self.dates(p, 0, 14), self.new_groups(p.size))

        # 21 death (死亡), mostly the old; 22 ex-officio removal (職権消除); 23 emigration (国外転出).
        p = self.pick(self.solo(), counts[21], np.exp(0.1 * (age - 85)))  # Gompertz-like mortality
        sink += counts[21] - p.size
        self.leave(p, 21, self.dates(p, 1, 7), self.new_groups(p.size))
        p = self.pick(self.solo() & (age >= 20) & (age <= 70), counts[22])
        sink += counts[22] - p.size
        self.leave(p, 22, self.dates(p, 0, 14), self.new_groups(p.size))
        w = np.where(c["cls"][: self.reg.n] == 2, 10.0, 1.0)
        p = self.pick(self.solo() & (age >= 18), counts[23], w)
        sink += counts[23] - p.size
        self.leave(p, 23, self.dates(p, 0, 14), self.new_groups(p.size))

        # 31 name change (氏名変更) alone: persons living alone, or grown children (spouses share a name).
        w = np.where(sex == 2, 4.0, 1.0)
        alone = (c["rel"][: self.reg.n] == _CHILD) | (self.hh_count()[c["hh"][: self.reg.n]] == 1)
        p = self.pick(self.solo() & jp & alone & (age >= 20) & (age <= 65), n31, w)
        sink += n31 - p.size
        new = _draw_jp_family(rng, self.v, p.size)
        c["fam"][p] = np.where(new == c["fam"][p], self.v.fam.alt[new], new)
        self.emit(p, 31, self.dates(p, 0, 7), self.new_groups(p.size), 0)

        # 32 household change alone: 世帯分離 at the same address.
        p = self.pick(self.free() & (c["rel"][: self.reg.n] != _HEAD) & (age >= 18), n32)
        sink += n32 - p.size
        self.split(p, self.new_groups(p.size), 0)

        # 33 correction (職権修正): mostly residents, some moved-out/removed/deceased persons.
        n = self.reg.n
        known = (c["status"][:n] != _UNKNOWN) & ~self.used[:n]
        k_other = int(rng.binomial(counts[33], 0.15))
        p = np.concatenate(
            [self.pick(known & ~self.resident(), k_other), self.pick(self.free(), counts[33] - k_other)]
        )
        p = np.concatenate([p, self.pick(self.free(), counts[33] - p.size)])
        sink += counts[33] - p.size
        self.correct(p)
        self.emit(p, 33, self.dates(p, 0, 3), self.new_groups(p.size), 0)

        # 11 birth (出生) into the mother's household.
        sink += self.births(counts[11])

        # 10 move-in (転入) of new persons; absorbs every shortfall so the night has its full size.
        self.move_ins(counts[10] + sink)
        return self.finish()

    def move(self, p: np.ndarray, g: np.ndarray) -> None:
        addr = _random_address(self.rng, p.size)
        for k in _ADDRESS_FIELDS:
            self.c[k][p] = addr[k]
        ev = self.dates(p, 0, 14)
        self.c["addr_date"][p] = ev
        self.emit(p, 30, ev, g, 0)

    def split(self, p: np.ndarray, g: np.ndarray, step: int) -> None:
        h = self.reg.alloc_hh(p.size)
        self.reg.hh_head[h] = p
        self.c["hh"][p], self.c["rel"][p] = h, _HEAD
        self.emit(p, 32, self.dates(p, 0, 7), g, step)

    def leave(
        self, p: np.ndarray, code: int, ev: np.ndarray, g: np.ndarray, sub: np.ndarray | None = None
    ) -> None:
        status = {20: _MOVED_OUT, 21: _DECEASED, 22: _REMOVED, 23: _MOVED_OUT}[code]
        self.c["status"][p], self.c["removed"][p] = status, ev
        self.c["out_night"][p] = self.night if code == 20 else -1
        self.emit(p, code, ev, g, 0, sub)

    def correct(self, p: np.ndarray) -> None:
        c, v, rng = self.c, self.v, self.rng
        kind = rng.choice(6, size=p.size, p=[0.30, 0.25, 0.15, 0.15, 0.05, 0.10])
        kind = np.where(c["half"][p] & (rng.random(p.size) < 0.5), 4, kind)
        giv_alt, fam_alt, fam_var = v.giv.alt[c["giv"][p]], v.fam.alt[c["fam"][p]], v.fam.variant[c["fam"][p]]
        ok = np.select(
            [kind == 1, kind == 2, kind == 3, kind == 4, kind == 5],
            [
                giv_alt != c["giv"][p],
                fam_alt != c["fam"][p],
                fam_var != c["fam"][p],
                c["half"][p],
                c["rel"][p] == _CHILD,
            ],
            default=False,
        )
        kind = np.where(ok, kind, 0)  # fall back to a birth-date fix
        c["giv"][p] = np.where(kind == 1, giv_alt, c["giv"][p])
        c["fam"][p] = np.where(kind == 2, fam_alt, np.where(kind == 3, fam_var, c["fam"][p]))
        c["half"][p] = np.where(kind == 4, False, c["half"][p])
        c["sex"][p] = np.where(kind == 5, 3 - c["sex"][p], c["sex"][p])
        shift = rng.integers(1, 366, size=p.size)
        c["birth"][p] = np.where(kind == 0, c["birth"][p] - shift, c["birth"][p])

    def births(self, k: int) -> int:
        """Babies of resident mothers (世帯主 or 妻); returns the shortfall."""
        c, rng, reg, n = self.c, self.rng, self.reg, self.reg.n
        age = self.age()
        mothers = self.pick(
            self.free()
            & (c["sex"][:n] == 2)
            & (age >= 20)
            & (age <= 45)
            & np.isin(c["rel"][:n], (_HEAD, _WIFE)),
            k,
        )
        if mothers.size == 0:
            return k
        kids = reg.alloc(mothers.size)
        birth = (self.day - rng.integers(1, 15, size=kids.size)).astype(np.int32)
        sex = np.where(rng.random(kids.size) < 0.512, 1, 2).astype(np.int8)
        fam = c["fam"][mothers]
        cls = c["cls"][mothers]
        group = np.where(cls == 2, self.v.fam.group[fam], 3).astype(np.int8)
        vals: Block = {
            "fam": fam,
            "giv": _draw_given(rng, self.v, group, sex),
            "half": rng.random(kids.size) < _HALF_WIDTH_SHARE,
            "cls": cls,
            "birth": birth,
            "sex": sex,
            "hh": c["hh"][mothers],
            "rel": np.full(kids.size, _CHILD),
            "addr_date": birth,
            "res_since": birth,
            "frs": np.where(cls == 2, birth, _NO_DATE),
            "status": np.full(kids.size, _RESIDENT),
            "last_ev": birth,
        }
        vals.update({k2: c[k2][mothers] for k2 in _ADDRESS_FIELDS})
        reg.put(kids, vals)
        reg.assign_my_numbers(rng, kids)
        self.mark(kids)
        self.emit(kids, 11, birth, self.new_groups(kids.size), 0)
        return k - mothers.size

    def move_ins(self, rows: int) -> None:
        c, rng, reg, v, n = self.c, self.rng, self.reg, self.v, self.reg.n
        if rows <= 0:
            return
        # Parents joining an existing household (父/母).
        age = self.age()
        host = self.free() & (c["cls"][:n] == 1) & (c["rel"][:n] == _HEAD) & (age >= 30) & (age <= 65)
        heads = self.pick(host, int(rng.binomial(rows, 0.12)))
        if heads.size:
            pj = reg.alloc(heads.size)
            ev = (self.day - rng.integers(0, 15, size=pj.size)).astype(np.int32)
            sex = np.where(rng.random(pj.size) < 0.4, 1, 2).astype(np.int8)
            birth = (c["birth"][heads] - rng.integers(24 * 365, 37 * 365, size=pj.size)).astype(np.int32)
            vals: Block = {
                "fam": c["fam"][heads],
                "giv": _draw_given(rng, v, _cohort(birth), sex),
                "half": rng.random(pj.size) < _HALF_WIDTH_SHARE,
                "cls": np.ones(pj.size, dtype=np.int8),
                "birth": birth,
                "sex": sex,
                "hh": c["hh"][heads],
                "rel": np.where(sex == 1, _FATHER, _MOTHER),
                "addr_date": ev,
                "res_since": ev,
                "status": np.full(pj.size, _RESIDENT),
                "last_ev": ev,
            }
            vals.update({k: c[k][heads] for k in _ADDRESS_FIELDS})
            reg.put(pj, vals)
            reg.assign_my_numbers(rng, pj)
            self.mark(pj)
            self.emit(pj, 10, ev, self.new_groups(pj.size), 0)
        rest = rows - heads.size
        if rest <= 0:
            return
        sizes = _household_sizes(rng, rest, [0.60, 0.22, 0.10, 0.08])
        ev_hh = (self.day - rng.integers(0, 15, size=sizes.size)).astype(np.int64)
        p, _h = _people(rng, v, sizes, ev_hh, 2 * _FOREIGN_SHARE)
        pids = reg.alloc(rest)
        hids = reg.alloc_hh(sizes.size)
        reg.hh_head[hids] = pids[p["pos"] == 0]
        ev = ev_hh[p["hl"]].astype(np.int32)
        reg.put(pids, {k: p[k] for k in p if k not in ("hl", "pos")})
        reg.put(
            pids,
            {
                "hh": hids[p["hl"]].astype(np.int32),
                "addr_date": ev,
                "res_since": ev,
                "frs": np.where(p["cls"] == 2, ev, _NO_DATE).astype(np.int32),
                "status": np.full(rest, _RESIDENT),
                "last_ev": ev,
            },
        )
        reg.assign_my_numbers(rng, pids)
        self.mark(pids)
        g = self.new_groups(sizes.size)[p["hl"]]
        self.emit(pids, 10, ev, g, 0, sub=p["pos"])

    def finish(self) -> Block:
        """All rows of the night: plans in random order, each plan's rows together and in step order."""
        b = _concat([blk for blk in self.blocks if blk["pid"].size] or self.blocks[:1])
        rank = self.rng.permutation(self.groups)
        order = np.lexsort((b["sub"], b["step"], rank[b["group"]]))
        return _take(b, order)


def _night_counts(rng: np.random.Generator, events: int) -> dict[int, int]:
    codes = list(_MIX)
    drawn = rng.multinomial(events, np.array([_MIX[c] for c in codes]))
    return {c: int(k) for c, k in zip(codes, drawn, strict=True)}


# --------------------------------------------------------------------------- text rendering


def _zpad(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pa.array(values.astype(np.int64)).cast(pa.string()), width=width, padding="0")


def _num(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int64)).cast(pa.string())


def _date(days: np.ndarray) -> pa.Array:
    """ISO dates; `_NO_DATE` = blank."""
    d = days.astype(np.int32)
    return pc.fill_null(pa.array(d, type=pa.date32(), mask=d == _NO_DATE).cast(pa.string()), "")


def _join(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _names(v: _Vocab, fam: np.ndarray, giv: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(v.fam.kanji.take(fam), v.giv.kanji.take(giv), "　")


def _alpha(v: _Vocab, fam: np.ndarray, giv: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(v.fam.alpha.take(fam), v.giv.alpha.take(giv), " ")


def _kana(v: _Vocab, fam: np.ndarray, giv: np.ndarray, half: np.ndarray) -> pa.Array:
    full = pc.binary_join_element_wise(v.fam.kana.take(fam), v.giv.kana.take(giv), "　")
    if not half.any():
        return full
    halfw = pc.binary_join_element_wise(v.fam.kana_half.take(fam), v.giv.kana_half.take(giv), " ")
    return pc.if_else(pa.array(half), halfw, full)


def _address(b: Block) -> pa.Array:
    towns = _town_tables()[0]
    base = _join(
        "東京都港区",
        towns.take(b["town"]),
        _num(b["chome"]),
        "丁目",
        _num(b["banchi"]),
        "番",
        _num(b["go"]),
        "号",
    )
    has = b["bldg"] >= 0
    if not has.any():
        return base
    bldg = pa.array(_BUILDINGS, pa.string()).take(np.maximum(b["bldg"], 0))
    full = _join(base, "　", towns.take(b["town"]), bldg, _num(b["room"]), "号室")
    return pc.if_else(pa.array(has), full, base)


def _render(b: Block, v: _Vocab) -> list[pa.Array]:
    """The 19 text columns after ``seq`` for the rows of a block."""
    return [
        _zpad(b["atena"], 10),
        pc.if_else(pa.array(b["kojin"] >= 0), _zpad(np.maximum(b["kojin"], 0), 12), ""),
        _num(b["code"]),
        _date(b["ev"]),
        _date(b["notif"]),
        _names(v, b["fam"], b["giv"]),
        _kana(v, b["fam"], b["giv"], b["half"]),
        pc.if_else(pa.array(b["cls"] == 2), _alpha(v, b["fam"], b["giv"]), ""),
        _date(b["birth"]),
        _num(b["sex"]),
        _zpad(b["hh_no"], 10),
        pa.array(_REL_NAMES, pa.string()).take(b["rel"]),
        _names(v, b["head_fam"], b["head_giv"]),
        _address(b),
        _date(b["addr_date"]),
        _date(b["res_since"]),
        _num(b["cls"]),
        _date(b["frs"]),
        _date(b["row_removed"]),
    ]


_COL = {name: i - 1 for i, name in enumerate(FEED_COLUMNS)}  # index into `_render` output
_TEXT_COLUMNS = {"name_kanji", "name_kana", "name_alpha", "relationship", "householder_name", "address"}


# --------------------------------------------------------------------------- dirt


@dataclass
class _Dirty:
    """Extra rows of one file: rendered text, where they go, and what the pipeline must say."""

    cols: list[list[str]]
    pos: list[int]  # clean row they are placed around
    sub: list[int]  # 0 = just before that row, 2 = after it
    reason: list[str]  # reason code, or "duplicate"

    @classmethod
    def empty(cls) -> _Dirty:
        return cls([[] for _ in range(len(FEED_COLUMNS) - 1)], [], [], [])

    def add(self, rows: list[list[str]], pos: np.ndarray, sub: int | np.ndarray, reason: str) -> None:
        subs = np.broadcast_to(np.asarray(sub), pos.shape)
        for r, p, s in zip(rows, pos.tolist(), subs.tolist(), strict=True):
            for j, val in enumerate(r):
                self.cols[j].append(val)
            self.pos.append(int(p))
            self.sub.append(int(s))
            self.reason.append(reason)


def _rows(b: Block, v: _Vocab) -> list[list[str]]:
    cols = [c.to_pylist() for c in _render(b, v)]
    return [list(r) for r in zip(*cols, strict=True)] if cols[0] else []


def _bad_date(rng: np.random.Generator, iso: str) -> str:
    """A calendar-invalid date close to `iso` (2026-02-30, 2026-04-31, 2026-13-01, …)."""
    year, month, day = int(iso[:4]), int(iso[5:7]), iso[8:10]
    options = [f"{month:02d}-32", f"{month:02d}-00", f"13-{day}", f"00-{day}"]
    if month in (4, 6, 9, 11):
        options += [f"{month:02d}-31"] * 4
    if month == 2:
        options += ["02-30", "02-31"] * 2 + (["02-29"] * 2 if year % 4 else [])
    return f"{year:04d}-{options[int(rng.integers(len(options)))]}"


def _bad_atena(rng: np.random.Generator, atena: str) -> str:
    kind = int(rng.integers(4))
    if kind == 0:
        return atena[1:]  # 9 digits: a leading zero lost to a numeric column
    if kind == 1:
        return atena + str(int(rng.integers(10)))  # 11 digits
    if kind == 2:
        i = int(rng.integers(len(atena)))
        return atena[:i] + "OIAB"[int(rng.integers(4))] + atena[i + 1 :]
    return atena.translate(str.maketrans("0123456789", "０１２３４５６７８９"))  # full-width digits


def _wrong_check_digit(rng: np.random.Generator, kojin: str) -> str:
    if not kojin:
        body = f"{int(rng.integers(0, 10**11)):011d}"
        kojin = body + str(my_number_check_digit(body))
    return kojin[:11] + str((int(kojin[11]) + int(rng.integers(1, 10))) % 10)


def _fault(rng: np.random.Generator, reason: str, row: list[str], day: int, bad_kana: str) -> None:
    """Give one rendered row exactly the fault named by `reason`."""
    if reason == "kojin_no_check_digit":
        row[_COL["kojin_no"]] = _wrong_check_digit(rng, row[_COL["kojin_no"]])
    elif reason == "event_date_invalid":
        row[_COL["event_date"]] = _bad_date(rng, row[_COL["event_date"]])
    elif reason == "birth_date_invalid":
        row[_COL["birth_date"]] = _bad_date(rng, row[_COL["birth_date"]])
    elif reason == "birth_date_after_event":
        ev = dt.date.fromisoformat(row[_COL["event_date"]])
        row[_COL["birth_date"]] = (ev + dt.timedelta(days=int(rng.integers(1, 366)))).isoformat()
    elif reason == "sex_invalid":
        row[_COL["sex"]] = "09"[int(rng.integers(2))]
    elif reason == "atena_no_format":
        row[_COL["atena_no"]] = _bad_atena(rng, row[_COL["atena_no"]])
    elif reason == "event_code_unknown":
        row[_COL["event_code"]] = ("99", "50", "19", "00")[int(rng.integers(4))]
    elif reason == "name_kana_not_katakana":
        row[_COL["name_kana"]] = bad_kana
    elif reason == "address_missing":
        row[_COL["address"]] = ""
    elif reason == "event_date_after_file_date":
        row[_COL["event_date"]] = _iso(day + int(rng.integers(1, 31)))
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(reason)


_IN_WARD = (10, 11, 12, 13, 30, 31, 32, 33, 40)
# Which clean rows a fault may be copied from (others: any row).
_ELIGIBLE_CODES: dict[str, tuple[int, ...]] = {
    "event_date_invalid": _IN_WARD,  # not 20–23, whose removed_date must equal event_date
    "event_date_after_file_date": _IN_WARD,
    "event_code_unknown": (10, 11, 12, 13, 30, 31, 32, 40),  # placed after: person resident, no removed_date
    "address_missing": _IN_WARD,
}


def _plan_dirt(
    budget: int, rotation: list[str], pointer: int, capacity: dict[str, int]
) -> tuple[dict[str, int], int]:
    """Spread `budget` rows over the categories round-robin, skipping those without candidates."""
    counts = dict.fromkeys(rotation, 0)
    for _ in range(budget):
        for _attempt in range(len(rotation)):
            cat = rotation[pointer % len(rotation)]
            pointer += 1
            if counts[cat] < capacity.get(cat, 0):
                counts[cat] += 1
                break
    return counts, pointer


def _dirt_counts(
    reg: _Registry, clean: Block, nightly: bool, rotation: list[str], pointer: int
) -> tuple[dict[str, int], int]:
    """Dirty rows per category for one file (~0.5% of the initial load, ~1.5% of a night)."""
    n = clean["pid"].size
    capacity = {r: n for r in ("unknown_person", *FIELD_REASONS, DUPLICATE)}
    capacity.update({r: int(np.isin(clean["code"], codes).sum()) for r, codes in _ELIGIBLE_CODES.items()})
    if not nightly:
        return _plan_dirt(max(1, round(n * _INITIAL_DIRT_RATE)), rotation, pointer, capacity)
    status = reg.c["status"][: reg.n]
    capacity.update(
        {
            "person_deceased": int((status == _DECEASED).sum()),
            "person_not_resident": int(((status == _MOVED_OUT) | (status == _REMOVED)).sum()),
            "not_moved_out": int((status == _RESIDENT).sum()),
        }
    )
    return _plan_dirt(max(1, round(n * _NIGHTLY_DIRT_RATE)), rotation, pointer, capacity)


def _make_dirt(
    rng: np.random.Generator, reg: _Registry, v: _Vocab, clean: Block, day: int, counts: dict[str, int]
) -> _Dirty:
    """Dirty rows for one file. The registry must hold the state after the file's clean rows."""
    n = clean["pid"].size
    dirty = _Dirty.empty()
    taken = np.zeros(n, dtype=bool)

    def originals(cat: str, k: int) -> np.ndarray:
        codes = _ELIGIBLE_CODES.get(cat)
        ok = ~taken if codes is None else ~taken & np.isin(clean["code"], codes)
        o = np.sort(_choose(rng, np.flatnonzero(ok), k))
        taken[o] = True
        return o

    # Fault copies of clean rows: one fault each, just before the clean original (state as it saw it).
    for cat in FIELD_REASONS:
        o = originals(cat, counts.get(cat, 0))
        if o.size == 0:
            continue
        sub = _take(clean, o)
        rows = _rows(sub, v)
        west = v.fam.katakana_written[sub["fam"]] & v.giv.katakana_written[sub["giv"]]
        kanji = _names(v, sub["fam"], sub["giv"]).to_pylist()
        alpha = _alpha(v, sub["fam"], sub["giv"]).to_pylist()
        for i, r in enumerate(rows):
            _fault(rng, cat, r, day, alpha[i] if west[i] else kanji[i])
        dirty.add(rows, o, 2 if cat == "event_code_unknown" else 0, cat)

    # Exact duplicates, later in the same file.
    o = originals(DUPLICATE, counts.get(DUPLICATE, 0))
    if o.size:
        later = o + np.floor(rng.random(o.size) * (n - o)).astype(np.int64)
        dirty.add(_rows(_take(clean, o), v), later, 2, DUPLICATE)

    # Change events for atena numbers that were never registered (mistyped numbers).
    o = originals("unknown_person", counts.get("unknown_person", 0))
    atena = reg.take_gaps(o.size)
    if atena.size:
        sub = _take(clean, o[: atena.size])
        sub["atena"] = atena
        sub["code"] = rng.choice(np.array([30, 31, 32], dtype=np.int16), size=atena.size)
        sub["row_removed"] = np.full(atena.size, _NO_DATE, dtype=np.int32)
        dirty.add(_rows(sub, v), rng.integers(0, n, size=atena.size), 2, "unknown_person")

    # Events the registry state forbids, placed after the person's last clean row of the file.
    last = np.full(reg.atena.size, -1, dtype=np.int64)
    np.maximum.at(last, clean["pid"], np.arange(n))
    status = reg.c["status"][: reg.n]
    used = np.zeros(reg.n, dtype=bool)
    pools = {
        "person_deceased": (status == _DECEASED, (30, 20)),
        "person_not_resident": ((status == _MOVED_OUT) | (status == _REMOVED), (30, 21)),
        "not_moved_out": (status == _RESIDENT, (40,)),
    }
    for cat, (mask, codes) in pools.items():
        p = _choose(rng, np.flatnonzero(mask & ~used), counts.get(cat, 0))
        if p.size == 0:
            continue
        used[p] = True
        code = rng.choice(np.array(codes, dtype=np.int16), size=p.size)
        ev = np.maximum(day - rng.integers(0, 8, size=p.size), reg.c["last_ev"][p]).astype(np.int32)
        notif = ev + np.floor(rng.random(p.size) * (day - ev + 1)).astype(np.int32)
        sub = reg.snapshot(p, code, ev, notif)
        new_addr = _random_address(rng, p.size)
        moving = code == 30
        for k in _ADDRESS_FIELDS:
            sub[k] = np.where(moving, new_addr[k], sub[k])
        sub["addr_date"] = np.where(moving, ev, sub["addr_date"])
        pos = np.where(last[p] >= 0, last[p], rng.integers(0, max(n, 1), size=p.size))
        dirty.add(_rows(sub, v), pos, 2, cat)
    return dirty


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class _Style:
    bom: bool
    eol: str
    quote_text: bool  # quote every non-empty text field (some exporters do)


def _style(index: int) -> _Style:
    if index == 0:
        return _Style(bom=True, eol="\r\n", quote_text=False)
    cycle = (_Style(False, "\n", False), _Style(True, "\r\n", True), _Style(False, "\r\n", False))
    return cycle[(index - 1) % 3]


def _quote(col: pa.Array, force: bool) -> pa.Array:
    needs = pc.match_substring_regex(col, '[",\r\n]')
    if force:
        needs = pc.or_(needs, pc.not_equal(col, ""))
    if not pc.any(needs).as_py():
        return col
    quoted = _join('"', pc.replace_substring(col, '"', '""'), '"')
    return pc.if_else(needs, quoted, col)


def _buffer(lines: pa.Array) -> memoryview:
    """The concatenated bytes of a string array (no copy)."""
    lines = pc.fill_null(lines, "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]


def _write_lines(fh: BinaryIO, digest: Any, cols: list[pa.Array], eol: str) -> None:
    line = pc.binary_join_element_wise(*cols, ",")
    buf = _buffer(pc.binary_join_element_wise(line, "", eol))
    fh.write(buf)
    if digest is not None:
        digest.update(buf)


def _write_file(
    path: Path, clean: Block, dirty: _Dirty, v: _Vocab, style: _Style, truth: BinaryIO
) -> dict[str, Any]:
    """One feed file + its ``.done`` marker; appends the truth of each row. Returns per-file counts."""
    n_clean, n_dirty = clean["pid"].size, len(dirty.pos)
    pos = np.concatenate([np.arange(n_clean), np.array(dirty.pos, dtype=np.int64)])
    sub = np.concatenate([np.ones(n_clean, dtype=np.int64), np.array(dirty.sub, dtype=np.int64)])
    src = np.lexsort((np.arange(n_clean + n_dirty), sub, pos))  # >= n_clean → dirty row
    dcols = [pa.array(c, pa.string()) for c in dirty.cols]
    dreason = np.array(dirty.reason, dtype=object)
    quote = [name in _TEXT_COLUMNS and style.quote_text for name in FEED_COLUMNS[1:]]
    digest = hashlib.sha256()
    name = path.name
    total = n_clean + n_dirty
    with path.open("wb") as fh:
        head = ("\ufeff" if style.bom else "") + FEED_HEADER + style.eol
        fh.write(head.encode())
        digest.update(head.encode())
        for s in range(0, total, _CHUNK):
            part = src[s : s + _CHUNK]
            is_clean = part < n_clean
            rendered = _render(_take(clean, part[is_clean]), v)
            d_idx = part[~is_clean] - n_clean
            k = int(is_clean.sum())
            back = np.empty(part.size, dtype=np.int64)
            back[is_clean] = np.arange(k)
            back[~is_clean] = k + np.arange(d_idx.size)
            cols = [
                pa.concat_arrays([r, dc.take(d_idx)]).take(back)
                for r, dc in zip(rendered, dcols, strict=True)
            ]
            seq = _num(np.arange(s + 1, s + part.size + 1))
            body = [_quote(c, q) for c, q in zip(cols, quote, strict=True)]
            _write_lines(fh, digest, [seq, *body], style.eol)
            reason = np.full(part.size, "", dtype=object)
            reason[~is_clean] = dreason[d_idx]
            outcome = np.where(
                reason == "", "accepted", np.where(reason == DUPLICATE, DUPLICATE, "quarantined")
            )
            reason_txt = np.where(reason == DUPLICATE, "", reason)
            _write_lines(
                truth,
                None,
                [
                    pa.array(np.full(part.size, name, dtype=object), pa.string()),
                    seq,
                    _quote(cols[0], False),
                    pa.array(outcome.astype(object), pa.string()),
                    pa.array(reason_txt.astype(object), pa.string()),
                ],
                "\n",
            )
    (path.parent / (name + ".done")).write_text(digest.hexdigest() + "\n", encoding="ascii", newline="\n")
    by_reason = {r: dirty.reason.count(r) for r in (*REASONS, DUPLICATE) if r in dirty.reason}
    dup = by_reason.get(DUPLICATE, 0)
    return {
        "file": name,
        "rows": total,
        "accepted": n_clean,
        "quarantined": n_dirty - dup,
        "duplicates": dup,
        "by_reason": by_reason,
    }


def _write_persons(path: Path, reg: _Registry, v: _Vocab) -> int:
    c = reg.c
    pids = np.flatnonzero(c["status"][: reg.n] != _UNKNOWN)  # index order = atena order
    with path.open("wb") as fh:
        fh.write((TRUTH_PERSONS_HEADER + "\n").encode())
        for s in range(0, pids.size, _CHUNK):
            p = pids[s : s + _CHUNK]
            status = pa.array(np.array(_STATUS_NAMES, dtype=object)[c["status"][p]], pa.string())
            cols = [
                _zpad(reg.atena[p], 10),
                status,
                _kana(v, c["fam"][p], c["giv"][p], c["half"][p]),
                _date(c["birth"][p]),
                _num(c["sex"][p]),
                _date(c["removed"][p]),
            ]
            _write_lines(fh, None, cols, "\n")
    return int(pids.size)


def synthesize(
    out_dir: Path,
    persons: int = 20_000,
    seed: int = 20260401,
    start: dt.date = dt.date(2026, 4, 1),
    nights: int = 6,
    events_per_night: int | None = None,
    dirt: bool = True,
    vaccinations: bool = False,
    vrs_welfare: bool = False,
    exchange: bool = False,
) -> dict[str, Any]:
    """Write a synthetic Minato City resident-registry diff feed and its truth; return a summary.

    Files: ``outbox/resident/JUKI_DIFF_YYYYMMDD.csv`` (+ ``.done`` with the sha256) for the initial
    load dated `start` and `nights` nightly files, and ``truth/resident_rows.csv``,
    ``truth/persons.csv``, ``truth/summary.json``. Same arguments → byte-identical files.
    """
    if persons < 10:
        raise ValueError("persons must be at least 10")
    out_dir = Path(out_dir)
    feed_dir = out_dir / "outbox" / "resident"
    truth_dir = out_dir / "truth"
    feed_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    events = max(20, persons // 200) if events_per_night is None else int(events_per_night)
    main_ss, dirt_ss = np.random.SeedSequence(seed).spawn(2)
    rng, drng = np.random.default_rng(main_ss), np.random.default_rng(dirt_ss)
    v = _vocab()
    cap = persons + nights * events + 16
    reg = _Registry(rng, cap, cap)
    start_day = _day(start)

    row_faults = ["unknown_person", *FIELD_REASONS, DUPLICATE]
    initial_rotation = [row_faults[i] for i in drng.permutation(len(row_faults))]
    # State faults first so that even small runs show each of them on the first nights.
    nightly_rotation = [*STATE_REASONS, *(row_faults[i] for i in drng.permutation(len(row_faults)))]
    pointer = 0
    files: list[dict[str, Any]] = []
    dirt_total: dict[str, int] = {}
    with (truth_dir / "resident_rows.csv").open("wb") as truth:
        truth.write((TRUTH_ROWS_HEADER + "\n").encode())
        for k in range(nights + 1):
            day = start_day + k
            if k == 0:
                clean = _initial(reg, v, rng, persons, start_day)
            else:
                clean = _Night(reg, v, rng, k, day).run(_night_counts(rng, events))
            dirty = _Dirty.empty()
            if dirt:
                if k == 0:
                    counts, _ = _dirt_counts(reg, clean, False, initial_rotation, 0)
                else:
                    counts, pointer = _dirt_counts(reg, clean, True, nightly_rotation, pointer)
                dirty = _make_dirt(drng, reg, v, clean, day, counts)
            name = f"JUKI_DIFF_{(start + dt.timedelta(days=k)).strftime('%Y%m%d')}.csv"
            stats = _write_file(feed_dir / name, clean, dirty, v, _style(k), truth)
            stats["date"] = (start + dt.timedelta(days=k)).isoformat()
            files.append(stats)
            for r, cnt in stats["by_reason"].items():
                dirt_total[r] = dirt_total.get(r, 0) + cnt
    registry_persons = _write_persons(truth_dir / "persons.csv", reg, v)
    summary: dict[str, Any] = {
        "municipality_code": MUNICIPALITY_CODE,
        "seed": seed,
        "persons": persons,
        "events_per_night": events,
        "dirt": dict(sorted(dirt_total.items())),
        "files": files,
        "rows": sum(f["rows"] for f in files),
        "registry_persons": registry_persons,
    }
    (truth_dir / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8", newline="\n"
    )
    vaccination_files: list[dict[str, Any]] = []
    if vaccinations:  # clinic and other-ward files from the final registry (own RNG stream)
        from vaxreg_devtools.synth_doses import synthesize_vaccinations

        vaccination_files = synthesize_vaccinations(out_dir, seed, start)["files"]
    vrs_welfare_files: dict[str, Any] = {}
    if vrs_welfare:  # VRS and welfare files from the final registry (own RNG stream)
        from vaxreg_devtools.synth_vrs import synthesize_vrs_welfare

        vrs_welfare_files = synthesize_vrs_welfare(out_dir, seed, start)
    exchange_files: dict[str, Any] = {}
    if exchange:  # previous municipalities on the move-ins, integrated numbers (own RNG stream)
        from vaxreg_devtools.synth_exchange import synthesize_exchange

        exchange_files = synthesize_exchange(out_dir, seed, start)
    return (
        {
            **{
                k: summary[k]
                for k in (
                    "municipality_code",
                    "seed",
                    "persons",
                    "events_per_night",
                    "rows",
                    "registry_persons",
                    "dirt",
                )
            },
            "files": [f"outbox/resident/{f['file']}" for f in files]
            + ["truth/resident_rows.csv", "truth/persons.csv", "truth/summary.json"],
            "per_file": [
                {k: f[k] for k in ("file", "date", "rows", "accepted", "quarantined", "duplicates")}
                for f in files
            ],
        }
        | ({"vaccinations": vaccination_files} if vaccinations else {})
        | ({"vrs_welfare": vrs_welfare_files} if vrs_welfare else {})
        | ({"exchange": exchange_files} if exchange else {})
    )
