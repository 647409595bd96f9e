"""Serve sentence-transformers' own ``CrossEncoder`` backends to bench_local, one call a line.

sentence-transformers can run a cross-encoder through OpenVINO (``backend="openvino"``, via
optimum-intel) or ONNX Runtime (``backend="onnx"``, via optimum-onnx): what an informed user would
pick instead of this package. Those packages pin transformers to ranges this project's environment
is outside of (optimum-intel 2.2: < 5.6; optimum-onnx 0.1: < 4.58), so each backend runs in a
virtualenv of its own (``bash benchmarks/peers/setup.sh``), in a process of its own that
``benchmarks/local_lib.py`` starts and talks to over a pipe: a line of JSON in
(``{"query": ..., "texts": [...]}``), a line out (``{"scores": [...], "ms": ...}``, ``ms`` being
the time ``CrossEncoder.predict`` took inside this process). The benchmark times the round trip,
so the pipe's cost (well under a millisecond for 20 abstracts) counts against the peer, and runs it
round robin with every other system, query by query, as it does for the rest.

Usage (what local_lib does)::

    benchmarks/peers/.venv-openvino/bin/python benchmarks/peers/st_backend.py \
        --model FOLDER --backend openvino --max-length 512
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PACKAGES = ("sentence-transformers", "transformers", "torch", "optimum", "optimum-intel",
            "optimum-onnx", "openvino", "onnxruntime")  # fmt: skip


def versions() -> dict[str, str]:
    """The versions of the packages that shape this backend's speed, where installed."""
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
    args = p.parse_args()
    from sentence_transformers import CrossEncoder

    started = time.perf_counter()
    model = CrossEncoder(
        str(args.model), backend=args.backend, max_length=args.max_length, device="cpu"
    )
    hello = {"ready": True, "load_s": time.perf_counter() - started, "versions": versions()}
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        call = json.loads(line)
        t0 = time.perf_counter()
        scores = model.predict([(call["query"], text) for text in call["texts"]])
        ms = (time.perf_counter() - t0) * 1000
        print(json.dumps({"scores": [float(s) for s in scores], "ms": ms}), flush=True)


if __name__ == "__main__":
    main()
