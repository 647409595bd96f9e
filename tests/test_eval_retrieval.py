"""First-stage retrieval: BM25 results, the on-disk index cache and its key, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rerank_plugins import ConfigurationError
from rerank_plugins.evaluation.retrieval import (
    BM25Retriever,
    DenseRetriever,
    cache_root,
    corpus_fingerprint,
    make_retriever,
)

CORPUS = {
    "a": ("Cats", "Cats purr and sleep all day."),
    "b": ("Dogs", "Dogs bark at the mail carrier."),
    "c": ("Pets", "Cats and dogs can live together."),
    "d": ("Cars", "Electric cars need charging stations."),
}


def test_bm25_ranks_by_term_match_and_caches_the_index(tmp_path: Path) -> None:
    first = BM25Retriever(CORPUS, cache_dir=tmp_path)
    hits = first.search({"q": "dogs bark", "r": "electric charging"}, k=2, progress=False)
    assert [h.doc_id for h in hits["q"]] == ["b", "c"]
    assert hits["r"][0].doc_id == "d"
    assert hits["q"][0].score >= hits["q"][1].score
    assert not first.loaded_from_cache and first.cached
    second = BM25Retriever(CORPUS, cache_dir=tmp_path)
    assert second.cached
    again = second.search({"q": "dogs bark"}, k=2, progress=False)
    assert second.loaded_from_cache and again["q"] == hits["q"]


def test_k_larger_than_corpus_and_unknown_words() -> None:
    r = BM25Retriever(CORPUS, cache_dir=None)
    hits = r.search({"q": "cats", "z": "zebra xylophone"}, k=10, progress=False)
    assert len(hits["q"]) == 4 and hits["q"][0].doc_id in {"a", "c"}
    assert [h.doc_id for h in hits["z"]] == ["a", "b", "c", "d"]  # all tie at 0: corpus order


def test_cache_key_changes_with_the_corpus() -> None:
    changed = {**CORPUS, "d": ("Cars", "Electric cars need chargers.")}
    assert corpus_fingerprint(CORPUS) == corpus_fingerprint(dict(CORPUS))
    assert corpus_fingerprint(CORPUS) != corpus_fingerprint(changed)
    # id/title/text boundaries are part of the key
    assert corpus_fingerprint({"ab": ("", "c")}) != corpus_fingerprint({"a": ("b", "c")})


def test_cache_root_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RERANK_PLUGINS_CACHE", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "x"
    monkeypatch.delenv("RERANK_PLUGINS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "rerank-plugins"


def test_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"Unknown retriever 'sparse'; use 'dense' or"):
        make_retriever("sparse", CORPUS)
    with pytest.raises(ConfigurationError, match=r"BM25 takes no model, got 'm'"):
        make_retriever("bm25", CORPUS, model="m")
    with pytest.raises(ConfigurationError, match=r"k must be a positive integer .*got 0"):
        BM25Retriever(CORPUS, cache_dir=None).search({"q": "cats"}, k=0)
    with pytest.raises(ConfigurationError, match=r"BM25Retriever needs a non-empty corpus"):
        BM25Retriever({}, cache_dir=None)


def test_a_dataset_can_carry_its_dense_index(tmp_path: Path) -> None:
    corpus = {"a": ("Cats", "The cat sat on the mat."), "b": ("", "Stock prices fell sharply.")}
    built = DenseRetriever(corpus, cache_dir=tmp_path / "shipped")
    emb = built.index(progress=False)
    assert not built.loaded_from_cache
    # Another user, an empty cache: the index carried in the folder is read, not rebuilt.
    shipped = [tmp_path / "shipped"]
    reader = DenseRetriever(corpus, cache_dir=tmp_path / "empty", index_dirs=shipped)
    assert reader.cached
    assert (reader.index(progress=False) == emb).all() and reader.loaded_from_cache
    assert not (tmp_path / "empty").exists()  # read only: nothing copied or written
    # A different corpus does not match the carried index.
    other = DenseRetriever({"a": ("", "Dogs bark.")}, cache_dir=None, index_dirs=shipped)
    assert not other.cached


def test_the_bundled_scifact_index_matches_a_fresh_embedding() -> None:
    import numpy as np

    from rerank_plugins.data import scifact_path
    from rerank_plugins.evaluation.beir import load_beir

    corpus = load_beir(scifact_path(), split="dev").corpus
    retriever = DenseRetriever(corpus, cache_dir=None, index_dirs=[scifact_path() / "index"])
    assert retriever.cached, "the bundled index does not match the corpus and the default model"
    shipped = retriever.index(progress=False)
    assert shipped.shape == (len(corpus), 384)
    rows = [0, 1, len(corpus) // 2, len(corpus) - 1]
    texts = [" ".join(p for p in corpus[retriever.doc_ids[i]] if p) for i in rows]
    fresh = retriever.encoder.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert np.allclose(shipped[rows], fresh, atol=1e-4)
