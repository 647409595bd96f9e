"""The package surface: a light import, one sorted __all__, errors that work with old excepts."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rerank_plugins
from rerank_plugins import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    MissingDependencyError,
    RequestRejectedError,
    RerankError,
    TransientError,
)
from rerank_plugins._optional import require
from rerank_plugins.scorers import from_spec

HEAVY = [
    "torch",
    "transformers",
    "sentence_transformers",
    "cohere",
    "voyageai",
    "llama_index",
    "langchain_core",
    "onnxruntime",
    "peft",
    "bm25s",
    "matplotlib",
    "numpy",
    "httpx",
]


def test_import_loads_no_heavy_library():
    code = (
        "import sys, rerank_plugins, rerank_plugins.scorers, rerank_plugins.testing;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_surface_is_one_sorted_all():
    names = rerank_plugins.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(rerank_plugins, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        rerank_plugins.Nope  # noqa: B018


def test_error_hierarchy_keeps_existing_excepts_working():
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(MissingDependencyError, ImportError)
    assert issubclass(MissingDependencyError, ConfigurationError)
    for cls in (AuthenticationError, RequestRejectedError):
        assert issubclass(cls, ConfigurationError)
    for cls in (ConfigurationError, InvalidInputError, TransientError):
        assert issubclass(cls, RerankError)
    exc = TransientError("slow", reason="timeout", retry_after=2.0)
    assert (exc.reason, exc.retry_after, str(exc)) == ("timeout", 2.0, "slow")


def test_missing_extra_names_the_extra_to_install():
    with pytest.raises(MissingDependencyError) as info:
        require("surely_not_installed_pkg.sub", extra="local", who="CrossEncoderScorer")
    assert str(info.value) == (
        "CrossEncoderScorer needs the optional dependency 'surely_not_installed_pkg', which is "
        "not installed; install it with: pip install 'rerank-plugins[local]'"
    )


def test_from_spec_builds_and_rejects():
    assert from_spec("keyword").name == "keyword:word-overlap"
    with pytest.raises(
        ConfigurationError, match=r"Unknown reranker backend 'nope' in spec 'nope:x'; use one of: "
    ):
        from_spec("nope:x")


def test_reranker_needs_a_scorer():
    with pytest.raises(TypeError, match="Reranker needs a rerank_plugins Scorer, got str"):
        rerank_plugins.Reranker("cross-encoder")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("a single string", "Candidates must be a sequence of strings in retrieval order, got str"),
        (["ok", 3], "Candidate 1 must be a string, got int: 3."),
    ],
)
def test_bad_candidates_are_named(texts, message):
    from rerank_plugins.testing import KeywordScorer

    with pytest.raises(InvalidInputError, match=message):
        rerank_plugins.Reranker(KeywordScorer()).rerank("q", texts)
