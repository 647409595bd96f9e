"""A local cross-encoder scorer on sentence-transformers' ``CrossEncoder``.

Every runtime shares one pipeline: a score cache in front, then tokenization under one truncation
policy (keep the query and the head of the passage), length-bucketed forward passes under a token
budget, and micro-batching of concurrent calls on the one model. Only the forward pass differs:
PyTorch fp32 (``runtime="torch"``, the reference), PyTorch bf16 (``"torch-bf16"``, batched, on
CPUs with bf16 matrix units and on GPUs), ONNX Runtime fp32 (``"onnx"``), ONNX Runtime with
dynamic int8 quantisation (``"onnx-int8"``), or OpenVINO fp32 or bf16 (``"openvino"``,
``"openvino-bf16"``); ``"auto"`` (the default) picks from what the machine offers
(:mod:`rerank_plugins.scorers.local._hardware`). See ``docs/guides/performance.md``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from rerank_plugins._cache import ScoreCache
from rerank_plugins._calibration import CalibrationLike
from rerank_plugins._checks import check_int
from rerank_plugins._deadline import Deadline
from rerank_plugins._exceptions import ConfigurationError, TimedOutError
from rerank_plugins._scorer import Normalization, Scorer, UnitScores
from rerank_plugins.scorers.local._loading import (
    DEFAULT_MODEL,
    check_labels,
    load_encoder,
    model_max_length,
    own_calibration,
    recommended,
)
from rerank_plugins.scorers.local._runtimes import REGISTRY
from rerank_plugins.scorers.local.engine import Engine, build_engine, raw_scores

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["RUNTIMES", "CrossEncoderScorer", "Runtime", "check_labels", "raw_scores"]

Runtime = Literal["auto", "torch", "torch-bf16", "onnx", "onnx-int8", "openvino", "openvino-bf16"]
LongPassages = Literal["truncate", "windows"]
RUNTIMES: tuple[str, ...] = tuple(REGISTRY)
"""The forward-pass engines :class:`CrossEncoderScorer` can run on (``"auto"`` picks one)."""

WHO = "CrossEncoderScorer"


class CrossEncoderScorer(Scorer):
    """Scores ``(query, text)`` pairs with a cross-encoder that reads both together.

    The model loads lazily, once, on first use (or on :meth:`prepare`), and is shared safely
    between threads, event loops and adapters. Raw scores are logits: a single-logit model's
    logit, or a two-class model's logit difference (whose sigmoid is the positive-class
    probability), so the normalised score is the sigmoid in both cases.

    Args:
        model: A Hugging Face Hub id (default ``cross-encoder/ms-marco-MiniLM-L6-v2``), a local
            folder (a cross-encoder, or an artifact of ``rerank-plugins train``), or
            ``bundled:<name>`` for a reranker that ships inside this package.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``...; ``None`` picks the best available.
        batch_size: Pairs per unit of the budget loop, and most pairs in one forward pass
            (``"onnx-int8"`` runs one pair per pass, see below).
        runtime: The forward-pass engine. ``"auto"`` (default) picks, once the model is loaded,
            from what the device offers: on a CPU with AMX-BF16 or AVX-512-BF16,
            ``"openvino-bf16"`` where OpenVINO is installed (the ``fast`` extra), else
            ``"torch-bf16"``; ``"torch-bf16"`` on a GPU with bf16; else ``"torch"``;
            :attr:`runtime` then names the choice (and :attr:`runtime_reason` why), as do
            ``repr`` and each call's stats.
            ``"torch"``: PyTorch fp32, the reference. ``"torch-bf16"``: PyTorch with bf16
            weights and activations (the classification head in fp32), batched: 2-3x faster
            than fp32 where the hardware does bf16, a claim's scores within 0.07 of a logit of
            fp32 on average on the bundled reranker (0.18 at most; the same top 3 for 98% of
            SciFact dev claims), and a pair's score alone and in any batch within 0.03.
            ``"onnx"``: ONNX Runtime fp32 (torch's scores within 1e-4). ``"onnx-int8"``: ONNX
            Runtime with dynamic int8 quantisation, one pair per pass (faster than fp32 on CPUs
            with VNNI and no bf16 units; a claim's largest score change is about a logit on
            average on the bundled reranker, over two at worst, so near ties reorder: the same
            top 3 for 69% of SciFact dev claims; ``"auto"`` never picks it).
            ``"openvino"``: OpenVINO fp32 (torch's scores within 1e-4). ``"openvino-bf16"``:
            OpenVINO with bf16 matrix products, batched (bf16's tolerances, as
            ``"torch-bf16"``; needs bf16 units). The ONNX and OpenVINO runtimes run on the CPU
            and need ``pip install 'rerank-plugins[fast]'``; the model is exported to ONNX once
            (offline) and kept under ``cache_dir``. Fidelity of each runtime
            to fp32 on real claims: ``benchmarks/bench_local.py``.
        max_length: Tokens per pair (query + text); longer pairs are truncated. ``None`` keeps the
            model's own limit.
        trust_remote_code: Allow a model repository's own Python code to run. Off unless you
            trust the repository.
        model_kwargs: Passed to ``transformers`` when loading (e.g. ``{"torch_dtype": "auto"}``).
        max_batch_tokens: Token budget of one forward pass (pairs x longest pair after
            truncation); pairs are sorted by length into passes under it, so padding stays small.
        threads: CPU threads of one ONNX Runtime or OpenVINO pass (default: the cores this
            process may use). With the PyTorch runtimes a value here calls
            ``torch.set_num_threads``, which is process-wide; by default PyTorch's own setting
            is left alone.
        score_cache_size: Raw scores remembered per scorer, keyed by query and text (and the
            model, runtime and truncation); a repeated pair costs nothing. ``0`` turns it off.
        cache_dir: Folder for exported ONNX models (default: ``$RERANK_PLUGINS_CACHE``, else
            the user's cache folder, e.g. ``~/.cache/rerank-plugins``).
        long_passages: What happens to a passage longer than the room ``max_length`` leaves
            after the query (``None``: what a reranker artifact's manifest recommends, measured
            when it was made, else ``"truncate"``): ``"truncate"`` keeps its head;
            ``"windows"`` scores it as up to
            ``max_windows`` overlapping windows (each read with the whole query) and keeps the
            best window's score, so a relevant sentence past the cut still counts. A passage that
            fits scores exactly the same either way. Every window is a pair in a forward pass, so
            the budget and the unit sizes count windows, not passages.
        max_windows: Most windows per passage with ``long_passages="windows"`` (the tail past
            them is dropped).
        window_overlap: Tokens shared by consecutive windows.
        calibration: Maps the logits to P(relevant), so ``relevance_score`` and ``min_score`` are
            probabilities (see :attr:`~rerank_plugins.Scorer.calibration`): a calibration file's
            path, a :class:`~rerank_plugins.Calibration`, or ``None`` for the sigmoid of the
            logit (the model's own scale). ``"auto"`` (default): the calibration a reranker
            artifact carries in its manifest (the bundled reranker carries one), else ``None``.

    Ownership: the scorer owns the model it loads, the runtime built on it (an export, a
    compiled model) and the micro-batcher's helper threads. :meth:`close` (or the end of a
    ``with`` block) stops the helper threads and drops the model and runtime, so their memory
    is freed once no call still holds them; a later call loads them again. Without ``close``
    they live as long as the scorer. Copies share it all (``copy.deepcopy`` returns the scorer).

    Example:
        >>> from rerank_plugins import CrossEncoderScorer, Reranker
        >>> reranker = Reranker(CrossEncoderScorer("bundled:scifact-minilm"), top_n=3)
        >>> # reranker.rerank("Does vitamin D prevent fractures?", passages)
    """

    backend = "cross-encoder"
    normalization = Normalization.SIGMOID
    learns_own_cost = True  # per forward pass, in padded tokens (the micro-batcher)
    admits_own_work = True  # and admits each pass under the deadline: the core does not ask too

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        trust_remote_code: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        runtime: Runtime = "auto",
        max_batch_tokens: int = 4096,
        threads: int | None = None,
        score_cache_size: int = 10_000,
        cache_dir: str | os.PathLike[str] | None = None,
        long_passages: LongPassages | None = None,
        max_windows: int = 4,
        window_overlap: int = 32,
        calibration: CalibrationLike | Literal["auto"] = "auto",
    ) -> None:
        _check_options(model, batch_size, max_length, runtime, device)
        _check_fast_options(max_batch_tokens, threads, score_cache_size)
        if long_passages is None:
            long_passages = recommended(model).get("long_passages", "truncate")
        _check_window_options(long_passages, max_windows, window_overlap)
        self._model_name = model
        self.device = device
        self.batch_size = self.unit_size = batch_size  # a unit is one batch
        self.max_length = max_length
        self.trust_remote_code = trust_remote_code
        self.model_kwargs = dict(model_kwargs or {})
        self.requested_runtime: Runtime = runtime
        self.runtime: str = runtime
        """The runtime in use: the one asked for, or, with ``"auto"``, the one it picked once
        the model loaded (``"auto"`` until then)."""
        self.runtime_reason: str | None = None if runtime == "auto" else "asked for"
        """Why :attr:`runtime` is the one in use: ``"asked for"``, or what ``"auto"`` found
        (e.g. ``"a CPU with amx_bf16, OpenVINO installed"``); ``None`` until it has picked."""
        self.max_batch_tokens = max_batch_tokens
        self.threads = threads
        self.cache_dir = cache_dir
        self.score_cache = ScoreCache(score_cache_size)
        self.long_passages: LongPassages = long_passages
        self.max_windows = max_windows
        self.window_overlap = window_overlap
        self._windows = (max_windows, window_overlap) if long_passages == "windows" else None
        self._score_key: tuple[Any, ...] = ()  # set with the engine, once the runtime is known
        self._load_lock = threading.Lock()
        self._engine_lock = threading.Lock()
        self._encoder: CrossEncoder | None = None
        self._engine: Engine | None = None
        self.calibration = (
            own_calibration(model, self.backend) if calibration == "auto" else (calibration)
        )

    @classmethod
    def from_encoder(cls, encoder: CrossEncoder, model: str, **options: Any) -> CrossEncoderScorer:
        """A scorer over ``encoder``, a ``sentence_transformers.CrossEncoder`` already loaded
        (so several scorers share one copy of the weights and none loads it again).

        ``model`` names it as the constructor's ``model`` would (the score cache's key, and the
        artifact whose calibration and manifest apply); ``options`` are the constructor's.
        After :meth:`close` a later call loads ``model`` by its name.
        """
        scorer = cls(model, **options)
        with scorer._load_lock:
            scorer._encoder = encoder
        return scorer

    @property
    def engine(self) -> Engine:
        """The :class:`~rerank_plugins.scorers.local.engine.Engine` this scorer runs on: loads
        the model and builds it on first access (waiting for a build another thread started)."""
        return self._ready()

    def use_engine(self, engine: Engine) -> None:
        """Run on ``engine`` from now on: another scorer's (one engine shared, as one model is),
        or one from :meth:`~rerank_plugins.scorers.local.engine.Engine.with_forward`.
        :attr:`runtime` becomes the engine's; the score cache keeps the two apart."""
        with self._engine_lock:
            self._engine = engine
            self.runtime = engine.runtime
            self.runtime_reason = self.runtime_reason or "an engine given"
            self._score_key = (self._model_name, self.runtime, self.max_length, self._windows)

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (loaded, or given to :meth:`from_encoder`)."""
        return self._encoder is not None

    @property
    def model(self) -> str:
        return self._model_name

    @property
    def encoder(self) -> CrossEncoder:
        """The loaded ``sentence_transformers.CrossEncoder`` (loads it on first access)."""
        encoder = self._encoder
        if encoder is None:
            with self._load_lock:
                if self._encoder is None:
                    self._encoder = self._load()
                encoder = self._encoder
        return encoder

    @property
    def runtime_description(self) -> str:
        """The runtime as ``repr`` and the CLI show it: ``'torch-bf16' (auto: a CPU with
        amx_bf16)`` once ``"auto"`` has picked, else the runtime's name in quotes."""
        if self.requested_runtime == "auto" and self.runtime != "auto":
            return f"{self.runtime!r} (auto: {self.runtime_reason})"
        return repr(self.runtime)

    @property
    def forward_passes(self) -> int:
        """Forward passes run so far by this scorer (all callers together)."""
        engine = self._engine
        return 0 if engine is None else engine.batcher.passes

    def prepare(self) -> None:
        """Load the model, pick the runtime (``"auto"``) and build the engine (an export or a
        compile where the runtime needs one) now, not in the first call."""
        self._ready()

    @property
    def ready(self) -> bool:
        """Whether the model is loaded and the engine built (:meth:`prepare` has run)."""
        return self._engine is not None

    def _ready(self) -> Engine:
        """The tokenizer, forward pass and micro-batcher (built once, on first use)."""
        engine = self._engine
        if engine is None:
            with self._engine_lock:
                if self._engine is None:
                    self._engine = self._build_engine(self.encoder)
                engine = self._engine
        return engine

    def _build_engine(self, encoder: CrossEncoder) -> Engine:
        if self.requested_runtime == "auto":
            from rerank_plugins.scorers.local._hardware import choose_runtime

            choice = choose_runtime(str(encoder.device))
            self.runtime, self.runtime_reason = str(choice), choice.why
        # Scores are cached under what changes them: model, the runtime in use, truncation.
        self._score_key = (self._model_name, self.runtime, self.max_length, self._windows)
        return build_engine(
            encoder,
            self.runtime,
            max_length=self.max_length or model_max_length(encoder),
            batch_size=self.batch_size,
            max_batch_tokens=self.max_batch_tokens,
            threads=self.threads,
            cache_dir=self.cache_dir,
            cost=self.cost,
        )

    def _load(self) -> CrossEncoder:
        return load_encoder(
            self._model_name,
            device=self.device,
            max_length=self.max_length,
            trust_remote_code=self.trust_remote_code,
            model_kwargs=self.model_kwargs,
        )

    def plan_units(self, texts: Sequence[str]) -> list[list[int]]:
        """Consecutive units of ``batch_size`` pairs; with ``long_passages="windows"`` a passage
        counts as many pairs as it has windows, so a unit's cost stays what the budget expects."""
        if self.long_passages != "windows":
            return super().plan_units(texts)
        engine = self._ready()
        room = engine.pairs.room * 4  # a token is about 4 characters of English: a cheap bound
        units: list[list[int]] = []
        current: list[int] = []
        weight = 0
        for i, text in enumerate(texts):
            windows = min(self.max_windows, 1 + len(text) // max(1, room))
            if current and weight + windows > self.batch_size:
                units.append(current)
                current, weight = [], 0
            current.append(i)
            weight += windows
        if current:
            units.append(current)
        return units

    def work(self, query: str, texts: Sequence[str]) -> list[float]:
        """Tokens each pair is expected to run (every window with ``long_passages="windows"``;
        nothing for a pair already in the score cache): the unit the cost model learns in, from
        the padded tokens of each forward pass."""
        engine = self._ready()
        windows = self.max_windows if self.long_passages == "windows" else 1
        estimate = engine.pairs.estimate(
            query, texts, max_windows=windows, overlap=self.window_overlap
        )
        return [
            0.0 if (*self._score_key, query, text) in self.score_cache else tokens
            for text, tokens in zip(texts, estimate, strict=True)
        ]

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        engine = self._ready()
        scores: list[float | None] = [None] * len(texts)
        missing: list[int] = []
        for i, text in enumerate(texts):
            scores[i] = self.score_cache.get((*self._score_key, query, text))
            if scores[i] is None:
                missing.append(i)
        # Under a deadline, retrieval order about a forward pass at a time: the batcher buckets
        # each chunk's pairs by length, so when the deadline cuts, it cuts the tail of the unit
        # (never a window of every passage at once, which would leave no passage whole). Without
        # one, a single chunk: the batcher buckets every pair together, with the least padding.
        # One deadline for every chunk, from the ``timeout`` the call handed down.
        deadline = Deadline.after(timeout)
        rest = [texts[i] for i in missing]
        chunks = (
            (
                [list(range(len(rest)))]
                if deadline.end is None
                else self._chunks(engine, query, rest)
            )
            if rest
            else []
        )
        for n, chunk in enumerate(chunks):
            todo = [texts[missing[j]] for j in chunk]
            try:
                scored = self._score_chunk(engine, query, todo, deadline.left())
            except TimedOutError:
                if n == 0:
                    raise  # nothing ran: the core records the budget as spent
                break  # the deadline passed while this chunk waited: keep what was scored
            for j, raw in zip(chunk, scored, strict=True):
                if raw is not None:
                    scores[missing[j]] = raw
                    self.score_cache.put((*self._score_key, query, texts[missing[j]]), raw)
            if any(raw is None for raw in scored):
                break  # the deadline: a later chunk would end later still
        # Only the batcher's deadline leaves a score out, so a gap means the budget ran out.
        return UnitScores(scores, budget_exhausted=any(score is None for score in scores))

    def close(self) -> None:
        """Stop the helper threads and drop the loaded model and runtime (see the class's
        ownership note); a later call loads them again."""
        with self._engine_lock, self._load_lock:  # the order _ready takes them
            engine, self._engine = self._engine, None
            self._encoder = None
        if engine is not None:
            engine.batcher.close()

    def _chunks(self, engine: Engine, query: str, todo: list[str]) -> list[list[int]]:
        """Consecutive positions of ``todo`` whose expected tokens fill about one pass."""
        windows = self.max_windows if self.long_passages == "windows" else 1
        tokens = engine.pairs.estimate(
            query, todo, max_windows=windows, overlap=self.window_overlap
        )
        chunks: list[list[int]] = []
        size = 0.0
        for j, work in enumerate(tokens):
            if not chunks or size + work > self.max_batch_tokens:
                chunks.append([])
                size = 0.0
            chunks[-1].append(j)
            size += work
        return chunks

    def _score_chunk(
        self, engine: Engine, query: str, todo: list[str], timeout: float | None
    ) -> list[float | None]:
        """One raw score per text of ``todo`` (``None``: a pass would have overrun the
        deadline); a passage read as windows is scored whole, every window, or not at all."""
        if self.long_passages == "windows":
            pairs, owners = engine.pairs.encode_windows(
                query, todo, max_windows=self.max_windows, overlap=self.window_overlap
            )
        else:
            pairs, owners = engine.pairs.encode(query, todo), list(range(len(todo)))
        # Concurrent calls share forward passes (and the one model) through the batcher, under
        # the call's deadline (the time left of it, as ``timeout``).
        rows = engine.batcher.run(pairs, timeout=timeout)
        best: dict[int, float] = {}
        cut: set[int] = set()
        for owner, row in zip(owners, rows, strict=True):
            if row is None:
                cut.add(owner)  # its pass would have overrun the deadline
                continue
            (raw,) = raw_scores([row])
            best[owner] = max(raw, best.get(owner, raw))
        return [None if j in cut else best.get(j) for j in range(len(todo))]

    def __repr__(self) -> str:
        runtime = self.runtime_description
        extra = (
            f", long_passages='windows', max_windows={self.max_windows}"
            if (self.long_passages == "windows")
            else ""
        )
        return f"{type(self).__name__}(model={self.model!r}, runtime={runtime}{extra})"


def _check_options(
    model: object, batch_size: object, max_length: object, runtime: object, device: object
) -> None:
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(
            f"CrossEncoderScorer needs a model name or path, got {model!r}; pass e.g. "
            f"{DEFAULT_MODEL!r} or 'bundled:scifact-minilm'."
        )
    check_int(WHO, "batch_size", batch_size)
    check_int(WHO, "max_length", max_length, 8, allow_none=True)
    if runtime != "auto" and runtime not in REGISTRY:
        raise ConfigurationError(
            f"CrossEncoderScorer runtime must be 'auto' or one of "
            f"{', '.join(map(repr, RUNTIMES))}, got {runtime!r}."
        )
    if runtime in REGISTRY and REGISTRY[str(runtime)].cpu_only and device not in (None, "cpu"):
        raise ConfigurationError(
            f"CrossEncoderScorer runtime={runtime!r} runs on the CPU, got device={device!r}; "
            f"use runtime='auto', 'torch' or 'torch-bf16' for an accelerator."
        )


def _check_fast_options(max_batch_tokens: object, threads: object, cache: object) -> None:
    check_int(WHO, "max_batch_tokens", max_batch_tokens)
    check_int(WHO, "threads", threads, allow_none=True)
    check_int(WHO, "score_cache_size", cache, 0)


def _check_window_options(long_passages: object, max_windows: object, overlap: object) -> None:
    if long_passages not in ("truncate", "windows"):
        raise ConfigurationError(
            f"CrossEncoderScorer long_passages must be 'truncate' or 'windows', got "
            f"{long_passages!r}."
        )
    check_int(WHO, "max_windows", max_windows)
    check_int(WHO, "window_overlap", overlap, 0)
