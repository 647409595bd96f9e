"""Early exit inside the teacher: does a linear read of its first layers pick the few candidates
worth finishing, so that they get the teacher's own score at half its work?

Issue 27 asks for the teacher's quality (within 0.010 nDCG@10 and P@3 on the validation slice,
then on dev) at 0.55 of its work or less, and allows early exit where a measured run shows it
pays. Students and the two-pass cascade (``cascade.py``) lose quality because a smaller model
scores the final ranking. Here nothing replaces the teacher: every window of every candidate runs
through its first ``k`` layers; a ridge probe on that layer's [CLS] and mean token state (fit on
the training claims without the validation slice, to the teacher's own final logit, so no
judgement is used) scores each candidate (its best window); only the ``m`` it ranks highest run
the remaining ``6 - k`` layers and are ranked first, by the teacher's final score, exactly what
the bundled reranker gives them. The rest follow in the probe's order. ``k = 0`` is the plain
baseline: the teacher on the first stage's top ``m`` only.

Work: tokens read x layers run, every window counted, against the teacher's at its bundled
setting (256 tokens, windows). The rule ships the least work at 0.55 or less within 0.010 of the
teacher on both metrics whose neighbours hold too: the same ``k`` with every larger ``m`` up to
0.60 of the work is within as well (the two-pass cascade's choice sat on an edge that the dev
claims did not share).

Phases (features cached under ``runs/early_exit/``; a run of the teacher over each subset)::

    python experiments/early_exit.py ../shared/data/scifact features --subset validation
    python experiments/early_exit.py ../shared/data/scifact features --subset fit --limit 300
    python experiments/early_exit.py ../shared/data/scifact choose \
        --out benchmarks/results/early_exit.json
    python experiments/early_exit.py ../shared/data/scifact features --subset dev
    python experiments/early_exit.py ../shared/data/scifact dev-check \
        --choice benchmarks/results/early_exit.json --out benchmarks/results/early_exit_dev.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill_choices import MAX_COST, TEACHER, WITHIN, chosen_of, claims_of

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "early_exit"
STABLE_TO = 0.60
"""Every larger ``m`` of the chosen ``k`` up to this much of the teacher's work must hold too."""
ALPHAS = (1.0, 10.0, 100.0, 1000.0)
KINDS = ("ridge", "head")
MERGES = ("kept-first", "score")


def features(data: Path, subset: str, limit: int | None, out: Path) -> None:
    """Run the teacher (256 tokens, windows, fp32 torch) over ``subset``'s dense top 20, keeping
    each window's tokens, final logit and its [CLS] and mean token state after layers 1..5."""
    import torch

    from rerank_plugins import CrossEncoderScorer

    claims, _first = claims_of(data, subset)
    claims = claims[:limit]
    scorer = CrossEncoderScorer(
        TEACHER, runtime="torch", max_length=256, long_passages="windows", calibration=None
    )
    pairs_of = scorer.engine.pairs
    model = scorer.encoder.model.eval()
    rows: dict[str, list[Any]] = {k: [] for k in ("claim", "owner", "tokens", "logit", "states")}
    started = time.perf_counter()
    for c, (query, _ids, texts, _qrels) in enumerate(claims):
        pairs, owners = pairs_of.encode_windows(
            query, texts, max_windows=scorer.max_windows, overlap=scorer.window_overlap
        )
        width = max(len(p) for p in pairs)
        ids = torch.zeros((len(pairs), width), dtype=torch.long)
        types = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for i, pair in enumerate(pairs):
            ids[i, : len(pair)] = torch.tensor(pair.input_ids)
            types[i, : len(pair)] = torch.tensor(pair.token_type_ids)
            mask[i, : len(pair)] = 1
        with torch.inference_mode():
            result = model(
                input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True
            )
        weights = (mask / mask.sum(1, keepdim=True)).unsqueeze(-1)
        states = [
            torch.cat([h[:, 0], (h * weights).sum(1)], dim=1)
            for h in result.hidden_states[1:-1]  # after layers 1..5
        ]
        rows["claim"] += [c] * len(pairs)
        rows["owner"] += owners
        rows["tokens"] += [len(p) for p in pairs]
        rows["logit"] += result.logits[:, -1].tolist()
        rows["states"].append(torch.stack(states, 1).to(torch.float16).numpy())
        if c % 20 == 0:
            print(f"{subset}: claim {c + 1}/{len(claims)}, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    scorer.close()
    meta = [{"ids": ids_, "qrels": qrels} for _q, ids_, _t, qrels in claims]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out,
        claim=np.array(rows["claim"], np.int32),
        owner=np.array(rows["owner"], np.int32),
        tokens=np.array(rows["tokens"], np.int32),
        logit=np.array(rows["logit"], np.float32),
        states=np.concatenate(rows["states"]),
        meta=np.array(json.dumps(meta)),
        seconds=np.array(time.perf_counter() - started),
    )
    print(f"wrote {out}: {len(rows['claim'])} windows of {len(claims)} claims", flush=True)


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise SystemExit(f"{path} is missing: run the features phase for that subset first")
    with np.load(path) as f:
        got = {k: f[k] for k in f.files}
    got["meta"] = json.loads(str(got["meta"]))
    return got


class Probe:
    """Ridge regression from one layer's states to the teacher's final logit (standardised
    features; the penalty chosen by 5-fold cross-validation over claims)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> None:
        x = x.astype(np.float64)
        self.mean, self.scale = x.mean(0), x.std(0) + 1e-6
        z = (x - self.mean) / self.scale
        folds = groups % 5
        errors = {}
        for alpha in ALPHAS:
            err = 0.0
            for f in range(5):
                w, b = _ridge(z[folds != f], y[folds != f], alpha)
                err += float(((z[folds == f] @ w + b - y[folds == f]) ** 2).sum())
            errors[alpha] = err / len(y)
        self.alpha = min(errors, key=errors.__getitem__)
        self.cv_mse = errors[self.alpha]
        self.w, self.b = _ridge(z, y, self.alpha)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x.astype(np.float64) - self.mean) / self.scale) @ self.w + self.b


class HeadProbe:
    """The teacher's own head (pooler: dense and tanh on [CLS]; then a linear layer) refit on
    one layer's [CLS] state to the teacher's final logit: what a ``k``-layer copy of the
    teacher with a new head computes, so the screen ships as an ordinary artifact. Starts from
    the teacher's head; Adam, full batch; keeps the step best on the held-out fifth of claims."""

    def __init__(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray, head: Any) -> None:
        import copy

        import torch

        cls = torch.from_numpy(x[:, : x.shape[1] // 2].astype(np.float32))
        target = torch.from_numpy(y.astype(np.float32))
        held = torch.from_numpy(groups % 5 == 0)
        self.head = copy.deepcopy(head).float().train()
        for param in self.head.parameters():
            param.requires_grad_(True)
        optimiser = torch.optim.Adam(self.head.parameters(), lr=1e-3)
        best, best_state = float("inf"), copy.deepcopy(self.head.state_dict())
        for _step in range(400):
            optimiser.zero_grad()
            loss = ((self.head(cls[~held]) - target[~held]) ** 2).mean()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                err = float(((self.head(cls[held]) - target[held]) ** 2).mean())
            if err < best:
                best, best_state = err, copy.deepcopy(self.head.state_dict())
        self.head.load_state_dict(best_state)
        self.head.eval()
        self.alpha, self.cv_mse = 0.0, best

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            cls = torch.from_numpy(x[:, : x.shape[1] // 2].astype(np.float32))
            return self.head(cls).numpy().astype(np.float64)


def teacher_head() -> Any:
    """The bundled reranker's head as one module: [CLS] state in, logit out."""
    import torch

    from rerank_plugins import CrossEncoderScorer

    model = CrossEncoderScorer(TEACHER, runtime="torch", calibration=None).encoder.model
    pooler, classifier = model.bert.pooler.dense, model.classifier

    class Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pooler, self.classifier = pooler, classifier

        def forward(self, cls: Any) -> Any:
            return self.classifier(torch.tanh(self.pooler(cls)))[:, -1]

    return Head()


def _ridge(z: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    b = float(y.mean())
    w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - b))
    return w, b


def per_candidate(values: np.ndarray, windows: dict[str, Any], c: int, n: int) -> list[float]:
    """The best window's value of each of claim ``c``'s ``n`` candidates."""
    at = windows["claim"] == c
    best = [-np.inf] * n
    for owner, value in zip(windows["owner"][at], values[at], strict=True):
        best[owner] = max(best[owner], float(value))
    return best


def simulate(windows: dict[str, Any], probe_scores: np.ndarray | None, k: int, m: int,
             merge: str = "kept-first", *, carry: bool = True,
             depth: int = 6) -> dict[str, Any]:  # fmt: skip
    """Layers 1..k for every window, the rest for the top ``m`` candidates (by the probe, or
    by the first stage where ``k`` is 0): quality and work. ``merge``: ``kept-first`` ranks
    the kept ones first (by the teacher), then the rest (by the probe); ``score`` ranks all by
    their latest score (the probe is fit to the teacher's logit: one scale). ``carry``: the
    kept ones go on from layer ``k`` (a probe on the teacher's own layers); else they run all
    the teacher's layers (a screen with layers of its own)."""
    from rerank_plugins.evaluation.metrics import ndcg_at, precision_at

    ndcg, p3, work = [], [], []
    for c, claim in enumerate(windows["meta"]):
        ids, n = claim["ids"], len(claim["ids"])
        final = per_candidate(windows["logit"], windows, c, n)
        if k == 0 or probe_scores is None:
            first: list[float] = [-float(i) for i in range(n)]  # the first stage's order
        else:
            first = per_candidate(probe_scores, windows, c, n)
        order = sorted(range(n), key=lambda i: -first[i])
        kept, rest = order[:m], order[m:]
        if merge == "score" and k:
            latest = [final[i] if i in kept else first[i] for i in range(n)]
            ranking = [ids[i] for i in sorted(range(n), key=lambda i: -latest[i])]
        else:
            ranking = [ids[i] for i in sorted(kept, key=lambda i: -final[i]) + rest]
        ndcg.append(ndcg_at(ranking, claim["qrels"], 10))
        p3.append(precision_at(ranking, claim["qrels"], 3))
        at = windows["claim"] == c
        tokens = np.zeros(n)
        np.add.at(tokens, windows["owner"][at], windows["tokens"][at])
        work.append(tokens.sum() * k + tokens[kept].sum() * (depth - k if carry else depth))
    return {"ndcg@10": statistics.fmean(ndcg), "p@3": statistics.fmean(p3),
            "layer_tokens": statistics.fmean(work),
            "per_claim": {"ndcg@10": ndcg, "p@3": p3}}  # fmt: skip


def make_probe(kind: str, fit: dict[str, Any], k: int, head: Any = None) -> Probe | HeadProbe:
    x, y, groups = fit["states"][:, k - 1], fit["logit"], fit["claim"]
    return Probe(x, y, groups) if kind == "ridge" else HeadProbe(x, y, groups, head)


def _probes(fit: dict[str, Any], kind: str) -> dict[int, Any]:
    head = teacher_head() if kind == "head" else None
    probes = {}
    for k in range(1, 6):
        probes[k] = make_probe(kind, fit, k, head)
        print(f"{kind} probe after layer {k}: alpha {probes[k].alpha:g}, held-out MSE "
              f"{probes[k].cv_mse:.3f} (logit variance {fit['logit'].var():.3f})")  # fmt: skip
    return probes


def _grid(windows: dict[str, Any], probes: dict[str, dict[int, Any]]) -> list[dict[str, Any]]:
    """Every probe kind, layer ``k`` (0: the first stage's order) and merge, ``m`` 0 to 20."""
    teacher = simulate(windows, None, 0, 20)
    rows = []
    for kind, k, merge in [("first stage", 0, "kept-first")] + [
        (kind, k, merge) for kind in probes for k in range(1, 6) for merge in MERGES
    ]:
        scores = probes[kind][k](windows["states"][:, k - 1]) if k else None
        for m in range(21):
            row = simulate(windows, scores, k, m, merge)
            cost = row["layer_tokens"] / teacher["layer_tokens"]
            rows.append(row | {"probe": kind, "k": k, "merge": merge, "m": m, "cost": cost})
    return rows


def holds(row: dict[str, Any], teacher: dict[str, Any]) -> bool:
    return (row["ndcg@10"] >= teacher["ndcg@10"] - WITHIN
            and row["p@3"] >= teacher["p@3"] - WITHIN)  # fmt: skip


def choose_stable(rows: list[dict[str, Any]], teacher: dict[str, Any]) -> dict[str, Any] | None:
    """The rule: the least work at ``MAX_COST`` or less within ``WITHIN`` of the teacher whose
    neighbours hold too (every larger ``m`` of the same screen up to ``STABLE_TO``)."""
    same = ("probe", "k", "merge")
    good = [
        r
        for r in rows
        if r["cost"] <= MAX_COST
        and all(
            holds(s, teacher)
            for s in rows
            if all(s.get(f) == r.get(f) for f in same) and r["m"] <= s["m"] <= 20
            and s["cost"] <= STABLE_TO
        )
    ]  # fmt: skip
    return min(good, key=lambda r: (r["cost"], -r["ndcg@10"]), default=None)


def _brief(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: v for k, v in row.items() if k != "per_claim"}


def choose(args: argparse.Namespace) -> dict[str, Any]:
    from rerank_plugins.scorers.local import cpu_name

    fit = load(RUNS / "fit.npz")
    validation = load(RUNS / "validation.npz")
    probes = {kind: _probes(fit, kind) for kind in KINDS}
    teacher = simulate(validation, None, 0, 20)
    rows = _grid(validation, probes)
    chosen = choose_stable(rows, teacher)
    for r in rows:
        if r["cost"] <= 0.75:
            mark = " <- chosen" if r is chosen else (" holds" if holds(r, teacher) else "")
            print(
                f"{r['probe']:11} {r['merge']:10} k {r['k']} top {r['m']:2}: "
                f"nDCG@10 {r['ndcg@10']:.4f} P@3 {r['p@3']:.4f} cost {r['cost']:.3f}{mark}"
            )
    print(f"teacher: nDCG@10 {teacher['ndcg@10']:.4f} P@3 {teacher['p@3']:.4f}")
    return {
        "protocol": "validation slice, dense top-20, the bundled reranker at 256 tokens as "
        "windows, torch fp32, no calibration; probes fit on the first "
        f"{len(fit['meta'])} claims of the fit subset to the teacher's logits (no judgements)",
        "probes": {
            kind: {k: {"alpha": p.alpha, "held_out_mse": p.cv_mse} for k, p in by.items()}
            for kind, by in probes.items()
        },
        "teacher": teacher,
        "rows": [_brief(r) for r in rows],
        "chosen": chosen,
        "cpu": cpu_name(),
    }


def dev_check(args: argparse.Namespace) -> dict[str, Any]:
    """The validation record's choice, measured once on dev, with the paired tests."""
    from rerank_plugins.evaluation.stats import paired_t_test

    chosen = chosen_of(args.choice)
    fit, dev = load(RUNS / "fit.npz"), load(RUNS / "dev.npz")
    k, m, kind, merge = chosen["k"], chosen["m"], chosen["probe"], chosen["merge"]
    probe = make_probe(kind, fit, k, teacher_head() if kind == "head" else None) if k else None
    teacher = simulate(dev, None, 0, 20)
    row = simulate(dev, probe(dev["states"][:, k - 1]) if probe else None, k, m, merge)
    row |= {"probe": kind, "k": k, "merge": merge, "m": m,
            "cost": row["layer_tokens"] / teacher["layer_tokens"]}  # fmt: skip
    first = simulate(dev, None, 0, 0)
    tests = {
        metric: {
            "lift_over_first_stage_p": paired_t_test(
                row["per_claim"][metric], first["per_claim"][metric]
            ),
            "against_teacher": row[metric] - teacher[metric],
        }
        for metric in ("ndcg@10", "p@3")
    }
    print(f"dev: first stage {first['ndcg@10']:.4f}/{first['p@3']:.4f}, teacher "
          f"{teacher['ndcg@10']:.4f}/{teacher['p@3']:.4f}, k {k} top {m}: "
          f"{row['ndcg@10']:.4f}/{row['p@3']:.4f} at {row['cost']:.3f}; {tests}")  # fmt: skip
    return {
        "protocol": "dev split (once, for the validation slice's choice), dense top-20, "
        "torch fp32, no calibration; paired t-tests over claims",
        "first_stage": first,
        "teacher": teacher,
        "chosen": row,
        "tests": tests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="SciFact in BEIR layout")
    parser.add_argument("phase", choices=("features", "choose", "dev-check"))
    parser.add_argument("--subset", choices=("validation", "fit", "dev"), default="validation")
    parser.add_argument("--limit", type=int, default=None, help="the first N claims only")
    parser.add_argument("--choice", type=Path, help="dev-check: the validation record")
    parser.add_argument("--out", type=Path, help="the record to write (choose, dev-check)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = parser.parse_args()
    if args.phase == "features":
        out = RUNS / f"{args.subset}.npz"
        if out.exists() and not args.overwrite:
            raise SystemExit(f"{out} exists: pass --overwrite to score {args.subset} again")
        features(args.data, args.subset, args.limit, out)
        return
    if args.out is not None and args.out.exists() and not args.overwrite:
        raise SystemExit(f"{args.out} exists: pass --overwrite to replace it")
    record = choose(args) if args.phase == "choose" else dev_check(args)
    if args.out is not None:
        args.out.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
