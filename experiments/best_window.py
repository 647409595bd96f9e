"""Does one window a passage, chosen by the query's words, keep what reading every window gives?

The distill guide's table of settings shows the limit of a truncated student: read as windows the
5-layer student is within 0.005 of its teacher, but windows read as many tokens as the teacher
does; truncated it reads 0.60 of them and loses 0.016 nDCG@10, because a relevant sentence past
the cut is never read. This cuts each long passage into the windows ``long_passages="windows"``
would read (the tokenizer's own overflow, ``max_length`` tokens with the claim, 32 shared), keeps
the one whose words match the claim best (the sum of the matched words' inverse document
frequency over the corpus, ties to the earlier window, so the start wins when nothing matches),
and scores only that one: the tokens of truncation, the passage's best part. ``--select
sentences`` keeps the first sentence (SciFact's title) and then the sentences that match best, up
to the same length, in the text's order. Validation slice
only, as ``distill_choices.py`` measures (same claims, same first stage, torch fp32); nothing here
is chosen on dev.

Usage: python experiments/best_window.py SCIFACT_DIR NAME=MODEL [NAME=MODEL ...]
       [--select window,sentences] [--max-length 256] [--out FILE.json]

The record of the distill guide: ``python experiments/best_window.py SCIFACT_DIR
l5=runs/distill/mse-spread-5layers-256/best teacher=bundled:scifact-minilm
--out benchmarks/results/distill_best_part.json`` (its rows came from two runs, one a selection).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill_choices import claims_of, measure

WORD = re.compile(r"[a-z0-9]+")
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def idf_of(corpus: dict[str, tuple[str, str]]) -> dict[str, float]:
    """Each word's inverse document frequency over the corpus (BM25's form, never negative)."""
    counts: Counter[str] = Counter()
    for title, text in corpus.values():
        counts.update(set(WORD.findall(f"{title} {text}".lower())))
    n = len(corpus)
    return {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in counts.items()}


def best_window(query: str, text: str, tokenizer: Any, length: int, idf: dict[str, float]) -> str:
    """The part of ``text`` a ``length``-token window with ``query`` reads that matches the
    query's words best (the whole text when it fits in one window)."""
    enc = tokenizer(query, text, truncation="only_second", max_length=length, stride=32,
                    return_overflowing_tokens=True, return_offsets_mapping=True)  # fmt: skip
    if len(enc["input_ids"]) == 1:
        return text
    wanted = set(WORD.findall(query.lower()))
    best, best_score = text, -1.0
    for i, offsets in enumerate(enc["offset_mapping"]):
        kinds = enc.sequence_ids(i)
        spans = [o for o, kind in zip(offsets, kinds, strict=True) if kind == 1]
        part = text[spans[0][0] : spans[-1][1]]
        score = sum(idf.get(w, 0.0) for w in wanted & set(WORD.findall(part.lower())))
        if score > best_score:
            best, best_score = part, score
    return best


def best_sentences(
    query: str, text: str, tokenizer: Any, length: int, idf: dict[str, float]
) -> str:
    """As much of ``text`` as a ``length``-token pair with ``query`` holds: its first sentence
    (SciFact's title), then its sentences in order of how well their words match the query's
    (ties to the earlier), put back in the text's order (the whole text when it fits)."""
    room = length - len(tokenizer(query, add_special_tokens=False)["input_ids"]) - 3
    sentences = SENTENCE.split(text)
    sizes = [len(ids) for ids in tokenizer(sentences, add_special_tokens=False)["input_ids"]]
    if sum(sizes) <= room:
        return text
    wanted = set(WORD.findall(query.lower()))

    def match(i: int) -> float:
        return sum(idf.get(w, 0.0) for w in wanted & set(WORD.findall(sentences[i].lower())))

    order = [0, *sorted(range(1, len(sentences)), key=lambda i: (-match(i), i))]
    kept, used = set(), 0
    for i in order:
        if used + sizes[i] <= room:
            kept.add(i)
            used += sizes[i]
    return " ".join(sentences[i] for i in sorted(kept))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("models", nargs="+", help="NAME=MODEL (a bundled name or a folder)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--select",
        default="window,sentences",
        help="comma-separated: window (the best-matching window), sentences (the first "
        "sentence, then the best-matching ones up to the length); default: both",
    )
    args = parser.parse_args()
    if args.out is not None and args.out.exists():
        raise SystemExit(f"{args.out} exists; remove it or name another")
    from rerank_plugins.evaluation.beir import load_corpus
    from rerank_plugins.scorers.local import cpu_name

    claims, first = claims_of(args.data)
    idf = idf_of(load_corpus(args.data))
    rows = []
    selectors = {"window": best_window, "sentences": best_sentences}
    if not set(args.select.split(",")) <= set(selectors):
        parser.error(f"--select takes window and/or sentences, got {args.select!r}")
    for spec, how in [(m, h) for h in args.select.split(",") for m in args.models]:
        name, model = spec.split("=", 1)
        select = selectors[how]

        def prepare(scorer: Any, query: str, texts: list[str], select: Any = select) -> list[str]:
            tokenizer = scorer.encoder.tokenizer
            return [select(query, t, tokenizer, args.max_length, idf) for t in texts]

        row = measure(name, model, args.max_length, "truncate", claims, prepare)
        row = {**row, "artifact": model, "long_passages": f"best {how}"}
        rows.append({k: v for k, v in row.items() if k != "per_claim"})
    if args.out is not None:
        record = {"protocol": f"validation slice ({len(claims)} claims), dense top-20, torch fp32",
                  "cpu": cpu_name(), "first_stage": {k: first[k] for k in ("ndcg@10", "p@3")},
                  "rows": rows}  # fmt: skip
        args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
