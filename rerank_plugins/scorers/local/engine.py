"""The engine a :class:`~rerank_plugins.CrossEncoderScorer` runs on, and the seam to replace it.

An :class:`Engine` is the tokenizer (one truncation policy), the micro-batcher (length-bucketed
passes under a token budget, shared by concurrent calls) and the forward pass it runs. The scorer
builds one from its runtime (:data:`~rerank_plugins.scorers.local._runtimes.REGISTRY`) on first
use; tests and benchmarks reach it through public calls only:

- :meth:`CrossEncoderScorer.from_encoder <rerank_plugins.CrossEncoderScorer.from_encoder>`: a
  scorer over a model already loaded (no second load);
- :attr:`CrossEncoderScorer.engine <rerank_plugins.CrossEncoderScorer.engine>`: load the model
  and build the engine now (or wait for the one being built), and return it;
- :meth:`Engine.with_forward`: the same engine around another forward pass, pass size or
  batch planner (a quantised model, a compiled graph, a planner to compare);
- :meth:`CrossEncoderScorer.use_engine <rerank_plugins.CrossEncoderScorer.use_engine>`: run the
  scorer on a given engine from now on (one engine shared by several scorers, or a replaced one).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, replace
from typing import Any

from rerank_plugins._cost import CostModel
from rerank_plugins.scorers.local._batching import EncodedPair, PairEncoder
from rerank_plugins.scorers.local._hardware import default_threads
from rerank_plugins.scorers.local._microbatch import MicroBatcher, Planner
from rerank_plugins.scorers.local._runtimes import (
    REGISTRY,
    Forward,
    RuntimeSettings,
    padded_forward,
)

__all__ = ["Engine", "EncodedPair", "Forward", "build_engine", "padded_forward", "raw_scores"]

_CUSTOM = itertools.count(1)


@dataclass(frozen=True)
class Engine:
    """What one scorer's forward passes run on.

    Attributes:
        pairs: Tokenizes ``(query, text)`` pairs under the scorer's truncation policy
            (``pairs.encode``, ``pairs.encode_windows``, ``pairs.estimate``, ``pairs.pad_id``).
        batcher: Runs encoded pairs in shared passes (``batcher.run``; ``batcher.passes``
            counts them; ``batcher.cost`` is the scorer's cost model).
        max_length: Tokens per pair.
        runtime: The runtime that built the forward pass (``"custom-<n>"`` for one given to
            :meth:`with_forward`).
    """

    pairs: PairEncoder
    batcher: MicroBatcher
    max_length: int
    runtime: str

    def with_forward(
        self,
        forward: Forward | None = None,
        *,
        max_size: int | None = None,
        planner: Planner | None = None,
        runtime: str | None = None,
    ) -> Engine:
        """This engine with a new micro-batcher around ``forward`` (default: the same pass),
        at most ``max_size`` pairs a pass, grouped by ``planner``; the tokenizer, token budget,
        lanes and cost model stay. Hand it to a scorer with ``use_engine``.

        ``runtime`` names the new pass (what the scorer reports, and the score cache's key):
        by default the same name without a new ``forward``, else a new ``"custom-<n>"``, so
        scores of different passes never mix in a cache.

        A forward over padded arrays (an ONNX or OpenVINO model) is
        ``padded_forward(model, engine.pairs.pad_id)``.
        """
        old = self.batcher
        batcher = MicroBatcher(
            forward if forward is not None else old.forward,
            cost=old.cost,
            max_tokens=old.max_tokens,
            max_size=max_size if max_size is not None else old.max_size,
            lanes=old.lanes,
            pool_tokens=old.pool_tokens,
            planner=planner if planner is not None else old.planner,
        )
        if runtime is None:
            runtime = self.runtime if forward is None else f"custom-{next(_CUSTOM)}"
        return replace(self, batcher=batcher, runtime=runtime)


def build_engine(
    encoder: Any,
    runtime: str,
    *,
    max_length: int,
    batch_size: int,
    max_batch_tokens: int,
    threads: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    cost: CostModel | None = None,
) -> Engine:
    """The engine of ``runtime`` (a name in ``RUNTIMES``) over a loaded ``CrossEncoder``."""
    entry = REGISTRY[runtime]
    pairs = PairEncoder(encoder.tokenizer, max_length)
    forward = entry.build(encoder, RuntimeSettings(pairs.pad_id, threads, cache_dir))
    batcher = MicroBatcher(
        forward,
        cost=cost,
        max_tokens=max_batch_tokens,
        max_size=1 if entry.one_pair_per_pass else batch_size,
        lanes=threads or default_threads() if entry.lane_per_core else 1,
    )
    return Engine(pairs, batcher, max_length, runtime)


def raw_scores(logits: list[Any]) -> list[float]:
    """Turn model outputs into one raw logit per pair.

    A single-logit model gives its logit; a two-class model gives ``l1 - l0``, whose sigmoid
    equals the softmax probability of the positive class.

    >>> raw_scores([0.5, -1.0])
    [0.5, -1.0]
    >>> raw_scores([[0.0, 2.0]])
    [2.0]
    """
    out: list[float] = []
    for row in logits:
        if isinstance(row, list):
            out.append(float(row[-1]) - float(row[0]) if len(row) == 2 else float(row[0]))
        else:
            out.append(float(row))
    return out
