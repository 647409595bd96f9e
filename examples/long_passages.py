"""Long passages, scored whole: the relevant sentence past the truncation point still counts.

A cross-encoder reads a fixed number of tokens per (query, passage) pair; by default the rest of a
long passage is cut off. ``CrossEncoderScorer(long_passages="windows")`` reads it as overlapping
windows, each with the whole query, and keeps the best window's score. Passages that fit score
exactly as before. Runs offline with the bundled reranker:

    python examples/long_passages.py
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rerank_plugins import CrossEncoderScorer, Reranker

QUERY = "Does daily low-dose aspirin prevent a first heart attack?"
MINUTES = (
    "The committee met on Tuesday to discuss the budget of the regional library, the opening "
    "hours of the swimming pool and the repainting of the town hall. "
)
PASSAGES = [
    # The answer sits at the end of a long report: past 128 tokens, truncation never reads it.
    MINUTES * 4 + "Finally, the health board noted that in a randomised trial daily low-dose "
    "aspirin reduced the risk of a first heart attack by a third compared with placebo.",
    "Aspirin is a common over-the-counter painkiller, also used to reduce fever.",
    "Heart attacks are more common in winter, a large registry study found.",
]


def main() -> None:
    for mode in ("truncate", "windows"):
        scorer = CrossEncoderScorer("bundled:scifact-minilm", max_length=128, long_passages=mode)
        result = Reranker(scorer).rerank(QUERY, PASSAGES)
        print(f"long_passages={mode!r}:")
        for item in result:
            print(f"  {item.score:.3f}  passage {item.index}: {item.text[:60]}...")
        if mode == "windows":
            assert result[0].index == 0, "the long report's last sentence answers the query"


if __name__ == "__main__":
    main()
