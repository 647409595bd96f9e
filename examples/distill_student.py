"""Make any reranker fit your budget: distil it into a shallower student on your own corpus.

The teacher here is the bundled reranker (6 layers); the student keeps every other layer (1, 3
and 5), starts from the teacher's weights for them, and learns the teacher's scores over candidate
lists made from the documents alone: each document's title is a query for its text, and the dense
first stage supplies the near misses. No relevance judgement is used. The script then reranks one
query with both, side by side, and times them. Distillation can go on where it stopped:
``start_from=`` takes the student an earlier run saved and trains it further on new lists (here
the second half of the lists; at home, lists of documents added since, or a lower learning rate).

Run: ``python examples/distill_student.py`` (needs ``rerank-plugins[train]``; offline). With
``CI=true`` it makes lists from 40 abstracts and trains 2 steps at 64 tokens: a smoke run, not a
model. ``rerank-plugins distill --teacher bundled:scifact-minilm --corpus DIR --output DIR`` does
the same from the command line, on a whole corpus.
"""

from __future__ import annotations

import os
import tempfile
import time
from functools import partial

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rerank_plugins import CrossEncoderScorer, Reranker
from rerank_plugins.data import scifact_path
from rerank_plugins.evaluation.beir import load_corpus
from rerank_plugins.evaluation.retrieval import DenseRetriever
from rerank_plugins.training.distill import distill, load_teacher
from rerank_plugins.training.synthetic import corpus_examples, title_queries

CI = os.environ.get("CI") == "true"
DOCUMENTS = 40 if CI else 1500
MAX_LENGTH = 64 if CI else 256
QUERY = "Vitamin D supplementation reduces the risk of fractures in older adults."


def main() -> None:
    corpus = load_corpus(scifact_path())
    chosen = dict(list(corpus.items())[:DOCUMENTS])
    queries = title_queries(chosen)
    first_stage = DenseRetriever(corpus, index_dirs=[scifact_path() / "index"])
    hits = first_stage.search({str(i): q.query for i, q in enumerate(queries)}, k=20,
                              progress=False)  # fmt: skip
    ranked = {i: [h.doc_id for h in hits[str(i)]] for i in range(len(queries))}
    lists, report = corpus_examples(corpus, queries, ranked, hard_negatives=5, random_negatives=2)
    print(f"{len(lists)} lists from {len(chosen)} titles ({report['kept']} kept by the round trip)")

    teacher = load_teacher("bundled:scifact-minilm", device="cpu", max_length=MAX_LENGTH)
    lists = lists[:8] if CI else lists
    half = len(lists) // 2
    with tempfile.TemporaryDirectory() as out:
        run = partial(distill, teacher=teacher, max_length=MAX_LENGTH, epochs=1, batch_size=4,
                      progress=not CI, device="cpu")  # fmt: skip
        first = run(lists[:half], output_dir=f"{out}/first", depth=3)
        result = run(lists[half:], output_dir=f"{out}/more", start_from=first.artifact)
        steps = first.steps + result.steps
        print(f"student: {steps} steps in {first.seconds + result.seconds:.0f} s "
              f"({first.steps}, then {result.steps} more from where it stopped)")  # fmt: skip
        texts = [f"{title} {text}".strip() for title, text in list(corpus.values())[:20]]
        for name, spec in (("teacher (6 layers)", "bundled:scifact-minilm"),
                           ("student (3 layers)", str(result.artifact))):  # fmt: skip
            scorer = CrossEncoderScorer(spec, runtime="torch", device="cpu", score_cache_size=0)
            reranker = Reranker(scorer, top_n=3)
            reranker.rerank(QUERY, texts)  # load and warm up (the cache is off: both calls score)
            started = time.perf_counter()
            top = reranker.rerank(QUERY, texts).indices
            ms = (time.perf_counter() - started) * 1000
            print(f"{name}: {ms:.0f} ms for 20 texts; top 3: {top}")


if __name__ == "__main__":
    main()
