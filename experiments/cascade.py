"""Would a two-pass read do the windows' work at half the cost: every candidate's start first,
then only the most promising ones whole?

Issue 27 asks for the teacher's quality (within 0.010 nDCG@10 and P@3 on the validation slice) at
0.55 of its work or less, and allows early exit where a measured run shows it pays.
``experiments/distill_choices.py`` found that what the windows add is the best part of a long
abstract judged on its own; read as windows, a 5-layer student is within 0.005 of the teacher
but does 0.83 of its work. Here a cheap pass (a short truncation) scores every candidate, and a
full pass (windows) reads only the ``m`` it ranks highest; those take their full score and the
rest keep the cheap one (the same model's logits, so one scale). Candidates the cheap pass ranks
low exit after it: early exit by candidate.

Scoring phase: each ``--setting`` scores the validation slice's dense top 20 once (fp32 torch,
no calibration), with each candidate's work (tokens read); cached in ``--scores`` (resumable).
Simulation phase: every pair of a cheap and a full setting of one model, every ``m`` from 0 to
20: nDCG@10, P@3 and the work (tokens x layers, against the teacher's at its bundled setting,
as ``distill_choices.py`` counts it). The rule ships the least work within 0.010 of the teacher
on both at 0.55 of its work or less (ties: the higher nDCG@10); if none, ``chosen`` is null.

Usage::

    python experiments/cascade.py ../shared/data/scifact \
        --setting teacher=bundled:scifact-minilm@256:windows \
        --setting teacher=bundled:scifact-minilm@128:truncate \
        --setting l5=runs/distill/mse-spread-5layers-256/best@256:windows ... \
        [--scores runs/cascade_scores.json] [--out benchmarks/results/cascade.json]
    python experiments/cascade.py ../shared/data/scifact \
        --dev-check benchmarks/results/cascade.json --scores runs/cascade_dev_scores.json \
        --out benchmarks/results/cascade_dev.json
    python experiments/cascade.py ../shared/data/scifact --time torch,openvino \
        --time-choice benchmarks/results/cascade.json --out benchmarks/results/cascade_time.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill_choices import MAX_COST, TEACHER, WITHIN, chosen_of, claims_of, encoder_depth

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = (TEACHER, 256, "windows")
"""The teacher at its bundled setting: the quality to keep and the work to halve."""


def _setting(text: str) -> tuple[str, str, int, str]:
    name, _, rest = text.partition("=")
    model, _, read = rest.rpartition("@")
    length, _, mode = read.partition(":")
    if not (name and model and length.isdigit() and mode in ("windows", "truncate")):
        raise argparse.ArgumentTypeError(
            f"{text!r}: use NAME=MODEL@LEN:MODE, e.g. l5=runs/x/best@128:truncate"
        )
    return name, model, int(length), mode


def key(model: str, length: int, mode: str) -> str:
    return f"{model}@{length}:{mode}"


def score_setting(model: str, length: int, mode: str, claims: list[Any]) -> dict[str, Any]:
    """Each claim's candidates' scores (in the candidates' order) and work."""
    from rerank_plugins import CrossEncoderScorer, Reranker

    scorer = CrossEncoderScorer(
        model,
        runtime="torch",
        max_length=length,
        long_passages=cast(Any, mode),
        calibration=None,
        score_cache_size=0,
    )
    reranker = Reranker(scorer)
    scores, work = [], []
    for query, _ids, texts, _qrels in claims:
        result = reranker.rerank(query, texts)
        by_index = {item.index: item.score for item in result}
        scores.append([by_index[i] for i in range(len(texts))])
        work.append(scorer.work(query, texts))  # no score cache: what a pass reads
    scorer.close()
    return {"scores": scores, "work": work, "depth": encoder_depth(model)}


def simulate(
    cheap: dict[str, Any], full: dict[str, Any], m: int, claims: list[Any]
) -> dict[str, Any]:
    """The cheap pass on every candidate, the full pass on its top ``m`` (one model's logits,
    one scale: all ranked by their latest score): quality and work."""
    from rerank_plugins.evaluation.metrics import ndcg_at, precision_at

    ndcg, p3, work = [], [], []
    for c, (_query, ids, _texts, qrels) in enumerate(claims):
        first = cheap["scores"][c]
        order = sorted(range(len(ids)), key=lambda i: -first[i])
        merged = list(first)
        for i in order[:m]:
            merged[i] = full["scores"][c][i]
        ranking = [ids[i] for i in sorted(range(len(ids)), key=lambda i: -merged[i])]
        ndcg.append(ndcg_at(ranking, qrels, 10))
        p3.append(precision_at(ranking, qrels, 3))
        work.append(
            sum(cheap["work"][c]) * cheap["depth"]
            + sum(full["work"][c][i] for i in order[:m]) * full["depth"]
        )
    return {
        "ndcg@10": statistics.fmean(ndcg),
        "p@3": statistics.fmean(p3),
        "layer_tokens": statistics.fmean(work),
        "per_claim": {"ndcg@10": ndcg, "p@3": p3},
    }


def _scored(
    settings: list[tuple[str, str, int, str]], claims: list[Any], path: Path
) -> dict[str, Any]:
    """Each setting's scores over ``claims``, from the cache at ``path`` or scored (and cached)."""
    cache: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    for name, model, length, mode in settings:
        if key(model, length, mode) not in cache:
            print(f"scoring {name} {length} {mode}", flush=True)
            cache[key(model, length, mode)] = score_setting(model, length, mode, claims)
            path.write_text(json.dumps(cache))
    return cache


def _grid(
    cache: dict[str, Any], names: dict[str, str], claims: list[Any], teacher: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every cheap setting then every windows setting of the same model, ``m`` from 0 to 20."""
    rows = []
    for cheap_key, full_key in [(a, b) for a in names for b in names if a != b]:
        same_model = cheap_key.rpartition("@")[0] == full_key.rpartition("@")[0]
        if not same_model or not full_key.endswith(":windows"):
            continue
        for m in range(21):
            row = simulate(cache[cheap_key], cache[full_key], m, claims)
            row |= {
                "model": names[cheap_key],
                "cheap": cheap_key.rpartition("@")[2],
                "full": full_key.rpartition("@")[2],
                "cheap_key": cheap_key,
                "full_key": full_key,
                "m": m,
                "cost": row["layer_tokens"] / teacher["layer_tokens"],
            }
            rows.append(row)
    return rows


def _brief(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: v for k, v in row.items() if k != "per_claim"}


def _validation(args: argparse.Namespace) -> dict[str, Any]:
    claims, first = claims_of(args.data)
    settings = [("teacher", *BUNDLED), *args.setting]
    cache = _scored(settings, claims, args.scores)
    names = {key(model, length, mode): name for name, model, length, mode in settings}
    teacher = simulate(cache[key(*BUNDLED)], cache[key(*BUNDLED)], 0, claims)
    rows = _grid(cache, names, claims, teacher)
    good = [
        r
        for r in rows
        if r["cost"] <= MAX_COST
        and r["ndcg@10"] >= teacher["ndcg@10"] - WITHIN
        and r["p@3"] >= teacher["p@3"] - WITHIN
    ]
    chosen = min(good, key=lambda r: (r["cost"], -r["ndcg@10"]), default=None)
    for r in rows:
        if r["cost"] <= 0.7 and (r["m"] % 2 == 0 or r is chosen):
            print(
                f"{r['model']:8} {r['cheap']:13} then {r['full']:12} top "
                f"{r['m']:2}: nDCG@10 {r['ndcg@10']:.4f} P@3 {r['p@3']:.4f} cost {r['cost']:.3f}"
            )
    print(f"teacher: nDCG@10 {teacher['ndcg@10']:.4f} P@3 {teacher['p@3']:.4f}")
    print("chosen:", _brief(chosen))
    return {
        "protocol": "validation slice, dense top-20, torch fp32, no calibration",
        "first_stage": first,
        "teacher": teacher,
        "rows": [_brief(r) for r in rows],
        "chosen": chosen,
    }


def _dev(args: argparse.Namespace) -> dict[str, Any]:
    """The validation record's choice, measured once on dev, with the paired tests."""
    from rerank_plugins.evaluation.stats import paired_t_test

    chosen = chosen_of(args.dev_check)
    claims, first = claims_of(args.data, "dev")
    settings = [("teacher", *BUNDLED)]
    for k in (chosen["cheap_key"], chosen["full_key"]):
        model, _, read = k.rpartition("@")
        length, _, mode = read.partition(":")
        settings.append((chosen["model"], model, int(length), mode))
    cache = _scored(settings, claims, args.scores)
    teacher = simulate(cache[key(*BUNDLED)], cache[key(*BUNDLED)], 0, claims)
    got = simulate(cache[chosen["cheap_key"]], cache[chosen["full_key"]], chosen["m"], claims)
    # Not a choice: where the loss comes from (the same scores, every candidate read whole).
    whole = simulate(cache[chosen["full_key"]], cache[chosen["full_key"]], 0, claims)
    tests = {
        f"p_{metric}_{a}_vs_{b}": paired_t_test(x["per_claim"][metric], y["per_claim"][metric])
        for metric in ("ndcg@10", "p@3")
        for a, b, x, y in [("chosen", "first", first, got), ("chosen", "teacher", teacher, got)]
    }
    out = {
        "ndcg@10": got["ndcg@10"],
        "p@3": got["p@3"],
        "cost": got["layer_tokens"] / teacher["layer_tokens"],
    }
    print(
        f"dev ({len(claims)} claims): first stage nDCG@10 {first['ndcg@10']:.4f} P@3 "
        f"{first['p@3']:.4f}; teacher {teacher['ndcg@10']:.4f} {teacher['p@3']:.4f}; "
        f"chosen {got['ndcg@10']:.4f} {got['p@3']:.4f} at {out['cost']:.3f} of its work"
    )
    print(tests)
    return {
        "protocol": "dev split (once, for the validation slice's choice), dense top-20, torch "
        "fp32, no calibration; paired t-tests over claims",
        "chosen": _brief(chosen),
        "first_stage": first,
        "teacher": teacher,
        "dev": got | out,
        "full_on_all": {k: whole[k] for k in ("ndcg@10", "p@3")},
        "tests": tests,
    }


def _timing(args: argparse.Namespace) -> dict[str, Any]:
    """Wall time a claim of the validation record's choice against the teacher at its bundled
    setting, on each runtime, side by side (claim by claim, in turn), on the validation claims."""
    from rerank_plugins import CrossEncoderScorer, Reranker
    from rerank_plugins.scorers.local import cpu_name

    chosen = json.loads(args.time_choice.read_text())["chosen"]
    if chosen is None:
        raise SystemExit(f"{args.time_choice} chose nothing: there is nothing to time")
    claims, _ = claims_of(args.data)

    def reranker(spec: str, runtime: str) -> Reranker:
        model, _, read = spec.rpartition("@")
        length, _, mode = read.partition(":")
        scorer = CrossEncoderScorer(
            model,
            runtime=cast(Any, runtime),
            max_length=int(length),
            long_passages=cast(Any, mode),
            calibration=None,
            score_cache_size=0,
        )
        out = Reranker(scorer)
        out.rerank("warm-up", ["one passage", "another passage " * 200])
        return out

    runs: dict[str, Any] = {}
    for runtime in args.time:
        teacher = reranker(key(*BUNDLED), runtime)
        cheap = reranker(chosen["cheap_key"], runtime)
        full = reranker(chosen["full_key"], runtime)
        ms: dict[str, list[float]] = {"teacher": [], "chosen": []}
        for query, _ids, texts, _qrels in claims:
            start = time.perf_counter()
            teacher.rerank(query, texts)
            ms["teacher"].append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            top = cheap.rerank(query, texts).indices[: chosen["m"]]
            full.rerank(query, [texts[i] for i in top])
            ms["chosen"].append((time.perf_counter() - start) * 1000)
        p50 = {name: statistics.median(values) for name, values in ms.items()}
        runs[runtime] = {"p50_ms": p50, "ratio": p50["chosen"] / p50["teacher"]}
        print(
            f"{runtime}: teacher p50 {p50['teacher']:.0f} ms, chosen {p50['chosen']:.0f} ms "
            f"({runs[runtime]['ratio']:.2f}x)",
            flush=True,
        )
        for r in (teacher, cheap, full):
            r.scorer.close()
    return {
        "protocol": "validation claims, dense top-20; per claim the teacher at its bundled "
        "setting, then the choice (first pass over all, windows over its top m), in turn; "
        "no calibration, no score cache",
        "cpu": cpu_name(),
        "threads": os.cpu_count(),
        "load_before": os.getloadavg()[0],
        "chosen": _brief(chosen),
        "runtimes": runs,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="SciFact in BEIR layout, with qrels/train.tsv")
    p.add_argument(
        "--setting",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=MODEL@LEN:MODE",
        help="a model at one setting (repeat)",
    )
    p.add_argument(
        "--dev-check",
        type=Path,
        metavar="VALIDATION_RECORD",
        help="measure that record's choice once on dev (no --setting needed)",
    )
    p.add_argument(
        "--time",
        type=lambda text: text.split(","),
        metavar="RUNTIME,...",
        help="time --time-choice's choice against the teacher on these runtimes",
    )
    p.add_argument("--time-choice", type=Path, metavar="VALIDATION_RECORD")
    p.add_argument(
        "--scores",
        type=Path,
        default=ROOT / "runs" / "cascade_scores.json",
        help="the scores cache (default: %(default)s; --dev-check needs its own)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/cascade.json")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier --out")
    args = p.parse_args()
    if args.out.exists() and not args.overwrite:
        p.error(f"{args.out} exists; pass --overwrite to replace it")
    if not args.setting and args.dev_check is None and args.time is None:
        p.error("pass --setting (validation), --dev-check or --time with --time-choice")
    if args.time is not None and args.time_choice is None:
        p.error("--time needs --time-choice VALIDATION_RECORD")
    if args.time is not None:
        record = _timing(args)
    else:
        record = _dev(args) if args.dev_check is not None else _validation(args)
    args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
