"""Load a dataset in BEIR layout, and the project's fixed development/training split.

A BEIR folder holds ``corpus.jsonl`` (``{"_id", "title", "text"}`` per line), ``queries.jsonl``
(``{"_id", "text"}`` per line) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``,
tab-separated, with an optional header). Either JSONL file may also be gzipped
(``corpus.jsonl.gz``). A malformed file raises :class:`DatasetError` naming the file, the line
and the fix.

The project's split of a training set (fixed for the whole project, so no figure is ever
reported on claims a model was trained on): the **development** queries are those whose 0-based
line index in ``queries.jsonl`` is a multiple of 5 and that have relevance judgements; the
**training** queries are all other judged queries. :func:`dev_train_split` implements it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rerank_plugins._checks import is_int
from rerank_plugins._exceptions import RerankError

__all__ = ["BeirDataset", "DatasetError", "dev_train_split", "load_beir", "load_corpus"]

DEV_EVERY = 5
"""A query is in the development split when its 0-based line index % DEV_EVERY == 0."""
VALIDATION_EVERY = 8
"""Every VALIDATION_EVERY-th training query (in file order, from the first) is the validation
slice: what training early-stops on and every recipe, weight and default is chosen on."""


class DatasetError(RerankError, ValueError):
    """A dataset folder or file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class BeirDataset:
    """A retrieval dataset: documents, queries and relevance judgements.

    Attributes:
        corpus: Document id -> ``(title, text)``.
        queries: Query id -> query text, in file order (every query of ``queries.jsonl``, judged
            or not).
        qrels: Query id -> {document id -> graded relevance}; ``> 0`` means relevant.
        query_lines: Query id -> its 0-based line index in ``queries.jsonl`` (the split rule
            uses it).
        path: The folder it was loaded from.
        split: The qrels split that was loaded (``qrels/<split>.tsv``).
    """

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    query_lines: dict[str, int] = field(default_factory=dict)
    path: Path | None = None
    split: str = ""

    @property
    def judged_query_ids(self) -> list[str]:
        """Ids of the queries that have at least one judgement, in file order."""
        return [qid for qid in self.queries if qid in self.qrels]

    @property
    def index_dirs(self) -> list[Path]:
        """Where the dataset may carry a prebuilt corpus index: ``index/`` in its folder (the
        bundled SciFact ships its dense embeddings there); retrievers read it after their cache."""
        return [] if self.path is None else [self.path / "index"]

    def document_text(self, doc_id: str) -> str:
        """The text a model sees for a document: ``title`` and ``text`` joined by a space."""
        title, text = self.corpus[doc_id]
        return f"{title} {text}".strip() if title else text

    def restrict(self, query_ids: list[str]) -> BeirDataset:
        """A copy with only ``query_ids`` (and their qrels); the corpus is shared, not copied.

        Raises:
            DatasetError: an id that is not a query of this dataset.
        """
        unknown = [qid for qid in query_ids if qid not in self.queries]
        if unknown:
            raise DatasetError(
                f"{len(unknown)} query id(s) are not in {self._where('queries.jsonl')}: "
                f"{', '.join(unknown[:5])}; pass ids that appear in its _id field."
            )
        keep = list(dict.fromkeys(query_ids))
        return BeirDataset(
            corpus=self.corpus,
            queries={qid: self.queries[qid] for qid in keep},
            qrels={qid: dict(self.qrels[qid]) for qid in keep if qid in self.qrels},
            query_lines={qid: self.query_lines[qid] for qid in keep if qid in self.query_lines},
            path=self.path,
            split=self.split,
        )

    def _where(self, name: str) -> str:
        return str(self.path / name) if self.path is not None else name


def load_beir(path: str | Path, split: str = "train") -> BeirDataset:
    """Load a BEIR folder: the corpus, the queries and ``qrels/<split>.tsv``.

    Args:
        path: The dataset folder.
        split: Which judgements to load: ``qrels/<split>.tsv``.

    Returns:
        The dataset.

    Raises:
        DatasetError: a missing file, or a malformed line (the message names file and line).

    Example:
        >>> from rerank_plugins.evaluation.beir import load_beir
        >>> from rerank_plugins.data import scifact_path
        >>> ds = load_beir(scifact_path(), split="dev")
        >>> len(ds.judged_query_ids) > 100
        True
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(
            f"Dataset folder {str(root)!r} does not exist or is not a folder; pass a folder in "
            f"BEIR layout (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)."
        )
    corpus_file = _find_jsonl(root, "corpus")
    queries_file = _find_jsonl(root, "queries")
    qrels_file = root / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        have = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        hint = f"available splits: {', '.join(have)}" if have else "the qrels folder has no .tsv"
        raise DatasetError(
            f"No judgements for split {split!r}: {qrels_file} does not exist ({hint}); pass "
            f"one of those as the split."
        )
    corpus = _load_corpus(corpus_file)
    queries, lines = _load_queries(queries_file)
    qrels = _load_qrels(qrels_file, queries, corpus)
    return BeirDataset(corpus, queries, qrels, lines, root, split)


def load_corpus(path: str | Path) -> dict[str, tuple[str, str]]:
    """Only the documents: ``corpus.jsonl`` (or ``.jsonl.gz``) of a folder, or that file itself.

    For corpus-only training, where there are no queries and no judgements.

    Raises:
        DatasetError: a missing file or a malformed line.
    """
    root = Path(path)
    if root.is_file():
        return _load_corpus(root)
    if not root.is_dir():
        raise DatasetError(
            f"Corpus {str(root)!r} does not exist; pass a folder holding corpus.jsonl ({{_id, "
            f"title, text}} per line) or the file itself."
        )
    return _load_corpus(_find_jsonl(root, "corpus"))


def dev_train_split(dataset: BeirDataset) -> tuple[list[str], list[str]]:
    """The project's fixed split of a dataset's judged queries.

    Development: judged queries whose 0-based line index in ``queries.jsonl`` is a multiple of 5.
    Training: every other judged query. Both in file order; disjoint; together all judged queries.

    Example:
        >>> from rerank_plugins.evaluation.beir import BeirDataset, dev_train_split
        >>> ds = BeirDataset(corpus={"d": ("", "x")},
        ...     queries={"a": "q", "b": "q", "c": "q", "e": "q", "f": "q", "g": "q"},
        ...     qrels={"a": {"d": 1}, "c": {"d": 1}, "g": {"d": 1}},
        ...     query_lines={"a": 0, "b": 1, "c": 2, "e": 3, "f": 4, "g": 5})
        >>> dev_train_split(ds)
        (['a', 'g'], ['c'])
    """
    dev: list[str] = []
    train: list[str] = []
    for qid in dataset.judged_query_ids:
        line = dataset.query_lines.get(qid)
        if line is None:
            raise DatasetError(
                f"Query {qid!r} has no line index, so the fixed split cannot place it; load the "
                f"dataset with load_beir() (or fill BeirDataset.query_lines)."
            )
        (dev if line % DEV_EVERY == 0 else train).append(qid)
    return dev, train


def validation_split(
    train_ids: Sequence[str], every: int = VALIDATION_EVERY
) -> tuple[list[str], list[str]]:
    """Split the training queries into (validation, fit): every ``every``-th is validation.

    Example:
        >>> validation_split(["a", "b", "c", "d", "e"], every=2)
        (['a', 'c', 'e'], ['b', 'd'])
    """
    if not is_int(every) or every < 2:
        raise DatasetError(
            f"The validation slice takes every Nth training query with N >= 2, got {every!r}."
        )
    validation = list(train_ids[::every])
    held = set(validation)
    return validation, [qid for qid in train_ids if qid not in held]


def _find_jsonl(root: Path, stem: str) -> Path:
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (root / name).is_file():
            return root / name
    raise DatasetError(
        f"{root / (stem + '.jsonl')} is missing; a BEIR folder needs {stem}.jsonl (or "
        f"{stem}.jsonl.gz) with one JSON object per line."
    )


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _records(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(0-based line index, object)`` for each non-blank line of a JSONL file."""
    try:
        with _open_text(path) as fh:
            for index, line in enumerate(fh):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(
                        f"{path}, line {index + 1}: not valid JSON ({exc.msg} at column "
                        f"{exc.colno}); each line must be one JSON object."
                    ) from exc
                if not isinstance(obj, dict):
                    raise DatasetError(
                        f"{path}, line {index + 1}: expected a JSON object, got "
                        f"{type(obj).__name__}; each line must be one JSON object."
                    )
                yield index, obj
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8.") from exc
    except (OSError, EOFError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{path}: cannot be read ({exc}).") from exc


def _field(path: Path, index: int, obj: Mapping[str, object], key: str, *, required: bool) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if key == "_id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or (key == "_id" and not value.strip()):
        got = "nothing" if value is None else f"{type(value).__name__} {value!r:.40}"
        raise DatasetError(
            f"{path}, line {index + 1}: field {key!r} must be a "
            f"{'non-empty ' if key == '_id' else ''}string, got {got}."
        )
    return value


def _records_by_id(path: Path, kind: str) -> Iterator[tuple[int, dict[str, object], str]]:
    """Yield ``(line index, object, its _id)`` for each record; an id that repeats is refused."""
    first_line: dict[str, int] = {}
    for index, obj in _records(path):
        key = _field(path, index, obj, "_id", required=True)
        if key in first_line:
            raise DatasetError(
                f"{path}, line {index + 1}: {kind} id {key!r} repeats line "
                f"{first_line[key] + 1}; ids must be unique."
            )
        first_line[key] = index
        yield index, obj, key


def _load_corpus(path: Path) -> dict[str, tuple[str, str]]:
    corpus: dict[str, tuple[str, str]] = {}
    for index, obj, doc_id in _records_by_id(path, "document"):
        title = _field(path, index, obj, "title", required=False)
        text = _field(path, index, obj, "text", required=True)
        corpus[doc_id] = (title, text)
    if not corpus:
        raise DatasetError(f"{path} has no documents; it needs one JSON object per line.")
    return corpus


def _load_queries(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    queries: dict[str, str] = {}
    lines: dict[str, int] = {}
    for index, obj, qid in _records_by_id(path, "query"):
        text = _field(path, index, obj, "text", required=True)
        if not text.strip():
            raise DatasetError(f"{path}, line {index + 1}: query {qid!r} has blank text.")
        queries[qid] = text
        lines[qid] = index
    if not queries:
        raise DatasetError(f"{path} has no queries; it needs one JSON object per line.")
    return queries, lines


def _load_qrels(
    path: Path, queries: Mapping[str, str], corpus: Mapping[str, object]
) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    try:
        with path.open(encoding="utf-8") as fh:
            rows = list(enumerate(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot be read as UTF-8 text ({exc}).") from exc
    for index, line in rows:
        if not line.strip():
            continue
        cells = line.rstrip("\r\n").split("\t")
        where = f"{path}, line {index + 1}"
        if len(cells) != 3:
            raise DatasetError(
                f"{where}: expected 3 tab-separated columns (query-id, corpus-id, score), got "
                f"{len(cells)}: {line.strip()!r:.80}."
            )
        qid, doc_id, raw = (c.strip() for c in cells)
        if index == 0 and not _is_int(raw):
            continue  # the header row, "query-id corpus-id score"
        if not _is_int(raw):
            raise DatasetError(f"{where}: score must be an integer, got {raw!r}.")
        if qid not in queries:
            raise DatasetError(
                f"{where}: query id {qid!r} is not in queries.jsonl; every judged query must "
                f"be listed there."
            )
        if doc_id not in corpus:
            raise DatasetError(
                f"{where}: document id {doc_id!r} is not in the corpus; every judged document "
                f"must be in corpus.jsonl."
            )
        qrels.setdefault(qid, {})[doc_id] = int(raw)
    if not qrels:
        raise DatasetError(f"{path} has no judgements; it needs query-id, corpus-id, score rows.")
    return qrels


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
