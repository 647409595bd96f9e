"""No judgements? Adapt a reranker to your corpus from the documents alone.

Queries are made from the documents themselves: a title asks for its text, one sentence asks for
the rest of its abstract (inverse cloze), and an LLM (Gemma 3 270M, offline) writes a claim for a
few abstracts in one batch. A made query is kept only if the first stage finds its document again
(the round trip), and the first stage's other top candidates are its negatives. A teacher then
says how relevant every text of a list is (Gemma's query likelihood, UPR), instead of "the source
and nothing else", and the reranker learns that. This script makes such lists from a slice of the
SciFact abstracts bundled with the package, shows one of each kind and one with the teacher's
labels, trains a few steps and reranks with the result. ``rerank-plugins train --corpus DIR`` does
the same from the command line, on the whole corpus (``experiments/write_queries.py`` writes the
claims for it).

Run: ``python examples/adapt_to_corpus.py`` (needs ``rerank-plugins[train,eval,llm]``; offline).
With ``CI=true`` it uses 60 abstracts, writes 4 claims, has the teacher label 8 lists and trains 1
step at 64 tokens (a smoke run, not a model).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rerank_plugins import CrossEncoderScorer, Reranker
from rerank_plugins.data import scifact_path
from rerank_plugins.evaluation.beir import load_corpus
from rerank_plugins.evaluation.retrieval import DenseRetriever
from rerank_plugins.models.gemma import load_gemma
from rerank_plugins.scorers.query_likelihood import QueryLikelihoodScorer
from rerank_plugins.training import AdapterSpec, train_cross_encoder
from rerank_plugins.training.synthetic import (
    cloze_queries,
    corpus_examples,
    teacher_examples,
    teacher_logits,
    title_queries,
    written_queries,
)

CI = bool(os.environ.get("CI"))
DOCUMENTS = 60 if CI else 400
WRITTEN = 4 if CI else 32
PROMPT = """\
Each passage is followed by one claim that the passage supports: a short statement of its main \
finding.

Passage: Evening caffeine. In a crossover trial, 40 adults drank coffee or decaffeinated coffee \
four hours before bed. Caffeine delayed sleep onset by 25 minutes and reduced deep sleep.
Claim: Coffee in the evening delays sleep onset.

Passage: {passage}
Claim:"""
"""A few-shot prompt for a base model: put examples in the style of your own queries here."""


def main() -> None:
    corpus = load_corpus(scifact_path())
    docs = dict(list(corpus.items())[:DOCUMENTS])  # queries from these; negatives from them too
    gemma = load_gemma()
    written = written_queries(
        dict(list(docs.items())[:WRITTEN]),
        write_many=lambda prompts: gemma.generate_many(
            prompts, max_new_tokens=40, stop=("\n",), autocast_bf16=True
        ),
        batch_size=WRITTEN,
        prompt=PROMPT,
        max_words=120,
    )
    print(f"Gemma 3 270M wrote {len(written)} claims, e.g. {written[0].query!r}" if written
          else "Gemma 3 270M wrote no usable claim")  # fmt: skip
    queries = title_queries(docs) + cloze_queries(docs, seed=0) + written
    first_stage = DenseRetriever(docs, cache_dir=None)
    hits = first_stage.search({str(i): q.query for i, q in enumerate(queries)}, k=20,
                              progress=False)  # fmt: skip
    ranked = {i: [h.doc_id for h in hits[str(i)]] for i in range(len(queries))}
    lists, report = corpus_examples(docs, queries, ranked, roundtrip_k=10, seed=0)
    print(
        f"{report['made']} queries made from {len(docs)} abstracts, {report['kept']} kept by the "
        f"round trip (document in the first stage's top 10): {report['by_kind']}"
    )
    for kind in ("title", "cloze", "written"):
        if not any(q.kind == kind for q in queries):
            continue
        i = next(i for i, q in enumerate(queries) if q.kind == kind)
        (example,), _ = corpus_examples(docs, [queries[i]], {0: ranked[i]}, roundtrip_k=None)
        print(f"\n[{kind}] query: {example.query[:110]}")
        print(f"  positive: {example.texts[0][:110]}...")
        print(f"  a hard negative: {example.texts[1][:110]}...")

    # The teacher: Gemma's mean log probability of the query after reading each text (UPR).
    teacher = QueryLikelihoodScorer(
        gemma.model, tokenizer=gemma.tokenizer, prompt="Abstract: {passage}\nA claim it supports:"
    )
    started = time.perf_counter()
    taught = teacher_examples(lists[:8] if CI else lists[:64], teacher_logits(teacher))
    print(f"\nthe teacher labelled {len(taught)} lists in {time.perf_counter() - started:.0f}s; "
          f"one of them (label = teacher's logit above the list's lowest):")  # fmt: skip
    print(f"  query: {taught[0].query[:110]}")
    for label, text in sorted(zip(taught[0].labels, taught[0].texts, strict=True), reverse=True):
        print(f"  {label:5.2f}  {text[:96]}...")

    work = Path(tempfile.mkdtemp(prefix="rerank-adapt-"))
    started = time.perf_counter()
    result = train_cross_encoder(
        taught,
        output_dir=work / "run",
        adapter=AdapterSpec(method="full"),
        loss="listnet",  # reads the teacher's labels as logits
        epochs=1,
        batch_size=8,
        learning_rate=5e-5,
        max_length=64 if CI else 256,
        progress=False,
    )
    print(f"\ntrained {result.steps} step(s) in {time.perf_counter() - started:.0f}s: "
          f"{result.artifact}")  # fmt: skip

    claim = "Vitamin D supplementation prevents fractures in older people."
    texts = [f"{title} {text}" for title, text in list(docs.values())[:10]]
    top = Reranker(CrossEncoderScorer(str(result.artifact), device="cpu"), top_n=3).rerank(
        claim, texts
    )
    print(f"\nTop 3 for {claim!r}:")
    for item in top:
        print(f"  {item.score:.3f}  {item.text[:100]}")


if __name__ == "__main__":
    main()
