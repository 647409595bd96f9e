"""The distilled student in ``bench_local.py``: its rows beside its teacher's, and its goals.

The student runs on every fast runtime at its own settings (its manifest's ``max_length`` and
long-passage handling), the teacher at its own; issue 27's thresholds decide each goal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _common import cpu
from local_lib import FAST_RUNTIMES, GOALS, MAX_LENGTH, Ranker, ours

__all__ = ["add_student", "default_student", "student_goals", "student_lines"]


def default_student() -> str:
    """The bundled student of the bundled reranker, where one is installed ('' otherwise)."""
    from rerank_plugins.models import BUNDLED

    return next((name for name in BUNDLED if name.startswith("scifact-minilm-l")), "")


def add_student(systems: dict[str, Ranker], spec: str, here: list[str], work: Path) -> str:
    """Add ``spec`` on every fast runtime here, at its own settings; returns those settings."""
    from rerank_plugins.models import BUNDLED, bundled_path

    folder = bundled_path(spec) if spec.removeprefix("bundled:") in BUNDLED else Path(spec)
    manifest = json.loads((folder / "reranker.json").read_text())
    length = int(manifest.get("max_length") or MAX_LENGTH)
    mode = manifest.get("inference", {}).get("long_passages", "truncate")
    settings = f"@{length}" + (" windows" if mode == "windows" else "")
    for runtime in (rt for rt in FAST_RUNTIMES if rt in here):
        systems[f"student {runtime} {settings}"] = ours(
            folder, runtime, work, max_length=length, long_passages=mode
        )[0]
    return settings


def student_pairs(report: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each runtime's (teacher, student) rows, each at its own settings."""
    lat, student = report["latency"], report.get("student") or {}
    if not student:
        return {}
    own = report.get("default_settings", "")
    out = {}
    for name, row in lat.items():
        if name.startswith("student "):
            runtime = name.split()[1]
            teacher = lat.get(f"CrossEncoderScorer {runtime} {own}")
            if teacher is not None:
                out[runtime] = (teacher, row)
    return out


def student_lines(report: dict[str, Any]) -> list[str]:
    """The student against its teacher, runtime by runtime."""
    pairs = student_pairs(report)
    if not pairs:
        return []
    own, mine = report["default_settings"], report["student"]["settings"]
    lines = [
        "",
        f"The student ({report['student']['spec']}, {mine}) against the bundled reranker "
        f"({own}), on each runtime, on the same claims:",
        "",
        "| runtime | reranker p50 ms | student p50 ms | student / reranker | nDCG@10 "
        "reranker / student | P@3 reranker / student |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for runtime, (t, s) in pairs.items():
        lines.append(
            f"| {runtime} | {t['p50_ms']:.0f} | {s['p50_ms']:.0f} | {s['p50_ms'] / t['p50_ms']:.2f}"
            f" | {t['ndcg@10']:.4f} / {s['ndcg@10']:.4f} | {t['p@3']:.4f} / {s['p@3']:.4f} |"
        )
    if "amx_bf16" not in cpu():
        lines += ["", "Not an AMX CPU: the 130 ms goal on an AMX CPU's fastest runtime is not "
                  "measured here; the student's p50 on each runtime is above."]  # fmt: skip
    return lines


def student_goals(report: dict[str, Any]) -> dict[str, bool]:
    """Issue 27's goals for the student (the thresholds to resolve), where one was timed."""
    pairs = student_pairs(report)
    if not pairs:
        return {}
    lat = report["latency"]
    fastest = min(row["p50_ms"] for _, row in pairs.values())
    tol = GOALS["student_quality_tolerance"]
    goals = {
        "student p50 <= 0.55x the reranker's on every runtime": all(
            s["p50_ms"] <= GOALS["student_cost_ratio"] * t["p50_ms"] for t, s in pairs.values()
        ),
        "student 8x lower latency than LlamaIndex at 512": lat[
            "LlamaIndex SentenceTransformerRerank"
        ]["p50_ms"]
        / fastest
        >= GOALS["student_speedup_vs_llamaindex"],
        "student within 0.010 of the reranker on these claims (nDCG@10, P@3)": all(
            t[m] - s[m] <= tol for t, s in pairs.values() for m in ("ndcg@10", "p@3")
        ),
    }
    peer = lat.get("sentence-transformers backend=openvino")
    if peer is not None:
        goals["student 2x lower latency than sentence-transformers' OpenVINO backend"] = (
            peer["p50_ms"] / fastest >= GOALS["student_speedup_vs_st_openvino"]
        )
    if "amx_bf16" in cpu():
        goals["student p50 <= 130 ms on the fastest runtime (AMX)"] = (
            fastest <= GOALS["student_amx_p50_ms"]
        )
    return goals
