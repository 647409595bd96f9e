"""The trainer subclass whose checkpoints are compact artifacts, and the callback that keeps the
best artifact on held-out nDCG@10 (early stopping): built on first use, so that importing
:mod:`rerank_plugins.training.trainer` loads neither sentence-transformers nor transformers."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Literal

from rerank_plugins._optional import require
from rerank_plugins.artifact import (
    MANIFEST_FILE,
    WEIGHTS_FILE,
    AdapterSpec,
    _load_state,
    save_reranker,
)

__all__ = ["trainer_classes"]


def trainer_classes() -> tuple[type, type]:
    """The trainer and callback subclasses, built on first use so that importing this module
    loads neither sentence-transformers nor transformers."""
    return _trainer_class(), _keeper_class()


@functools.cache
def _trainer_class() -> type:
    """``CrossEncoderTrainer`` saving artifacts as checkpoints (see :func:`trainer_classes`)."""
    st_ce = require("sentence_transformers.cross_encoder", extra="train", who="train_cross_encoder")

    class ArtifactTrainer(st_ce.CrossEncoderTrainer):  # type: ignore[misc, name-defined]
        """``CrossEncoderTrainer`` whose checkpoints hold only the trained weights (plus the
        optimizer state the parent saves), so they are small and resume any adapter method."""

        def __init__(
            self, *args: Any, artifact_base: str, artifact_spec: AdapterSpec, **kwargs: Any
        ) -> None:
            super().__init__(*args, **kwargs)
            self._artifact_base = artifact_base
            self._artifact_spec = artifact_spec

        def _save(self, output_dir: str | None = None, state_dict: Any = None) -> None:
            folder = output_dir or self.args.output_dir
            save_reranker(self.model, folder, base=self._artifact_base, spec=self._artifact_spec)

        def _load_from_checkpoint(self, checkpoint_path: str) -> None:
            safetensors_torch = require("safetensors.torch", extra="train", who="resume")
            state = safetensors_torch.load_file(str(Path(checkpoint_path) / WEIGHTS_FILE))
            _load_state(self.model, state, checkpoint_path, self._artifact_base)

    return ArtifactTrainer


@functools.cache
def _keeper_class() -> type:
    """The callback keeping the best artifact (see :func:`trainer_classes`)."""
    transformers = require("transformers", extra="train", who="train_cross_encoder")

    class BestKeeper(transformers.TrainerCallback):  # type: ignore[misc, name-defined]
        """Saves the artifact with the best held-out nDCG@10; stops after ``patience`` misses."""

        def __init__(
            self,
            folder: Path,
            *,
            base: str,
            spec: AdapterSpec,
            recipe: dict[str, Any],
            patience: int | None,
            precision: Literal["float32", "float16"],
        ) -> None:
            self.folder = folder
            self.patience = patience
            # What every save of the best artifact passes on, besides the model and its metrics.
            self._save = functools.partial(
                save_reranker, base=base, spec=spec, recipe=recipe, precision=precision
            )
            self.history: list[dict[str, float]] = []
            self.best_metrics: dict[str, float] = {}
            self.misses = 0
            previous = folder / MANIFEST_FILE
            if previous.is_file():  # resuming: the best so far still counts
                self.best_metrics = json.loads(previous.read_text()).get("metrics", {})

        def on_evaluate(
            self,
            args: Any,
            state: Any,
            control: Any,
            metrics: dict[str, float] | None = None,
            **kwargs: Any,
        ) -> None:
            scores = {
                key.removeprefix("eval_held_out_"): float(value)
                for key, value in (metrics or {}).items()
                if key.startswith("eval_held_out_")
            }
            if "ndcg@10" not in scores:
                return
            entry = {"step": float(state.global_step), "epoch": float(state.epoch or 0.0), **scores}
            self.history.append(entry)
            if scores["ndcg@10"] > self.best_metrics.get("ndcg@10", float("-inf")):
                self.best_metrics = entry
                self.misses = 0
                self._save(kwargs["model"], self.folder, metrics=entry)
            else:
                self.misses += 1
                if self.patience is not None and self.misses >= self.patience:
                    control.should_training_stop = True

    return BestKeeper
