"""What the machine offers, and the runtime ``CrossEncoderScorer(runtime="auto")`` picks from it.

The rule is fixed (no timing at load, so a scorer picks the same runtime on every start of the
same machine, and its scores are reproducible there); ``benchmarks/bench_local.py`` measures it:

- a CUDA device: ``"torch-bf16"`` where the GPU does bf16 (Ampere and later), else ``"torch"``;
- a CPU with AMX-BF16 or AVX-512-BF16 (Intel Xeon 4th generation and later, Cooper Lake; AMD
  Zen 4 and later): ``"openvino-bf16"`` where OpenVINO is installed (the ``fast`` extra), else
  ``"torch-bf16"``: bf16 matrix products in hardware, batched, both within bf16's tolerance of
  fp32 (OpenVINO's fused kernels are the faster of the two where the benchmark ran them);
- any other CPU or device: ``"torch"`` (fp32), the reference.

``"onnx-int8"`` is never picked: dynamic int8 quantisation scales activations per pass, so it runs
one pair per pass to keep a pair's score independent of its neighbours, and measured against fp32
on the 162 SciFact development claims it kept the same top 3 for 69% of them (bf16: 98%; the
benchmark's fidelity table), too few to count as the same ranking. ``"onnx"`` (fp32) gives
torch's scores and is faster on some CPUs, slower on others: ask for it by name.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

__all__ = [
    "AutoChoice",
    "choose_runtime",
    "cpu_flags",
    "cpu_name",
    "default_threads",
    "has_openvino",
]

BF16_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU flags (as Linux names them) that mean bf16 matrix products run in hardware."""


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (empty where they cannot be read)."""
    if platform.system() != "Linux":
        return frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def default_threads() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class AutoChoice(str):
    """A runtime picked by ``"auto"``; ``why`` says what on the machine decided it."""

    why: str

    def __new__(cls, runtime: str, why: str) -> AutoChoice:
        choice = super().__new__(cls, runtime)
        choice.why = why
        return choice


def has_openvino() -> bool:
    """Whether OpenVINO can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("openvino") is not None
    except (ImportError, ValueError, AttributeError):  # blocked, or a broken install
        return False


def choose_runtime(
    device: str, flags: frozenset[str] | None = None, *, openvino: bool | None = None
) -> AutoChoice:
    """The runtime ``"auto"`` resolves to for a model on ``device`` (``"cpu"``, ``"cuda:0"``...).

    ``flags`` and ``openvino`` (whether OpenVINO is installed) default to this machine's.

    >>> choose_runtime("cpu", frozenset({"avx2", "amx_bf16"}), openvino=True)
    'openvino-bf16'
    >>> choose_runtime("cpu", frozenset({"avx2", "amx_bf16"}), openvino=False)
    'torch-bf16'
    >>> choose_runtime("cpu", frozenset({"avx2"})).why
    'no bf16 matrix units on this CPU (amx_bf16, avx512_bf16): fp32'
    """
    kind = device.split(":")[0]
    if kind == "cuda":
        import torch

        if torch.cuda.is_bf16_supported():
            return AutoChoice("torch-bf16", "a CUDA GPU with bf16")
        return AutoChoice("torch", "a CUDA GPU without bf16: fp32")
    if kind != "cpu":
        return AutoChoice("torch", f"device {device!r}: the reference runtime")
    flags = cpu_flags() if flags is None else flags
    found = [flag for flag in BF16_FLAGS if flag in flags]
    if found:
        if has_openvino() if openvino is None else openvino:
            return AutoChoice("openvino-bf16", f"a CPU with {found[0]}, OpenVINO installed")
        return AutoChoice("torch-bf16", f"a CPU with {found[0]}")
    return AutoChoice("torch", f"no bf16 matrix units on this CPU ({', '.join(BF16_FLAGS)}): fp32")
