"""How far each fast path moves the bundled reranker's scores from fp32, and whether keeping some
layers in fp32 brings int8's rankings back: side by side in one run.

Run: ``python benchmarks/bench_fidelity.py`` (offline; about ten minutes on 2 cores).

The first ``--claims`` SciFact development claims bundled with the package, each with its top-20
candidates from all-MiniLM-L6-v2, scored by the bundled reranker at its own settings (256 tokens,
long abstracts as windows). The reference is fp32 through ONNX Runtime (torch's scores within
1e-4). Against it: the bf16 runtimes as they run (batched; where the CPU has bf16 units), and ONNX
Runtime's dynamic int8 (``quantize_dynamic``: int8 weights with one scale per output channel, as
the ``"onnx-int8"`` runtime uses), once with every weight product quantised (the runtime's graph)
and once for each group of layers kept in fp32, one pair per pass as the runtime runs; then the two
int8 recipes whose scores do not depend on a pass's other pairs, batched through OpenVINO (on CPUs
with bf16 units): static activation scales (NNCF's post-training quantisation with SmoothQuant,
calibrated on ``--calibration`` pairs of training claims, never development ones, at NNCF's
transformer defaults; the rest of the graph in bf16), and int8 weights with activations quantised
per token as each pass runs (OpenVINO's dynamic quantisation, groups of 32; OpenVINO does it with
the rest of the graph in fp32), beside int8 weights alone (activations in bf16), which shows what
the weights cost. It prints the CPU, its flags and the load, and for each variant the share of
claims whose top 3 is fp32's, the largest score difference of a claim (mean and worst over claims,
in logits) and the time a claim takes; and writes ``benchmarks/results/bench_fidelity.json`` and
``docs/assets/tables/bench-fidelity.md``. Nothing is chosen from it: it measures what each fast
path costs in fidelity.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import cpu, dev_work, load, measured_on, save

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "bench_fidelity.json"
TABLE = ROOT / "docs" / "assets" / "tables" / "bench-fidelity.md"

KEPT_FP32: dict[str, Callable[[str], bool]] = {
    "int8 (the runtime's graph)": lambda name: False,
    "int8, feed-forward output in fp32": lambda name: (
        "/output/dense/" in name and "attention" not in name
    ),
    "int8, feed-forward (both) in fp32": lambda name: (
        "/intermediate/" in name or ("/output/dense/" in name and "attention" not in name)
    ),
    "int8, first two layers in fp32": lambda name: "layer.0/" in name or "layer.1/" in name,
    "int8, last two layers in fp32": lambda name: "layer.4/" in name or "layer.5/" in name,
}
"""The int8 variants: which weight products stay fp32, by node name (BERT's ONNX export names them
by module)."""


def top3(scores: list[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: -scores[i])[:3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=40)
    parser.add_argument("--calibration", type=int, default=300, help="pairs (training claims)")
    args = parser.parse_args()
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.scorers.local import (
        QUANTIZATION,
        OnnxModel,
        cpu_flags,
        exported_model,
        padded_forward,
    )

    load_before = load()
    work = dev_work(args.claims)
    scorer = CrossEncoderScorer(
        "bundled:scifact-minilm", runtime="onnx-int8", score_cache_size=0, device="cpu"
    )
    scorer.prepare()
    engine = scorer.engine
    fp32 = exported_model(scorer.encoder.model, quantized=False)
    graph = onnx.load(str(fp32)).graph
    weights = {init.name for init in graph.initializer}
    # The products with a weight matrix: the ones dynamic quantisation turns into int8 (attention's
    # query-key and attention-value products multiply two activations and stay fp32).
    names = [n.name for n in graph.node
             if n.op_type == "MatMul" and any(i in weights for i in n.input)]  # fmt: skip

    def scores(path: Path) -> tuple[list[list[float]], float]:
        # One pair per pass for every variant, as "onnx-int8" runs.
        forward = padded_forward(OnnxModel(path), engine.pairs.pad_id)
        scorer.use_engine(engine.with_forward(forward, max_size=1))
        return score_all(scorer, work)

    reference, fp32_ms = scores(fp32)
    rows = [{"kept_fp32": "fp32 (the reference)", "matmuls_fp32": len(names),
             "same_top3": 1.0, "mean_max_diff": 0.0, "worst_max_diff": 0.0,
             "ms_per_claim": fp32_ms}]  # fmt: skip

    def compare(label: str, kept: int | None, got: list[list[float]], ms: float) -> None:
        diffs = [max(abs(x - y) for x, y in zip(a, b, strict=True))
                 for a, b in zip(got, reference, strict=True)]  # fmt: skip
        rows.append({
            "kept_fp32": label, "matmuls_fp32": kept,
            "same_top3": statistics.fmean(
                float(top3(a) == top3(b)) for a, b in zip(got, reference, strict=True)),
            "mean_max_diff": statistics.fmean(diffs), "worst_max_diff": max(diffs),
            "ms_per_claim": ms,
        })  # fmt: skip
        print(rows[-1], flush=True)

    if {"amx_bf16", "avx512_bf16"} & cpu_flags():
        for runtime in ("torch-bf16", "openvino-bf16"):
            other = CrossEncoderScorer("bundled:scifact-minilm", runtime=runtime,
                                       score_cache_size=0, device="cpu")  # fmt: skip
            other.score_unit(*work[0], timeout=None)  # warm
            compare(f"{runtime} (batched)", None, *score_all(other, work))
    with tempfile.TemporaryDirectory() as tmp:
        for label, keep in KEPT_FP32.items():
            kept = [n for n in names if keep(n)]
            path = Path(tmp) / f"int8-{len(rows)}.onnx"
            settings = QUANTIZATION  # the "onnx-int8" runtime's own settings
            quantize_dynamic(str(fp32), str(path),
                             weight_type=getattr(QuantType, str(settings["weight_type"])),
                             per_channel=bool(settings["per_channel"]),
                             reduce_range=bool(settings["reduce_range"]),
                             nodes_to_exclude=kept)  # fmt: skip
            got, ms = scores(path)
            compare(label, len(kept), got, ms)
    if {"amx_bf16", "avx512_bf16"} & cpu_flags():
        for label, got, ms in openvino_int8(fp32, work, args.calibration):
            compare(label, 0, got, ms)
    record = {
        "cpu": cpu(),
        "claims": len(work), "matmuls": len(names),
        "load_before": load_before, "load_after": load(),
        "rows": rows,
    }  # fmt: skip
    save(record, OUT, TABLE, render(record))
    return 0


def calibration_pairs(pairs: int) -> list[tuple[str, str]]:
    """``(claim, abstract)`` pairs for static quantisation's calibration: SciFact *training*
    claims (line index not a multiple of 5; the development claims are never seen), each with its
    top 10 abstracts from all-MiniLM-L6-v2, the claims in a fixed shuffled order."""
    import random

    from rerank_plugins.data import scifact_path
    from rerank_plugins.evaluation.beir import load_beir
    from rerank_plugins.evaluation.retrieval import retrieve

    ds = load_beir(scifact_path(), split="dev")
    train = sorted(q for q, line in ds.query_lines.items() if line % 5 != 0)
    random.Random(0).shuffle(train)
    ids = train[: -(-pairs // 10)]
    hits = retrieve(ds, ids, k=10, progress=False)
    out = [(ds.queries[q], ds.document_text(h.doc_id)) for q in ids for h in hits[q]]
    return out[:pairs]


def openvino_int8(
    fp32: Path, work: list[tuple[str, list[str]]], calibration: int
) -> list[tuple[str, list[list[float]], float]]:
    """Each OpenVINO int8 recipe's scores of ``work`` and its ms a claim, batched as the
    ``"openvino-bf16"`` runtime batches (its scorer, with the compiled model swapped)."""
    import nncf
    import openvino as ov

    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.scorers.local import pad, padded_forward

    scorer = CrossEncoderScorer(
        "bundled:scifact-minilm", runtime="openvino-bf16", score_cache_size=0, device="cpu"
    )
    engine = scorer.engine
    core = ov.Core()
    encoded = [engine.pairs.encode(q, [t])[0] for q, t in calibration_pairs(calibration)]
    static = nncf.quantize(
        core.read_model(str(fp32)),
        nncf.Dataset([pad([p], engine.pairs.pad_id) for p in encoded]),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(encoded),
    )
    weights = nncf.compress_weights(
        core.read_model(str(fp32)), mode=nncf.CompressWeightsMode.INT8_ASYM
    )
    # OpenVINO quantises activations per token only where the rest of the graph runs in fp32
    # (with the bf16 hint the int8 weights are unpacked to bf16 products instead).
    variants = [
        ("openvino int8, static scales (batched)", static, {"INFERENCE_PRECISION_HINT": "bf16"}),
        ("openvino int8 weights, per-token int8 activations, rest fp32 (batched)", weights,
         {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": 32}),
        ("openvino int8 weights, bf16 activations (batched)", weights,
         {"INFERENCE_PRECISION_HINT": "bf16", "DYNAMIC_QUANTIZATION_GROUP_SIZE": 0}),
    ]  # fmt: skip
    out = []
    for label, model, extra in variants:
        config = {"PERFORMANCE_HINT": "LATENCY", **extra}
        compiled = core.compile_model(model, "CPU", config)
        names = [port.get_any_name() for port in compiled.inputs]
        request = compiled.create_infer_request()

        def run(arrays: dict[str, Any], request: Any = request, names: Any = names) -> Any:
            return request.infer({n: arrays[n] for n in names})[0].copy()

        scorer.use_engine(engine.with_forward(padded_forward(run, engine.pairs.pad_id)))
        scorer.score_unit(*work[0], timeout=None)  # warm
        out.append((label, *score_all(scorer, work)))
    return out


def score_all(scorer: Any, work: list[tuple[str, list[str]]]) -> tuple[list[list[float]], float]:
    """Every claim's scores (no deadline, so every pair scores) and the ms a claim took."""
    out: list[list[float]] = []
    start = time.perf_counter()
    for query, texts in work:
        scored = scorer.score_unit(query, texts, timeout=None).scores
        out.append([s for s in scored if s is not None])
    return out, (time.perf_counter() - start) / len(work) * 1000


def _kept(kept: int | None, of: int) -> str:
    return "none (bf16)" if kept is None else f"{kept} / {of}"


def render(record: dict[str, Any]) -> str:
    lines = [
        measured_on(
            record,
            f"{record['claims']} development claims x 20 candidates at the bundled model's "
            "settings",
            "python benchmarks/bench_fidelity.py",
        ),
        "",
        "| path | weight products in fp32 | same top 3 as fp32 | largest score difference a "
        "claim, mean (worst), logits | ms a claim |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in record["rows"]:
        lines.append(
            f"| {row['kept_fp32']} | {_kept(row['matmuls_fp32'], record['matmuls'])} | "
            f"{100 * row['same_top3']:.0f}% | {row['mean_max_diff']:.2f} "
            f"({row['worst_max_diff']:.2f}) | {row['ms_per_claim']:.0f} |"
        )
    return "\n".join(lines) + "\n" + _sample_note(record["claims"])


def _sample_note(claims: int) -> str:
    """Why "same top 3" here differs from the runtime table's: a smaller sample (read from the
    runtime table's own record, so the two are never quoted apart)."""
    local = Path(__file__).resolve().parent / "results" / "bench_local.json"
    runs = json.loads(local.read_text()).get("quality_runtimes") or {}
    shares = [
        f"`{name.split()[1]}` {row['same_top3']:.0%}"
        for name, row in runs.items()
        if name.split()[1] != "torch"
    ]
    if not shares:
        return ""
    n = next(iter(runs.values()))["queries"]
    return (
        f"\nThe same top 3 here counts these {claims} claims only, so one claim moves it by "
        f"{100 / claims:.1f} points; the runtime fidelity table above counts all {n} "
        f"development claims: {', '.join(shares)} (`benchmarks/results/bench_local.json`).\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
