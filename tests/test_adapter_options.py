"""Adapter options are live and strict, and returned objects share nothing with the inputs.

Both adapters (real LlamaIndex and LangChain classes) get the same checks: an assignment after
construction is validated and takes effect on the next call, a misspelt option is refused, and
nested metadata of a returned node or document is a copy.
"""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode
from pydantic import ValidationError

from rerank_plugins import ConfigurationError
from rerank_plugins.langchain import RerankCompressor
from rerank_plugins.llama_index import RerankPostprocessor
from rerank_plugins.testing import KeywordScorer

TEXTS = ["dogs", "cats", "cats and dogs"]


def run(adapter, tags):
    if isinstance(adapter, RerankPostprocessor):
        nodes = [NodeWithScore(node=TextNode(text=t, metadata={"tags": tags}), score=0.5)
                 for t in TEXTS]  # fmt: skip
        out = adapter.postprocess_nodes(nodes, query_str="cats")
        return [n.node.metadata for n in out]
    docs = [Document(t, metadata={"tags": tags}) for t in TEXTS]
    return [d.metadata for d in adapter.compress_documents(docs, "cats")]


@pytest.fixture(params=["llama-index", "langchain"])
def make(request):
    cls = RerankPostprocessor if request.param == "llama-index" else RerankCompressor
    return lambda **kw: cls(scorer=KeywordScorer(), **kw)


def test_an_assigned_option_takes_effect(make):
    adapter = make(top_n=1)
    assert len(run(adapter, [])) == 1
    adapter.top_n = 3
    assert len(run(adapter, [])) == 3
    adapter.min_score = 0.5
    assert len(run(adapter, [])) == 2


def test_an_invalid_assignment_is_refused_with_the_core_message(make):
    adapter = make(top_n=2)
    with pytest.raises(ValidationError, match="top_n must be a positive integer"):
        adapter.top_n = 0
    with pytest.raises(ValidationError, match="budget_ms must be a positive number"):
        adapter.budget_ms = -3
    assert len(run(adapter, [])) == 2


def test_a_misspelt_option_is_an_error(make):
    with pytest.raises(ValidationError, match="topn"):
        make(topn=1)


def test_returned_metadata_shares_nothing_with_the_input(make):
    tags = ["x"]
    out = run(make(), tags)
    out[0]["tags"].append("y")
    assert tags == ["x"]


def test_a_scorer_spec_string_is_one_line(make):
    cls = type(make())
    adapter = cls(scorer="keyword", top_n=1)
    assert adapter.scorer.backend == "keyword" and len(run(adapter, [])) == 1
    # The package's own error, as building the scorer directly gives (not pydantic's wrapper).
    with pytest.raises(ConfigurationError, match="Unknown reranker backend 'nope'"):
        cls(scorer="nope:model")
