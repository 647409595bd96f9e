"""Budgets and failure handling: what a rerank call does when time runs out or a backend fails.

0. A cold first call with a budget: the model is not loaded yet, so the call starts loading it
   in the background and returns on time with the candidates unscored (``stats.loading``).
1. The bundled cross-encoder reranks 20 SciFact abstracts with no budget, then under budgets
   that cannot cover all of them: what was scored is ranked, the rest follows unscored in
   retrieval order, and the call returns within the budget (give or take one batch).
2. A backend that keeps failing: with ``on_error="fallback"`` the call still succeeds (retrieval
   order, a warning, the reason in the stats); with ``"raise"`` it raises ``TransientError``.
3. A configuration error (an unknown model) is raised at once, whatever ``on_error`` says.

Run: ``python examples/budget_demo.py`` (needs ``rerank-plugins[local]``).
"""

from __future__ import annotations

import logging

from _scifact import CI, load_task

from rerank_plugins import (
    ConfigurationError,
    CrossEncoderScorer,
    Reranker,
    RerankResult,
    TransientError,
)
from rerank_plugins.testing import KeywordScorer


def show(label: str, result: RerankResult) -> None:
    s = result.stats
    order = " ".join(str(i.index) if i.scored else f"({i.index})" for i in result.items[:10])
    print(
        f"{label:<22} {s.latency_ms:7.0f} ms  scored {s.scored:2d}/{s.candidates_in} in "
        f"{s.units} units  budget ran out: {s.budget_exhausted!s:5}  first 10: {order}"
    )
    if s.fallback_reason:
        print(f"{'':<22} fallback: {s.fallback_reason}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  log %(levelname)s %(name)s: %(message)s")
    task = load_task(n_claims=1, lookalikes=25)
    claim = next(iter(task.claims.values()))
    texts = list(task.docs.values())[:20]
    print(
        f"Claim: {claim}\n{len(texts)} candidates in retrieval order; the output lists their "
        f"input positions, (n) = unscored.\n"
    )

    # Batches of 4: five units, so the budget can stop between them.
    # score_cache_size=0: every call below reranks the same texts; time the model, not the cache.
    scorer = CrossEncoderScorer("bundled:scifact-minilm", batch_size=4, score_cache_size=0)
    # The first call on a fresh scorer: loading the model is part of the call, so a budgeted call
    # waits for the load only until its deadline, then returns in retrieval order.
    cold = Reranker(scorer, budget_ms=300).rerank(claim, texts)
    show("cold, budget_ms=300", cold)
    print(
        f"{'':<22} still loading: {cold.stats.loading} (waited {cold.stats.load_wait_ms:.0f} ms; "
        f"the loading goes on in the background)\n"
    )
    scorer.prepare()  # wait for the loading under way, outside the timed calls
    Reranker(scorer).rerank(claim, texts[:4])  # warm-up: the core learns what a unit costs

    full = Reranker(scorer).rerank(claim, texts)
    show("no budget", full)
    shares = (0.5,) if CI else (0.6, 0.3)
    budgets = [full.stats.latency_ms * share for share in shares]
    for budget in budgets:
        result = Reranker(scorer, budget_ms=budget).rerank(claim, texts)
        show(f"budget_ms={budget:.0f}", result)
    tiny = Reranker(scorer, budget_ms=1).rerank(claim, texts)
    show("budget_ms=1", tiny)
    print("  (with 1 ms nothing fits: the input comes back in retrieval order, all unscored)\n")

    failing = KeywordScorer(unit_size=20, fail_always=True, max_retries=2)  # HTTP 503, always
    print("A backend that keeps failing, on_error='fallback':")
    result = Reranker(failing, top_n=3).rerank(claim, texts)
    print(
        f"  returned {result.indices} unscored, retries {result.stats.retries}, "
        f"reason: {result.stats.fallback_reason}"
    )
    print("The same with on_error='raise':")
    try:
        Reranker(failing, on_error="raise").rerank(claim, texts)
    except TransientError as exc:
        print(f"  TransientError (reason={exc.reason}): {exc}")

    print("\nA configuration error is raised at once, never a fallback:")
    try:
        Reranker(CrossEncoderScorer("./no-such-model-folder")).rerank(claim, texts)
    except ConfigurationError as exc:
        print(f"  {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
