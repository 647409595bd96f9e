"""Evaluation: prove the lift of a rerank stage on a dataset in BEIR layout.

- :mod:`~rerank_plugins.evaluation.beir`: load a BEIR folder; the project's fixed dev/train split.
- :mod:`~rerank_plugins.evaluation.retrieval`: first-stage retrieval (dense bi-encoder or BM25),
  with the corpus index cached on disk.
- :mod:`~rerank_plugins.evaluation.metrics`: P@k, nDCG@k, MRR@k, Recall@k.
- :mod:`~rerank_plugins.evaluation.stats`: paired significance test and bootstrap CI.
- :mod:`~rerank_plugins.evaluation.run`: retrieve wide, rerank narrow, measure.
- :mod:`~rerank_plugins.evaluation.report`: terminal, JSON and Markdown reports with plots.

Importing this package loads no heavy library; retrieval models load on first use.
"""

from __future__ import annotations

from rerank_plugins.evaluation.beir import BeirDataset, DatasetError, dev_train_split, load_beir

__all__ = ["BeirDataset", "DatasetError", "dev_train_split", "load_beir"]
