"""Label lists again with the teacher reading each passage whole (windows), as it is scored in use.

``distill`` labels each candidate with the teacher's logit over the pair truncated at the
teacher's ``max_length``; the bundled reranker is scored with long passages as windows, and its
truncated score ranks worse (validation nDCG@10 0.646 against 0.667, docs/guides/distill.md).
A student trained on truncated labels learns the truncated teacher. This script labels the same
lists with ``label_lists(..., whole_passages=True)``: each passage's best window, the score the
student is meant to match. Run one process a core (``--shard K/N``), each appending a chunk at a
time so a stopped run resumes; ``--join`` merges the shards back in the input's order.

Usage: python experiments/relabel_whole_passages.py IN.jsonl OUT.jsonl --shard K/N [--threads 1]
       python experiments/relabel_whole_passages.py IN.jsonl OUT.jsonl --join N
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from label_corpus_lists import append_lists, count_lists

from rerank_plugins.training.distill import label_lists, load_teacher, read_teacher_lists


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lists", type=Path, help="teacher_lists.jsonl to label again")
    parser.add_argument("out", type=Path, help="where the relabelled lists go")
    parser.add_argument("--shard", default="0/1", help="K/N: every Nth list from the Kth")
    parser.add_argument("--join", type=int, metavar="N", help="merge N finished shards")
    parser.add_argument("--limit", type=int, help="only the first N lists of the input")
    parser.add_argument("--teacher", default="bundled:scifact-minilm")
    parser.add_argument("--chunk", type=int, default=25, help="lists labelled between writes")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    lists = read_teacher_lists(args.lists)[: args.limit]
    if args.join:
        _join(args.out, args.join, len(lists))
        _changes(lists, read_teacher_lists(args.out))
        return
    k, n = (int(x) for x in args.shard.split("/"))
    mine = lists[k::n]
    shard = _shard_path(args.out, k)
    done = count_lists(shard)
    print(f"shard {k}/{n}: {len(mine)} lists, {done} labelled already", file=sys.stderr)
    import torch

    torch.set_num_threads(args.threads)
    teacher = load_teacher(args.teacher)
    started = time.perf_counter()
    for start in range(done, len(mine), args.chunk):
        chunk = label_lists(mine[start : start + args.chunk], teacher, whole_passages=True)
        append_lists(chunk, shard)
        rate = (time.perf_counter() - started) / (start + len(chunk) - done)
        print(f"{start + len(chunk)}/{len(mine)} labelled, {rate:.2f} s a list", file=sys.stderr)


def _join(out: Path, n: int, total: int) -> None:
    if out.exists():
        sys.exit(f"{out} exists; remove it or name another output")
    shards = [_shard_path(out, k).read_text(encoding="utf-8").splitlines() for k in range(n)]
    if sum(len(s) for s in shards) != total:
        sys.exit(f"the shards hold {sum(len(s) for s in shards)} of {total} lists; finish them")
    lines = [shards[i % n][i // n] for i in range(total)]
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"{total} lists written to {out}", file=sys.stderr)


def _changes(before: list[Any], after: list[Any]) -> None:
    """Print how many labels the whole passages changed (the distill guide quotes it)."""
    pairs = [(u, v) for x, y in zip(before, after, strict=True)
             for u, v in zip(x.labels, y.labels, strict=True)]  # fmt: skip
    changed = sum(abs(v - u) > 1e-3 for u, v in pairs)
    above = sum(v - u > 1.0 for u, v in pairs)
    print(f"{changed} of {len(pairs)} labels changed, {above} up by more than one logit")


def _shard_path(out: Path, k: int) -> Path:
    return out.with_name(f"{out.stem}.shard{k}.jsonl")


if __name__ == "__main__":
    main()
