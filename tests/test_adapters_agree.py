"""Both adapters take the same arguments, with the same defaults and the same validation."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from rerank_plugins import RerankOptions
from rerank_plugins.langchain import RerankCompressor
from rerank_plugins.llama_index import RerankPostprocessor
from rerank_plugins.testing import KeywordScorer

OPTIONS = ["top_n", "max_candidates", "min_score", "budget_ms", "on_error", "blend", "scorer"]


def test_same_fields_and_defaults():
    llama = {k: v for k, v in RerankPostprocessor.model_fields.items() if k in OPTIONS}
    chain = {k: v for k, v in RerankCompressor.model_fields.items() if k in OPTIONS}
    assert list(chain) == OPTIONS and list(llama) == OPTIONS
    for name in OPTIONS:
        assert llama[name].default == chain[name].default
        assert llama[name].annotation == chain[name].annotation
        assert llama[name].description == chain[name].description


def test_option_fields_derive_from_the_one_declaration():
    hints = typing.get_type_hints(RerankOptions)
    for spec in dataclasses.fields(RerankOptions):
        for cls in (RerankPostprocessor, RerankCompressor):
            info = cls.model_fields[spec.name]
            assert info.annotation == hints[spec.name]
            assert info.default == spec.default
            assert info.description == spec.metadata["doc"]
    assert [s.name for s in dataclasses.fields(RerankOptions)] == OPTIONS[:-1]


@pytest.mark.parametrize(
    "bad", [{"top_n": 0}, {"blend": 2}, {"on_error": "skip"}, {"budget_ms": -1}]
)
def test_same_messages(bad):
    messages = []
    for cls in (RerankPostprocessor, RerankCompressor):
        with pytest.raises(ValueError) as info:
            cls(scorer=KeywordScorer(), **bad)
        messages.append(str(info.value).splitlines()[1].strip().split(" [type=")[0])
    assert messages[0] == messages[1]
