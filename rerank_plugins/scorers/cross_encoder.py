"""A local cross-encoder scorer on sentence-transformers' ``CrossEncoder``."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._optional import require
from rerank_plugins._scorer import Normalization, Scorer, UnitScores

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["CrossEncoderScorer"]

DEFAULT_MODEL = "cross-encoder/ms-marco-MiniLM-L6-v2"
BUNDLED_PREFIX = "bundled:"


class CrossEncoderScorer(Scorer):
    """Scores ``(query, text)`` pairs with a cross-encoder that reads both together.

    The model loads lazily, once, on first use (or on :meth:`prepare`), and is shared safely
    between threads, event loops and adapters. Raw scores are logits: a single-logit model's
    logit, or a two-class model's logit difference (whose sigmoid is the positive-class
    probability), so the normalised score is the sigmoid in both cases.

    Args:
        model: A Hugging Face Hub id (default ``cross-encoder/ms-marco-MiniLM-L6-v2``), a local
            folder, or ``bundled:<name>`` for a reranker that ships inside this package.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``...; ``None`` picks the best available.
        batch_size: Pairs per forward pass (one unit of the budget loop).
        max_length: Tokens per pair (query + text); longer pairs are truncated. ``None`` keeps the
            model's own limit.
        trust_remote_code: Allow a model repository's own Python code to run. Off unless you
            trust the repository.
        model_kwargs: Passed to ``transformers`` when loading (e.g. ``{"torch_dtype": "auto"}``).

    Example:
        >>> from rerank_plugins import CrossEncoderScorer, Reranker
        >>> reranker = Reranker(CrossEncoderScorer("bundled:scifact-minilm"), top_n=3)
        >>> # reranker.rerank("Does vitamin D prevent fractures?", passages)
    """

    backend = "cross-encoder"
    normalization = Normalization.SIGMOID

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        trust_remote_code: bool = False,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(
                f"CrossEncoderScorer needs a model name or path, got {model!r}; pass e.g. "
                f"{DEFAULT_MODEL!r} or 'bundled:scifact-minilm'."
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(
                f"CrossEncoderScorer batch_size must be a positive integer, got {batch_size!r}."
            )
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 8
        ):
            raise ConfigurationError(
                f"CrossEncoderScorer max_length must be an integer of at least 8 tokens or None, "
                f"got {max_length!r}."
            )
        self._model_name = model
        self.device = device
        self.batch_size = batch_size
        self.unit_size = batch_size
        self.max_length = max_length
        self.trust_remote_code = trust_remote_code
        self.model_kwargs = dict(model_kwargs or {})
        self._load_lock = threading.Lock()
        self._predict_lock = threading.Lock()
        self._encoder: CrossEncoder | None = None

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

    def prepare(self) -> None:
        self.encoder  # noqa: B018 - loads the model once

    def _load(self) -> CrossEncoder:
        if self._model_name.startswith(BUNDLED_PREFIX):
            from rerank_plugins.models import load_cross_encoder

            return load_cross_encoder(
                self._model_name,
                device=self.device,
                max_length=self.max_length,
                trust_remote_code=self.trust_remote_code,
            )
        st = require("sentence_transformers", extra="local", who="CrossEncoderScorer")
        try:
            encoder: CrossEncoder = st.CrossEncoder(
                self._model_name,
                device=self.device,
                max_length=self.max_length,
                trust_remote_code=self.trust_remote_code,
                model_kwargs=self.model_kwargs or None,
            )
        except OSError as exc:  # includes FileNotFoundError and the hub's offline errors
            raise ConfigurationError(
                f"CrossEncoderScorer could not load model {self._model_name!r}: not a local "
                f"folder and not reachable on the Hugging Face Hub ({type(exc).__name__}). "
                f"Offline, pass a local folder that holds the model's config.json, or "
                f"'bundled:scifact-minilm' for the reranker that ships with rerank-plugins; "
                f"online, check the model id and unset HF_HUB_OFFLINE."
            ) from exc
        check_labels(encoder.num_labels, self._model_name)
        return encoder

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        torch = require("torch", extra="local", who="CrossEncoderScorer")
        encoder = self.encoder
        pairs = [(query, text) for text in texts]
        # One forward pass at a time: fast tokenizers are not safe under concurrent use, and two
        # passes at once on a CPU only fight over the same cores.
        with self._predict_lock:
            logits = encoder.predict(
                pairs,
                batch_size=self.batch_size,
                activation_fn=torch.nn.Identity(),
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return UnitScores(raw_scores(logits.tolist()))


def check_labels(num_labels: int, model: str) -> None:
    """Accept single-logit and two-class cross-encoders; anything else cannot be a relevance."""
    if num_labels not in (1, 2):
        raise ConfigurationError(
            f"CrossEncoderScorer needs a cross-encoder with 1 output (a relevance logit) or 2 "
            f"(not relevant / relevant); {model!r} has {num_labels}. Pick a reranking model such "
            f"as {DEFAULT_MODEL!r}."
        )


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
