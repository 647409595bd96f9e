"""The fast local path: the same bundled cross-encoder on PyTorch fp32, on what ``"auto"`` picks,
and on ONNX Runtime int8.

Reranks 20 SciFact abstracts for a few development claims with ``runtime="torch"`` (the
reference), with ``runtime="auto"`` (OpenVINO bf16 on a CPU with bf16 units once the ``fast``
extra is installed; it prints its choice and why) and with ``runtime="onnx-int8"`` (exported from
the weights in memory, offline, cached on disk), prints the time per query of each and whether
each puts the same abstracts in the top 3 as fp32, then shows the score cache: a repeated query
costs nothing.

Run: ``python examples/fast_local.py`` (needs ``rerank-plugins[local,fast]``).
"""

from __future__ import annotations

import time

from _scifact import CI, load_task

from rerank_plugins import CrossEncoderScorer, Reranker


def main() -> None:
    task = load_task(n_claims=2 if CI else 5, lookalikes=19)
    docs = list(task.docs.values())
    claims = list(task.claims.items())
    tops: dict[str, list[list[int]]] = {}
    runtimes = ("torch", "auto", "onnx-int8")
    for runtime in runtimes:
        scorer = CrossEncoderScorer("bundled:scifact-minilm", runtime=runtime, max_length=256)
        started = time.perf_counter()
        scorer.prepare()  # load (and for ONNX, export once, then reuse from the disk cache)
        print(f"{runtime:<10} ready in {time.perf_counter() - started:5.1f} s: {scorer}")
        reranker = Reranker(scorer, top_n=3)
        for qid, claim in claims:
            passages = docs[:20]
            started = time.perf_counter()
            result = reranker.rerank(claim, passages)
            ms = (time.perf_counter() - started) * 1000
            tops.setdefault(runtime, []).append(result.indices)
            print(
                f"  claim {qid:>4}: {ms:7.0f} ms for {len(passages)} abstracts, "
                f"top 3 {result.indices}"
            )
        started = time.perf_counter()
        reranker.rerank(claims[0][1], docs[:20])
        print(f"  repeated query (score cache): {(time.perf_counter() - started) * 1000:.2f} ms")
    for runtime in runtimes[1:]:
        for (qid, _), a, b in zip(claims, tops["torch"], tops[runtime], strict=True):
            print(
                f"claim {qid:>4}, {runtime} against torch: same #1 {a[0] == b[0]}; top-3 overlap "
                f"{len(set(a) & set(b))}/3 (fast paths may swap near-ties; see "
                f"docs/guides/performance.md)"
            )


if __name__ == "__main__":
    main()
