"""Training data for a reranker: lists of texts judged for one query.

Every source becomes :class:`RankingExample` (a query, its texts, one relevance label per text), the
input of sentence-transformers' listwise ranking losses:

- :func:`beir_examples`: a BEIR-layout dataset's judgements as positives, negatives mined from
  the first-stage retriever's candidates (hard) mixed with random documents of the corpus. Hard
  negatives alone teach a reranker the wrong lesson on a dataset with incomplete judgements (many
  top candidates are relevant but unjudged); random ones keep it anchored. A second, lexical
  first stage (BM25) adds near misses of another kind: lexical and dense retrievers fail in
  different ways.
- :func:`read_preferences`: your own judgements as JSONL, one query per line, either a preference
  ``{"query": ..., "chosen": ..., "rejected": ...}`` (each a string or a list of strings) or
  graded passages ``{"query": ..., "passages": [{"text": ..., "score": 2}, ...]}``.

A malformed line raises :class:`~rerank_plugins.evaluation.DatasetError` naming the file, the line
and the fix.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rerank_plugins._checks import is_number
from rerank_plugins.evaluation.beir import BeirDataset, DatasetError

__all__ = [
    "RankingExample",
    "beir_examples",
    "read_preferences",
    "reranking_examples",
    "write_preferences",
]


@dataclass(frozen=True)
class RankingExample:
    """One query with texts and their relevance labels (higher is more relevant).

    Attributes:
        query: The query.
        texts: The texts judged for it.
        labels: One label per text: ``1``/``0`` for relevant/not, or grades like ``0, 1, 2``.
    """

    query: str
    texts: tuple[str, ...]
    labels: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(
                f"RankingExample needs one label per text, got {len(self.texts)} texts and "
                f"{len(self.labels)} labels."
            )


def beir_examples(
    dataset: BeirDataset, query_ids: Sequence[str], candidates: Mapping[str, Sequence[str]], *,
    hard_negatives: int = 4, random_negatives: int = 3, max_positives: int = 1,
    hard_pool: int = 20, rounds: int = 1, seed: int = 0,
    bm25_candidates: Mapping[str, Sequence[str]] | None = None, bm25_negatives: int = 0,
) -> list[RankingExample]:  # fmt: skip
    """Training lists from a BEIR dataset: judged positives, mined hard and random negatives.

    Each round gives every query one list: up to ``max_positives`` of its judged documents, then
    ``hard_negatives`` drawn from the first ``hard_pool`` of its first-stage ``candidates`` that
    are not judged relevant, then ``random_negatives`` drawn from the rest of the corpus. With
    ``rounds > 1`` every round draws afresh, so an epoch over the result sees more negatives.

    Args:
        dataset: The dataset (:func:`~rerank_plugins.evaluation.beir.load_beir`).
        query_ids: The judged queries to train on (never the development split).
        candidates: Query id -> document ids, best first, from the first-stage retriever.
        hard_negatives: Hard negatives per list.
        random_negatives: Random negatives per list.
        max_positives: Judged documents per list (each positive once per round).
        hard_pool: How deep in the candidates hard negatives are drawn from.
        rounds: Lists per query, each with fresh negatives.
        seed: Seed of the draws; the same seed gives the same lists.
        bm25_candidates: Query id -> document ids from a second, lexical first stage (BM25);
            ``bm25_negatives`` more hard negatives are drawn from its first ``hard_pool``, never a
            judged document nor one already drawn.
        bm25_negatives: Hard negatives per list drawn from ``bm25_candidates``.

    Returns:
        The lists, round by round, queries in the given order.

    Raises:
        DatasetError: a query without judgements or without candidates.

    Example:
        >>> from rerank_plugins.evaluation.beir import BeirDataset
        >>> ds = BeirDataset(corpus={d: ("", f"doc {d}") for d in "abcdef"},
        ...     queries={"q": "query"}, qrels={"q": {"a": 1}})
        >>> ex = beir_examples(ds, ["q"], {"q": ["b", "a", "c"]}, hard_negatives=2,
        ...     random_negatives=1)
        >>> ex[0].texts[0], ex[0].labels
        ('doc a', (1.0, 0.0, 0.0, 0.0))
    """
    if bm25_negatives and bm25_candidates is None:
        raise DatasetError(
            f"bm25_negatives={bm25_negatives} needs bm25_candidates to draw from; pass the BM25 "
            f"first stage's ranking (retrieve(..., kind='bm25')) or set bm25_negatives=0."
        )
    rng, doc_ids, out = random.Random(seed), list(dataset.corpus), []
    for qid in [qid for _ in range(rounds) for qid in query_ids]:
        lexical = (bm25_candidates or {}).get(qid, ()) if bm25_negatives else ()
        out.append(_one_list(
            dataset, qid, _relevant(dataset, qid, candidates), candidates[qid], doc_ids, rng,
            hard_negatives=hard_negatives, random_negatives=random_negatives,
            max_positives=max_positives, hard_pool=hard_pool, lexical=lexical,
            lexical_negatives=bm25_negatives,
        ))  # fmt: skip
    return out


def _relevant(dataset: BeirDataset, qid: str, candidates: Mapping[str, Sequence[str]]) -> list[str]:
    """The query's judged relevant documents; refused without them or without candidates."""
    judged = dataset.qrels.get(qid, {})
    relevant = [doc for doc, grade in judged.items() if grade > 0 and doc in dataset.corpus]
    if not relevant:
        raise DatasetError(
            f"Query {qid!r} has no relevant judged document in the corpus; train only on "
            f"judged queries (dev_train_split gives them)."
        )
    if qid not in candidates:
        raise DatasetError(
            f"Query {qid!r} has no first-stage candidates to mine hard negatives from; "
            f"retrieve candidates for every training query."
        )
    return relevant


def _one_list(
    dataset: BeirDataset,
    qid: str,
    relevant: list[str],
    ranked: Sequence[str],
    doc_ids: list[str],
    rng: random.Random,
    *,
    hard_negatives: int,
    random_negatives: int,
    max_positives: int,
    hard_pool: int,
    lexical: Sequence[str] = (),
    lexical_negatives: int = 0,
) -> RankingExample:
    judged = dataset.qrels.get(qid, {})
    positives = rng.sample(relevant, min(max_positives, len(relevant)))
    pool = [doc for doc in ranked[:hard_pool] if doc not in judged and doc in dataset.corpus]
    hard = rng.sample(pool, min(hard_negatives, len(pool)))
    if lexical_negatives:
        drawn = set(hard)
        second = [
            doc
            for doc in lexical[:hard_pool]
            if doc not in judged and doc not in drawn and doc in dataset.corpus
        ]
        hard += rng.sample(second, min(lexical_negatives, len(second)))
    easy = draw_random(doc_ids, set(judged) | set(hard), random_negatives, rng)
    docs = positives + hard + easy
    labels = [float(judged[doc]) for doc in positives] + [0.0] * (len(hard) + len(easy))
    return RankingExample(
        dataset.queries[qid], tuple(dataset.document_text(doc) for doc in docs), tuple(labels)
    )


def draw_random(
    doc_ids: Sequence[str], taken: set[str], count: int, rng: random.Random
) -> list[str]:
    """``count`` documents drawn at random, none of ``taken`` and none twice (fewer when the
    corpus runs out)."""
    taken = set(taken)
    out: list[str] = []
    while len(out) < count and len(taken) < len(doc_ids):
        doc = rng.choice(doc_ids)
        if doc not in taken:
            taken.add(doc)
            out.append(doc)
    return out


def reranking_examples(
    dataset: BeirDataset, query_ids: Sequence[str], candidates: Mapping[str, Sequence[str]]
) -> list[RankingExample]:
    """Held-out lists for evaluation: each query's first-stage candidates, labelled by the qrels.

    Queries whose candidates hold no relevant document are kept (they score 0 whatever the
    reranker does), so figures match a retrieve-then-rerank run.
    """
    out: list[RankingExample] = []
    for qid in query_ids:
        judged = dataset.qrels.get(qid, {})
        docs = list(candidates[qid])
        out.append(
            RankingExample(
                dataset.queries[qid],
                tuple(dataset.document_text(doc) for doc in docs),
                tuple(float(max(judged.get(doc, 0), 0)) for doc in docs),
            )
        )
    return out


def read_preferences(path: str | Path) -> list[RankingExample]:
    """Read judgements from a JSONL file, one query per line.

    Two shapes are accepted (blank lines are skipped):

    - ``{"query": "...", "chosen": "..." or [...], "rejected": "..." or [...]}``: chosen texts get
      label 1, rejected ones label 0;
    - ``{"query": "...", "passages": [{"text": "...", "score": 2}, ...]}``: graded judgements
      (any non-negative numbers; higher is more relevant).

    Args:
        path: The JSONL file.

    Returns:
        One :class:`RankingExample` per line.

    Raises:
        DatasetError: a missing file, or a malformed line; the message names file and line.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "prefs.jsonl"
        >>> _ = f.write_text('{"query": "q", "chosen": "good", "rejected": ["bad", "worse"]}\\n')
        >>> read_preferences(f)[0].labels
        (1.0, 0.0, 0.0)
    """
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"Preference file {str(file)!r} does not exist; pass a JSONL file.")
    out: list[RankingExample] = []
    with file.open("rb") as handle:  # decoded line by line, so a bad byte names its line
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _bad(
                    file,
                    number,
                    f"is not UTF-8 (byte {raw[exc.start]:#04x} at column "
                    f"{exc.start + 1}); save the file as UTF-8",
                ) from exc
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad(file, number, f"is not valid JSON ({exc.msg})") from exc
            out.append(_preference(file, number, record))
    if not out:
        raise DatasetError(
            f"Preference file {file} has no records; write one JSON object per line."
        )
    return out


def write_preferences(lists: Sequence[RankingExample], path: str | Path) -> None:
    """Write lists as graded JSONL that :func:`read_preferences` reads back (``rerank-plugins
    train --preferences FILE``): one ``{"query", "passages": [{"text", "score"}]}`` a line.

    Raises:
        DatasetError: a label is negative (the graded shape takes non-negative scores).

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "lists.jsonl"
        >>> write_preferences([RankingExample("q", ("a", "b"), (2.5, 0.0))], f)
        >>> read_preferences(f)[0].labels
        (2.5, 0.0)
    """
    for ex in lists:
        if any(y < 0 for y in ex.labels):
            raise DatasetError(
                f"write_preferences takes non-negative labels; the list for {ex.query[:60]!r} has "
                f"{min(ex.labels)} (shift each list by its lowest label: softmax losses read "
                f"only the differences)."
            )
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for ex in lists:
            passages = [{"text": t, "score": y} for t, y in zip(ex.texts, ex.labels, strict=True)]
            handle.write(json.dumps({"query": ex.query, "passages": passages}) + "\n")
    tmp.replace(file)


_SHAPES = (
    'write {"query": ..., "chosen": ..., "rejected": ...} or '
    '{"query": ..., "passages": [{"text": ..., "score": ...}]}'
)


def _bad(file: Path, line: int, problem: str) -> DatasetError:
    return DatasetError(f"{file}, line {line}: {problem}; {_SHAPES}.")


def _preference(file: Path, line: int, record: Any) -> RankingExample:
    if not isinstance(record, dict):
        raise _bad(file, line, f"expected a JSON object, got {type(record).__name__}")
    query = record.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _bad(file, line, "'query' must be a non-empty string")
    if "passages" in record:
        texts, labels = _graded(file, line, record["passages"])
    elif "chosen" in record or "rejected" in record:
        chosen = _strings(file, line, record, "chosen")
        rejected = _strings(file, line, record, "rejected")
        texts = chosen + rejected
        labels = [1.0] * len(chosen) + [0.0] * len(rejected)
    else:
        raise _bad(file, line, "no 'chosen'/'rejected' and no 'passages'")
    if len(set(labels)) < 2:
        raise _bad(file, line, "all texts have the same label, so there is nothing to prefer")
    return RankingExample(query, tuple(texts), tuple(labels))


def _strings(file: Path, line: int, record: dict[str, Any], key: str) -> list[str]:
    value = record.get(key)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(t, str) for t in items):
        raise _bad(file, line, f"{key!r} must be a string or a non-empty list of strings")
    return list(items)


def _graded(file: Path, line: int, passages: Any) -> tuple[list[str], list[float]]:
    if not isinstance(passages, list) or len(passages) < 2:
        raise _bad(file, line, "'passages' must be a list of at least two objects")
    texts: list[str] = []
    labels: list[float] = []
    for i, passage in enumerate(passages):
        text = passage.get("text") if isinstance(passage, dict) else None
        score: Any = passage.get("score") if isinstance(passage, dict) else None
        if not isinstance(text, str):
            raise _bad(file, line, f"passage {i} needs a string 'text'")
        if not is_number(score) or score < 0:
            raise _bad(
                file, line, f"passage {i} needs a non-negative number 'score', got {score!r}"
            )
        texts.append(text)
        labels.append(float(score))
    return texts, labels
