"""Training lists from documents alone: no judged query anywhere.

Most teams adding a rerank stage have documents but no relevance judgements. The corpus itself
supervises (the idea of GPL, InPars and Promptagator): a query is made from a document, the
document is its positive, and the first stage supplies the near misses. Three ways to make the
query, each returning :class:`SyntheticQuery`:

- **title** (:func:`title_queries`): a document's title is the query for its text, title removed;
- **inverse cloze** (:func:`cloze_queries`): one sentence of a document is the query for the rest
  of it, that sentence removed;
- **written** (:func:`written_queries`): a query an LLM writes for the document (any callable
  ``prompt -> text``; LangChain and LlamaIndex LLMs through :func:`llm_writer`).

:func:`corpus_examples` then keeps a query only if the first stage finds its document again in
its top ``roundtrip_k`` (InPars' filter: a query that does not lead back to its source is a bad
query), and builds one list per kept query: the positive first, then hard negatives from the
first stage's top candidates (never the source document), then random documents. Negatives are
shown in the same form as the positive (without the title for title queries), so the model cannot
learn the form instead of the content.

:func:`teacher_examples` replaces a list's 1-and-0 labels with a teacher's opinion of every text
(GPL's pseudo labels): a made query's near misses are often relevant too, and a teacher that reads
query and text together (an LLM's query likelihood, :func:`teacher_logits`) says how much.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rerank_plugins._checks import check_int, check_number
from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins.training.data import RankingExample, draw_random

__all__ = [
    "QUERY_KINDS",
    "SyntheticQuery",
    "cloze_queries",
    "corpus_examples",
    "llm_writer",
    "read_queries",
    "teacher_examples",
    "teacher_logits",
    "title_queries",
    "write_queries",
    "written_queries",
]

QueryKind = Literal["title", "cloze", "written"]
QUERY_KINDS: tuple[str, ...] = ("title", "cloze", "written")

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
_MIN_WORDS, _MAX_WORDS = 6, 40
WRITE_PROMPT = (
    "Write one short search query (a question or a claim, at most 20 words) that the following "
    "passage answers. Reply with the query only.\n\nPassage: {passage}\n\nQuery:"
)
"""The prompt of :func:`written_queries`; ``{passage}`` is the document's text."""


@dataclass(frozen=True)
class SyntheticQuery:
    """A query made from one document.

    Attributes:
        doc_id: The document it was made from (its positive).
        query: The query.
        positive: The text the query must find: the document, minus what the query was cut from.
        kind: ``"title"``, ``"cloze"`` or ``"written"``.
    """

    doc_id: str
    query: str
    positive: str
    kind: str


def _words(text: str) -> int:
    return len(text.split())


def title_queries(corpus: Mapping[str, tuple[str, str]]) -> list[SyntheticQuery]:
    """A title as the query for its document's text (documents without a usable title are
    skipped: fewer than 4 words, or a text too short to rank).

    >>> doc = ("Aspirin and heart attacks in men", "We studied 22,071 men...")
    >>> title_queries({"a": doc})[0].query
    'Aspirin and heart attacks in men'
    """
    out = []
    for doc_id, (title, text) in corpus.items():
        title, text = title.strip(), text.strip()
        if _words(title) >= 4 and _words(text) >= 3:
            out.append(SyntheticQuery(doc_id, title, text, "title"))
    return out


def cloze_queries(corpus: Mapping[str, tuple[str, str]], *, seed: int = 0) -> list[SyntheticQuery]:
    """One sentence of each document as the query for the rest of it (inverse cloze).

    The sentence is drawn (seeded) among those of 6 to 40 words, never the only sentence; the
    positive is the title and the remaining sentences.

    >>> q = cloze_queries({"a": ("T", "First one is here now. The second sentence has six words. "
    ...     "A third sentence of some length ends.")}, seed=1)[0]
    >>> q.query in q.positive
    False
    """
    rng = random.Random(seed)
    out = []
    for doc_id, (title, text) in corpus.items():
        sentences = [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]
        if len(sentences) < 2:
            continue
        usable = [i for i, s in enumerate(sentences) if _MIN_WORDS <= _words(s) <= _MAX_WORDS]
        if not usable:
            continue
        pick = rng.choice(usable)
        rest = " ".join(s for i, s in enumerate(sentences) if i != pick)
        positive = f"{title.strip()} {rest}".strip() if title.strip() else rest
        out.append(SyntheticQuery(doc_id, sentences[pick], positive, "cloze"))
    return out


def llm_writer(llm: Any) -> Callable[[str], str]:
    """A ``prompt -> text`` callable from a LangChain chat model or LLM, a LlamaIndex LLM, or a
    plain callable (returned as it is)."""
    from rerank_plugins.scorers.llm import as_client

    client = as_client(llm, who="written_queries")

    def write(prompt: str) -> str:
        return client.complete(prompt, None).text

    return write


def written_queries(
    corpus: Mapping[str, tuple[str, str]],
    write: Callable[[str], str] | None = None,
    *,
    write_many: Callable[[list[str]], Sequence[str]] | None = None,
    batch_size: int = 16,
    prompt: str = WRITE_PROMPT,
    max_words: int | None = None,
    max_chars: int = 1500,
) -> list[SyntheticQuery]:
    """A query an LLM writes for each document; replies that are empty, too long or a copy of
    the passage are dropped.

    Args:
        corpus: Document id -> ``(title, text)``.
        write: ``prompt -> reply``, one document at a time (e.g. :func:`llm_writer`).
        write_many: ``prompts -> replies`` (same order), called with ``batch_size`` prompts at a
            time, for an LLM that generates a batch in one go (e.g.
            ``GemmaGenerator.generate_many``). Pass ``write`` or ``write_many``, not both.
        batch_size: Prompts per ``write_many`` call.
        prompt: The prompt, with ``{passage}`` where the document goes: put the style of your
            real queries in it (a few examples of your own, as Promptagator does).
        max_words: Cut the passage to its first ``max_words`` words (the prompt's cost grows with
            it); ``None`` keeps it whole, up to ``max_chars``.
        max_chars: Cut the passage to its first ``max_chars`` characters.
    """
    if (write is None) == (write_many is None):
        raise ConfigurationError(
            "written_queries needs one writer: pass write=prompt->reply or "
            "write_many=prompts->replies, not both and not neither."
        )
    check_int("written_queries", "batch_size", batch_size)
    if "{passage}" not in prompt:
        raise ConfigurationError(
            "written_queries prompt must contain {passage}, where the document goes."
        )
    items = list(corpus.items())
    passages = [_passage(title, text, max_words, max_chars) for _, (title, text) in items]
    prompts = [prompt.replace("{passage}", p) for p in passages]
    if write is not None:  # one prompt at a time is a batch of one
        write_many, batch_size = (lambda chunk: [write(p) for p in chunk]), 1
    assert write_many is not None
    replies = _replies(prompts, write_many, batch_size)
    out = []
    for (doc_id, (title, text)), passage, reply in zip(items, passages, replies, strict=True):
        lines = reply.strip().splitlines()
        query = lines[0].strip().strip('"').strip() if lines else ""
        if 3 <= _words(query) <= 40 and query not in passage:
            out.append(SyntheticQuery(doc_id, query, f"{title} {text}".strip(), "written"))
    return out


def _passage(title: str, text: str, max_words: int | None, max_chars: int) -> str:
    """The document as the prompt shows it: cut to ``max_words`` words, then ``max_chars``."""
    passage = f"{title} {text}".strip()
    if max_words is not None:
        passage = " ".join(passage.split()[:max_words])
    return passage[:max_chars]


def _replies(
    prompts: list[str], write_many: Callable[[list[str]], Sequence[str]], batch_size: int
) -> list[str]:
    """``write_many`` over ``prompts``, ``batch_size`` at a time: one reply per prompt."""
    replies: list[str] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        got = list(write_many(chunk))
        if len(got) != len(chunk):
            raise ConfigurationError(
                f"written_queries write_many returned {len(got)} replies for "
                f"{len(chunk)} prompts; it must return one reply per prompt, in order."
            )
        replies += got
    return replies


def write_queries(queries: Sequence[SyntheticQuery], path: str | Path) -> None:
    """Save written queries as JSONL (``{"doc_id", "query"}`` a line), so that queries an LLM
    wrote once can train many times (``rerank-plugins train --synthetic written --queries-file``).
    """
    lines = [json.dumps({"doc_id": q.doc_id, "query": q.query}) for q in queries]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def read_queries(path: str | Path, corpus: Mapping[str, tuple[str, str]]) -> list[SyntheticQuery]:
    """Written queries saved by :func:`write_queries`; each one's positive is its whole document.

    Raises:
        ConfigurationError: A line that is not a JSON object with ``doc_id`` and ``query``, or a
            ``doc_id`` the corpus does not hold (the file, the line and the fix).
    """
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            doc_id, query = str(row["doc_id"]), str(row["query"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"{path}, line {number}: expected a JSON object with doc_id and query "
                f"({type(exc).__name__}: {exc}); write the file with write_queries."
            ) from exc
        if doc_id not in corpus:
            raise ConfigurationError(
                f"{path}, line {number}: doc_id {doc_id!r} is not in the corpus; the queries "
                f"must be made from the documents of this corpus."
            )
        title, text = corpus[doc_id]
        out.append(SyntheticQuery(doc_id, query, f"{title} {text}".strip(), "written"))
    return out


def corpus_examples(
    corpus: Mapping[str, tuple[str, str]],
    queries: Sequence[SyntheticQuery],
    candidates: Mapping[int, Sequence[str]],
    *,
    roundtrip_k: int | None = 20,
    hard_negatives: int = 3,
    random_negatives: int = 2,
    hard_pool: int = 20,
    seed: int = 0,
) -> tuple[list[RankingExample], dict[str, Any]]:
    """Training lists from synthetic queries, and a report of what was kept.

    Args:
        corpus: Document id -> ``(title, text)``.
        queries: The synthetic queries (from :func:`title_queries`, :func:`cloze_queries`...).
        candidates: Position in ``queries`` -> document ids, best first, from the first stage
            for that query (its top ``max(roundtrip_k, hard_pool)`` at least).
        roundtrip_k: Keep a query only if its own document is in its first ``roundtrip_k``
            candidates (``None`` keeps every query).
        hard_negatives: Negatives per list from the first ``hard_pool`` candidates.
        random_negatives: Random negatives per list.
        hard_pool: How deep hard negatives are drawn from.
        seed: Seed of the draws.

    Returns:
        ``(lists, report)``; ``report`` counts the queries made, kept and dropped, per kind.

    Example:
        >>> corpus = {d: ("", f"text {d}") for d in "abcdef"}
        >>> qs = [SyntheticQuery("a", "query for a", "text a", "title")]
        >>> lists, report = corpus_examples(corpus, qs, {0: ["b", "a", "c"]}, hard_negatives=2,
        ...     random_negatives=1)
        >>> lists[0].texts[0], lists[0].labels, report["kept"]
        ('text a', (1.0, 0.0, 0.0, 0.0), 1)
    """
    check_int("corpus_examples", "roundtrip_k", roundtrip_k, allow_none=True)
    rng = random.Random(seed)
    doc_ids = list(corpus)
    lists: list[RankingExample] = []
    made: dict[str, int] = {}
    kept: dict[str, int] = {}
    for i, q in enumerate(queries):
        made[q.kind] = made.get(q.kind, 0) + 1
        ranked = list(candidates.get(i, ()))
        if roundtrip_k is not None and q.doc_id not in ranked[:roundtrip_k]:
            continue
        kept[q.kind] = kept.get(q.kind, 0) + 1
        pool = [d for d in ranked[:hard_pool] if d != q.doc_id and d in corpus]
        hard = rng.sample(pool, min(hard_negatives, len(pool)))
        lists.append(_made_list(corpus, q, hard, doc_ids, random_negatives, rng))
    report = {
        "made": sum(made.values()),
        "kept": sum(kept.values()),
        "by_kind": {k: {"made": made[k], "kept": kept.get(k, 0)} for k in sorted(made)},
        "roundtrip_k": roundtrip_k,
    }
    return lists, report


def _made_list(
    corpus: Mapping[str, tuple[str, str]],
    q: SyntheticQuery,
    hard: list[str],
    doc_ids: list[str],
    random_negatives: int,
    rng: random.Random,
) -> RankingExample:
    """One list: the query's positive, then its hard negatives and random ones, each shown in
    the positive's form."""
    easy = draw_random(doc_ids, {q.doc_id, *hard}, random_negatives, rng)
    shown = [_as_shown(corpus[d], q.kind) for d in hard + easy]
    return RankingExample(q.query, (q.positive, *shown), (1.0, *([0.0] * len(shown))))


def _as_shown(document: tuple[str, str], kind: str) -> str:
    """A negative in the same form as the positive of a ``kind`` query."""
    title, text = document
    if kind == "title":
        return text.strip()
    return f"{title.strip()} {text.strip()}".strip()


def teacher_logits(scorer: Any) -> Callable[[str, Sequence[str]], list[float]]:
    """A scorer's opinion of ``(query, texts)`` as logits, for :func:`teacher_examples`.

    Raw scores that are logits (a cross-encoder) are taken as they are; a relevance in ``[0, 1]``
    gives its log (for :class:`~rerank_plugins.scorers.query_likelihood.QueryLikelihoodScorer`,
    the mean log probability of the query's tokens, UPR's score); a listwise rank gives minus the
    rank.
    """
    from rerank_plugins._scorer import Normalization

    scorer.prepare()

    def logits(query: str, texts: Sequence[str]) -> list[float]:
        raw = scorer.score_unit(query, list(texts), timeout=None)
        values = list(getattr(raw, "scores", raw))
        if any(v is None for v in values):
            raise ConfigurationError(
                f"The teacher {scorer!r} left a text unscored; a teacher must score every text."
            )
        if scorer.normalization is Normalization.IDENTITY:
            return [math.log(max(float(v), 1e-300)) for v in values]
        if scorer.normalization is Normalization.RANK:
            return [-float(v) for v in values]
        return [float(v) for v in values]

    return logits


def teacher_examples(
    lists: Sequence[RankingExample],
    teacher: Callable[[str, Sequence[str]], Sequence[float]],
    *,
    temperature: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[RankingExample]:
    """The same lists, each labelled by a teacher's logits instead of 1 for its source document
    and 0 for the rest (distillation, as GPL does with a cross-encoder's margins).

    Labels are ``(logit - lowest logit of the list) / temperature``: non-negative (so
    :func:`~rerank_plugins.training.data.write_preferences` can save them) and, under a softmax
    loss that reads labels as logits (``loss="listnet"``), exactly the teacher's distribution over
    the list. The inputs are not changed.

    Args:
        lists: Lists from :func:`corpus_examples` (or any :class:`RankingExample`).
        teacher: ``(query, texts) -> one logit per text``, e.g. ``teacher_logits(scorer)``.
        temperature: Softens (> 1) or sharpens (< 1) the teacher's distribution.
        progress: Called with ``(done, total)`` after each list.

    Example:
        >>> ex = RankingExample("q", ("a", "b", "c"), (1.0, 0.0, 0.0))
        >>> teacher_examples([ex], lambda q, texts: [-2.0, -1.0, -5.0])[0].labels
        (3.0, 4.0, 0.0)
    """
    check_number("teacher_examples", "temperature", temperature, above=0)
    out: list[RankingExample] = []
    for done, ex in enumerate(lists, start=1):
        logits = [float(x) for x in teacher(ex.query, ex.texts)]
        if len(logits) != len(ex.texts) or not all(math.isfinite(x) for x in logits):
            raise ConfigurationError(
                f"The teacher must return one finite logit per text; for {ex.query[:60]!r} it "
                f"returned {len(logits)} for {len(ex.texts)} texts."
            )
        low = min(logits)
        labels = tuple((x - low) / temperature for x in logits)
        out.append(RankingExample(ex.query, ex.texts, labels))
        if progress is not None:
            progress(done, len(lists))
    return out
