"""How far from its teacher a student cut from the teacher's layers starts, before any training.

For each choice of kept layers, the untrained student scores the first ``--lists`` lists of a
``teacher_lists.jsonl`` (written by ``rerank-plugins distill``, e.g. by
``experiments/distill_students.sh``), and this prints the Pearson correlation of its logits with
the teacher's stored ones over all pairs, and the mean of that correlation within each list (the
order a reranker needs). The teacher is the bundled reranker, at the students' 192 tokens.

Usage::

    python experiments/student_start.py runs/distill/mse-spread/teacher_lists.jsonl [--lists 12]
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CHOICES = [(1, 3, 5), (0, 1, 2), (0, 2, 5), (0, 1, 5), (0, 3, 5), (3, 4, 5), (0, 2, 4, 5),
           (0, 1, 3, 5)]  # fmt: skip


def main() -> None:
    import numpy as np
    import torch

    from rerank_plugins.artifact import keep_layers
    from rerank_plugins.scorers.local import cpu_name
    from rerank_plugins.training.distill import load_teacher, read_teacher_lists

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lists", type=Path, help="a teacher_lists.jsonl of the bundled teacher")
    parser.add_argument("--lists", dest="n", type=int, default=12, help="lists to score")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = read_teacher_lists(args.lists)[: args.n]
    pairs = [(ex.query, text) for ex in rows for text in ex.texts]
    want = np.array([y for ex in rows for y in ex.labels])
    teacher = load_teacher("bundled:scifact-minilm", device="cpu")
    print(f"{len(rows)} lists, {len(pairs)} pairs; CPU: {cpu_name()}")
    print("kept layers       all pairs   within a list (mean)")
    for layers in CHOICES:
        student = copy.deepcopy(teacher.model)
        keep_layers(student.transformers_model, layers, who="the bundled teacher")
        student.max_length = 192
        got = student.predict(pairs, activation_fn=torch.nn.Identity(), batch_size=16)
        within, start = [], 0
        for ex in rows:
            end = start + len(ex.texts)
            within.append(np.corrcoef(want[start:end], got[start:end])[0, 1])
            start = end
        overall = np.corrcoef(want, got)[0, 1]
        print(f"{layers!s:<17} {overall:9.3f}   {np.nanmean(within):9.3f}")


if __name__ == "__main__":
    main()
