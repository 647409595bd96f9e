"""Loading a local model: the cross-encoder and what its artifact carries (calibration,
recommended settings), and the one message for a model that cannot be loaded, shared by the
in-process scorers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rerank_plugins._calibration import Calibration
from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._optional import require
from rerank_plugins.artifact import MANIFEST_FILE, calibration_file

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = [
    "BUNDLED_PREFIX",
    "DEFAULT_MODEL",
    "check_labels",
    "load_encoder",
    "model_max_length",
    "own_calibration",
    "recommended",
    "unloadable",
]


def unloadable(who: str, model: str, exc: OSError, offline: str) -> ConfigurationError:
    """A :class:`ConfigurationError` for ``model`` that is neither a local folder nor reachable on
    the Hugging Face Hub; ``offline`` says what to pass instead without a network.

    >>> str(unloadable("S", "m", FileNotFoundError(), "pass a folder"))[:60]
    "S could not load model 'm': not a local folder and not reach"
    """
    return ConfigurationError(
        f"{who} could not load model {model!r}: not a local folder and not reachable on the "
        f"Hugging Face Hub ({type(exc).__name__}). Offline, {offline}; online, check the model id "
        f"and unset HF_HUB_OFFLINE."
    )


DEFAULT_MODEL = "cross-encoder/ms-marco-MiniLM-L6-v2"
BUNDLED_PREFIX = "bundled:"


def load_encoder(
    model: str,
    *,
    device: str | None,
    max_length: int | None,
    trust_remote_code: bool,
    model_kwargs: dict[str, Any],
) -> CrossEncoder:
    """A ``CrossEncoder`` for ``model``: a bundled reranker, a training artifact (a folder with a
    manifest), a cross-encoder folder or a Hugging Face Hub id."""
    if model.startswith(BUNDLED_PREFIX):
        from rerank_plugins.models import load_cross_encoder

        return load_cross_encoder(
            model, device=device, max_length=max_length, trust_remote_code=trust_remote_code
        )
    if (Path(model) / MANIFEST_FILE).is_file():
        # A compact artifact written by rerank-plugins' training (adapter + manifest).
        from rerank_plugins.artifact import load_reranker

        return load_reranker(
            model, device=device, max_length=max_length, trust_remote_code=trust_remote_code
        )
    st = require("sentence_transformers", extra="local", who="CrossEncoderScorer")
    try:
        encoder: CrossEncoder = st.CrossEncoder(
            model,
            device=device,
            max_length=max_length,
            trust_remote_code=trust_remote_code,
            model_kwargs=model_kwargs or None,
        )
    except OSError as exc:  # includes FileNotFoundError and the hub's offline errors
        raise unloadable(
            "CrossEncoderScorer",
            model,
            exc,
            "pass a local folder that holds the model's config.json, or "
            "'bundled:scifact-minilm' for the reranker that ships with rerank-plugins "
            "(trained on SciFact: for scientific claims against paper abstracts, not for "
            "other text)",
        ) from exc
    check_labels(encoder.num_labels, model)
    return encoder


def check_labels(num_labels: int, model: str) -> None:
    """Accept single-logit and two-class cross-encoders; anything else cannot be a relevance."""
    if num_labels not in (1, 2):
        raise ConfigurationError(
            f"CrossEncoderScorer needs a cross-encoder with 1 output (a relevance logit) or 2 "
            f"(not relevant / relevant); {model!r} has {num_labels}. Pick a reranking model such "
            f"as {DEFAULT_MODEL!r}."
        )


def model_max_length(encoder: CrossEncoder) -> int:
    """Tokens per pair: the encoder's ``max_seq_length``, else the model's position limit."""
    length = getattr(encoder, "max_seq_length", None)
    if not isinstance(length, int) or length <= 0:
        config = getattr(encoder.model, "config", None)
        length = int(getattr(config, "max_position_embeddings", 512))
    return int(length)


def _folder(model: str) -> Path:
    if model.startswith(BUNDLED_PREFIX):
        from rerank_plugins.models import bundled_path

        return bundled_path(model)
    return Path(model)


def own_calibration(model: str, backend: str) -> Calibration | None:
    """The calibration a reranker artifact carries, bound to the name it is loaded by (the
    artifact's own weights, whether named ``bundled:...`` or by its folder)."""
    path = calibration_file(_folder(model))
    if path is None:
        return None
    calibration = Calibration.load(path)
    if calibration.backend != backend:
        calibration.check_for(backend, model, "sigmoid")
    return replace(calibration, model=model)


def recommended(model: str) -> dict[str, Any]:
    """The inference settings a reranker artifact's manifest recommends (``{}`` for others)."""
    manifest = _folder(model) / MANIFEST_FILE
    if not manifest.is_file():
        return {}
    try:
        inference = json.loads(manifest.read_text()).get("inference", {})
    except (OSError, ValueError):
        return {}  # a broken manifest is reported when the model loads
    return dict(inference) if isinstance(inference, dict) else {}
