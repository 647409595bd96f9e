"""Choosing a threshold: with a calibration, ``min_score=0.5`` means "probably relevant".

The bundled reranker ships calibrated: its ``relevance_score`` is P(relevant) for a claim's
candidates from a dense first stage, fit on SciFact training claims. This example reranks a few
SciFact development claims with ``min_score=0.5`` and shows, for what it keeps, the probability
beside the model's own scale (the sigmoid of its logit). Then it calibrates a scorer of its own
(word overlap) the way ``rerank-plugins calibrate`` does: fit on some claims, check on others,
save the file, hand it to the scorer with ``calibration=``.

Run: ``python examples/choosing_threshold.py`` (offline; the bundled reranker needs
``rerank-plugins[local]``).
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from _scifact import CI, load_task, mark  # sets the offline environment first

from rerank_plugins import (
    Calibration,
    CrossEncoderScorer,
    Normalization,
    Reranker,
    Scorer,
    fit_calibration,
)
from rerank_plugins.evaluation.calibration import render_threshold_table, threshold_table

_WORD = re.compile(r"[a-z0-9]+")


class OverlapScorer(Scorer):
    """Share of the claim's words found in the abstract: a score on a scale of its own."""

    backend = "overlap"
    normalization = Normalization.IDENTITY

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> list[float]:
        wanted = set(_WORD.findall(query.lower()))
        return [len(wanted & set(_WORD.findall(t.lower()))) / len(wanted) for t in texts]


def bundled(claims: dict[str, str], docs: dict[str, str], relevant: dict[str, set[str]]) -> None:
    scorer = CrossEncoderScorer("bundled:scifact-minilm")
    cal = scorer.calibration
    assert cal is not None  # the bundled artifact carries its calibration
    print(f"bundled reranker, calibrated: {cal.describe()}")
    print(f"  fit on {cal.pairs} pairs of {cal.data}; first stage {cal.first_stage}\n")
    ids, texts = list(docs), list(docs.values())
    for qid, claim in list(claims.items())[: 1 if CI else 3]:
        result = Reranker(scorer).rerank(claim, texts)
        print(f"claim: {claim}")
        for item in result[:3]:
            own = 1.0 / (1.0 + math.exp(-(item.raw_score or 0.0)))
            print(
                f"  {mark(ids[item.index], relevant[qid])} P(relevant) {item.score:.2f} "
                f"(own scale {own:.2f}, logit {item.raw_score:+.1f})  {texts[item.index][:60]}..."
            )
        for floor in (0.5, 0.1):  # the scores are cached: these calls score nothing again
            kept = Reranker(scorer, min_score=floor).rerank(claim, texts)
            hits = sum(ids[item.index] in relevant[qid] for item in kept)
            print(f"  min_score={floor} keeps {len(kept)} of {len(texts)} ({hits} relevant)")
        print()


def your_own(claims: dict[str, str], docs: dict[str, str], relevant: dict[str, set[str]]) -> None:
    scorer = OverlapScorer()
    ids, texts = list(docs), list(docs.values())
    half = len(claims) // 2
    fit, check = list(claims)[:half], list(claims)[half:]

    def judged(qids: list[str], s: Scorer) -> tuple[list[float], list[float], list[bool]]:
        raw, scores, labels = [], [], []
        for qid in qids:
            for item in Reranker(s).rerank(claims[qid], texts):
                raw.append(item.raw_score or 0.0)
                scores.append(item.score or 0.0)
                labels.append(ids[item.index] in relevant[qid])
        return raw, scores, labels

    raw, _, labels = judged(fit, scorer)
    cal = fit_calibration(
        raw, labels, backend=scorer.backend, model=scorer.model, normalization="identity"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = cal.save(Path(folder) / "overlap.json")
        calibrated = OverlapScorer(calibration=path)  # a path, a Calibration, or None
        assert Calibration.load(path) == calibrated.calibration
        _, own, labels = judged(check, scorer)
        _, probs, _ = judged(check, calibrated)
    print(f"word overlap, calibrated on {len(fit)} claims: {cal.describe()}")
    print(f"what min_score keeps on {len(check)} other claims, on the overlap's own scale:")
    print("\n".join("  " + line for line in render_threshold_table(threshold_table(own, labels))))
    print("and calibrated:")
    print("\n".join("  " + line for line in render_threshold_table(threshold_table(probs, labels))))


def main() -> None:
    task = load_task(n_claims=8 if CI else 30, lookalikes=3 if CI else 10)
    bundled(task.claims, task.docs, task.relevant)
    your_own(task.claims, task.docs, task.relevant)


if __name__ == "__main__":
    main()
