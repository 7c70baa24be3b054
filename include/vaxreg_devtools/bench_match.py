"""Benchmark: our identity matcher beside Splink 5 (DuckDB) on the same generated data.

    python -m vaxreg_devtools.bench_match --persons 1000000 --records 100000 --seed 20261127

One run, freshly spawned interpreters (so that each peak RSS is its own):

1. **setup**: :func:`vaxreg_devtools.synth_match.generate` — a registry of N persons and M other-ward
   records with noise and truth — written as Parquet to a temporary directory;
2. **ours**: :func:`vaxreg.identity.matching.link` (records, registry); timed: the whole call, which
   normalises both sides, blocks, scores and decides;
3. **splink**: Splink 5 with DuckDB, link_only between records and registry, unsupervised
   (see :func:`run_splink` for the settings and :data:`SPLINK_RULE` for the decision rule);
   timed: normalising both sides, training and predicting, and the decision rule.

Loading the Parquet files is not timed (the same for both). The parent then scores each
method's choice per record against the truth: precision = correct links / links made,
recall = correct links / records whose person is in the registry, F1; a record of a person
not in the registry that is linked to anybody is a false positive; review rate = records
left unlinked / all records. A breakdown of recall by kind of noise follows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vaxreg_devtools.synth_match import NOISE, RECORD_COLUMNS

REGISTRY_COLUMNS = ("atena_no", "name_kana", "birth_date", "sex", "address")
METHODS = ("ours", "splink")
SPLINK_MIN_PROBABILITY = 0.99
DEFAULT_MARGIN = 6.0  # bits; vaxreg.identity.matching's `margin` when it can be read
SPLINK_RULE = (
    "Splink decision: per record, the best-scoring registry candidate is linked if its "
    f"match_probability ≥ {SPLINK_MIN_PROBABILITY} and its match weight beats the runner-up's "
    "by ≥ {margin:g} bits (our matcher's margin); else review"
)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _margin() -> float:
    try:
        from vaxreg.identity.matching import load_params

        return float(load_params().margin)
    except Exception:  # the matcher may not exist yet; the default is documented
        return DEFAULT_MARGIN


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Scores:
    records: int
    in_registry: int
    links: int
    correct: int
    false_positive: int
    review: int

    @property
    def precision(self) -> float:
        return self.correct / self.links if self.links else float("nan")

    @property
    def recall(self) -> float:
        return self.correct / self.in_registry if self.in_registry else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def review_rate(self) -> float:
        return self.review / self.records if self.records else float("nan")


def _as_object(values: Any) -> np.ndarray:
    """Strings with None (also for NaN / pandas NA / empty string)."""
    arr = np.asarray(values, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    for i, v in enumerate(arr.tolist()):
        out[i] = None if v is None or v != v or v == "" or str(v) == "<NA>" else str(v)
    return out


def evaluate(truth: Any, predicted: Any) -> Scores:
    """Scores of per-record predictions (registry 宛名番号 or None = review) against the truth
    (the true 宛名番号, or None for a person not in the registry)."""
    t, p = _as_object(truth), _as_object(predicted)
    if t.shape != p.shape:
        raise ValueError("truth and predictions differ in length")
    t_in = np.array([v is not None for v in t.tolist()], dtype=bool)
    linked = np.array([v is not None for v in p.tolist()], dtype=bool)
    correct = linked & t_in & (t == p)
    return Scores(
        records=int(t.size),
        in_registry=int(t_in.sum()),
        links=int(linked.sum()),
        correct=int(correct.sum()),
        false_positive=int((linked & ~correct).sum()),
        review=int((~linked).sum()),
    )


# --------------------------------------------------------------------------- phases (children)


def _load(root: Path) -> tuple[Any, Any]:
    import pandas as pd

    records = pd.read_parquet(root / "records.parquet", columns=list(RECORD_COLUMNS))
    registry = pd.read_parquet(root / "registry.parquet", columns=list(REGISTRY_COLUMNS))
    return records, registry


def run_setup(root: Path, persons: int, records: int, seed: int) -> dict[str, Any]:
    from vaxreg_devtools import synth_match

    started = time.perf_counter()
    data = synth_match.generate(persons, records, seed)
    seconds = time.perf_counter() - started
    synth_match.write(data, root)
    return {"seconds": round(seconds, 2), "rss_mb": round(_peak_rss_mb())} | data.summary()


def _save(root: Path, method: str, atena: Any, extra: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {"atena_no": pa.array(_as_object(atena).tolist(), pa.string())}
    cols |= {k: pa.array(v) for k, v in extra.items()}
    pq.write_table(pa.table(cols), root / f"pred_{method}.parquet")


def run_ours(root: Path) -> dict[str, Any]:
    from vaxreg.identity.matching import link

    records, registry = _load(root)
    started = time.perf_counter()
    out = link(records, registry)
    seconds = time.perf_counter() - started
    _save(root, "ours", out["atena_no"].to_numpy(dtype=object), {"decision": out["decision"].astype(str)})
    counts = out["decision"].value_counts().to_dict()
    return {
        "seconds": round(seconds, 2),
        "rss_mb": round(_peak_rss_mb()),
        "decisions": {str(k): int(v) for k, v in counts.items()},
    }


def _normalisers() -> tuple[Any, Any, str]:
    """(names, addresses, note): the normalisers of :mod:`vaxreg.identity.normalise`."""
    from vaxreg.identity import normalise

    return normalise.normalise_names, normalise.normalise_addresses, "normalise_names / normalise_addresses"


def _splink_input(frame: Any, names: Any, addresses: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    def col(name: str) -> pa.Array:
        arr = pa.array(frame[name].to_numpy(dtype=object), pa.string(), from_pandas=True)
        return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)

    name = names(col("name_kana"))
    name = pc.if_else(pc.equal(name, ""), pa.scalar(None, pa.string()), name)
    birth = col("birth_date")
    return pa.table(
        {
            "unique_id": pa.array(np.arange(len(frame), dtype=np.int64)),
            "atena_no": col("atena_no"),
            "name": name,
            "name3": pc.utf8_slice_codeunits(name, 0, 3),
            "birth_date": birth,
            "birth_year": pc.utf8_slice_codeunits(birth, 0, 4),
            "sex": col("sex"),
            "address": addresses(col("address")),
        }
    )


def splink_settings() -> Any:
    """The Splink model: comparisons and prediction blocking rules (see the module docstring)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("name", 0.92),
            cll.JaroWinklerLevel("name", 0.85),
            cll.LevenshteinLevel("name", 2),
            cll.ElseLevel(),
        ],
    )
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.LevenshteinLevel("birth_date", 1),
            cll.LevenshteinLevel("birth_date", 2),
            cll.ExactMatchLevel("birth_year"),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            name,
            birth,
            cl.ExactMatch("sex"),
            cl.JaroWinklerAtThresholds("address", [0.9]),
            cl.ExactMatch("atena_no"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date"),
            block_on("name", "sex"),
            block_on("name3", "birth_year"),
            block_on("atena_no"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def run_splink(root: Path, seed: int, margin: float) -> dict[str, Any]:
    """Splink 5 + DuckDB, set up as a careful analyst would without labels.

    * Inputs: both sides cleaned with the same functions as our matcher
      (``normalise.normalise_names``; ``normalise.normalise_addresses``, NFKC when absent),
      plus ``name3`` (first 3 kana) and ``birth_year`` for blocking; ``unique_id`` = row.
    * link_only; prediction blocking (union): birth_date; name + sex; name3 + birth_year;
      atena_no (the 宛名番号 a record gives).
    * Comparisons: name — exact (term-frequency adjusted) / Jaro-Winkler ≥ 0.92 / ≥ 0.85 /
      Levenshtein ≤ 2 / else; birth_date — exact / Levenshtein ≤ 1 / ≤ 2 / same year / else;
      sex exact; address — exact / Jaro-Winkler ≥ 0.9 / else; atena_no exact (null: neutral).
    * Training: λ from the deterministic rule name + birth_date + sex at an assumed recall
      of 0.8; u by random sampling (max_pairs 2e6, seeded); m by EM on block_on(birth_date)
      and block_on(name, address).
    * Decision (:data:`SPLINK_RULE`): predict keeps pairs with weight ≥ w(0.99) − margin
      (a lower runner-up cannot change a decision); per record the best candidate is linked
      if its match_probability ≥ 0.99 and it beats the runner-up by ≥ margin bits.
    """
    import logging

    import duckdb
    import splink
    from splink import DuckDBAPI, Linker, block_on

    records, registry = _load(root)
    names, addresses, note = _normalisers()
    started = time.perf_counter()
    rec = _splink_input(records, names, addresses)
    reg = _splink_input(registry, names, addresses)
    del records, registry
    db_api = DuckDBAPI()
    linker = Linker(
        [
            db_api.register(rec, dataset_display_name="records"),
            db_api.register(reg, dataset_display_name="registry"),
        ],
        splink_settings(),
        log_level=logging.WARNING,
    )
    prepared = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("name", "birth_date", "sex")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    # m by EM, unsupervised, on two blocking rules whose pairs are largely matches: the same birth
    # date (trains name, sex, address, 宛名番号) and the same name and address (trains birth date).
    # (EM on the name alone converges to a wrong split: most same-name pairs are different persons.)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name", "address"))
    trained = time.perf_counter()
    lam = float(linker._settings_obj._probability_two_random_records_match)
    # Any pair below (weight needed for p ≥ 0.99) − margin cannot change a decision.
    need = float(np.log2(SPLINK_MIN_PROBABILITY / (1 - SPLINK_MIN_PROBABILITY)))
    pred = linker.inference.predict(threshold_match_weight=need - margin, warning_mode="never")
    predicted = time.perf_counter()
    con: duckdb.DuckDBPyConnection = db_api.duckdb_con
    sql = f"""
        WITH p AS (
            SELECT CASE WHEN source_dataset_l = 'records' THEN unique_id_l ELSE unique_id_r END AS rid,
                   CASE WHEN source_dataset_l = 'records' THEN unique_id_r ELSE unique_id_l END AS pid,
                   match_weight AS w, match_probability AS prob
            FROM {pred.physical_name}
        ), ranked AS (
            SELECT rid, pid, w, prob,
                   row_number() OVER (PARTITION BY rid ORDER BY w DESC, pid) AS k,
                   lead(w) OVER (PARTITION BY rid ORDER BY w DESC, pid) AS second
            FROM p
        )
        SELECT rid, pid, prob, w, second FROM ranked
        WHERE k = 1 AND prob >= {SPLINK_MIN_PROBABILITY} AND (second IS NULL OR w - second >= {margin})
    """
    chosen = con.execute(sql).fetchnumpy()
    row = con.execute(f"SELECT count(*) FROM {pred.physical_name}").fetchone()
    pairs = int(row[0]) if row else 0
    rid = np.asarray(chosen["rid"], dtype=np.int64)
    pid = np.asarray(chosen["pid"], dtype=np.int64)
    reg_atena = reg.column("atena_no").to_numpy(zero_copy_only=False)
    atena = np.full(rec.num_rows, None, dtype=object)
    atena[rid] = reg_atena[pid]
    seconds = time.perf_counter() - started
    _save(root, "splink", atena, {})
    return {
        "seconds": round(seconds, 2),
        "rss_mb": round(_peak_rss_mb()),
        "prepare_seconds": round(prepared - started, 2),
        "train_seconds": round(trained - prepared, 2),
        "predict_seconds": round(predicted - trained, 2),
        "pairs_kept": pairs,
        "lambda": lam,
        "normalised_with": note,
        "versions": f"splink {splink.__version__}, duckdb {duckdb.__version__}",
    }


# --------------------------------------------------------------------------- the parent


def _child(phase: str, root: Path, args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "vaxreg_devtools.bench_match", "--phase", phase, "--root", str(root), *args]
    out = subprocess.run(
        cmd, capture_output=True, text=True, env=os.environ | {"PYTHONWARNINGS": "ignore"}, check=False
    )
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {out.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def report(root: Path, results: dict[str, dict[str, Any]], margin: float) -> list[str]:
    import pyarrow.parquet as pq

    rec = pq.read_table(root / "records.parquet", columns=["truth", "noise"])
    truth = np.array(rec.column("truth").to_pylist(), dtype=object)
    noise = rec.column("noise").to_numpy()
    m = len(truth)
    head = f"{'method':<8} {'precision':>9} {'recall':>7} {'F1':>7} {'review':>7} {'FP':>6} "
    head += f"{'records/s':>10} {'wall s':>7} {'peak RSS':>9}"
    lines = [head]
    preds: dict[str, np.ndarray] = {}
    for method, r in results.items():
        if "error" in r:
            lines.append(f"{method:<8} failed: {r['error']}")
            continue
        pred = np.array(pq.read_table(root / f"pred_{method}.parquet").column("atena_no").to_pylist(), object)
        preds[method] = pred
        s = evaluate(truth, pred)
        lines.append(
            f"{method:<8} {s.precision:>9.4f} {s.recall:>7.4f} {s.f1:>7.4f} {s.review_rate:>7.2%} "
            f"{s.false_positive:>6,} {m / r['seconds']:>10,.0f} {r['seconds']:>7.1f} {r['rss_mb']:>6} MB"
        )
    if preds:
        lines.append("")
        lines.append("recall (non-registry rows: share wrongly linked) by kind of noise:")
        lines.append(f"  {'noise':<22} {'rows':>7} " + " ".join(f"{k:>8}" for k in preds))
        t_in = np.array([v is not None for v in truth.tolist()])
        for name, bit in NOISE.items():
            sel = (noise & bit) != 0
            if not sel.any():
                continue
            cells = []
            for pred in preds.values():
                s = evaluate(truth[sel], pred[sel])
                value = s.false_positive / s.records if name == "not_in_registry" else s.recall
                cells.append(f"{value:>8.4f}")
            lines.append(f"  {name:<22} {int(sel.sum()):>7,} " + " ".join(cells))
        clean = (noise & ~(NOISE["address_present"] | NOISE["atena_present"])) == 0
        cells = [f"{evaluate(truth[clean & t_in], p[clean & t_in]).recall:>8.4f}" for p in preds.values()]
        lines.append(f"  {'(no noise, in registry)':<22} {int((clean & t_in).sum()):>7,} " + " ".join(cells))
    lines.append("")
    if "ours" in results and "decisions" in results["ours"]:
        lines.append(f"ours: decisions {results['ours']['decisions']}")
    sp = results.get("splink", {})
    if "error" not in sp and sp:
        lines.append(
            f"splink: {sp['versions']}; inputs normalised with {sp['normalised_with']} (the same cleaned "
            f"strings as ours); prepare {sp['prepare_seconds']} s, train {sp['train_seconds']} s, "
            f"predict {sp['predict_seconds']} s; {sp['pairs_kept']:,} scored pairs kept; "
            f"λ = {sp['lambda']:.3g}"
        )
        lines.append(SPLINK_RULE.format(margin=margin))
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated: ours,splink")
    ap.add_argument("--margin", type=float, help="Splink's margin in bits (default: our matcher's)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--phase", choices=("setup", *METHODS), help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    margin = _margin() if args.margin is None else args.margin
    if args.phase:
        root = Path(args.root)
        if args.phase == "setup":
            res = run_setup(root, args.persons, args.records, args.seed)
        elif args.phase == "ours":
            res = run_ours(root)
        else:
            res = run_splink(root, args.seed, margin)
        print(json.dumps(res, ensure_ascii=False))
        return 0

    methods = [m for m in args.methods.split(",") if m]
    print(
        f"setup: {args.persons:,} persons, {args.records:,} other-ward records (seed {args.seed}) …",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="vaxreg-bench-match-") as tmp:
        root = Path(tmp)
        common = ["--persons", str(args.persons), "--records", str(args.records), "--seed", str(args.seed)]
        common += ["--margin", str(margin)]
        setup = _child("setup", root, common)
        if "error" in setup:
            print(f"setup failed: {setup['error']}")
            return 1
        noise = setup["noise"]
        print(
            f"generated in {setup['seconds']} s: not in registry {noise['not_in_registry']:.1%}, twins "
            f"{noise['twin']:.1%}, half-width {noise['half_width']:.0%}, address given "
            f"{noise['address_present']:.0%}, 宛名番号 given {noise['atena_present']:.0%}",
            flush=True,
        )
        results: dict[str, dict[str, Any]] = {}
        for method in methods:
            print(f"running {method} …", flush=True)
            results[method] = _child(method, root, common)
        lines = report(root, results, margin)
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({"setup": setup, "results": results}, ensure_ascii=False))
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
