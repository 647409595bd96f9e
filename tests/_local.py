"""One way for the local-inference tests to build a scorer over the session's loaded model."""

from __future__ import annotations

from pathlib import Path

from rerank_plugins import CrossEncoderScorer


def seeded_scorer(
    runtime: str, encoder: object, export_dir: Path, **kw: object
) -> CrossEncoderScorer:
    """A scorer named ``seeded-minilm`` over ``encoder`` (the session's one loaded model, shared
    through the public seam), exporting under ``export_dir``."""
    return CrossEncoderScorer.from_encoder(
        encoder,  # type: ignore[arg-type]
        "seeded-minilm",
        runtime=runtime,
        cache_dir=export_dir,
        **kw,
    )
