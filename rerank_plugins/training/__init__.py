"""Fine-tune rerankers on your own judgements (the ``train`` extra).

- :mod:`~rerank_plugins.training.data`: training lists from a BEIR dataset (judged positives,
  mined hard negatives mixed with random ones) or from preference JSONL.
- :mod:`~rerank_plugins.training.trainer`: :func:`train_cross_encoder`, on sentence-transformers'
  ``CrossEncoderTrainer`` and its ranking losses; held-out evaluation, early stopping, resumable
  checkpoints, fixed seeds.
- :mod:`~rerank_plugins.training.distill`: :func:`distill`, a shallower student of any
  cross-encoder that learns the teacher's scores over lists from your corpus.
- :mod:`~rerank_plugins.artifact`: the compact artifact (LoRA adapters or top layers on
  a base model) and :func:`load_reranker`.

Importing this package loads no heavy library; torch, transformers and peft load on first use.
"""

from __future__ import annotations

from rerank_plugins.artifact import MINILM_BASE, AdapterSpec, load_reranker, save_reranker
from rerank_plugins.training.data import (
    RankingExample,
    beir_examples,
    read_preferences,
    reranking_examples,
    write_preferences,
)
from rerank_plugins.training.distill import distill, load_teacher, student_layers
from rerank_plugins.training.trainer import LOSSES, TrainingResult, train_cross_encoder

__all__ = [
    "LOSSES",
    "MINILM_BASE",
    "AdapterSpec",
    "RankingExample",
    "TrainingResult",
    "beir_examples",
    "distill",
    "load_reranker",
    "load_teacher",
    "read_preferences",
    "reranking_examples",
    "save_reranker",
    "student_layers",
    "train_cross_encoder",
    "write_preferences",
]
