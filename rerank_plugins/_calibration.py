"""Calibration: a fitted monotone map from a scorer's score to P(relevant).

A scorer's normalised score is on its own scale: the sigmoid of a cross-encoder's logit, an API's
``relevance_score``, an LLM's grade. A :class:`Calibration` maps it to the probability that the
candidate is relevant, for candidates from a first stage like the one it was fit on, so that
``min_score=0.5`` means the same for every calibrated scorer. It is fitted on judged pairs
(:func:`fit_calibration`: Platt scaling by default, isotonic regression as an option), stored as
a small versioned JSON file (the scorer and model it was fit for, the data and first stage it came
from, the number of pairs, the expected calibration error before and after), and given to a
scorer as ``calibration=`` (a path, an object, or ``None``).

What is calibrated is the scorer's *signal*: the logit for a scorer whose raw scores are logits
(:attr:`~rerank_plugins.Normalization.SIGMOID`), else its normalised score in ``[0, 1]``. The map
is non-decreasing, so it never changes the order of candidates (the core breaks a tie it creates
by the uncalibrated score). Applying a map needs nothing but the standard library; fitting does
too (a two-parameter Newton solve, pool-adjacent-violators), so the core stays dependency-free.

Example:
    >>> cal = fit_calibration([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [0, 0, 1, 0, 1, 1],
    ...                       backend="cross-encoder", model="m", normalization="sigmoid")
    >>> probs = cal.apply([-2.0, 3.0])
    >>> probs[0] < 0.5 < probs[1]
    True
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeAlias

from rerank_plugins._calibration_math import (
    brier_score,
    expected_calibration_error,
    fit_isotonic,
    fit_platt,
    interpolate,
    log_loss,
    reliability_bins,
    sigmoid,
)
from rerank_plugins._checks import is_number
from rerank_plugins._exceptions import ConfigurationError

__all__ = [
    "CALIBRATION_FORMAT",
    "CALIBRATION_VERSION",
    "CalibrationLike",
    "Calibration",
    "brier_score",
    "expected_calibration_error",
    "fit_calibration",
    "log_loss",
    "reliability_bins",
    "signal_of",
    "with_metrics",
]

CALIBRATION_FORMAT = "rerank-plugins-calibration"
CALIBRATION_VERSION = 1
Method = Literal["platt", "isotonic"]
CalibrationLike: TypeAlias = "Calibration | str | os.PathLike[str] | None"
"""What a scorer's ``calibration=`` takes: a calibration, the path of its file, or ``None``."""
_METHODS = ("platt", "isotonic")
_NORMALIZATIONS = ("sigmoid", "identity", "rank")


@dataclass(frozen=True)
class Calibration:
    """A fitted map from a scorer's signal to P(relevant), with what it was fit for.

    Attributes:
        method: ``"platt"`` (``sigmoid(a * signal + b)``) or ``"isotonic"`` (a non-decreasing
            step curve, interpolated linearly between its points).
        parameters: ``{"a": ..., "b": ...}`` for Platt; ``{"x": [...], "y": [...]}`` (the
            curve's points, ``x`` increasing) for isotonic.
        backend: The scorer's backend it was fit for (``"cross-encoder"``, ``"cohere"``...).
        model: The scorer's model it was fit for (its :attr:`~rerank_plugins.Scorer.model`).
        normalization: What the scorer's raw scores were (``"sigmoid"``: logits, calibrated
            directly; ``"identity"`` / ``"rank"``: the normalised score is calibrated).
        data: The judged data it was fit on (dataset, split, subset).
        first_stage: The first stage that produced the candidates (``"dense ... top-20"``).
        pairs: Judged (query, candidate) pairs it was fit on.
        positives: How many of them were relevant.
        metrics: What the fit achieved on pairs it was *not* fit on: ``ece_before``,
            ``ece_after``, ``brier_before``, ``brier_after``, ``log_loss_before``,
            ``log_loss_after`` and ``evaluated_on`` (which pairs), where measured.
        source: The file it was read from, if any (not stored; named in errors).
    """

    method: Method
    parameters: Mapping[str, Any]
    backend: str
    model: str
    normalization: str = "sigmoid"
    data: str = ""
    first_stage: str = ""
    pairs: int = 0
    positives: int = 0
    metrics: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        where = f" in {self.source}" if self.source else ""
        if self.method not in _METHODS:
            raise ConfigurationError(
                f"Calibration method must be 'platt' or 'isotonic', got {self.method!r}{where}."
            )
        if self.normalization not in _NORMALIZATIONS:
            raise ConfigurationError(
                f"Calibration normalization must be one of {', '.join(_NORMALIZATIONS)}, got "
                f"{self.normalization!r}{where}."
            )
        _check_parameters(self.method, self.parameters, where)

    def apply(self, signal: Sequence[float]) -> list[float]:
        """P(relevant) for each value of the scorer's signal (its logit, or its normalised
        score), as plain floats.

        >>> Calibration("platt", {"a": 2.0, "b": -1.0}, "x", "m").apply([0.5])
        [0.5]
        """
        if self.method == "platt":
            a, b = float(self.parameters["a"]), float(self.parameters["b"])
            return [sigmoid(a * float(x) + b) for x in signal]
        xs = [float(v) for v in self.parameters["x"]]
        ys = [float(v) for v in self.parameters["y"]]
        return [interpolate(xs, ys, float(x)) for x in signal]

    def calibrate(self, normalization: str, raw: Sequence[float]) -> list[float]:
        """P(relevant) for a scorer's raw scores (its signal, mapped)."""
        return self.apply(signal_of(normalization, raw))

    def check_for(self, backend: str, model: str, normalization: str) -> None:
        """Refuse to serve a scorer this calibration was not fit for.

        Raises:
            ConfigurationError: another backend, model or kind of raw score; the message names
                the file and the fix.
        """
        mine = (self.backend, self.model, self.normalization)
        theirs = (backend, model, normalization)
        if mine == theirs:
            return
        what = self.source or "the calibration"
        raise ConfigurationError(
            f"{what} was fit for {self.backend}:{self.model} ({self.normalization} scores), not "
            f"{backend}:{model} ({normalization} scores); fit one for this scorer with "
            f"'rerank-plugins calibrate DATASET --reranker {backend}:{model}', or pass "
            f"calibration=None."
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (what :meth:`save` writes)."""
        return {
            "format": CALIBRATION_FORMAT,
            "version": CALIBRATION_VERSION,
            "method": self.method,
            "parameters": _plain(self.parameters),
            "backend": self.backend,
            "model": self.model,
            "normalization": self.normalization,
            "data": self.data,
            "first_stage": self.first_stage,
            "pairs": self.pairs,
            "positives": self.positives,
            "metrics": _plain(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Calibration:
        """Read the JSON form back.

        Raises:
            ConfigurationError: not a calibration of this format and version, or a bad field.
        """
        what = source or "the calibration"
        if (
            not isinstance(data, Mapping)
            or data.get("format") != CALIBRATION_FORMAT
            or data.get("version") != CALIBRATION_VERSION
        ):
            raise ConfigurationError(
                f"{what} is not a version-{CALIBRATION_VERSION} rerank-plugins calibration "
                f"(format {CALIBRATION_FORMAT!r}); fit it again with 'rerank-plugins calibrate'."
            )
        try:
            return cls(
                method=data["method"],
                parameters=dict(data["parameters"]),
                backend=str(data["backend"]),
                model=str(data["model"]),
                normalization=str(data.get("normalization", "sigmoid")),
                data=str(data.get("data", "")),
                first_stage=str(data.get("first_stage", "")),
                pairs=int(data.get("pairs", 0)),
                positives=int(data.get("positives", 0)),
                metrics=dict(data.get("metrics", {})),
                source=source,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(
                f"{what} is missing or has a bad field ({type(exc).__name__}: {exc}); fit it "
                f"again with 'rerank-plugins calibrate'."
            ) from None

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the calibration as JSON; an existing file is kept unless ``overwrite``.

        Raises:
            FileExistsError: ``path`` exists and ``overwrite`` is false.
        """
        out = Path(path)
        mode = "w" if overwrite else "x"
        with out.open(mode, encoding="utf-8") as fh:
            fh.write(json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n")
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read a calibration file.

        Raises:
            ConfigurationError: the file cannot be read or is not a calibration; one line that
                names the file.
        """
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ConfigurationError(
                f"Cannot read the calibration file {where}: {reason}; pass the path of a file "
                f"written by 'rerank-plugins calibrate', or calibration=None."
            ) from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError(
                f"The calibration file {where} is not valid JSON ({exc}); pass a file written "
                f"by 'rerank-plugins calibrate', or calibration=None."
            ) from None
        return cls.from_dict(data, source=where)

    def describe(self) -> str:
        """One line: method, parameters and the fit's ECE.

        >>> Calibration("platt", {"a": 1.0, "b": -2.0}, "x", "m").describe()
        'platt: P = sigmoid(1 * signal + -2)'
        """
        if self.method == "platt":
            text = (
                f"platt: P = sigmoid({self.parameters['a']:.4g} * signal + "
                f"{self.parameters['b']:.4g})"
            )
        else:
            text = f"isotonic: {len(self.parameters['x'])} points"
        before, after = self.metrics.get("ece_before"), self.metrics.get("ece_after")
        if isinstance(before, (int, float)) and isinstance(after, (int, float)):
            text += f"; ECE {before:.3f} -> {after:.3f}"
        return text


def resolve_calibration(
    value: object, *, backend: str, model: str, normalization: str, who: str
) -> Calibration | None:
    """What a scorer's ``calibration=`` argument means: ``None`` (or ``"none"``), a
    :class:`Calibration`, or the path of a calibration file; checked against the scorer."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    if isinstance(value, Calibration):
        cal = value
    elif isinstance(value, (str, os.PathLike)):
        cal = Calibration.load(value)
    else:
        raise ConfigurationError(
            f"{who} calibration must be a path to a calibration file, a Calibration or None, "
            f"got {type(value).__name__}: {value!r:.80}."
        )
    cal.check_for(backend, model, normalization)
    return cal


def signal_of(normalization: str, raw: Sequence[float]) -> list[float]:
    """What a calibration maps: the logit for logit scorers (``"sigmoid"``), else the normalised
    score in ``[0, 1]`` (a grade, an API's relevance, ``1 - rank / n`` for a listwise order).

    >>> signal_of("sigmoid", [3.0]), signal_of("identity", [1.5]), signal_of("rank", [0, 1])
    ([3.0], [1.0], [1.0, 0.5])
    """
    if normalization == "sigmoid":
        return [float(x) for x in raw]
    if normalization == "identity":
        return [min(1.0, max(0.0, float(x))) for x in raw]
    n = len(raw)
    return [1.0 - float(x) / n for x in raw]


def fit_calibration(
    signal: Sequence[float],
    labels: Sequence[int | bool],
    *,
    backend: str,
    model: str,
    normalization: str = "sigmoid",
    method: Method = "platt",
    data: str = "",
    first_stage: str = "",
) -> Calibration:
    """Fit a calibration on judged pairs: each pair's signal and whether it is relevant.

    Platt scaling fits ``P = sigmoid(a * signal + b)`` by maximum likelihood (Newton's method),
    with Platt's smoothed targets (``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``) so a separable set
    still gives finite parameters. Isotonic regression fits the non-decreasing step curve with
    the least squared error (pool adjacent violators), and keeps one point per step.

    Raises:
        ConfigurationError: fewer than two pairs, only one class, non-finite signal values, or
            a Platt slope that is not positive (the scorer orders relevant pairs *below*
            irrelevant ones on this data; a monotone map that reverses order is refused).
    """
    normalization = str(getattr(normalization, "value", normalization))  # a Normalization too
    xs, ys = _judged_pairs(signal, labels)
    parameters = _fit(method, xs, ys, f"{backend}:{model}")
    return Calibration(
        method=method,
        parameters=parameters,
        backend=backend,
        model=model,
        normalization=normalization,
        data=data,
        first_stage=first_stage,
        pairs=len(ys),
        positives=sum(ys),
    )


def _judged_pairs(
    signal: Sequence[float], labels: Sequence[int | bool]
) -> tuple[list[float], list[int]]:
    """The signal as floats and the labels as 0/1, refused unless both classes are there."""
    xs = [float(x) for x in signal]
    ys = [1 if bool(y) else 0 for y in labels]
    if len(xs) != len(ys):
        raise ConfigurationError(
            f"fit_calibration needs one label per score, got {len(xs)} scores and {len(ys)} labels."
        )
    if not all(math.isfinite(x) for x in xs):
        raise ConfigurationError("fit_calibration needs finite scores; drop unscored pairs.")
    positives = sum(ys)
    if positives == 0 or positives == len(ys):
        raise ConfigurationError(
            f"fit_calibration needs relevant and irrelevant pairs, got {positives} relevant of "
            f"{len(ys)}; fit on judged data where the first stage finds both."
        )
    return xs, ys


def _fit(method: str, xs: list[float], ys: list[int], scorer: str) -> dict[str, Any]:
    """The parameters of a ``method`` map fit on the pairs (a Platt slope must be positive)."""
    if method == "platt":
        a, b = fit_platt(xs, ys)
        if not a > 0:
            raise ConfigurationError(
                f"The Platt fit for {scorer} has slope {a:.3g} (not positive): on this "
                f"data its scores rank relevant pairs below irrelevant ones, so no monotone map "
                f"makes them probabilities; check the data and the scorer."
            )
        return {"a": a, "b": b}
    if method == "isotonic":
        px, py = fit_isotonic(xs, ys)
        return {"x": px, "y": py}
    raise ConfigurationError(f"Calibration method must be 'platt' or 'isotonic', got {method!r}.")


def with_metrics(calibration: Calibration, metrics: Mapping[str, Any]) -> Calibration:
    """A copy of ``calibration`` with ``metrics`` recorded."""
    return replace(calibration, metrics=dict(metrics))


def _check_parameters(method: str, parameters: Mapping[str, Any], where: str) -> None:
    def number(v: object) -> bool:
        return is_number(v) and math.isfinite(v)

    if method == "platt":
        if not (number(parameters.get("a")) and number(parameters.get("b"))):
            raise ConfigurationError(
                f"A Platt calibration needs finite parameters a and b, got "
                f"{dict(parameters)!r:.120}{where}."
            )
        if not parameters["a"] > 0:
            raise ConfigurationError(
                f"A Platt calibration needs a positive slope a (a map that keeps the order), got "
                f"{parameters['a']!r}{where}."
            )
        return
    xs, ys = parameters.get("x"), parameters.get("y")
    ok = (
        isinstance(xs, list)
        and isinstance(ys, list)
        and len(xs) == len(ys) >= 1
        and all(number(v) for v in xs + ys)
        and all(a < b for a, b in itertools.pairwise(xs))
        and all(a <= b for a, b in itertools.pairwise(ys))
        and all(0.0 <= v <= 1.0 for v in ys)
    )
    if not ok:
        raise ConfigurationError(
            f"An isotonic calibration needs lists x (increasing) and y (non-decreasing, in "
            f"[0, 1]) of the same length{where}."
        )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
