"""The model card's section on the bundled student, from ``benchmarks/results/bundled_student.json``
(``experiments/ship_student.py``) and the student rows of the latency run (``bench_local.py``).

Used by ``model_card.py``; nothing here is typed by hand but the prose around the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["student_section"]

MODES = {"windows": "long abstracts as windows, best window kept", "truncate": "truncated"}


def _setting(row: dict[str, Any]) -> str:
    return f"{row['max_length']} tokens, {MODES.get(row['long_passages'], row['long_passages'])}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def student_section(record: dict[str, Any], artifact: Path, bench: dict[str, Any]) -> list[str]:
    """The section's lines."""
    name = record["name"]
    val = record["validation"]
    chosen, teacher, first = val["chosen"], val["teacher"], val["first_stage"]
    size = sum(p.stat().st_size for p in artifact.iterdir() if p.is_file()) / 1e6
    runs = record["training"]
    total = sum(r["train_seconds"] for r in runs)
    lines = [
        f"## The fast student: `bundled:{name}`",
        "",
        f"A {len(record['layers'])}-layer copy of this reranker for when speed matters more than "
        f'the last bit of quality: `CrossEncoderScorer("bundled:{name}")`. It was made with '
        "`rerank-plugins distill` ([guide](guides/distill.md)) from this reranker's layers "
        f"{', '.join(map(str, record['layers']))} (its embeddings and head too), and learned "
        "the reranker's scores over candidate lists; no relevance judgement was a label. The same "
        "data, license and limits as above apply: SciFact-like text only.",
        "",
        "| | |",
        "| --- | --- |",
        f"| Weights | {record['parameters']:,} parameters, {record['precision']}, {size:.1f} MB |",
        f"| Setting | {_setting(chosen)} (chosen on the validation slice, below) |",
        f"| Training | {_minutes(total)} on 2 CPU cores, no GPU ({record['trained_on']}), in "
        f"{len(runs)} run{'s' if len(runs) > 1 else ''} |",
        "",
        "| run | lists | epochs | learning rate | tokens | steps | time | best validation "
        "nDCG@10 (step) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        best = r["best_validation"]
        lines.append(
            f"| {r['run']} | {r['lists']:,} | {r['epochs']:g} | {r['learning_rate']:g} | "
            f"{r['max_length']} | {r['steps']} | {_minutes(r['train_seconds'])} | "
            f"{best['ndcg@10']:.3f} ({best['step']:.0f}) |"
        )
    lines += [
        "",
        "A run that starts from an earlier one's student (`--start-from`) goes on from its best "
        "checkpoint. Validation during training is the trainer's own evaluator (truncated pairs), "
        "so its figures differ a little from the table below.",
        "",
        f"**Chosen on the validation slice** ({val['protocol']}): a student ships only when a "
        "setting of it is within 0.010 of the reranker on both.",
        "",
        "| model | setting | nDCG@10 | P@3 | tokens a claim |",
        "| --- | --- | ---: | ---: | ---: |",
        f"| first stage | | {first['ndcg@10']:.3f} | {first['p@3']:.3f} | |",
        f"| this reranker | {_setting(teacher)} | {teacher['ndcg@10']:.3f} | "
        f"{teacher['p@3']:.3f} | {teacher['work_per_claim']:,.0f} |",
    ]
    for row in val["students"]:
        mark = " **(chosen)**" if row == chosen else ""
        lines.append(
            f"| {row['name']}{mark} | {_setting(row)} | {row['ndcg@10']:.3f} | "
            f"{row['p@3']:.3f} | {row['work_per_claim']:,.0f} |"
        )
    lines += [
        "",
        "The chosen setting is within 0.010 of the reranker on validation.",
        "",
        *_development(record["development"]),
        *_cost(bench, name),
    ]
    return lines


def _development(dev: dict[str, Any]) -> list[str]:
    lines = [
        f"**Development claims, measured once** ({dev['claims']} claims, the same protocol; "
        "p: paired randomization test; [a, b]: 95% bootstrap interval):",
        "",
        "| metric | first stage | reranker | student | student - first stage | "
        "student - reranker |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for metric, label in (("ndcg@10", "nDCG@10"), ("p@3", "P@3")):
        m = dev[metric]
        lines.append(
            f"| {label} | {m['first_stage']:.3f} | {m['reranker']:.3f} | {m['student']:.3f} | "
            f"{m['lift']:+.3f} (p = {m['lift_p']:.4f}) | {m['gap_to_reranker']:+.3f} "
            f"[{m['gap_ci'][0]:+.3f}, {m['gap_ci'][1]:+.3f}] |"
        )
    work = dev["work_per_claim"]
    lines += [
        "",
        f"Tokens read a claim (windows included): student {work['student']:,.0f}, reranker "
        f"{work['reranker']:,.0f}.",
        "",
    ]
    return lines


def _cost(bench: dict[str, Any], name: str) -> list[str]:
    student = bench.get("student") or {}
    if not student or name not in str(student.get("spec")):
        return [
            "Its cost beside the reranker's is measured by `python benchmarks/bench_local.py` "
            "(the student rows); the latency run on record predates the student.",
            "",
        ]
    own = bench["default_settings"]
    lat = bench["latency"]
    lines = [
        f"**Cost**, from the same latency run as above ({bench['machine']['cpu']}): p50 per "
        f"claim, each at its own settings (reranker {own}, student {student['settings']}).",
        "",
        "| runtime | reranker p50 ms | student p50 ms | student / reranker |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row_name, row in lat.items():
        if row_name.startswith("student "):
            runtime = row_name.split()[1]
            teacher = lat.get(f"CrossEncoderScorer {runtime} {own}")
            if teacher:
                lines.append(
                    f"| `{runtime}` | {teacher['p50_ms']:.0f} | {row['p50_ms']:.0f} | "
                    f"{row['p50_ms'] / teacher['p50_ms']:.2f} |"
                )
    return [*lines, ""]
