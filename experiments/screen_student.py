"""A trained screen: does a 1- or 2-layer copy of the teacher, trained to its window scores,
pick the few candidates worth the teacher's full read?

``early_exit.py`` found that a linear read of the teacher's own first layers ranks worse than the
first stage: the early layers hold little of the final score until they are trained for it. Here
the screen is a student: the teacher's embeddings and first ``k`` layers and its head, every
weight trained (logit MSE, bf16 autocast) to the teacher's final logit of each window of the fit
claims' dense top 20 (the windows and logits ``early_exit.py features`` saved: the screen learns
exactly what it will be asked in use). After each epoch it reads the validation slice's windows,
and the cascade is simulated: the screen on every window, the teacher (its logits from the same
cache) on the ``m`` candidates the screen ranks highest, those first. Work: the screen's layers
on every token, plus the teacher's six on the kept candidates' tokens, against the teacher's six
on every token.

Usage (after ``early_exit.py features`` for ``fit`` and ``validation``)::

    python experiments/screen_student.py ../shared/data/scifact --layers 2 --epochs 3 \
        --save runs/early_exit/screen-l2 [--out benchmarks/results/screen_student.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill_choices import TEACHER, claims_of
from early_exit import RUNS, choose_stable, load, simulate


def windows_of(data: Path, subset: str, count: int, engine: Any, scorer: Any) -> list[Any]:
    """Every window of ``subset``'s first ``count`` claims' dense top 20, as the scorer reads
    them (the order ``early_exit.py features`` saved them in)."""
    claims, _first = claims_of(data, subset)
    pairs = []
    for query, _ids, texts, _qrels in claims[:count]:
        got, _owners = engine.pairs.encode_windows(
            query, texts, max_windows=scorer.max_windows, overlap=scorer.window_overlap
        )
        pairs += got
    return pairs


def _batch(pairs: list[Any]) -> dict[str, Any]:
    import torch

    width = max(len(p) for p in pairs)
    ids = torch.zeros((len(pairs), width), dtype=torch.long)
    types, mask = torch.zeros_like(ids), torch.zeros_like(ids)
    for i, pair in enumerate(pairs):
        ids[i, : len(pair)] = torch.tensor(pair.input_ids)
        types[i, : len(pair)] = torch.tensor(pair.token_type_ids)
        mask[i, : len(pair)] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def score(model: Any, pairs: list[Any], size: int = 64) -> np.ndarray:
    import torch

    model.eval()
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i]))
    out = np.zeros(len(pairs), np.float64)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            logits = model(**_batch([pairs[i] for i in chunk])).logits[:, -1]
            out[chunk] = logits.float().numpy()
    return out


def grid(validation: dict[str, Any], screen: np.ndarray, k: int) -> list[dict[str, Any]]:
    """The cascade at every ``m`` and merge; the screen's layers are its own, so the kept
    candidates run all six of the teacher's."""
    teacher = simulate(validation, None, 0, 20)
    rows = []
    for merge in ("kept-first", "score"):
        for m in range(21):
            row = simulate(validation, screen, k, m, merge, carry=False)
            cost = row["layer_tokens"] / teacher["layer_tokens"]
            rows.append(row | {"k": k, "merge": merge, "m": m, "cost": cost})
    return rows


def main() -> None:
    import torch

    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.scorers.local import cpu_name
    from rerank_plugins.training.distill import load_teacher, make_student

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--save", type=Path, help="keep the best epoch's student here")
    parser.add_argument("--out", type=Path, help="the record to write")
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = random.Random(0)
    fit, validation = load(RUNS / "fit.npz"), load(RUNS / "validation.npz")
    scorer = CrossEncoderScorer(
        TEACHER, runtime="torch", max_length=256, long_passages="windows", calibration=None
    )
    train = windows_of(args.data, "fit", len(fit["meta"]), scorer.engine, scorer)
    held = windows_of(args.data, "validation", len(validation["meta"]), scorer.engine, scorer)
    assert len(train) == len(fit["logit"]) and len(held) == len(validation["logit"])
    student, _spec = make_student(load_teacher(TEACHER), args.layers, pick="first")
    model = student.model
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    target = torch.from_numpy(fit["logit"].astype(np.float32))
    steps = args.epochs * (len(train) // args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=args.lr, total_steps=steps, pct_start=0.1
    )
    epochs, started, best = [], time.perf_counter(), None
    for epoch in range(args.epochs):
        model.train()
        order = list(range(len(train)))
        rng.shuffle(order)
        for start in range(0, len(order) - args.batch + 1, args.batch):
            chunk = order[start : start + args.batch]
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(**_batch([train[i] for i in chunk])).logits[:, -1].float()
            loss = ((logits - target[chunk]) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        screen = score(model, held)
        rows = grid(validation, screen, args.layers)
        mse = float(((screen - validation["logit"]) ** 2).mean())
        teacher = simulate(validation, None, 0, 20)
        chosen = choose_stable(rows, teacher)
        print(f"epoch {epoch + 1}: {time.perf_counter() - started:.0f} s, validation MSE "
              f"{mse:.3f}", flush=True)  # fmt: skip
        for r in rows:
            if r["cost"] <= 0.65:
                print(f"  {r['merge']:10} top {r['m']:2}: nDCG@10 {r['ndcg@10']:.4f} "
                      f"P@3 {r['p@3']:.4f} cost {r['cost']:.3f}", flush=True)  # fmt: skip
        brief = [{k: v for k, v in r.items() if k != "per_claim"} for r in rows]
        epochs.append({"epoch": epoch + 1, "seconds": time.perf_counter() - started,
                       "validation_mse": mse, "chosen": chosen, "rows": brief})  # fmt: skip
        if args.save is not None and (best is None or mse < best):
            best = mse
            args.save.mkdir(parents=True, exist_ok=True)
            model.save_pretrained(args.save)
            student.tokenizer.save_pretrained(args.save)
    record = {"cpu": cpu_name(),
              "protocol": "validation slice, dense top-20; screen trained on the windows of the "
              f"first {len(fit['meta'])} fit claims to the teacher's logits; teacher "
              f"{teacher['ndcg@10']:.4f} / {teacher['p@3']:.4f}", "layers": args.layers,
              "lr": args.lr, "batch": args.batch, "epochs": epochs}  # fmt: skip
    if args.out is not None:
        args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
