"""Time sentence-transformers' own ``CrossEncoder`` backends on the claims bench_local gives it.

sentence-transformers can run a cross-encoder through OpenVINO (``backend="openvino"``, via
optimum-intel) or ONNX Runtime (``backend="onnx"``, via optimum-onnx). Those packages pin
transformers to ranges this project's environment is outside of (optimum-intel 2.2: < 5.6;
optimum-onnx 0.1: < 4.58), so each backend runs in a virtualenv of its own made by
``benchmarks/peers/setup.sh``, and ``bench_local.py`` calls this script there on the same
weights folder and the same claims, then scores quality from the scores it returns.

Input (``--claims``): JSON ``[{"query": str, "texts": [str, ...]}, ...]``. Output (``--out``):
JSON with the versions used, the load time, and per claim the wall time of one
``CrossEncoder.predict`` over its candidates (after ``--warmup`` untimed calls) and the scores.

Usage (from the repository root)::

    benchmarks/peers/.venv-openvino/bin/python benchmarks/peers/st_backend.py \
        --model FOLDER --backend openvino --max-length 512 --claims claims.json --out out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PACKAGES = ("sentence-transformers", "transformers", "torch", "optimum", "optimum-intel",
            "optimum-onnx", "openvino", "onnxruntime")  # fmt: skip


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except Exception:  # not installed in this backend's environment
            continue
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True, help="a Hugging Face model folder")
    p.add_argument("--backend", choices=("torch", "onnx", "openvino"), required=True)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--claims", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1, help="timed passes over the claims")
    args = p.parse_args()
    if args.out.exists():
        raise SystemExit(f"{args.out} already exists; choose a new --out.")
    from sentence_transformers import CrossEncoder

    claims = json.loads(args.claims.read_text())
    start = time.perf_counter()
    model = CrossEncoder(
        str(args.model), backend=args.backend, max_length=args.max_length, device="cpu"
    )
    load_s = time.perf_counter() - start
    for claim in claims[: args.warmup]:
        model.predict([(claim["query"], t) for t in claim["texts"]])
    ms: list[list[float]] = [[] for _ in claims]
    scores: list[list[float]] = []
    for _ in range(args.rounds):
        scores = []
        for i, claim in enumerate(claims):
            pairs = [(claim["query"], t) for t in claim["texts"]]
            t0 = time.perf_counter()
            out = model.predict(pairs)
            ms[i].append((time.perf_counter() - t0) * 1000)
            scores.append([float(s) for s in out])
    per_claim = [statistics.median(m) for m in ms]
    args.out.write_text(
        json.dumps(
            {
                "backend": args.backend,
                "max_length": args.max_length,
                "versions": _versions(),
                "load_s": load_s,
                "ms": per_claim,
                "scores": scores,
            }
        )
    )


if __name__ == "__main__":
    main()
