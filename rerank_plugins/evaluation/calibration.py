"""Measure and fit calibration on judged data: what ``rerank-plugins calibrate`` and ``eval`` use.

- :func:`score_pairs`: every first-stage candidate of every query scored by a scorer, with its
  judgement (the raw material of a fit or a check).
- :func:`calibration_summary`: ECE, Brier score and log-loss of probabilities against outcomes.
- :func:`threshold_table`: what ``min_score`` thresholds keep (pairs, precision, recall).
- :func:`draw_reliability`, :func:`draw_reliability_bins`: the reliability diagram (matplotlib).

Example:
    >>> from rerank_plugins.evaluation.calibration import threshold_table
    >>> rows = threshold_table([0.9, 0.6, 0.2], [1, 0, 1], thresholds=(0.5,))
    >>> rows[0].kept, rows[0].precision, rows[0].recall
    (2, 0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rerank_plugins._calibration import (
    Calibration,
    Method,
    brier_score,
    expected_calibration_error,
    fit_calibration,
    log_loss,
    reliability_bins,
    signal_of,
    with_metrics,
)
from rerank_plugins._core import Reranker
from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._scorer import Normalization, Scorer, normalize
from rerank_plugins.evaluation.beir import BeirDataset
from rerank_plugins.evaluation.retrieval import Hit

__all__ = [
    "THRESHOLDS",
    "CalibrationRun",
    "ScoredPair",
    "ThresholdRow",
    "calibration_summary",
    "draw_reliability",
    "draw_reliability_bins",
    "fit_and_check",
    "probabilities",
    "render_summary",
    "render_threshold_table",
    "score_pairs",
    "signals",
    "threshold_table",
]

THRESHOLDS = (0.1, 0.3, 0.5, 0.7, 0.9)
"""The ``min_score`` thresholds the reports tabulate."""


@dataclass(frozen=True)
class ScoredPair:
    """One judged (query, candidate) pair and what the scorer made of it.

    Attributes:
        query_id: The query.
        doc_id: The candidate.
        raw: The scorer's raw score.
        relevant: Whether the judgements call it relevant (grade > 0).
    """

    query_id: str
    doc_id: str
    raw: float
    relevant: bool


@dataclass(frozen=True)
class ThresholdRow:
    """What one ``min_score`` keeps of the scored pairs.

    Attributes:
        threshold: The ``min_score``.
        kept: Pairs whose score clears it.
        share_kept: ``kept`` over all pairs.
        precision: Relevant share of the kept pairs (``None`` when nothing is kept).
        recall: Share of the relevant pairs that are kept (``None`` without relevant pairs).
    """

    threshold: float
    kept: int
    share_kept: float
    precision: float | None
    recall: float | None


def score_pairs(
    dataset: BeirDataset,
    candidates: Mapping[str, Sequence[Hit]],
    scorer: Scorer,
    *,
    progress: Any = None,
) -> list[ScoredPair]:
    """Score every candidate of every query (through the core, as production does) and pair the
    raw score with the query's judgement, in retrieval order; candidates left unscored are
    skipped.

    Args:
        dataset: Supplies query texts, documents and judgements.
        candidates: Query id -> first-stage hits, best first.
        scorer: The scorer (its calibration, if any, plays no part: raw scores are kept).
        progress: Wraps the query iteration (e.g. a tqdm), or ``None``.
    """
    reranker = Reranker(scorer)
    out: list[ScoredPair] = []
    items = candidates.items() if progress is None else progress(candidates.items())
    for qid, hits in items:
        relevant = dataset.qrels.get(qid, {})
        ids = [h.doc_id for h in hits]
        result = reranker.rerank(dataset.queries[qid], [dataset.document_text(d) for d in ids])
        for item in sorted(result.items, key=lambda it: it.index):  # retrieval order
            if item.raw_score is not None:
                doc = ids[item.index]
                out.append(ScoredPair(qid, doc, item.raw_score, relevant.get(doc, 0) > 0))
    return out


def probabilities(
    pairs: Sequence[ScoredPair], normalization: str, calibration: Calibration | None
) -> list[float]:
    """The pairs' scores as the core reports them: calibrated when ``calibration`` is given,
    else normalised on the scorer's own scale. Raw scores are mapped per query, so a listwise
    rank normalises within its own list."""
    by_query: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        by_query.setdefault(pair.query_id, []).append(i)
    out = [0.0] * len(pairs)
    for positions in by_query.values():
        raw = [pairs[i].raw for i in positions]
        if calibration is None:
            values = normalize(Normalization(normalization), raw)
        else:
            values = calibration.apply(signal_of(normalization, raw))
        for i, value in zip(positions, values, strict=True):
            out[i] = value
    return out


def signals(pairs: Sequence[ScoredPair], normalization: str) -> list[float]:
    """What a calibration maps for each pair (the logit, or the normalised score), per query."""
    by_query: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        by_query.setdefault(pair.query_id, []).append(i)
    out = [0.0] * len(pairs)
    for positions in by_query.values():
        values = signal_of(normalization, [pairs[i].raw for i in positions])
        for i, value in zip(positions, values, strict=True):
            out[i] = value
    return out


def calibration_summary(
    probs: Sequence[float], labels: Sequence[bool | int]
) -> dict[str, float | int]:
    """ECE (10 equal-width bins), Brier score and log-loss of ``probs`` against ``labels``.

    >>> calibration_summary([0.5, 0.5], [1, 0])["ece"]
    0.0
    """
    return {
        "pairs": len(probs),
        "relevant": sum(1 for y in labels if y),
        "ece": expected_calibration_error(probs, labels),
        "brier": brier_score(probs, labels),
        "log_loss": log_loss(probs, labels),
    }


def threshold_table(
    probs: Sequence[float],
    labels: Sequence[bool | int],
    *,
    thresholds: Sequence[float] = THRESHOLDS,
) -> list[ThresholdRow]:
    """What each ``min_score`` keeps: the pairs whose score is at least the threshold (the
    core's rule), their precision, and the recall of the relevant pairs."""
    total = len(probs)
    relevant = sum(1 for y in labels if y)
    rows = []
    for t in thresholds:
        kept = [bool(y) for p, y in zip(probs, labels, strict=True) if p >= t]
        hits = sum(kept)
        rows.append(
            ThresholdRow(
                threshold=t,
                kept=len(kept),
                share_kept=len(kept) / total if total else 0.0,
                precision=hits / len(kept) if kept else None,
                recall=hits / relevant if relevant else None,
            )
        )
    return rows


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def render_threshold_table(rows: Sequence[ThresholdRow], *, markdown: bool = False) -> list[str]:
    """The threshold table as text lines (aligned columns, or a Markdown table)."""
    header = ["min_score", "pairs kept", "share kept", "precision", "recall"]
    body = [
        [f"{r.threshold:g}", str(r.kept), f"{r.share_kept:.1%}", _pct(r.precision), _pct(r.recall)]
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
        return lines + ["| " + " | ".join(row) + " |" for row in body]
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(header)]
    return [
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *body]
    ]


def render_summary(before: Mapping[str, Any], after: Mapping[str, Any] | None) -> list[str]:
    """ECE, Brier and log-loss, before and (where there is one) after calibration."""
    lines = []
    for key, label in (("ece", "ECE"), ("brier", "Brier"), ("log_loss", "log-loss")):
        line = f"{label:<9} {before[key]:.4f}"
        if after is not None:
            line += f" -> {after[key]:.4f}"
        lines.append(line)
    return lines


def draw_reliability(
    curves: Mapping[str, tuple[Sequence[float], Sequence[bool | int]]],
    path: str | Path,
    *,
    title: str,
) -> Path:
    """Draw a reliability diagram: for each named curve, the share relevant against the mean
    score per bin (10 equal-width bins), with the diagonal of a perfect calibration, and the
    pairs in each bin below.

    Args:
        curves: Label -> (probabilities, outcomes).
        path: The PNG to write (written once; an existing file is replaced only by the caller's
            decision: the commands check their output first).
        title: The figure's title.
    """
    binned = {
        label: (reliability_bins(probs, labels), expected_calibration_error(probs, labels))
        for label, (probs, labels) in curves.items()
    }
    return draw_reliability_bins(binned, path, title=title)


def draw_reliability_bins(
    curves: Mapping[str, tuple[Sequence[Sequence[float]], float]],
    path: str | Path,
    *,
    title: str,
) -> Path:
    """:func:`draw_reliability` from bins already made: for a measurement read back from a
    results file (``docs/scripts/threshold.py``).

    Args:
        curves: Label -> (its bins, as ``reliability_bins`` makes them: ``(low, high, pairs,
            mean probability, share relevant)``, and its expected calibration error).
        path: The PNG to write.
        title: The figure's title.
    """
    from rerank_plugins._optional import require

    mpl = require("matplotlib", extra="eval", who="the reliability diagram")
    mpl.use("Agg")
    plt = require("matplotlib.pyplot", extra="eval", who="the reliability diagram")
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6, 6.4), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for label, (bins, ece) in curves.items():
        top.plot([b[3] for b in bins], [b[4] for b in bins], marker="o",
                 label=f"{label} (ECE {ece:.3f})")  # fmt: skip
        bottom.bar([(b[0] + b[1]) / 2 for b in bins], [b[2] for b in bins],
                   width=[b[1] - b[0] for b in bins], alpha=0.5, label=label)  # fmt: skip
    top.set_ylabel("share actually relevant")
    top.set_ylim(-0.02, 1.02)
    top.set_title(title, fontsize=10)
    top.legend(loc="upper left", fontsize=8)
    bottom.set_xlabel("score (mean per bin of 0.1)")
    bottom.set_ylabel("pairs")
    bottom.set_yscale("log")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


@dataclass(frozen=True)
class CalibrationRun:
    """What :func:`fit_and_check` fitted and measured.

    Attributes:
        calibration: The fitted calibration, its metrics recorded.
        before: :func:`calibration_summary` of the check pairs on the scorer's own scale.
        after: The same, calibrated.
        table_before: :func:`threshold_table` of the check pairs on the scorer's own scale.
        table_after: The same, calibrated.
        check_probs: ``(before, after, labels)`` of the check pairs (for the diagram).
    """

    calibration: Calibration
    before: dict[str, float | int]
    after: dict[str, float | int]
    table_before: list[ThresholdRow]
    table_after: list[ThresholdRow]
    check_probs: tuple[list[float], list[float], list[bool]]


def fit_and_check(
    fit_pairs: Sequence[ScoredPair],
    check_pairs: Sequence[ScoredPair],
    scorer: Scorer,
    *,
    method: Method = "platt",
    data: str = "",
    first_stage: str = "",
    checked_on: str = "",
) -> CalibrationRun:
    """Fit a calibration for ``scorer`` on ``fit_pairs`` and measure it on ``check_pairs``.

    Raises:
        ConfigurationError: the two share a query (a calibration is never checked on the pairs
            it was fit on), or the fit is impossible (see :func:`~rerank_plugins.fit_calibration`).
    """
    shared = {p.query_id for p in fit_pairs} & {p.query_id for p in check_pairs}
    if shared:
        raise ConfigurationError(
            f"The fit and check sets share {len(shared)} queries (e.g. {sorted(shared)[0]!r}); a "
            f"calibration is checked on pairs it was not fit on: pick disjoint subsets."
        )
    kind = Normalization(scorer.normalization).value
    calibration = fit_calibration(
        signals(fit_pairs, kind),
        [p.relevant for p in fit_pairs],
        backend=scorer.backend,
        model=scorer.model,
        normalization=kind,
        method=method,
        data=data,
        first_stage=first_stage,
    )
    labels = [p.relevant for p in check_pairs]
    before_p = probabilities(check_pairs, kind, None)
    after_p = probabilities(check_pairs, kind, calibration)
    before, after = calibration_summary(before_p, labels), calibration_summary(after_p, labels)
    metrics: dict[str, Any] = {"evaluated_on": checked_on, "evaluated_pairs": len(labels)}
    for key in ("ece", "brier", "log_loss"):
        metrics[f"{key}_before"] = round(float(before[key]), 6)
        metrics[f"{key}_after"] = round(float(after[key]), 6)
    return CalibrationRun(
        calibration=with_metrics(calibration, metrics),
        before=before,
        after=after,
        table_before=threshold_table(before_p, labels),
        table_after=threshold_table(after_p, labels),
        check_probs=(before_p, after_p, labels),
    )
