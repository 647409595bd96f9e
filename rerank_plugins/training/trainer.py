"""Fine-tune a cross-encoder reranker with sentence-transformers' trainer and ranking losses.

:func:`train_cross_encoder` takes :class:`~rerank_plugins.training.data.RankingExample` lists,
makes a base model trainable the parameter-efficient way (:class:`AdapterSpec`), trains it with
``CrossEncoderTrainer`` and a listwise loss, evaluates it on held-out lists during training (nDCG@10
of the reranked lists), keeps the best artifact (early stopping), and writes compact artifacts
(:mod:`~rerank_plugins.artifact`). Checkpoints hold only the trained weights plus the
optimizer state, so a stopped run resumes where it was (``resume=True``). Seeds are fixed.

Layout of ``output_dir``::

    checkpoints/checkpoint-<step>/   trained weights, optimizer, scheduler, RNG state (resumable)
    best/                            the artifact with the best held-out nDCG@10 (if ``dev``)
    final/                           the artifact after the last step
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._optional import require
from rerank_plugins.artifact import (
    MANIFEST_FILE,
    MINILM_BASE,
    WEIGHTS_FILE,
    AdapterSpec,
    _is_head,
    _load_state,
    prepare_model,
    read_manifest,
    save_reranker,
)
from rerank_plugins.training.data import RankingExample

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["LOSSES", "TrainingResult", "train_cross_encoder"]

LossName = Literal["softmax", "listnet", "lambda", "ranknet", "bce", "mse"]
LOSSES: tuple[str, ...] = ("softmax", "listnet", "lambda", "ranknet", "bce", "mse")
POINTWISE: tuple[str, ...] = ("bce", "mse")
"""Losses that read each (query, text, label) on its own: a list may have a single label value."""
SOFTMAX_SHARPNESS = 10.0
"""``"softmax"`` is ListNet with labels scaled by this: the target puts (almost) all its mass on the
best texts of each list, instead of ListNet's soft ``softmax(labels)`` (where one relevant text
among six gets only 35% of the target), so the gradient is several times stronger."""
DEFAULT_LEARNING_RATES = {"lora": 3e-4, "top_layers": 1e-4, "full": 3e-5}


@dataclass(frozen=True)
class TrainingResult:
    """What a training run produced.

    Attributes:
        artifact: The artifact to use: ``best/`` when held-out lists were given, else ``final/``.
        metrics: Held-out figures of that artifact (empty without ``dev``).
        history: Every held-out evaluation: ``{"step", "epoch", "ndcg@10", ...}``.
        seconds: Wall time of the training itself (model load to last save).
        steps: Optimizer steps taken.
    """

    artifact: Path
    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def train_cross_encoder(
    train: Sequence[RankingExample],
    *,
    output_dir: str | Path,
    base: str = MINILM_BASE,
    dev: Sequence[RankingExample] | None = None,
    adapter: AdapterSpec | None = None,
    loss: LossName = "softmax",
    epochs: float = 1.0,
    batch_size: int = 4,
    learning_rate: float | None = None,
    max_length: int = 160,
    warmup_ratio: float = 0.1,
    eval_steps: int | None = None,
    patience: int | None = None,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    device: str | None = None,
    recipe: dict[str, Any] | None = None,
    precision: Literal["float32", "float16"] = "float32",
    head_lr_scale: float = 10.0,
    init: str | Path | None = None,
    autocast: Literal["none", "bf16"] = "none",
    attention_dropout: float | None = None,
    student: CrossEncoder | None = None,
) -> TrainingResult:
    """Fine-tune a reranker on judged lists and save it as a compact artifact.

    Args:
        train: Training lists (:func:`~rerank_plugins.training.data.beir_examples` or
            :func:`~rerank_plugins.training.data.read_preferences`).
        output_dir: Folder for checkpoints and artifacts (see the module docstring).
        base: The base model: :data:`~rerank_plugins.artifact.MINILM_BASE` (offline
            all-MiniLM-L6-v2), a local folder or a Hugging Face id.
        dev: Held-out lists (a query's first-stage candidates with qrels labels), evaluated every
            ``eval_steps`` and at the end by nDCG@10 of the reranked list; the best is kept.
        adapter: Which weights train (default: LoRA rank 16 on every encoder linear layer).
        loss: ``"softmax"`` (cross-entropy of each list's softmax against its best texts),
            ``"listnet"`` (the same against ``softmax(labels)``, a softer target), ``"lambda"``
            (LambdaLoss, nDCG-weighted), ``"ranknet"`` (pairwise) or ``"bce"`` (pointwise, on
            label > 0).
        epochs: Passes over ``train`` (fractions allowed).
        batch_size: Lists per optimizer step.
        learning_rate: Peak learning rate; ``None`` picks one for the method (LoRA 3e-4,
            top layers 1e-4, full 3e-5).
        max_length: Tokens per (query, text) pair; longer texts are truncated.
        warmup_ratio: Share of the steps spent warming the learning rate up (then linear decay).
        eval_steps: Evaluate ``dev`` every this many steps; ``None``: twice per epoch.
        patience: Stop after this many evaluations without a better nDCG@10; ``None`` never stops
            early.
        seed: Seed of the head's initialisation, the shuffling and dropout.
        resume: Continue from the last checkpoint in ``output_dir`` if there is one.
        progress: Show progress bars.
        device: Torch device; ``None`` picks the best available.
        recipe: Extra facts to record in the artifact's manifest (data source, negatives...).
        precision: Precision of the ``best/`` and ``final/`` weights (``"float16"`` halves the
            file); checkpoints always keep float32 so a resumed run continues exactly.
        head_lr_scale: The fresh classification head learns this many times faster than the
            encoder.
        init: Start from this artifact's trained weights (same base and adapter settings).
        autocast: ``"bf16"`` runs forward and backward passes under bfloat16 autocast (weights and
            optimizer stay float32): about twice as fast on CPUs with AMX or AVX-512-BF16 and on
            recent GPUs; ``"none"`` trains in float32.
        attention_dropout: Dropout on the attention probabilities while training; ``None`` keeps
            the base model's (0.1 for BERT-like models). ``0.0`` lets PyTorch's fused attention
            run in training too: measured on a 2-core Xeon (bf16, 32 pairs of 256 tokens), the
            forward pass took 2.9 s instead of 8.2 s. Dropout on hidden states is kept.
        student: Train this model instead of loading ``base`` (a distilled student from
            :func:`~rerank_plugins.training.distill.make_student`); ``base`` and ``adapter`` must
            describe it, since the artifact rebuilds it from them. Trained in place.

    Returns:
        The artifact path and held-out figures.

    Raises:
        ConfigurationError: bad options or unusable training data.

    Example:
        >>> from rerank_plugins.training import RankingExample, train_cross_encoder
        >>> data = [RankingExample("what is a cat", ("a cat is a small feline", "tax law"),
        ...                        (1.0, 0.0))] * 4
        >>> result = train_cross_encoder(data, output_dir="/tmp/rp-doctest", epochs=1,
        ...                              max_length=32, progress=False)  # doctest: +SKIP
        >>> # result.artifact -> /tmp/rp-doctest/final
    """
    spec = adapter or AdapterSpec()
    _check_options(train, loss, epochs, batch_size, max_length)
    if autocast not in ("none", "bf16"):
        raise ConfigurationError(f"autocast must be 'none' or 'bf16', got {autocast!r}.")
    transformers = require("transformers", extra="train", who="train_cross_encoder")
    st_ce = require("sentence_transformers.cross_encoder", extra="train", who="train_cross_encoder")
    require("datasets", extra="train", who="train_cross_encoder")
    out = Path(output_dir)
    checkpoints = out / "checkpoints"
    lr = learning_rate if learning_rate is not None else DEFAULT_LEARNING_RATES[spec.method]
    steps_per_epoch = max(1, -(-len(train) // batch_size))
    every = eval_steps or max(1, steps_per_epoch // 2)
    record = {
        "loss": loss, "epochs": epochs, "batch_size": batch_size, "learning_rate": lr,
        "max_length": max_length, "warmup_ratio": warmup_ratio, "seed": seed,
        "train_lists": len(train), "autocast": autocast,
        "attention_dropout": attention_dropout, **(recipe or {}),
    }  # fmt: skip

    started = time.perf_counter()
    transformers.set_seed(seed)
    model = (
        student
        if student is not None
        else prepare_model(base, spec, max_length=max_length, device=device)
    )
    if attention_dropout is not None:
        _set_attention_dropout(model, attention_dropout)
    if init is not None:
        _warm_start(model, init, base, spec)
    args = st_ce.CrossEncoderTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        warmup_steps=warmup_ratio,
        lr_scheduler_type="linear",
        weight_decay=0.01,
        seed=seed,
        data_seed=seed,
        eval_strategy="steps" if dev else "no",
        eval_steps=every if dev else None,
        save_strategy="steps",
        save_steps=every,
        save_total_limit=2,
        logging_steps=max(1, min(10, every)),
        report_to="none",
        disable_tqdm=not progress,
        # bf16 autocast on a machine without CUDA runs on the CPU (AMX / AVX-512-BF16).
        use_cpu=device == "cpu" or (autocast == "bf16" and device is None and not _has_cuda()),
        bf16=autocast == "bf16",
    )
    trainer_class, keeper_class = _classes()
    keeper = keeper_class(
        out / "best", base=base, spec=spec, recipe=record, patience=patience, precision=precision
    )
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=_dataset(train, loss),
        loss=_loss(st_ce.losses, model, loss),
        evaluator=_evaluator(dev) if dev else None,
        callbacks=[keeper],
        optimizers=(_optimizer(model, lr, head_lr_scale), None)
        if head_lr_scale != 1
        else (None, None),
        artifact_base=base,
        artifact_spec=spec,
    )
    last = (
        transformers.trainer_utils.get_last_checkpoint(str(checkpoints))
        if resume and checkpoints.is_dir()
        else None
    )
    trainer.train(resume_from_checkpoint=last)
    if dev and (not keeper.history or keeper.history[-1]["step"] != trainer.state.global_step):
        trainer.evaluate()
    save_reranker(model, out / "final", base=base, spec=spec, recipe=record, precision=precision)
    seconds = time.perf_counter() - started
    artifact = out / "best" if dev and (out / "best" / MANIFEST_FILE).is_file() else out / "final"
    metrics = dict(keeper.best_metrics)
    (out / "history.json").write_text(json.dumps(keeper.history, indent=2) + "\n")
    return TrainingResult(
        artifact, metrics, list(keeper.history), seconds, trainer.state.global_step
    )


_ATTENTION_DROPOUT = re.compile(r"(attention\.self\.dropout|attn_dropout|attention_dropout)$")


def _set_attention_dropout(model: CrossEncoder, p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ConfigurationError(f"attention_dropout must be in [0, 1), got {p!r}.")
    hf: Any = model.model
    for name, module in hf.named_modules():
        if _ATTENTION_DROPOUT.search(name) and hasattr(module, "p"):
            module.p = p
    if hasattr(hf.config, "attention_probs_dropout_prob"):
        hf.config.attention_probs_dropout_prob = p


def _has_cuda() -> bool:
    torch = require("torch", extra="train", who="train_cross_encoder")
    return bool(torch.cuda.is_available())


def _check_options(
    train: Sequence[RankingExample], loss: str, epochs: float, batch_size: int, max_length: int
) -> None:
    if loss not in LOSSES:
        raise ConfigurationError(f"Unknown loss {loss!r}; pass one of {', '.join(LOSSES)}.")
    if not train:
        raise ConfigurationError("train_cross_encoder needs at least one training list; got none.")
    flat = [ex for ex in train if len(set(ex.labels)) < 2]
    if flat and loss not in POINTWISE:
        raise ConfigurationError(
            f"{len(flat)} training list(s) have a single label value (e.g. query "
            f"{flat[0].query[:60]!r}); a ranking loss needs at least one better and one worse "
            f"text per list."
        )
    if epochs <= 0 or batch_size < 1 or max_length < 8:
        raise ConfigurationError(
            f"epochs must be > 0, batch_size >= 1 and max_length >= 8; got {epochs}, "
            f"{batch_size}, {max_length}."
        )


def _dataset(train: Sequence[RankingExample], loss: str) -> Any:
    datasets = require("datasets", extra="train", who="train_cross_encoder")
    if loss in POINTWISE:
        pairs = [
            (ex.query, t, float(y) if loss == "mse" else 1.0 if y > 0 else 0.0)
            for ex in train
            for t, y in zip(ex.texts, ex.labels, strict=True)
        ]
        return datasets.Dataset.from_dict(
            {
                "query": [p[0] for p in pairs],
                "text": [p[1] for p in pairs],
                "label": [p[2] for p in pairs],
            }
        )
    scale = SOFTMAX_SHARPNESS if loss == "softmax" else 1.0
    return datasets.Dataset.from_dict(
        {
            "query": [ex.query for ex in train],
            "docs": [list(ex.texts) for ex in train],
            "labels": [[y * scale for y in ex.labels] for ex in train],
        }
    )


def _warm_start(model: CrossEncoder, init: str | Path, base: str, spec: AdapterSpec) -> None:
    manifest = read_manifest(init)
    if manifest["base"] != base or AdapterSpec(**manifest["adapter"]) != spec:
        raise ConfigurationError(
            f"Cannot start from {str(init)!r}: it was trained on base {manifest['base']!r} with "
            f"{manifest['adapter']}; pass the same base and adapter settings."
        )
    safetensors_torch = require("safetensors.torch", extra="train", who="train_cross_encoder")
    _load_state(model, safetensors_torch.load_file(str(Path(init) / WEIGHTS_FILE)), init, base)


def _optimizer(model: CrossEncoder, lr: float, head_lr_scale: float) -> Any:
    torch = require("torch", extra="train", who="train_cross_encoder")
    head: list[Any] = []
    body: list[Any] = []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (head if _is_head(name) else body).append(param)
    groups = [{"params": body, "lr": lr}, {"params": head, "lr": lr * head_lr_scale}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, weight_decay=0.01)


def _loss(losses: Any, model: CrossEncoder, name: str) -> Any:
    if name in ("softmax", "listnet"):  # "softmax" sharpens the labels in _dataset
        return losses.ListNetLoss(model, mini_batch_size=-1)
    if name == "lambda":
        return losses.LambdaLoss(model, mini_batch_size=-1)
    if name == "ranknet":
        return losses.RankNetLoss(model, mini_batch_size=-1)
    if name == "mse":
        return losses.MSELoss(model)
    return losses.BinaryCrossEntropyLoss(model)


def _evaluator(dev: Sequence[RankingExample]) -> Any:
    evaluation = require(
        "sentence_transformers.cross_encoder.evaluation", extra="train", who="train_cross_encoder"
    )
    samples = [
        {
            "query": ex.query,
            "positive": [t for t, y in zip(ex.texts, ex.labels, strict=True) if y > 0],
            "documents": list(ex.texts),
        }
        for ex in dev
    ]
    return evaluation.CrossEncoderRerankingEvaluator(
        samples,
        at_k=10,
        always_rerank_positives=False,
        name="held_out",
        batch_size=64,
        write_csv=False,
    )


@functools.cache
def _classes() -> tuple[type, type]:
    """The trainer and callback subclasses, built on first use so that importing this module
    loads neither sentence-transformers nor transformers."""
    st_ce = require("sentence_transformers.cross_encoder", extra="train", who="train_cross_encoder")
    transformers = require("transformers", extra="train", who="train_cross_encoder")

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
            self.precision = precision
            self.folder = folder
            self.base = base
            self.spec = spec
            self.recipe = recipe
            self.patience = patience
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
                save_reranker(
                    kwargs["model"], self.folder, base=self.base, spec=self.spec,
                    recipe=self.recipe, metrics=entry, precision=self.precision,
                )  # fmt: skip
            else:
                self.misses += 1
                if self.patience is not None and self.misses >= self.patience:
                    control.should_training_stop = True

    return ArtifactTrainer, BestKeeper
