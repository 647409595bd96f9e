"""Distil a cross-encoder into a shallower student tuned to your corpus, with no judgements.

A reranker's cost is its depth times its tokens. The student keeps a subset of the teacher's
encoder layers (every other one, or the first ``k``), starts from the teacher's own weights for
them, and learns the teacher's scores over candidate lists from your corpus: judged queries where
you have them, and queries made from the documents (titles, sentences, written queries) where you
do not. No relevance judgement is needed: the teacher labels every candidate.

- :func:`student_layers`: which teacher layers a student of a given depth keeps.
- :func:`load_teacher`: a teacher by hub id, local folder, reranker artifact or ``bundled:`` name.
- :func:`make_student`: the student, a shallower copy of the teacher (or :func:`student_from`:
  an earlier student, to go on training).
- :func:`label_lists`: the teacher's logits for every text of every list (saved with
  :func:`write_teacher_lists` and read back with :func:`read_teacher_lists`, so a second student
  reuses them).
- :func:`distill`: all of the above, then training (:func:`train_cross_encoder`, with its
  checkpoints, validation-based early stopping and artifact). The student is a reranker artifact
  like any other: ``CrossEncoderScorer("runs/student/best")``.

Example:
    >>> from rerank_plugins.training.distill import student_layers
    >>> student_layers(6, 3), student_layers(6, 3, pick="first")
    ((1, 3, 5), (0, 1, 2))
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rerank_plugins._checks import is_int
from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._optional import require
from rerank_plugins.artifact import (
    MANIFEST_FILE,
    AdapterSpec,
    encoder_layers,
    keep_layers,
    load_reranker,
    read_manifest,
)
from rerank_plugins.evaluation.beir import DatasetError
from rerank_plugins.training.data import RankingExample
from rerank_plugins.training.trainer import TrainingResult, train_cross_encoder

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = [
    "DISTILL_LOSSES",
    "PICKS",
    "Teacher",
    "distill",
    "label_lists",
    "load_teacher",
    "make_student",
    "read_teacher_lists",
    "start_manifest",
    "student_from",
    "student_layers",
    "write_teacher_lists",
]

Pick = Literal["spread", "first"] | Sequence[int]
PICKS: tuple[str, ...] = ("spread", "first")
DistillLoss = Literal["mse", "listnet", "hidden"]
DISTILL_LOSSES: tuple[str, ...] = ("mse", "listnet", "hidden")
TEACHER_LISTS = "teacher_lists.jsonl"


def student_layers(teacher_depth: int, depth: int, pick: Pick = "spread") -> tuple[int, ...]:
    """The teacher layers a student of ``depth`` layers keeps, in order.

    Args:
        teacher_depth: The teacher's number of encoder layers.
        depth: The student's, at least 1 and fewer than the teacher's.
        pick: ``"spread"`` keeps layers evenly spread up to the teacher's top layer (every other
            layer of a 6-layer teacher for 3: ``1, 3, 5``; DistilBERT's rule, aligned to the top
            so the head reads the layer it was trained on); ``"first"`` keeps the bottom
            ``depth`` layers; a sequence names them (``(0, 3, 5)``: the bottom layer, which
            reads the embeddings, and the top one, which the head reads).

    Raises:
        ConfigurationError: a depth outside ``1 .. teacher_depth - 1``, an unknown pick, or
            named layers that are not ``depth`` distinct teacher layers in order.

    Example:
        >>> student_layers(12, 4)
        (2, 5, 8, 11)
    """
    if not is_int(depth) or not 1 <= depth < teacher_depth:
        raise ConfigurationError(
            f"A student keeps fewer layers than its teacher: the teacher has {teacher_depth}, so "
            f"pass a depth from 1 to {teacher_depth - 1} (got {depth!r})."
        )
    if pick == "first":
        return tuple(range(depth))
    if pick == "spread":
        return tuple((i + 1) * teacher_depth // depth - 1 for i in range(depth))
    if isinstance(pick, str) or not isinstance(pick, Sequence):
        raise ConfigurationError(
            f"pick must be one of {', '.join(PICKS)} or the layers to keep, got {pick!r}."
        )
    named = tuple(i for i in pick if is_int(i) and 0 <= i < teacher_depth)
    if len(pick) != depth or len(named) != depth or list(named) != sorted(set(named)):
        raise ConfigurationError(
            f"A student of {depth} layers keeps {depth} distinct teacher layers, in order, each "
            f"from 0 to {teacher_depth - 1} (e.g. {student_layers(teacher_depth, depth)}); got "
            f"{pick!r}."
        )
    return named


@dataclass
class Teacher:
    """A loaded teacher: its model, and how a student of it is written down.

    Attributes:
        spec: The teacher as the user named it.
        model: The ``sentence_transformers.CrossEncoder`` (torch, eval mode).
        base: The base a student's artifact is rebuilt from: the teacher's own base for a reranker
            artifact, else the teacher itself.
        base_layers: The base layers the teacher keeps (``None``: all; a student of a student).
        inference: The inference settings the teacher's manifest recommends (e.g. windows).
    """

    spec: str
    model: CrossEncoder
    base: str
    base_layers: tuple[int, ...] | None = None
    inference: dict[str, Any] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        """The teacher's number of encoder layers."""
        return len(encoder_layers(self.model.transformers_model)[0])


def load_teacher(
    teacher: str, *, device: str | None = None, max_length: int | None = None
) -> Teacher:
    """Load a cross-encoder teacher: a hub id, a local folder, a reranker artifact folder, or a
    bundled reranker (``bundled:scifact-minilm``); a ``cross-encoder:`` prefix is allowed.

    Raises:
        ConfigurationError: it cannot be loaded, or it is not a one-logit cross-encoder; the
            message names the teacher and the fix.
    """
    name = teacher.removeprefix("cross-encoder:").strip()
    if not name:
        raise ConfigurationError(
            "distill needs a teacher: a hub id, a local folder, a reranker artifact or "
            "'bundled:scifact-minilm'."
        )
    folder = _artifact_folder(name)
    if folder is not None:
        manifest = read_manifest(folder)
        model = load_reranker(folder, device=device, max_length=max_length)
        layers = AdapterSpec(**manifest["adapter"]).layers
        inference = manifest.get("inference", {})
        return Teacher(teacher, model, str(manifest["base"]), layers, dict(inference))
    st = require("sentence_transformers", extra="train", who="distill")
    try:
        model = st.CrossEncoder(name, num_labels=1, device=device, max_length=max_length)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"Could not load the teacher {teacher!r} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); pass a hub id with the hub "
            f"reachable, a local cross-encoder folder, a reranker artifact, or "
            f"'bundled:scifact-minilm'."
        ) from exc
    model.eval()
    return Teacher(teacher, model, name)


def _artifact_folder(name: str) -> Path | None:
    if name.startswith("bundled:"):
        from rerank_plugins.models import bundled_path

        return bundled_path(name)
    path = Path(name)
    return path if (path / MANIFEST_FILE).is_file() else None


def make_student(
    teacher: Teacher, depth: int, *, pick: Pick = "spread", max_length: int | None = None
) -> tuple[CrossEncoder, AdapterSpec]:
    """A shallower copy of ``teacher``: its embeddings, head and ``depth`` of its layers.

    The student's layer ``i`` is a copy of the teacher's layer ``student_layers(...)[i]``; the
    teacher is not changed.

    Returns:
        The student (every weight trainable) and the adapter spec its artifact is written with.
    """
    chosen = student_layers(teacher.depth, depth, pick)
    student = copy.deepcopy(teacher.model)
    hf: Any = student.transformers_model
    keep_layers(hf, chosen, who=f"the teacher {teacher.spec!r}")
    if max_length is not None:
        student.max_length = max_length
    _trainable(hf)
    # The artifact names layers of the base: for a teacher that is itself a student, compose.
    on_base = (
        chosen if teacher.base_layers is None else tuple(teacher.base_layers[i] for i in chosen)
    )
    return student, AdapterSpec(method="full", layers=on_base)


def _trainable(model: Any) -> None:
    """Every weight of a student trains, in training mode (dropout on)."""
    for param in model.parameters():
        param.requires_grad = True
    model.train()


def start_manifest(artifact: str | Path) -> dict[str, Any]:
    """The manifest of a student to start from (:func:`student_from`), read without loading it.

    Raises:
        ConfigurationError: not a reranker artifact; the message names the fix.
    """
    folder = Path(artifact)
    if not (folder / MANIFEST_FILE).is_file():
        raise ConfigurationError(
            f"distill cannot start from {str(folder)!r}: it is not a reranker artifact (no "
            f"{MANIFEST_FILE}); pass the best/ or final/ folder of an earlier distill run."
        )
    return read_manifest(folder)


def student_from(
    teacher: Teacher, artifact: str | Path, *, max_length: int | None = None
) -> tuple[CrossEncoder, AdapterSpec, tuple[int, ...]]:
    """An earlier student of ``teacher`` (a ``best/`` or ``final/`` folder of a distill run),
    to go on training: with more lists, another loss or a lower learning rate.

    Returns:
        The student (every weight trainable), the adapter spec its artifact is written with,
        and the teacher layers its layers were copied from (a ``pick`` for the hidden loss).

    Raises:
        ConfigurationError: not a reranker artifact, or not a shallower copy of this teacher
            (another base, or layers the teacher does not have); the message names the fix.
    """
    folder = Path(artifact)
    manifest = start_manifest(folder)
    layers = AdapterSpec(**manifest["adapter"]).layers
    own = teacher.base_layers or tuple(range(teacher.depth))
    if manifest["base"] != teacher.base or layers is None or not set(layers) < set(own):
        raise ConfigurationError(
            f"distill cannot start from {str(folder)!r}: it is not a shallower copy of the "
            f"teacher {teacher.spec!r} (base {manifest['base']!r}, layers {layers}); pass a "
            f"student an earlier run distilled from this teacher."
        )
    student = load_reranker(folder, max_length=max_length)
    _trainable(student.transformers_model)
    return student, AdapterSpec(method="full", layers=layers), tuple(own.index(i) for i in layers)


def label_lists(
    lists: Sequence[RankingExample],
    teacher: Teacher,
    *,
    batch_size: int = 32,
    whole_passages: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[RankingExample]:
    """The same lists, each text labelled by the teacher's logit (its raw score).

    By default the teacher reads each pair as the student will in training: truncated at its
    own ``max_length``. With ``whole_passages`` it reads each as it is scored in use: a passage
    longer than that as overlapping windows, labelled with its best window's logit (the
    teacher's score at its recommended settings), so a student that reads only a passage's
    start learns the whole passage's score. The inputs are not changed.
    """
    torch = require("torch", extra="train", who="label_lists")
    windows = _window_scorer(teacher) if whole_passages else None
    out: list[RankingExample] = []
    for done, ex in enumerate(lists, start=1):
        if windows is not None:
            values = tuple(windows.score_unit(ex.query, ex.texts, timeout=None).scores)
        else:
            logits = teacher.model.predict(
                [(ex.query, text) for text in ex.texts],
                batch_size=batch_size,
                activation_fn=torch.nn.Identity(),
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            values = tuple(float(x) for x in logits.reshape(-1).tolist())
        if not all(x is not None and math.isfinite(x) for x in values):
            raise ConfigurationError(
                f"The teacher {teacher.spec!r} gave a non-finite score for query "
                f"{ex.query[:60]!r}; check the teacher model."
            )
        out.append(RankingExample(ex.query, ex.texts, values))
        if progress is not None:
            progress(done, len(lists))
    return out


def _window_scorer(teacher: Teacher) -> Any:
    """The teacher as the package scores it with long passages as windows (torch, no cache, no
    calibration: raw logits, each passage's best window)."""
    from rerank_plugins.scorers.local import CrossEncoderScorer

    windows = {k: v for k, v in teacher.inference.items() if k in ("max_windows", "window_overlap")}
    return CrossEncoderScorer.from_encoder(
        teacher.model, teacher.spec, runtime="torch", long_passages="windows",
        max_length=teacher.model.max_length, score_cache_size=0, calibration=None, **windows,
    )  # fmt: skip


def write_teacher_lists(lists: Sequence[RankingExample], path: str | Path) -> Path:
    """Save labelled lists as JSONL (``{"query", "texts", "logits"}`` a line)."""
    out = Path(path)
    with out.open("w", encoding="utf-8") as handle:
        for ex in lists:
            record = {"query": ex.query, "texts": list(ex.texts), "logits": list(ex.labels)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


def read_teacher_lists(path: str | Path) -> list[RankingExample]:
    """Read lists written by :func:`write_teacher_lists`.

    Raises:
        DatasetError: a missing or unreadable file, or a malformed line (file and line named).
    """
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"Cannot read teacher lists {str(file)!r} ({type(exc).__name__}); pass the "
            f"{TEACHER_LISTS} that `rerank-plugins distill` wrote."
        ) from exc
    out: list[RankingExample] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            texts, logits = record["texts"], record["logits"]
            ok = isinstance(record["query"], str) and len(texts) == len(logits) > 0
            example = RankingExample(
                record["query"], tuple(map(str, texts)), tuple(map(float, logits))
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise DatasetError(
                f'{file}, line {number}: expected {{"query": str, "texts": [...], '
                f'"logits": [...]}} with one logit per text; re-run distill to rewrite it.'
            )
        out.append(example)
    if not out:
        raise DatasetError(f"{file} holds no lists; re-run distill to write it.")
    return out


def distill(
    lists: Sequence[RankingExample], *, teacher: str | Teacher, output_dir: str | Path,
    depth: int = 3, pick: Pick = "spread", max_length: int | None = None,
    loss: DistillLoss = "mse", dev: Sequence[RankingExample] | None = None,
    labelled: bool = False, epochs: float = 1.0, batch_size: int = 8,
    learning_rate: float = 5e-5, eval_steps: int | None = None, patience: int | None = None,
    seed: int = 0, resume: bool = False, progress: bool = True, device: str | None = None,
    recipe: dict[str, Any] | None = None, precision: Literal["float32", "float16"] = "float32",
    autocast: Literal["none", "bf16"] = "none", attention_dropout: float | None = None,
    hidden_weight: float = 1.0, start_from: str | Path | None = None,
    whole_passages: bool = False,
) -> TrainingResult:  # fmt: skip
    """Distil ``teacher`` into a ``depth``-layer student over ``lists``, and save the student.

    Args:
        lists: Candidate lists of your corpus (:func:`~rerank_plugins.training.data.beir_examples`,
            :func:`~rerank_plugins.training.synthetic.corpus_examples`, ...); their labels are
            replaced by the teacher's logits, unless ``labelled`` says they already are.
        teacher: The teacher's name (see :func:`load_teacher`) or a loaded :class:`Teacher`.
        output_dir: Checkpoints, ``teacher_lists.jsonl`` and the ``best/`` and ``final/``
            artifacts (:func:`~rerank_plugins.training.trainer.train_cross_encoder`'s layout).
        depth: The student's encoder layers, fewer than the teacher's.
        pick: Which teacher layers it starts from (:func:`student_layers`).
        max_length: Tokens per pair for the student (``None``: the teacher's).
        loss: ``"mse"`` (each logit towards the teacher's: the student keeps its scale, so its
            calibration stays close), ``"listnet"`` (each list's softmax: the order only) or
            ``"hidden"`` (``"mse"`` plus TinyBERT's layer loss: :mod:`~.training._hidden`).
        dev: Held-out lists with relevance labels (judged, or a made query's source document),
            for early stopping on nDCG@10.
        labelled: ``lists`` already carry the teacher's logits (:func:`read_teacher_lists`).
        epochs, batch_size, learning_rate, eval_steps, patience, seed, resume, progress, device,
            precision, autocast, attention_dropout: As for :func:`train_cross_encoder`
            (``batch_size`` is lists).
        hidden_weight: With ``loss="hidden"``, the weight of the hidden-state term.
        start_from: An earlier student of this teacher to go on training (:func:`student_from`);
            its layers replace ``depth`` and ``pick``.
        whole_passages: The teacher labels each passage as it is scored in use, not truncated
            (:func:`label_lists`).
        recipe: Extra facts for the manifest.

    Returns:
        :func:`train_cross_encoder`'s result; ``CrossEncoderScorer(str(result.artifact))`` loads it.

    Raises:
        ConfigurationError: a depth not below the teacher's, an unknown loss, no lists, or a
            teacher that cannot load.
    """
    _check(loss, lists)
    loaded = teacher if isinstance(teacher, Teacher) else load_teacher(teacher, device=device)
    if start_from is None:
        student, spec = make_student(loaded, depth, pick=pick, max_length=max_length)
    else:
        student, spec, pick = student_from(loaded, start_from, max_length=max_length)
        depth, recipe = len(pick), {**(recipe or {}), "started_from": str(start_from)}
    out = Path(output_dir)
    train, record = _teacher_lists(
        lists, loaded, out, labelled, depth, pick, recipe, whole_passages
    )
    record["distill_loss"] = loss if loss != "hidden" else f"hidden (weight {hidden_weight:g})"
    rows = "mse" if loss == "hidden" else loss  # the hidden loss reads pairs, as mse does
    result = train_cross_encoder(
        train, output_dir=out, base=loaded.base, dev=dev, adapter=spec, loss=rows,
        epochs=epochs, batch_size=_step(train, batch_size, rows), learning_rate=learning_rate,
        max_length=max_length or int(loaded.model.max_length or 512), eval_steps=eval_steps,
        patience=patience, seed=seed, resume=resume, progress=progress, device=device,
        recipe=record, precision=precision, head_lr_scale=1.0,
        autocast=autocast, attention_dropout=attention_dropout, student=student,
        loss_module=_layer_loss(loaded, depth, pick, hidden_weight) if loss == "hidden" else None,
    )  # fmt: skip
    _carry_inference(loaded, out)
    return result


def _check(loss: str, lists: Sequence[RankingExample]) -> None:
    if loss not in DISTILL_LOSSES:
        raise ConfigurationError(
            f"distill's loss must be one of {', '.join(DISTILL_LOSSES)}, got {loss!r}."
        )
    if not lists:
        raise ConfigurationError("distill needs candidate lists; none were given.")


def _layer_loss(
    teacher: Teacher, depth: int, pick: Pick, weight: float
) -> Callable[[CrossEncoder], Any]:
    """The ``"hidden"`` loss for the student the trainer builds it around."""
    from rerank_plugins.training._hidden import HiddenStateLoss

    layers = student_layers(teacher.depth, depth, pick)
    return lambda model: HiddenStateLoss(model, teacher.model, layers, weight)


def _teacher_lists(
    lists: Sequence[RankingExample], teacher: Teacher, out: Path, labelled: bool, depth: int,
    pick: Pick, recipe: dict[str, Any] | None, whole_passages: bool = False,
) -> tuple[list[RankingExample], dict[str, Any]]:  # fmt: skip
    """The lists with the teacher's logits (labelled here unless ``labelled``, and then saved
    to ``out``), and what the manifest records of the distillation."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    train = list(lists) if labelled else label_lists(lists, teacher, whole_passages=whole_passages)
    teacher_seconds = time.perf_counter() - started
    if not labelled:
        write_teacher_lists(train, out / TEACHER_LISTS)
    record = {
        "distilled_from": teacher.spec, "teacher_base": teacher.base, "depth": depth,
        "pick": pick, "teacher_layers": list(student_layers(teacher.depth, depth, pick)),
        "teacher_seconds": round(teacher_seconds, 1), **(recipe or {}),
        **({"teacher_reads": "whole passages"} if whole_passages and not labelled else {}),
    }  # fmt: skip
    return train, record


def _step(train: Sequence[RankingExample], batch_size: int, loss: str) -> int:
    """A step holds ``batch_size`` lists for either loss: MSE reads pairs, so as many pairs."""
    per_list = round(sum(len(ex.texts) for ex in train) / len(train))
    return batch_size * per_list if loss == "mse" else batch_size


def _carry_inference(teacher: Teacher, out: Path) -> None:
    """The student is scored as its teacher is (e.g. long passages as windows): copy the
    teacher's recommended inference settings into the student's manifests."""
    if not teacher.inference:
        return
    for folder in (out / "best", out / "final"):
        path = folder / MANIFEST_FILE
        if path.is_file():
            manifest = json.loads(path.read_text())
            manifest.setdefault("inference", dict(teacher.inference))
            path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
