"""Render an :class:`~rerank_plugins.evaluation.run.EvalResult`: terminal, JSON, Markdown + PNG.

- :func:`render_terminal`: the readable report the CLI prints.
- :func:`write_json`: every figure and every query, for machines (``report.json``).
- :func:`write_markdown`: ``report.md`` with tables and three plots (``lift_per_query.png``, the
  per-query change of nDCG@10 and P@3; ``precision_at_k.png``, P@k before and after for every
  k up to the retrieval depth; ``reliability.png``, the reliability diagram of the scores),
  drawn with matplotlib.
- :func:`score_calibration`: how well the scores of the judged pairs match how often they are
  relevant (ECE, Brier score) and what ``min_score`` thresholds keep; in every report.
- :func:`write_reports`: all three into one folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rerank_plugins._optional import require
from rerank_plugins.evaluation.calibration import (
    calibration_summary,
    draw_reliability,
    render_threshold_table,
    threshold_table,
)
from rerank_plugins.evaluation.metrics import precision_at
from rerank_plugins.evaluation.run import DocumentView, EvalResult, QueryView
from rerank_plugins.evaluation.stats import Comparison

__all__ = [
    "describe_lift",
    "precision_curve",
    "render_terminal",
    "score_calibration",
    "write_json",
    "write_markdown",
    "write_reports",
]

ALPHA = 0.05
"""Significance level the reports use to call a lift significant."""


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _signed(x: float, digits: int = 3) -> str:
    return f"{x:+.{digits}f}"


def _rel(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f}%"


def _p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def describe_lift(metric: str, c: Comparison) -> str:
    """One sentence: the lift of ``metric``, its interval, its p-value, and what that means.

    >>> from rerank_plugins.evaluation.stats import compare
    >>> describe_lift("P@3", compare([0.0] * 30, [1 / 3] * 30)).split(",")[0]
    'P@3 0.000 -> 0.333: lift +0.333 (n/a)'
    """
    if c.p_value >= ALPHA:
        verdict = f"not significant at {ALPHA:g}"
    elif c.absolute_lift > 0:
        verdict = f"significant at {ALPHA:g}"
    else:
        verdict = f"significantly worse at {ALPHA:g}: this reranker hurts here"
    return (
        f"{metric} {c.before:.3f} -> {c.after:.3f}: lift {_signed(c.absolute_lift)} "
        f"({_rel(c.relative_lift)}), 95% CI [{_signed(c.ci[0])}, {_signed(c.ci[1])}], "
        f"p = {_p(c.p_value)} (paired randomization test, {c.queries} queries): {verdict}."
    )


def _config_lines(result: EvalResult) -> list[str]:
    cfg = result.config
    opts = ", ".join(
        f"{key}={cfg.get(key)}"
        for key in ("top_n", "max_candidates", "budget_ms", "blend")
        if key in cfg
    )
    return [
        f"dataset:    {cfg.get('dataset', '?')} (qrels split {cfg.get('split', '?')!r}, "
        f"queries: {cfg.get('subset', 'all')}, {cfg['queries']} evaluated)",
        f"first stage: {cfg.get('retriever', '?')}, top {cfg['k']}",
        f"reranker:   {cfg.get('reranker', '?')}" + (f" ({opts})" if opts else ""),
    ]


def _metric_rows(result: EvalResult) -> list[list[str]]:
    rows = []
    for m in result.metrics:
        c = result.comparisons[m]
        rows.append(
            [
                m,
                f"{c.before:.3f}",
                f"{c.after:.3f}",
                _signed(c.absolute_lift),
                _rel(c.relative_lift),
                f"[{_signed(c.ci[0])}, {_signed(c.ci[1])}]",
                _p(c.p_value),
                _p(c.t_test_p_value),
                f"{_pct(c.improved)} / {_pct(c.unchanged)} / {_pct(c.hurt)}",
            ]
        )
    return rows


_HEADER = [
    "metric",
    "before",
    "after",
    "lift",
    "rel.",
    "95% CI of lift",
    "p (rand.)",
    "p (t)",
    "improved / same / hurt",
]


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    return [line.rstrip() for line in lines + [fmt.format(*r) for r in rows]]


def _latency_line(result: EvalResult) -> str:
    lat = result.latency
    line = (
        f"rerank latency per query (warm, one query at a time): p50 {lat.p50_ms:.1f} ms, "
        f"p95 {lat.p95_ms:.1f} ms, {lat.qps:.1f} queries/s; budget ran out in "
        f"{_pct(lat.budget_exhausted_rate)} of queries; failures fell back in "
        f"{_pct(lat.fallback_rate)}; {lat.scored_per_query:.1f} candidates scored per query."
    )
    if lat.unscored_by_budget_rate:
        line += (
            f"\nWARNING: in {_pct(lat.unscored_by_budget_rate)} of queries the budget ran out "
            f"before any candidate was scored: those keep the first stage's order, so the lift "
            f"above understates the reranker. Raise --budget-ms to measure the model itself."
        )
    return line


def _mark(doc: DocumentView) -> str:
    return "+" if doc.relevant else "-"


def _cell(doc: DocumentView, rank: int, width: int, *, after: bool) -> str:
    extra = ""
    if after:
        score = "unscored" if doc.score is None else f"{doc.score:.2f}"
        extra = f" [{score}, was #{doc.rank_before}]"
    head = f"{rank}. {_mark(doc)} {doc.doc_id} "
    room = max(8, width - len(head) - len(extra))
    title = doc.title if len(doc.title) <= room else doc.title[: room - 3] + "..."
    return f"{head}{title}{extra}"


def _side_by_side(view: QueryView, width: int = 118) -> list[str]:
    half = (width - 3) // 2
    lines = [
        f"[{view.query_id}] {view.query}",
        f"  P@3 {_signed(view.delta['P@3'])}, nDCG@10 {_signed(view.delta['nDCG@10'])}",
        f"  {'first stage':<{half}} | reranked",
    ]
    for i in range(max(len(view.before), len(view.after))):
        left = _cell(view.before[i], i + 1, half, after=False) if i < len(view.before) else ""
        right = _cell(view.after[i], i + 1, half, after=True) if i < len(view.after) else ""
        lines.append(f"  {left:<{half}} | {right}")
    return lines


def _move(doc: DocumentView) -> str:
    to = "cut" if doc.rank_after is None else f"#{doc.rank_after}"
    score = "" if doc.score is None else f", score {doc.score:.2f}"
    rel = "relevant" if doc.relevant else "not relevant"
    return f"{doc.doc_id} ({rel}) #{doc.rank_before} -> {to}{score}: {doc.title}"


def _wrong_lines(view: QueryView) -> list[str]:
    lines = [
        f"[{view.query_id}] nDCG@10 {_signed(view.delta['nDCG@10'])}, "
        f"P@3 {_signed(view.delta['P@3'])}: {view.query}"
    ]
    for doc, other in zip(view.fell, view.took_place, strict=True):
        rel = "relevant" if other.relevant else "not relevant"
        lines.append(
            f"  fell     {_move(doc)}; in its place: {other.doc_id} ({rel}, was "
            f"#{other.rank_before})"
        )
    lines += [f"  promoted {_move(d)}" for d in view.promoted]
    fell = {d.doc_id for d in view.fell}  # already told, with what took its place
    lines += [f"  demoted  {_move(d)}" for d in view.demoted if d.doc_id not in fell]
    if not view.promoted and not view.demoted:
        lines.append("  (same top-3, reordered)")
    return lines


def _sampled(result: EvalResult) -> str:
    if result.config.get("show_chosen"):
        return ", as chosen"
    return ", sampled: one improved, one hurt, one reordered, where there are such"


def _scored_pairs(result: EvalResult) -> tuple[list[float], list[bool]]:
    """Every scored candidate's score and whether it is judged relevant."""
    probs: list[float] = []
    labels: list[bool] = []
    for o in result.outcomes:
        for doc, score in zip(o.after, o.scores, strict=True):
            if score is not None:
                probs.append(score)
                labels.append(o.relevant.get(doc, 0) > 0)
    return probs, labels


def score_calibration(result: EvalResult) -> dict[str, Any]:
    """How far the reported scores are from probabilities, over every scored candidate: ECE,
    Brier score and log-loss, and what each ``min_score`` of the threshold table keeps (pairs,
    precision, recall). The scores are calibrated P(relevant) when the scorer has a calibration
    (``config["calibration"]``), else on its own scale; with ``blend`` they are the blend's."""
    probs, labels = _scored_pairs(result)
    return {
        "calibration": result.config.get("calibration"),
        **calibration_summary(probs, labels),
        "thresholds": [
            {
                "min_score": r.threshold,
                "kept": r.kept,
                "share_kept": r.share_kept,
                "precision": r.precision,
                "recall": r.recall,
            }
            for r in threshold_table(probs, labels)
        ],
    }


def _calibration_lines(result: EvalResult) -> list[str]:
    cal = score_calibration(result)
    scale = (
        "blended scores (not probabilities)"
        if result.config.get("blend") is not None
        else f"calibrated P(relevant) ({cal['calibration']})"
        if cal["calibration"]
        else "on the scorer's own scale (no calibration)"
    )
    return [
        f"Scores: {scale}; over {cal['pairs']} scored pairs ({cal['relevant']} judged relevant): "
        f"ECE {cal['ece']:.3f}, Brier {cal['brier']:.3f}.",
        "What min_score keeps:",
        *("  " + line for line in render_threshold_table(threshold_table(*_scored_pairs(result)))),
    ]


def render_terminal(result: EvalResult) -> str:
    """The readable report: configuration, metrics table, latency, examples, mistakes."""
    out = ["rerank-plugins evaluation", *_config_lines(result), ""]
    out += _table(_metric_rows(result), _HEADER)
    out += [
        "",
        describe_lift(result.headline, result.comparisons[result.headline]),
        _latency_line(result),
        *_calibration_lines(result),
        "",
        f"Side by side (top-3; '+' relevant, '-' not judged relevant; {len(result.showcase)} "
        f"queries{_sampled(result)}):",
    ]
    for view in result.showcase:
        out += [*_side_by_side(view), ""]
    out.append(f"Where the reranker was wrong (the {len(result.hurt_most)} queries it hurt most):")
    if not result.hurt_most:
        out.append("  none: no query lost nDCG@10 or P@3.")
    for view in result.hurt_most:
        out += _wrong_lines(view)
    return "\n".join(out)


def precision_curve(result: EvalResult) -> tuple[list[float], list[float]]:
    """Mean P@k before and after, for k = 1 .. retrieval depth."""
    depth = int(result.config["k"])
    before, after = [], []
    for k in range(1, depth + 1):
        before.append(_mean([precision_at(o.before, o.relevant, k) for o in result.outcomes]))
        after.append(_mean([precision_at(o.after, o.relevant, k) for o in result.outcomes]))
    return before, after


def _mean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs) if xs else 0.0


def write_json(result: EvalResult, path: str | Path) -> Path:
    """Write every figure and every query as JSON; returns the path."""
    data: dict[str, Any] = {
        "summary": describe_lift(result.headline, result.comparisons[result.headline]),
        **result.as_dict(),
    }
    before, after = precision_curve(result)
    data["precision_at_k"] = {"before": before, "after": after}
    data["calibration"] = score_calibration(result)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, allow_nan=False), encoding="utf-8")
    return target


def _plots(result: EvalResult, folder: Path) -> list[str]:
    mpl = require("matplotlib", extra="eval", who="the Markdown report")
    mpl.use("Agg")
    plt = require("matplotlib.pyplot", extra="eval", who="the Markdown report")
    names = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, metric in zip(axes, ("nDCG@10", "P@3"), strict=True):
        deltas = sorted(o.metrics_after[metric] - o.metrics_before[metric] for o in result.outcomes)
        colors = ["#c0392b" if d < 0 else "#27ae60" if d > 0 else "#95a5a6" for d in deltas]
        ax.bar(range(len(deltas)), deltas, color=colors, width=1.0)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(f"{metric} change per query (sorted)")
        ax.set_xlabel("query")
        ax.set_ylabel(f"{metric} after - before")
    fig.tight_layout()
    fig.savefig(folder / "lift_per_query.png", dpi=110)
    plt.close(fig)
    names.append("lift_per_query.png")
    before, after = precision_curve(result)
    ks = list(range(1, len(before) + 1))
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(ks, before, marker="o", label="first stage")
    ax.plot(ks, after, marker="o", label="reranked")
    ax.set_xlabel("k")
    ax.set_ylabel("mean P@k")
    ax.set_title("Precision at k, before and after reranking")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "precision_at_k.png", dpi=110)
    plt.close(fig)
    names.append("precision_at_k.png")
    probs, labels = _scored_pairs(result)
    draw_reliability(
        {"scores": (probs, labels)},
        folder / "reliability.png",
        title="Reliability: share relevant against score (all scored pairs)",
    )
    names.append("reliability.png")
    return names


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_doc(doc: DocumentView, *, after: bool) -> str:
    mark = "✅" if doc.relevant else "✗"
    extra = ""
    if after:
        score = "unscored" if doc.score is None else f"{doc.score:.2f}"
        extra = f" ({score}, was #{doc.rank_before})"
    return f"{mark} `{doc.doc_id}` {_md_escape(doc.title)}{extra}"


def _md_side_by_side(view: QueryView) -> list[str]:
    lines = [
        f"**[{view.query_id}] {_md_escape(view.query)}** (P@3 {_signed(view.delta['P@3'])}, "
        f"nDCG@10 {_signed(view.delta['nDCG@10'])})",
        "",
        "| # | first stage | reranked |",
        "| --- | --- | --- |",
    ]
    for i in range(max(len(view.before), len(view.after))):
        left = _md_doc(view.before[i], after=False) if i < len(view.before) else ""
        right = _md_doc(view.after[i], after=True) if i < len(view.after) else ""
        lines.append(f"| {i + 1} | {left} | {right} |")
    return [*lines, ""]


def write_markdown(result: EvalResult, folder: str | Path) -> Path:
    """Write ``report.md`` and its PNG plots into ``folder``; returns the Markdown path."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    plots = _plots(result, target)
    md = ["# Rerank evaluation", ""]
    md += [
        f"- {_md_escape(line.split(':', 1)[0])}: {_md_escape(line.split(':', 1)[1].strip())}"
        for line in _config_lines(result)
    ]
    md += ["", "## Before and after", ""]
    md.append("| " + " | ".join(_HEADER) + " |")
    md.append("| " + " | ".join("---" for _ in _HEADER) + " |")
    md += ["| " + " | ".join(row) + " |" for row in _metric_rows(result)]
    md += [
        "",
        f"**{describe_lift(result.headline, result.comparisons[result.headline])}**",
        "",
        _latency_line(result)[0].upper() + _latency_line(result)[1:],
        "",
        "p (rand.): two-sided paired randomization test; p (t): paired t-test; the interval is a "
        "95% percentile bootstrap over queries; improved / same / hurt: share of queries whose "
        "value went up, stayed, went down.",
        "",
        f"![per-query lift]({plots[0]})",
        "",
        f"![P@k before and after]({plots[1]})",
        "",
        "## Calibration",
        "",
        _md_escape(_calibration_lines(result)[0]),
        "",
        f"![reliability diagram]({plots[2]})",
        "",
        *render_threshold_table(threshold_table(*_scored_pairs(result)), markdown=True),
        "",
        "## Side by side",
        "",
    ]
    for view in result.showcase:
        md += _md_side_by_side(view)
    md += ["## Where the reranker was wrong", ""]
    if not result.hurt_most:
        md.append("No query lost nDCG@10 or P@3.")
    for view in result.hurt_most:
        md.append(f"- {_md_escape(_wrong_lines(view)[0])}")
        md += [f"  - {_md_escape(line.strip())}" for line in _wrong_lines(view)[1:]]
    path = target / "report.md"
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return path


def write_reports(result: EvalResult, folder: str | Path) -> dict[str, Path]:
    """Write ``report.txt``, ``report.json``, ``report.md`` and the plots into ``folder``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    text = target / "report.txt"
    text.write_text(render_terminal(result) + "\n", encoding="utf-8")
    return {
        "text": text,
        "json": write_json(result, target / "report.json"),
        "markdown": write_markdown(result, target),
    }
