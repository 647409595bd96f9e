"""Shared by the hosted examples: the real API when its key is set, else the local test server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from rerank_plugins import Scorer
from rerank_plugins.testing.server import RerankServer

KEYS = {"cohere": ("CO_API_KEY", "COHERE_API_KEY"), "voyage": ("VOYAGE_API_KEY",)}
NAMES = {"cohere": "Cohere", "voyage": "Voyage AI"}


@contextmanager
def hosted_scorer(provider: str) -> Iterator[tuple[Scorer, RerankServer | None]]:
    """The provider's scorer and, when no key is set, the local server it talks to."""
    found = next((var for var in KEYS[provider] if os.environ.get(var, "").strip()), None)
    if found is not None:
        from rerank_plugins.scorers import from_spec

        print(f"Using {NAMES[provider]}'s API (key from ${found}).")
        yield from_spec(provider), None
        return
    with RerankServer() as server:
        print(
            f"No {' / '.join(KEYS[provider])} set: talking to the LOCAL TEST SERVER at "
            f"{server.url}, which speaks {NAMES[provider]}'s protocol through the real SDK but "
            f"scores by word overlap, not with {NAMES[provider]}'s model. "
            f"Set {KEYS[provider][0]} to call the real API. (Word overlap cannot tell an answer "
            f"from its look-alikes: expect few ✓ here; a real model finds them.)"
        )
        yield server.scorer_for(provider), server


def candidates(n_claims: int) -> list[tuple[str, list[tuple[str, str]], set[str]]]:
    """SciFact claims, each with its pool of candidates ``(id, text)`` and the ids that answer it.

    The pool is the claim's answers mixed with the abstracts sharing most of its words, in a fixed
    order that stands for a first-stage retriever's.
    """
    from _scifact import load_task

    task = load_task(n_claims=n_claims, lookalikes=12)
    pool = sorted(task.docs.items())
    return [(claim, pool, task.relevant[qid]) for qid, claim in task.claims.items()]


def show(label: str, ids: list[str], relevant: set[str]) -> None:
    print(f"  {label:<24}" + "  ".join(f"{'✓' if i in relevant else '·'} {i}" for i in ids))


def fault_demo(server: RerankServer, provider: str) -> None:
    """A rate limit retried within the budget, then a rejected key raised at once."""
    from rerank_plugins import AuthenticationError, Reranker

    limited = server.key_for("http_429", times=1, retry_after=0.2)
    result = Reranker(server.scorer_for(provider, key=limited), budget_ms=2000).rerank(
        "red fox", ["a cat", "the red fox"]
    )
    s = result.stats
    print(
        f"\nA 429 (Retry-After 0.2 s) on the first request: retried {s.retries} time(s), "
        f"{s.scored}/{s.candidates_in} scored in {s.latency_ms:.0f} ms "
        f"(budget {s.budget_ms:.0f} ms)"
    )
    try:
        Reranker(server.scorer_for(provider, key="sk-not-a-real-key")).rerank("fox", ["a fox"])
    except AuthenticationError as exc:
        print(f"A rejected key is raised at once, never a fallback:\n  {exc}")
