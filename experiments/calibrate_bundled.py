"""Calibrate the bundled reranker on SciFact training claims, install it, measure dev once.

What ``rerank-plugins calibrate DATASET --reranker cross-encoder:bundled:scifact-minilm`` does
(the same library calls: :func:`~rerank_plugins.evaluation.calibration.score_pairs` and
:func:`~rerank_plugins.evaluation.calibration.fit_and_check`), plus the two steps that ship it:

1. score each judged claim's dense top-20 (fp32 reference runtime) for the fit slice of the
   training claims, the validation slice and the development claims;
2. fit Platt scaling on the fit slice and check it on the validation slice (with
   ``--fit-on validation``: fit on the validation slice and check on dev; never on the pairs it
   was fit on), write ``rerank_plugins/models/scifact-minilm/calibration.json`` and name it in
   the artifact's manifest, so ``CrossEncoderScorer("bundled:scifact-minilm")`` applies it;
3. measure the development claims once (ECE, Brier, log-loss, what ``min_score`` keeps, and
   nDCG@10 / P@3 before and after calibrating, which must not move) into
   ``benchmarks/results/bundled_calibration.json``, which the model card reads.

Scoring takes most of the time (on 2 idle CPU cores about 1 s per claim, so 10 minutes for the
training claims; far longer on a busy machine); ``--pairs DIR`` keeps each subset's scored
pairs there and reuses them on a rerun.

Usage:
    python experiments/calibrate_bundled.py path/to/scifact [--pairs runs/cal-pairs] [--overwrite]
        [--bundled scifact-minilm-l4]   # the bundled student instead of the teacher
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "rerank_plugins" / "models"
TEACHER = "scifact-minilm"
K = 20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="SciFact in BEIR layout, with qrels/train.tsv")
    p.add_argument("--pairs", type=Path, help="keep (and reuse) each subset's scored pairs here")
    p.add_argument("--method", choices=("platt", "isotonic"), default="platt")
    p.add_argument(
        "--fit-on",
        choices=("fit", "validation"),
        default="fit",
        help="fit: the training claims without the validation slice, checked on the slice "
        "(default); validation: the slice alone (71 claims, quicker to score), checked on dev",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a shipped calibration")
    p.add_argument(
        "--bundled",
        default=TEACHER,
        help=f"which bundled reranker (default {TEACHER}; the student's figures go to "
        "benchmarks/results/bundled_calibration-<name>.json)",
    )
    p.add_argument(
        "--runtime",
        default="torch",
        help="the cross-encoder's runtime (default torch, the fp32 reference; 'auto' is what "
        "CrossEncoderScorer uses by default, bf16 where the CPU has bf16 units: logits within "
        "0.07 of fp32 on average, and 2-3x faster)",
    )
    p.add_argument(
        "--only",
        choices=("fit", "validation", "dev"),
        help="score this subset into --pairs and stop (run subsets in parallel, then once more "
        "without --only to fit and measure)",
    )
    p.add_argument(
        "--part",
        default="0/1",
        help="with --only: score the i-th of n interleaved parts of the subset (e.g. 1/2), "
        "saved as it goes, so parts run in parallel processes",
    )
    args = p.parse_args()
    if args.only and not args.pairs:
        raise SystemExit("--only needs --pairs DIR to keep the scored pairs in.")
    artifact = MODELS / args.bundled
    suffix = "" if args.bundled == TEACHER else f"-{args.bundled}"
    results_path = ROOT / "benchmarks" / "results" / f"bundled_calibration{suffix}.json"
    target = artifact / "calibration.json"
    for path in (target, results_path):
        if path.exists() and not args.overwrite and not args.only:
            raise SystemExit(f"{path} already exists; pass --overwrite to replace it.")

    from rerank_plugins.evaluation.beir import dev_train_split, load_beir, validation_split
    from rerank_plugins.evaluation.calibration import fit_and_check
    from rerank_plugins.evaluation.retrieval import make_retriever
    from rerank_plugins.scorers import from_spec

    dataset = load_beir(args.data, split="train")
    dev, train = dev_train_split(dataset)
    validation, fit = validation_split(train)
    retriever = make_retriever("dense", dataset.corpus, index_dirs=dataset.index_dirs)
    scorer = from_spec(
        f"cross-encoder:bundled:{args.bundled}", runtime=args.runtime, calibration=None
    )
    subsets = {"fit": fit, "validation": validation, "dev": dev}
    if args.only:
        index, parts = (int(x) for x in args.part.split("/"))
        _score_part(args, args.only, subsets[args.only], (index, parts), dataset, retriever, scorer)
        return
    check_on = "validation" if args.fit_on == "fit" else "dev"
    pairs = {
        name: _pairs(args, name, subsets[name], dataset, retriever, scorer)
        for name in dict.fromkeys((args.fit_on, check_on, "dev"))
    }
    where = f"{args.data.name} qrels/train.tsv"
    what = {
        "fit": "training claims, validation slice held out",
        "validation": "the validation slice of the training claims",
        "dev": "development claims, measured once",
    }
    run = fit_and_check(
        pairs[args.fit_on],
        pairs[check_on],
        scorer,
        method=args.method,
        data=f"{where}, subset {args.fit_on} ({_of(pairs[args.fit_on], subsets[args.fit_on])} "
        f"claims: {what[args.fit_on]})",
        first_stage=f"{retriever.name} top-{K}; scored on runtime {scorer.runtime}",
        checked_on=f"{where}, subset {check_on} ({_of(pairs[check_on], subsets[check_on])} "
        f"claims: {what[check_on]})",
    )
    cal = run.calibration
    cal.save(target, overwrite=args.overwrite)
    _name_in_manifest(artifact, target.name)
    print(f"wrote {target.relative_to(ROOT)}: {cal.describe()}")
    results = {
        "calibration": cal.as_dict(),
        "fit_on": args.fit_on,
        "check_on": check_on,
        "dev": _measure(pairs["dev"], dataset, cal),
        "dev_claims": len(dev),
        "dev_claims_scored": _claims(pairs["dev"]),
    }
    results_path.write_text(json.dumps(results, indent=2) + "\n")
    d = results["dev"]
    half = d["thresholds_after"][2]
    rate = {k: "-" if half[k] is None else f"{half[k]:.2f}" for k in ("precision", "recall")}
    print(
        f"dev ({d['claims']} of {len(dev)} claims, {d['after']['pairs']} pairs): ECE "
        f"{d['before']['ece']:.3f} -> {d['after']['ece']:.3f}; min_score=0.5 keeps precision "
        f"{rate['precision']}, recall {rate['recall']}"
    )
    print(f"wrote {results_path.relative_to(ROOT)}")


def _pairs(
    args: argparse.Namespace, name: str, ids: list[str], dataset: Any, retriever: Any, scorer: Any
) -> list[Any]:
    from rerank_plugins.evaluation.calibration import ScoredPair, score_pairs

    cached = args.pairs / f"{name}.json" if args.pairs else None
    hits = retriever.search({q: dataset.queries[q] for q in ids}, k=K, progress=False)
    pieces = sorted(args.pairs.glob(f"{name}.part*.json")) if args.pairs else []
    if cached is not None and (cached.is_file() or pieces):
        files = [cached] if cached.is_file() else pieces
        rank = {(q, h.doc_id): i for q, found in hits.items() for i, h in enumerate(found)}
        rows = [ScoredPair(**row) for f in files for row in json.loads(f.read_text())]
        scored = {p.query_id for p in rows}
        if len(scored) < len(ids):
            print(f"  {name}: {len(scored)} of {len(ids)} claims scored; using those", flush=True)
        return sorted(rows, key=lambda p: (ids.index(p.query_id), rank[p.query_id, p.doc_id]))
    print(f"scoring {len(ids)} {name} claims...", flush=True)
    out = score_pairs(dataset, hits, scorer, progress=_every(10))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps([asdict(p) for p in out]))
    return out


def _score_part(
    args: argparse.Namespace,
    name: str,
    ids: list[str],
    part: tuple[int, int],
    dataset: Any,
    retriever: Any,
    scorer: Any,
) -> None:
    """Score every n-th claim of a subset, rewriting its file after every 5 claims."""
    from rerank_plugins.evaluation.calibration import score_pairs

    index, parts = part
    mine = ids[index::parts]
    path = args.pairs / f"{name}.part{index}of{parts}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    hits = retriever.search({q: dataset.queries[q] for q in mine}, k=K, progress=False)
    done: list[dict[str, Any]] = []
    for start in range(0, len(mine), 5):
        chunk = {q: hits[q] for q in mine[start : start + 5]}
        done += [asdict(p) for p in score_pairs(dataset, chunk, scorer)]
        path.write_text(json.dumps(done))
        print(f"  {name} part {index}/{parts}: {start + len(chunk)} of {len(mine)}", flush=True)


def _of(pairs: list[Any], ids: list[str]) -> str:
    """``"50 of 81"`` when only some of a subset's claims were scored, else ``"81"``."""
    scored = _claims(pairs)
    return f"{scored} of {len(ids)}" if scored < len(ids) else str(len(ids))


def _claims(pairs: list[Any]) -> int:
    return len({p.query_id for p in pairs})


def _every(n: int) -> Any:
    """A progress wrapper that prints one line every ``n`` claims (for a log)."""

    def wrap(items: Any) -> Any:
        for i, item in enumerate(items, 1):
            yield item
            if i % n == 0:
                print(f"  {i} claims scored", flush=True)

    return wrap


def _name_in_manifest(artifact: Path, name: str) -> None:
    path = artifact / "reranker.json"
    manifest = json.loads(path.read_text())
    manifest["calibration"] = name
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _measure(pairs: list[Any], dataset: Any, cal: Any) -> dict[str, Any]:
    """Calibration figures of ``pairs``, and nDCG@10 / P@3 of each claim's order before
    reranking, reranked on the model's own scale, and reranked calibrated (the core's order)."""
    from rerank_plugins import Reranker, Scorer
    from rerank_plugins._calibration import reliability_bins
    from rerank_plugins.evaluation.calibration import (
        calibration_summary,
        probabilities,
        threshold_table,
    )
    from rerank_plugins.evaluation.metrics import evaluate_ranking

    labels = [p.relevant for p in pairs]
    before = probabilities(pairs, "sigmoid", None)
    after = probabilities(pairs, "sigmoid", cal)
    by_query: dict[str, list[Any]] = {}
    for pair in pairs:
        by_query.setdefault(pair.query_id, []).append(pair)

    class Replay(Scorer):
        """The scored pairs' raw logits, replayed through the core."""

        backend = cal.backend

        def __init__(self, table: dict[str, float], **kwargs: Any) -> None:
            self.table = table
            super().__init__(**kwargs)

        @property
        def model(self) -> str:
            return str(cal.model)

        def score_unit(self, query: str, texts: Any, *, timeout: Any) -> list[float]:
            return [self.table[t] for t in texts]

    metrics = ["nDCG@10", "P@3"]
    orders: dict[str, list[dict[str, float]]] = {"retrieval": [], "own": [], "calibrated": []}
    for qid, rows in by_query.items():
        docs = [p.doc_id for p in rows]  # retrieval order (score_pairs keeps it)
        table = {p.doc_id: p.raw for p in rows}
        relevant = dataset.qrels.get(qid, {})
        own = Reranker(Replay(table)).rerank(qid, docs).indices
        calibrated = Reranker(Replay(table, calibration=cal)).rerank(qid, docs).indices
        assert own == calibrated, f"calibration changed the order of claim {qid}"
        orders["retrieval"].append(evaluate_ranking(docs, relevant, metrics))
        orders["own"].append(evaluate_ranking([docs[i] for i in own], relevant, metrics))
        orders["calibrated"].append(
            evaluate_ranking([docs[i] for i in calibrated], relevant, metrics)
        )
    depths = {}
    for depth in (20, 10, 5, 3):
        rank: dict[str, int] = {}
        keep = []
        for i, pair in enumerate(pairs):  # retrieval order per claim
            rank[pair.query_id] = rank.get(pair.query_id, -1) + 1
            if rank[pair.query_id] < depth:
                keep.append(i)
        probs, outcomes = [after[i] for i in keep], [labels[i] for i in keep]
        depths[str(depth)] = {
            **calibration_summary(probs, outcomes),
            "mean_score": sum(probs) / len(probs),
            "at_0.5": asdict(threshold_table(probs, outcomes, thresholds=(0.5,))[0]),
        }
    return {
        "claims": len(by_query),
        "bins_before": reliability_bins(before, labels),
        "bins_after": reliability_bins(after, labels),
        "depths": depths,
        "before": calibration_summary(before, labels),
        "after": calibration_summary(after, labels),
        "thresholds_before": [asdict(r) for r in threshold_table(before, labels)],
        "thresholds_after": [asdict(r) for r in threshold_table(after, labels)],
        "ranking": {
            name: {m: sum(q[m] for q in qs) / len(qs) for m in metrics}
            for name, qs in orders.items()
        },
    }


if __name__ == "__main__":
    main()
