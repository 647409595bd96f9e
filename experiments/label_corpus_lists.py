"""Label candidate lists made from the corpus alone with a teacher, a chunk at a time.

The distillation runs of ``distill_students.sh`` learn from the 566 judged training claims'
lists and stop short of the teacher (docs/guides/distill.md): the next lever is many more lists.
This script makes them from the documents (title and cloze queries, the same builders as
``rerank-plugins distill --corpus``), keeps those whose document the first stage ranks in its
top 20 (the round trip), and labels each list with the teacher, appending every chunk to the
output so that a stopped run resumes where it was (the slow part on a CPU: about a second a
list on 2 cores). The file is ``teacher_lists.jsonl``'s format: pass it to ``distill
--teacher-lists``, alone or joined to a judged run's file.

Usage: python experiments/label_corpus_lists.py SCIFACT_DIR OUT.jsonl [--documents N]
       [--teacher SPEC] [--chunk N] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from rerank_plugins.evaluation.beir import load_corpus
from rerank_plugins.evaluation.retrieval import DenseRetriever
from rerank_plugins.training.data import RankingExample
from rerank_plugins.training.distill import label_lists, load_teacher, write_teacher_lists
from rerank_plugins.training.synthetic import cloze_queries, corpus_examples, title_queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="SciFact in BEIR layout (its corpus is used)")
    parser.add_argument("out", type=Path, help="JSONL to append labelled lists to")
    parser.add_argument("--documents", type=int, default=2000, help="documents to draw")
    parser.add_argument("--teacher", default="bundled:scifact-minilm")
    parser.add_argument("--chunk", type=int, default=50, help="lists labelled between writes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    corpus = load_corpus(args.data)
    chosen = random.Random(args.seed).sample(sorted(corpus), min(args.documents, len(corpus)))
    subset = {d: corpus[d] for d in chosen}
    queries = title_queries(subset) + cloze_queries(subset, seed=args.seed)
    hits = DenseRetriever(corpus).search({str(i): q.query for i, q in enumerate(queries)}, k=20)
    ranked = {i: [h.doc_id for h in hits[str(i)]] for i in range(len(queries))}
    lists, report = corpus_examples(
        corpus, queries, ranked, hard_negatives=8, random_negatives=2, seed=args.seed
    )
    done = count_lists(args.out)
    print(f"{len(lists)} lists ({json.dumps(report)}); {done} labelled already", file=sys.stderr)
    teacher = load_teacher(args.teacher)
    started = time.perf_counter()
    for start in range(done, len(lists), args.chunk):
        chunk = label_lists(lists[start : start + args.chunk], teacher)
        append_lists(chunk, args.out)
        rate = (time.perf_counter() - started) / (start + len(chunk) - done)
        print(f"{start + len(chunk)}/{len(lists)} labelled, {rate:.2f} s a list", file=sys.stderr)


def append_lists(lists: list[RankingExample], out: Path) -> None:
    """Append labelled lists to ``out`` whole: written beside it first, so a run stopped
    mid-write leaves no half list (the next run counts and skips those already there)."""
    part = out.with_suffix(".part")
    write_teacher_lists(lists, part)
    with out.open("a", encoding="utf-8") as handle:
        handle.write(part.read_text(encoding="utf-8"))
    part.unlink()


def count_lists(path: Path) -> int:
    """Lists already in ``path`` (0 when it does not exist)."""
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


if __name__ == "__main__":
    main()
