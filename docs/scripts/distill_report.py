"""The table of docs/guides/distill.md: how 3-layer students of the bundled reranker learn.

Reads each run of ``experiments/distill_students.sh`` (``runs/distill/<run>/``): its latest
checkpoint's ``trainer_state.json``, whose log holds every validation of the run (nDCG@10 on the
validation slice of the SciFact training claims, the first stage's beside it) and its
``reranker.json`` (the layers kept), and ``best/reranker.json`` (the recipe). The teacher's
figure on the same slice is the bundled reranker's own, from
``benchmarks/results/bundled_selection.json``. Writes
``benchmarks/results/distill_students.json`` (the record) and
``docs/assets/tables/distill-students.md``. A run whose folder is missing keeps its entry of the
record; with ``--render`` it rewrites the table from the record alone (no runs needed). With
``benchmarks/results/distill_choices.json`` (``experiments/distill_choices.py``) it also writes
``docs/assets/tables/distill-choices.md``: each model at each length and window setting; with
``benchmarks/results/cascade.json`` (``experiments/cascade.py``, and its dev check
``cascade_dev.json``), ``docs/assets/tables/distill-cascade.md``: a first pass over every
candidate, then windows over the top few; with ``benchmarks/results/early_exit.json``
(``experiments/early_exit.py``, and ``screen_student.json`` of ``experiments/screen_student.py``),
``docs/assets/tables/distill-early-exit.md``: a screen on the teacher's first layers, then the
teacher's full read of the few it keeps.

Run: ``python docs/scripts/distill_report.py`` (after ``bash experiments/distill_students.sh
SCIFACT_DIR``, or while it runs: a run stopped early shows the validations it reached).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rerank_plugins.scorers.local import cpu_name

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "benchmarks" / "results" / "distill_students.json"
TABLE = ROOT / "docs" / "assets" / "tables" / "distill-students.md"
CHOICES = ROOT / "benchmarks" / "results" / "distill_choices.json"
CHOICES_TABLE = ROOT / "docs" / "assets" / "tables" / "distill-choices.md"
CASCADE = ROOT / "benchmarks" / "results" / "cascade.json"
CASCADE_DEV = ROOT / "benchmarks" / "results" / "cascade_dev.json"
CASCADE_TIME = ROOT / "benchmarks" / "results" / "cascade_time.json"
CASCADE_TABLE = ROOT / "docs" / "assets" / "tables" / "distill-cascade.md"
EARLY_EXIT = ROOT / "benchmarks" / "results" / "early_exit.json"
SCREEN = ROOT / "benchmarks" / "results" / "screen_student.json"
EARLY_EXIT_TABLE = ROOT / "docs" / "assets" / "tables" / "distill-early-exit.md"
EXIT_SHOWN = ((0, "first stage"), (1, "ridge"), (2, "ridge"), (3, "ridge"), (1, "head"),
              (2, "head"))  # fmt: skip
"""The (layers, probe) pairs the early-exit table shows, at the ``m`` of :data:`KEPT`."""
KEPT = (4, 6, 8, 10)
SHOWN = (0, 2, 3, 4, 6, 8)
"""The numbers of candidates read whole that the cascade table shows (the chosen one too)."""
SELECTION = ROOT / "benchmarks" / "results" / "bundled_selection.json"
NDCG = "eval_held_out_ndcg@10"


def collect(folder: Path) -> dict[str, Any]:
    """One run's validations (step, epoch, nDCG@10) and recipe, from its latest checkpoint."""
    checkpoints = sorted(
        (folder / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])
    )
    if not checkpoints:
        raise SystemExit(f"{folder} has no checkpoint yet; run experiments/distill_students.sh")
    latest = checkpoints[-1]
    state = json.loads((latest / "trainer_state.json").read_text())
    manifest = json.loads((latest / "reranker.json").read_text())
    recipe = json.loads((folder / "best" / "reranker.json").read_text())["recipe"]
    evals = [h for h in state["log_history"] if NDCG in h]
    summary = folder / "summary.json"  # written when a run ends
    seconds = json.loads(summary.read_text())["train_seconds"] if summary.is_file() else None
    return {
        "train_seconds": seconds,
        "loss": recipe.get("distill_loss", recipe.get("loss")),
        "started_from": Path(recipe.get("started_from", "")).parent.name or None,
        "train_lists": recipe.get("train_lists"),
        "teacher_layers": manifest["adapter"]["layers"],
        "steps_planned": state["max_steps"],
        "epochs_planned": state["num_train_epochs"],
        "steps_reached": state["global_step"],
        "pairs_a_step": state["train_batch_size"],
        "validations": [
            {"step": h["step"], "epoch": round(h["epoch"], 2), "ndcg@10": round(h[NDCG], 4)}
            for h in evals
        ],
        "first_stage_ndcg@10": round(evals[0]["eval_held_out_base_ndcg@10"], 4) if evals else None,
    }


def teacher_validation() -> tuple[float, int]:
    """The bundled reranker's best validation nDCG@10 in its own training (same slice, same
    evaluator), and the slice's size."""
    selection = json.loads(SELECTION.read_text())
    winner = selection["runs"][selection["winner"]]
    return float(winner["validation_ndcg@10"]), int(winner["recipe"]["validation_queries"])


def render(record: dict[str, Any]) -> str:
    runs = record["runs"]
    steps = sorted({v["step"] for run in runs.values() for v in run["validations"]})
    head = ["student (loss; teacher layers kept; lists)", *[f"step {s}" for s in steps]]
    lines = [
        "| " + " | ".join(head) + " |",
        "| --- | " + " | ".join("---:" for _ in steps) + " |",
    ]
    for name, run in runs.items():
        by_step = {v["step"]: v["ndcg@10"] for v in run["validations"]}
        cells = [f"{by_step[s]:.3f}" if s in by_step else "" for s in steps]
        layers = ", ".join(str(i) for i in run["teacher_layers"])
        start = f"; from `{run['started_from']}`'s best" if run.get("started_from") else ""
        label = f"`{name}` ({run['loss']}; {layers}; {run['train_lists']:,} lists{start})"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    first_run = next(iter(runs.values()))
    first = next(r["first_stage_ndcg@10"] for r in runs.values() if r["first_stage_ndcg@10"])
    lines += [
        "",
        f"Validation nDCG@10 ({record['validation_queries']} claims). For comparison: the first "
        f"stage {first:.3f}, the 6-layer teacher {record['teacher_ndcg@10']:.3f}. A step is "
        f"{first_run['pairs_a_step']} pairs; an epoch of its {first_run['train_lists']:,} lists "
        f"{record['steps_an_epoch']} steps. CPU: {record['cpu']}.",
    ]
    return "\n".join(lines) + "\n"


def render_choices(record: dict[str, Any]) -> str:
    """Every model at every setting on the validation slice (``experiments/distill_choices.py``)."""
    teacher, first = record["teacher"], record["first_stage"]
    lines = [
        "| model | tokens | long passages | nDCG@10 | P@3 | tokens a claim | layers "
        "| x teacher's work | p50 ms |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| first stage | | | {first['ndcg@10']:.3f} | {first['p@3']:.3f} | | | | |",
    ]
    for row in [teacher, *record.get("teacher_grid", []), *record["students"]]:
        name = "teacher (bundled setting)" if row is teacher else row["name"]
        mark = " **(chosen)**" if row == record["chosen"] else ""
        lines.append(
            f"| {name}{mark} | {row['max_length']} | {row['long_passages']} | "
            f"{row['ndcg@10']:.3f} | {row['p@3']:.3f} | {row['work_per_claim']:,.0f} | "
            f"{row['depth']} | {row['cost']:.2f} | {row['p50_ms']:,.0f} |"
        )
    chosen, best = record["chosen"], record["best_by_ndcg"]
    verdict = (
        f"The setting shipped: {chosen['name']} at {chosen['max_length']} tokens, "
        f"{chosen['long_passages']}."
        if chosen
        else f"No student setting is within 0.010 of the teacher on both at 0.55 of its work or "
        f"less, so none ships; the closest that cheap is {best['name']} at "
        f"{best['max_length']} tokens, {best['long_passages']} "
        f"({best['ndcg@10'] - teacher['ndcg@10']:+.3f} nDCG@10, "
        f"{best['p@3'] - teacher['p@3']:+.3f} P@3)."
    )
    lines += [
        "",
        f"{record['protocol']}. Tokens a claim: what the cross-encoder reads for a claim's 20 "
        "candidates, windows and their repeated claim included; work: tokens times encoder "
        "layers, against the teacher's at its bundled setting (a busy machine cannot move "
        f"either; the p50 beside them is a shared {record['cpu']}'s, under varying load). "
        f"{verdict}",
    ]
    return "\n".join(lines) + "\n"


def holds(got: dict[str, Any], teacher: dict[str, Any], tests: dict[str, float]) -> bool:
    """Issue 27's bar on dev: within 0.010 of the teacher on both, both lifts significant."""
    return (
        all(got[m] >= teacher[m] - 0.010 for m in ("ndcg@10", "p@3"))
        and tests["p_ndcg@10_chosen_vs_first"] < 0.05
        and tests["p_p@3_chosen_vs_first"] < 0.05
    )


def render_cascade(
    record: dict[str, Any], dev: dict[str, Any] | None = None, timing: dict[str, Any] | None = None
) -> str:
    """A first pass over every candidate, then windows over its top ``m``
    (``experiments/cascade.py``); with ``dev``, the choice's one dev measurement below; with
    ``timing``, its wall time against the teacher's."""
    teacher, first, chosen = record["teacher"], record["first_stage"], record["chosen"]
    lines = [
        "| model | first pass (every candidate) | then read as 256-token windows | nDCG@10 "
        "| P@3 | x teacher's work |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        f"| first stage | | | {first['ndcg@10']:.3f} | {first['p@3']:.3f} | |",
        f"| teacher (bundled setting) | 256 tokens, windows | | {teacher['ndcg@10']:.3f} | "
        f"{teacher['p@3']:.3f} | 1.00 |",
    ]
    for row in record["rows"]:
        is_chosen = chosen is not None and all(
            row[k] == chosen[k] for k in ("cheap_key", "full_key", "m")
        )
        if row["full"] != "256:windows":
            continue
        if row["m"] not in SHOWN and not is_chosen:
            continue
        length, _, mode = row["cheap"].partition(":")
        mark = " **(chosen)**" if is_chosen else ""
        lines.append(
            f"| {row['model']}{mark} | {length} tokens, {mode} | top {row['m']} | "
            f"{row['ndcg@10']:.3f} | {row['p@3']:.3f} | {row['cost']:.2f} |"
        )
    verdict = (
        f"Chosen on validation: {chosen['model']}, a first pass at {chosen['cheap']}, then the top "
        f"{chosen['m']} as windows ({chosen['ndcg@10'] - teacher['ndcg@10']:+.3f} nDCG@10, "
        f"{chosen['p@3'] - teacher['p@3']:+.3f} P@3 at {chosen['cost']:.2f} of the work)."
        if chosen
        else "No setting is within 0.010 of the teacher on both at 0.55 of its work or less."
    )
    lines += [
        "",
        f"{record['protocol']}; the candidates read twice take their windows' score, the others "
        "keep their first pass's (one model, one scale). Work: tokens times encoder layers, "
        "both passes, against the teacher's at its bundled setting. Rule: the least work within "
        f"0.010 of the teacher on nDCG@10 and P@3 at 0.55 of its work or less. {verdict}",
    ]
    if dev is not None:
        got, tests, dev_teacher = dev["dev"], dev["tests"], dev["teacher"]
        lines += [
            "",
            f"Dev, measured once for that choice ({len(dev_teacher['per_claim']['p@3'])} "
            f"claims): first stage {dev['first_stage']['ndcg@10']:.3f} nDCG@10, "
            f"{dev['first_stage']['p@3']:.3f} P@3; teacher {dev_teacher['ndcg@10']:.3f}, "
            f"{dev_teacher['p@3']:.3f}; the choice {got['ndcg@10']:.3f}, {got['p@3']:.3f} "
            f"({got['ndcg@10'] - dev_teacher['ndcg@10']:+.3f}, "
            f"{got['p@3'] - dev_teacher['p@3']:+.3f}) at {got['cost']:.2f} of the work. Its "
            f"lift over the first stage: paired t-test p = "
            f"{tests['p_ndcg@10_chosen_vs_first']:.1e} (nDCG@10), "
            f"{tests['p_p@3_chosen_vs_first']:.1e} (P@3). "
            + (
                f"The same model read as windows on every candidate (a diagnosis, not a "
                f"choice): {dev['full_on_all']['ndcg@10']:.3f}, {dev['full_on_all']['p@3']:.3f}. "
                if "full_on_all" in dev
                else ""
            )
            + (
                "It holds on dev."
                if holds(got, dev_teacher, tests)
                else "It does not hold on dev (within 0.010 of the teacher on both, significant "
                "lifts), so it does not ship."
            ),
        ]
    if timing is not None:
        times = "; ".join(
            f"{runtime} {run['p50_ms']['chosen']:,.0f} ms against {run['p50_ms']['teacher']:,.0f}"
            f" ({run['ratio']:.2f}x)"
            for runtime, run in timing["runtimes"].items()
        )
        lines += [
            "",
            f"Wall time a claim, p50 over the validation claims, each claim timed with both in "
            f"turn ({timing['cpu']}, {timing['threads']} cores, load {timing['load_before']:.1f} "
            f"before): {times}.",
        ]
    return "\n".join(lines) + "\n"


def render_early_exit(record: dict[str, Any], screen: dict[str, Any] | None = None) -> str:
    """Early exit inside the teacher (``experiments/early_exit.py``): a probe on its first
    layers picks the candidates that run the rest; with ``screen``, a trained 1- or 2-layer
    screen in its place (``experiments/screen_student.py``, its last epoch)."""
    teacher, chosen = record["teacher"], record["chosen"]
    lines = [
        "| screen | layers it runs on every window | candidates the teacher finishes | nDCG@10 "
        "| P@3 | x teacher's work |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| none (the teacher, bundled setting) | 6 | 20 | {teacher['ndcg@10']:.3f} | "
        f"{teacher['p@3']:.3f} | 1.00 |",
    ]
    names = {"first stage": "the first stage's order", "ridge": "ridge probe ([CLS], mean)",
             "head": "the teacher's head, refit ([CLS])"}  # fmt: skip
    for k, probe in EXIT_SHOWN:
        merge = "kept-first" if k == 0 else "score"
        for row in record["rows"]:
            if (row["k"], row["probe"], row["merge"]) == (k, probe, merge) and row["m"] in KEPT:
                lines.append(
                    f"| {names[probe]} | {k} | top {row['m']} | {row['ndcg@10']:.3f} | "
                    f"{row['p@3']:.3f} | {row['cost']:.2f} |"
                )
    if screen is not None:
        last = screen["epochs"][-1]
        for row in last["rows"]:
            if row["merge"] == "score" and row["m"] in (0, 2, 3, 4):
                lines.append(
                    f"| a trained {screen['layers']}-layer screen (epoch {last['epoch']}) | "
                    f"{screen['layers']} | top {row['m']} | {row['ndcg@10']:.3f} | "
                    f"{row['p@3']:.3f} | {row['cost']:.2f} |"
                )
    verdict = (
        f"Chosen: {chosen['probe']} after layer {chosen['k']}, the top {chosen['m']}."
        if chosen
        else "No setting is within 0.010 of the teacher on both at 0.55 of its work or less, "
        "so nothing is chosen and dev is not measured."
    )
    lines += [
        "",
        f"{record['protocol']}. The candidates the teacher finishes take its score; the others "
        "keep the screen's (fit to the teacher's logit: one scale; the record also holds the "
        "kept ones ranked first). Work: tokens times layers, every window, against the "
        f"teacher's at its bundled setting. {verdict}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "distill")
    parser.add_argument("--render", action="store_true", help="rewrite the table from the record")
    args = parser.parse_args()
    record = json.loads(RECORD.read_text()) if RECORD.is_file() else {"runs": {}}
    if not args.render:
        for folder in sorted(args.runs.iterdir()) if args.runs.is_dir() else []:
            if (folder / "checkpoints").is_dir():
                record["runs"][folder.name] = collect(folder)
        run = next(iter(record["runs"].values()))
        teacher, queries = teacher_validation()
        record.update(
            {
                "teacher_ndcg@10": teacher,
                "validation_queries": queries,
                "steps_an_epoch": round(run["steps_planned"] / run["epochs_planned"]),
                "cpu": cpu_name(),
            }
        )
        RECORD.write_text(json.dumps(record, indent=2) + "\n")
    TABLE.write_text(render(record))
    print(TABLE.read_text(), end="")
    if CHOICES.is_file():
        CHOICES_TABLE.write_text(render_choices(json.loads(CHOICES.read_text())))
        print(CHOICES_TABLE.read_text(), end="")
    if CASCADE.is_file():
        dev, timing = (
            json.loads(path.read_text()) if path.is_file() else None
            for path in (CASCADE_DEV, CASCADE_TIME)
        )
        CASCADE_TABLE.write_text(render_cascade(json.loads(CASCADE.read_text()), dev, timing))
        print(CASCADE_TABLE.read_text(), end="")
    if EARLY_EXIT.is_file():
        screen = json.loads(SCREEN.read_text()) if SCREEN.is_file() else None
        EARLY_EXIT_TABLE.write_text(render_early_exit(json.loads(EARLY_EXIT.read_text()), screen))
        print(EARLY_EXIT_TABLE.read_text(), end="")


if __name__ == "__main__":
    main()
