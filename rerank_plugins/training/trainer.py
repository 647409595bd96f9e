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

import json
import re
import time
from collections.abc import Callable, Sequence
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
from rerank_plugins.training._checkpoints import trainer_classes
from rerank_plugins.training.data import RankingExample

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["LOSSES", "TrainingOptions", "TrainingResult", "train_cross_encoder"]

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
    loss_module: Callable[[CrossEncoder], Any] | None = None,
) -> TrainingResult:
    """Fine-tune a reranker on judged lists and save it as a compact artifact.

    Args:
        train: Training lists (:func:`~rerank_plugins.training.data.beir_examples` or
            :func:`~rerank_plugins.training.data.read_preferences`).
        output_dir: Folder for checkpoints and artifacts (see the module docstring).
        dev: Held-out lists (a query's first-stage candidates with qrels labels), evaluated every
            ``eval_steps`` and at the end by nDCG@10 of the reranked list; the best is kept.
        student: Train this model instead of loading ``base`` (a distilled student from
            :func:`~rerank_plugins.training.distill.make_student`); ``base`` and ``adapter`` must
            describe it, since the artifact rebuilds it from them. Trained in place.
        loss_module: Build the loss from the model to train, instead of ``loss``'s (distill's
            hidden-state loss); ``loss`` still says how the rows are made.
        The others: as the attributes of :class:`TrainingOptions` (same names and defaults).

    Returns:
        The artifact path and held-out figures.

    Raises:
        ConfigurationError: bad options or unusable training data.
    """
    options = TrainingOptions(
        base=base, adapter=adapter or AdapterSpec(), loss=loss, epochs=epochs,
        batch_size=batch_size, learning_rate=learning_rate, max_length=max_length,
        warmup_ratio=warmup_ratio, eval_steps=eval_steps, patience=patience, seed=seed,
        resume=resume, progress=progress, device=device, recipe=recipe, precision=precision,
        head_lr_scale=head_lr_scale, init=init, autocast=autocast,
        attention_dropout=attention_dropout,
    )  # fmt: skip
    return _train(
        train, Path(output_dir), options, dev=dev, student=student, loss_module=loss_module
    )


@dataclass(frozen=True)
class TrainingOptions:
    """How :func:`train_cross_encoder` trains (its keyword arguments but ``output_dir``, ``dev``
    and ``student``).

    Example (it trains a model, minutes on a CPU, so the doctest run skips the call):
        >>> from rerank_plugins.training import RankingExample, train_cross_encoder
        >>> data = [RankingExample("what is a cat", ("a cat is a small feline", "tax law"),
        ...                        (1.0, 0.0))] * 4
        >>> result = train_cross_encoder(data, output_dir="/tmp/rp-doctest", epochs=1,
        ...                              max_length=32, progress=False)  # doctest: +SKIP
        >>> # result.artifact -> /tmp/rp-doctest/final

    Attributes:
        base: The base model: :data:`~rerank_plugins.artifact.MINILM_BASE` (offline
            all-MiniLM-L6-v2), a local folder or a Hugging Face id.
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
    """

    base: str = MINILM_BASE
    adapter: AdapterSpec = field(default_factory=AdapterSpec)
    loss: LossName = "softmax"
    epochs: float = 1.0
    batch_size: int = 4
    learning_rate: float | None = None
    max_length: int = 160
    warmup_ratio: float = 0.1
    eval_steps: int | None = None
    patience: int | None = None
    seed: int = 0
    resume: bool = False
    progress: bool = True
    device: str | None = None
    recipe: dict[str, Any] | None = None
    precision: Literal["float32", "float16"] = "float32"
    head_lr_scale: float = 10.0
    init: str | Path | None = None
    autocast: Literal["none", "bf16"] = "none"
    attention_dropout: float | None = None

    @property
    def peak_learning_rate(self) -> float:
        """``learning_rate``, or the method's default (:data:`DEFAULT_LEARNING_RATES`)."""
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATES[self.adapter.method]

    def every(self, rows: int) -> int:
        """Steps between evaluations (and checkpoints): ``eval_steps``, else twice per epoch of
        ``rows`` training rows (pairs for a pointwise loss, lists for the others)."""
        steps_per_epoch = max(1, -(-rows // self.batch_size))
        return self.eval_steps or max(1, steps_per_epoch // 2)

    def record(self, lists: int) -> dict[str, Any]:
        """What the artifact's manifest records of the run."""
        return {
            "loss": self.loss, "epochs": self.epochs, "batch_size": self.batch_size,
            "learning_rate": self.peak_learning_rate, "max_length": self.max_length,
            "warmup_ratio": self.warmup_ratio, "seed": self.seed, "train_lists": lists,
            "autocast": self.autocast, "attention_dropout": self.attention_dropout,
            **(self.recipe or {}),
        }  # fmt: skip


def _train(
    train: Sequence[RankingExample],
    out: Path,
    o: TrainingOptions,
    *,
    dev: Sequence[RankingExample] | None,
    student: CrossEncoder | None,
    loss_module: Callable[[CrossEncoder], Any] | None = None,
) -> TrainingResult:
    _check_options(train, o.loss, o.epochs, o.batch_size, o.max_length)
    if o.autocast not in ("none", "bf16"):
        raise ConfigurationError(f"autocast must be 'none' or 'bf16', got {o.autocast!r}.")
    transformers = require("transformers", extra="train", who="train_cross_encoder")
    st_ce = require("sentence_transformers.cross_encoder", extra="train", who="train_cross_encoder")
    require("datasets", extra="train", who="train_cross_encoder")
    checkpoints = out / "checkpoints"
    record = o.record(len(train))
    started = time.perf_counter()
    transformers.set_seed(o.seed)
    model = _model(o, student)
    trainer_class, keeper_class = trainer_classes()
    keeper = keeper_class(
        out / "best", base=o.base, spec=o.adapter, recipe=record, patience=o.patience,
        precision=o.precision,
    )  # fmt: skip
    lr = o.peak_learning_rate
    trainer = trainer_class(
        model=model,
        args=_arguments(st_ce, o, checkpoints, o.every(_rows(train, o.loss)), evaluate=bool(dev)),
        train_dataset=_dataset(train, o.loss),
        loss=loss_module(model) if loss_module else _loss(st_ce.losses, model, o.loss),
        evaluator=_evaluator(dev) if dev else None,
        callbacks=[keeper],
        optimizers=(_optimizer(model, lr, o.head_lr_scale), None)
        if o.head_lr_scale != 1
        else (None, None),
        artifact_base=o.base,
        artifact_spec=o.adapter,
    )
    last = (
        transformers.trainer_utils.get_last_checkpoint(str(checkpoints))
        if o.resume and checkpoints.is_dir()
        else None
    )
    trainer.train(resume_from_checkpoint=last)
    if dev and (not keeper.history or keeper.history[-1]["step"] != trainer.state.global_step):
        trainer.evaluate()
    save_reranker(
        model, out / "final", base=o.base, spec=o.adapter, recipe=record, precision=o.precision
    )
    seconds = time.perf_counter() - started
    artifact = out / "best" if dev and (out / "best" / MANIFEST_FILE).is_file() else out / "final"
    (out / "history.json").write_text(json.dumps(keeper.history, indent=2) + "\n")
    steps = trainer.state.global_step
    return TrainingResult(artifact, dict(keeper.best_metrics), list(keeper.history), seconds, steps)


def _model(o: TrainingOptions, student: CrossEncoder | None) -> CrossEncoder:
    """The model to train: ``student``, or ``base`` made trainable; with ``attention_dropout``
    and ``init`` applied."""
    model = (
        student
        if student is not None
        else prepare_model(o.base, o.adapter, max_length=o.max_length, device=o.device)
    )
    if o.attention_dropout is not None:
        _set_attention_dropout(model, o.attention_dropout)
    if o.init is not None:
        _warm_start(model, o.init, o.base, o.adapter)
    return model


def _arguments(
    st_ce: Any, o: TrainingOptions, checkpoints: Path, every: int, *, evaluate: bool
) -> Any:
    """sentence-transformers' training arguments for ``o``."""
    return st_ce.CrossEncoderTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=o.epochs,
        per_device_train_batch_size=o.batch_size,
        learning_rate=o.peak_learning_rate,
        warmup_steps=o.warmup_ratio,
        lr_scheduler_type="linear",
        weight_decay=0.01,
        seed=o.seed,
        data_seed=o.seed,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=every if evaluate else None,
        save_strategy="steps",
        save_steps=every,
        save_total_limit=2,
        logging_steps=max(1, min(10, every)),
        report_to="none",
        disable_tqdm=not o.progress,
        # bf16 autocast on a machine without CUDA runs on the CPU (AMX / AVX-512-BF16).
        use_cpu=o.device == "cpu"
        or (o.autocast == "bf16" and o.device is None and not _has_cuda()),
        bf16=o.autocast == "bf16",
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


def _rows(train: Sequence[RankingExample], loss: str) -> int:
    """How many rows :func:`_dataset` makes: a pair each for a pointwise loss, else a list each."""
    return sum(len(ex.texts) for ex in train) if loss in POINTWISE else len(train)


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
