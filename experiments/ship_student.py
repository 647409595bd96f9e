"""Ship the distilled student chosen on the validation slice, then measure it on dev, once.

``distill_choices.py`` chose a student and its settings (``max_length``, long passages) on the
validation slice and wrote ``benchmarks/results/distill_choices.json``. This script:

1. installs that student as ``rerank_plugins/models/<name>/`` (weights and manifest, with the
   chosen settings as its own and no machine path in its recipe; an existing folder is replaced
   only with ``--overwrite``);
2. measures the development claims once (the judged claims held out of every choice): the first
   stage, the bundled reranker at its settings and the student at its, each claim's nDCG@10 and
   P@3, with the student's lifts over the first stage and its gap to the reranker (paired
   randomization tests and bootstrap intervals, :func:`~rerank_plugins.evaluation.stats.compare`);
3. writes ``benchmarks/results/bundled_student.json``: the validation table, the dev figures, and
   the training runs that made the student (a run started from another's student counts both).

``docs/scripts/model_card.py`` renders the model card's student section from that file.

Usage::

    python experiments/ship_student.py path/to/scifact [--name scifact-minilm-l4] [--overwrite]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill_choices import TEACHER, claims_of, measure

ROOT = Path(__file__).resolve().parent.parent
CHOICES = ROOT / "benchmarks" / "results" / "distill_choices.json"
RESULTS = ROOT / "benchmarks" / "results" / "bundled_student.json"
DATA = "SciFact (BEIR layout), qrels/train.tsv; CC BY-NC 2.0, Wadden et al. 2020"
METRICS = ("ndcg@10", "p@3")


def install(chosen: dict[str, Any], target: Path, *, overwrite: bool) -> dict[str, Any]:
    """Copy the chosen student into the package with its settings; returns its manifest."""
    if target.exists() and not overwrite:
        raise SystemExit(f"{target} already exists; pass --overwrite to replace it.")
    source = Path(chosen["artifact"])
    manifest: dict[str, Any] = json.loads((source / "reranker.json").read_text())
    manifest["max_length"] = chosen["max_length"]
    manifest["inference"] = {"long_passages": chosen["long_passages"]}
    manifest.pop("calibration", None)  # experiments/calibrate_bundled.py --bundled adds its own
    recipe = manifest["recipe"]
    recipe["data"] = DATA
    if "teacher_lists" in recipe:
        recipe["teacher_lists"] = "the teacher's labels of the training lists (not shipped)"
    if "started_from" in recipe:
        recipe["started_from"] = _run_name(Path(recipe["started_from"]))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "weights.safetensors", target / "weights.safetensors")
    (target / "reranker.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _run_name(artifact: Path) -> str:
    """``runs/distill/<run>/best`` -> ``<run>/best``: the run's name, not this machine's path."""
    return f"{artifact.parent.name}/{artifact.name}"


def training_runs(artifact: Path) -> list[dict[str, Any]]:
    """The runs that made ``artifact``, first to last (following ``started_from``)."""
    runs: list[dict[str, Any]] = []
    current: Path | None = artifact
    while current is not None:
        recipe = json.loads((current / "reranker.json").read_text())["recipe"]
        summary = json.loads((current.parent / "summary.json").read_text())
        runs.insert(0, {
            "run": _run_name(current), "lists": recipe.get("train_lists"),
            "epochs": recipe.get("epochs"), "learning_rate": recipe.get("learning_rate"),
            "max_length": recipe.get("max_length"), "loss": recipe.get("distill_loss"),
            "steps": summary["steps"], "train_seconds": summary["train_seconds"],
            "best_validation": summary["best_during_training"],
        })  # fmt: skip
        start = recipe.get("started_from")
        current = Path(start) if start else None
    return runs


def dev_once(data: Path, name: str, chosen: dict[str, Any]) -> dict[str, Any]:
    """First stage, reranker and student on the development claims, with paired tests."""
    from rerank_plugins.evaluation.stats import compare

    claims, first = claims_of(data, "dev")
    teacher = measure("teacher", TEACHER, 256, "windows", claims)
    student = measure(name, f"bundled:{name}", chosen["max_length"], chosen["long_passages"],
                      claims)  # fmt: skip
    out: dict[str, Any] = {"claims": len(claims)}
    for metric in METRICS:
        lift = compare(first["per_claim"][metric], student["per_claim"][metric])
        gap = compare(teacher["per_claim"][metric], student["per_claim"][metric])
        out[metric] = {
            "first_stage": round(first[metric], 4), "reranker": round(teacher[metric], 4),
            "student": round(student[metric], 4), "lift": round(lift.absolute_lift, 4),
            "lift_p": round(lift.p_value, 4), "lift_ci": [round(x, 4) for x in lift.ci],
            "gap_to_reranker": round(gap.absolute_lift, 4), "gap_p": round(gap.p_value, 4),
            "gap_ci": [round(x, 4) for x in gap.ci],
        }  # fmt: skip
    out["work_per_claim"] = {"reranker": teacher["work_per_claim"],
                             "student": student["work_per_claim"]}  # fmt: skip
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="SciFact in BEIR layout, with qrels/train.tsv")
    p.add_argument("--name", default="scifact-minilm-l4", help="the bundled name to ship as")
    p.add_argument("--choices", type=Path, default=CHOICES, help="distill_choices.py's record")
    p.add_argument("--overwrite", action="store_true", help="replace a shipped student")
    p.add_argument(
        "--trained-on",
        help="the CPU the training runs used (default: this machine's, where they usually ran)",
    )
    args = p.parse_args()
    if RESULTS.exists() and not args.overwrite:
        raise SystemExit(f"{RESULTS} already exists; pass --overwrite to replace it.")
    from rerank_plugins.models import BUNDLED
    from rerank_plugins.scorers.local import cpu_name

    if args.name not in BUNDLED:
        raise SystemExit(f"add {args.name!r} to BUNDLED in rerank_plugins/models/__init__.py "
                         "first: the dev figures are measured through bundled:<name>")  # fmt: skip
    choices = json.loads(args.choices.read_text())
    chosen = choices["chosen"]
    if chosen is None:
        best = choices["best_by_ndcg"]
        raise SystemExit(
            f"no student is within 0.010 of the teacher on validation (the closest, "
            f"{best['name']} at {best['max_length']} tokens, {best['long_passages']}: nDCG@10 "
            f"{best['ndcg@10']:.3f} against {choices['teacher']['ndcg@10']:.3f}); none ships."
        )
    runs = training_runs(Path(chosen["artifact"]))
    manifest = install(chosen, ROOT / "rerank_plugins" / "models" / args.name,
                       overwrite=args.overwrite)  # fmt: skip
    print(f"installed {chosen['artifact']} as bundled:{args.name}", flush=True)
    for row in (*choices["students"], chosen):
        row["artifact"] = _run_name(Path(row["artifact"]))
    record = {
        "name": args.name, "layers": manifest["adapter"]["layers"],
        "parameters": manifest.get("parameters"), "precision": manifest.get("precision"),
        "validation": choices, "training": runs, "trained_on": args.trained_on or cpu_name(),
        "development": dev_once(args.data, args.name, chosen),
    }  # fmt: skip
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["development"], indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
