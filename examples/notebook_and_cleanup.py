"""From a notebook: sync calls inside a running event loop, copies, and closing what is opened.

A Jupyter cell runs inside an event loop, and so does an async web handler that calls sync code:
``Reranker.rerank`` and the adapters' sync methods work there too, even with an async LLM behind
the judge (it runs on a helper thread with its own loop). A configured component deep-copies
into a working one that shares the scorer. A hosted scorer, used as a context manager, closes its
connections on the way out; here it talks to the package's local rerank server through Cohere's
real SDK.

Run: ``python examples/notebook_and_cleanup.py`` (needs ``rerank-plugins[langchain,cohere]``).
"""

from __future__ import annotations

import asyncio
import copy
import re

from langchain_core.documents import Document

from rerank_plugins import LLMJudgeScorer, Reranker
from rerank_plugins.langchain import RerankCompressor
from rerank_plugins.scorers.cohere import CohereScorer
from rerank_plugins.testing.server import RerankServer

QUERY = "Does vitamin D lower the risk of bone fractures?"
PASSAGES = [
    "Malaria is spread by Anopheles mosquitoes.",
    "Vitamin D supplements lowered the risk of bone fractures in older adults.",
    "Bone density falls with age.",
]


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


async def grade(prompt: str) -> str:
    """An async LLM stand-in: grades each passage 0-3 by the words it shares with the question."""
    await asyncio.sleep(0)
    passages = re.findall(r'<passage id="(\d+)">\n(.*?)\n</passage>', prompt, re.S)
    grades = [(number, min(3, len(words(QUERY) & words(text)) // 2)) for number, text in passages]
    return "\n".join(f"[{number}] {value}" for number, value in grades)


async def notebook_cell() -> None:
    # Inside a running loop, as in Jupyter: the sync entry points just work.
    judge = Reranker(LLMJudgeScorer(grade), top_n=1)
    print("judge, sync inside a running loop:", judge.rerank(QUERY, PASSAGES).items[0].text)

    with (
        RerankServer() as server,
        CohereScorer(api_key=server.api_key, base_url=server.url) as scorer,
    ):
        compressor = RerankCompressor(scorer=scorer, top_n=2)
        wider = copy.deepcopy(compressor)  # a working copy that shares the scorer
        wider.top_n = 3
        docs = [Document(text, id=str(i)) for i, text in enumerate(PASSAGES)]
        print("compressor:", [d.id for d in compressor.compress_documents(docs, QUERY)])
        print("its copy:  ", [d.id for d in wider.compress_documents(docs, QUERY)],
              "| same scorer:", wider.scorer is scorer)  # fmt: skip
    # Leaving the `with` closed the scorer's connections; the scorer would reopen on next use.


if __name__ == "__main__":
    asyncio.run(notebook_cell())
