"""The replicas of a :class:`~rerank_plugins.scorers.replicas.ReplicaScorer`: each endpoint's
health and learned latency, and the checks of the endpoints and URLs it is given."""

from __future__ import annotations

import importlib
import statistics
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._scorer import UnitScores
from rerank_plugins.scorers.hosted import HostedScorer

__all__ = [
    "Endpoint",
    "checked_endpoints",
    "checked_urls",
    "scorer_class",
    "typical_latency",
    "url_of",
    "with_endpoints",
]

_PROTOCOLS = {
    "cohere": ("rerank_plugins.scorers.hosted.cohere", "CohereScorer"),
    "tei": ("rerank_plugins.scorers.hosted.tei", "TEIScorer"),
    "voyage": ("rerank_plugins.scorers.hosted.voyage", "VoyageScorer"),
}
_SAMPLES = 128  # latencies kept per endpoint
_SAMPLE_AGE_S = 60.0  # older latencies are forgotten: what is learned recovers
_MIN_SAMPLES = 5  # before this many, an endpoint has no p95 of its own
_IDLE_HALF_LIFE_S = 1.0  # an idle endpoint's latency estimate halves every second


@dataclass
class Endpoint:
    """One replica: its scorer, its health and what it has learned (guarded by the set's lock)."""

    url: str
    scorer: HostedScorer[Any, Any]
    outstanding: int = 0
    failures: int = 0  # consecutive
    ejected_until: float | None = None
    probing: bool = False
    backoff: float = 1.0
    ewma: float | None = None
    last_seen: float = 0.0
    samples: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=_SAMPLES))
    totals: dict[str, float] = field(default_factory=dict)

    def count(self, key: str, value: float = 1.0) -> None:
        self.totals[key] = self.totals.get(key, 0.0) + value

    def recent(self, now: float) -> list[float]:
        return [s for t, s in self.samples if now - t <= _SAMPLE_AGE_S]

    def quantile(self, q: float, now: float) -> float | None:
        values = sorted(self.recent(now))
        if len(values) < _MIN_SAMPLES:
            return None
        return values[min(len(values) - 1, int(q * len(values)))]

    def estimate(self, now: float, typical: float) -> float:
        """The latency expected of this endpoint: its moving average, halved for every
        :data:`_IDLE_HALF_LIFE_S` it has been idle (to zero in the end, as in Finagle's and
        tower's peak EWMA), so that one slow or dead spell is never held against it for good:
        the longer it is left alone the sooner it is tried again. ``typical`` before any answer.
        """
        if self.ewma is None:
            return typical
        idle = max(0.0, now - self.last_seen)
        return float(self.ewma * 0.5 ** (idle / _IDLE_HALF_LIFE_S))

    def load(self, now: float, typical: float) -> float:
        """Requests in flight (and this one) times the latency expected of this endpoint."""
        return float((self.outstanding + 1) * self.estimate(now, typical))

    def stats(self, now: float) -> dict[str, Any]:
        """What :meth:`ReplicaScorer.endpoint_stats` reports of this endpoint."""
        p50, p95 = self.quantile(0.5, now), self.quantile(0.95, now)
        state = "healthy"
        if self.ejected_until is not None:
            state = "probing" if self.probing or now >= self.ejected_until else "ejected"
        return {
            "state": state,
            **{
                k: int(self.totals.get(k, 0))
                for k in ("requests", "errors", "timeouts", "hedges", "cancelled")
            },
            "ejections": int(self.totals.get("ejections", 0)),
            "outstanding": self.outstanding,
            "latency_p50_ms": None if p50 is None else p50 * 1000.0,
            "latency_p95_ms": None if p95 is None else p95 * 1000.0,
        }


def typical_latency(endpoints: Sequence[Endpoint], q: float, now: float) -> float | None:
    """The median over endpoints of their own ``q`` quantile (robust to one slow replica)."""
    values = [v for e in endpoints if (v := e.quantile(q, now)) is not None]
    return statistics.median(values) if values else None


def with_endpoints(out: UnitScores, counts: dict[str, dict[str, float]]) -> UnitScores:
    """``out`` with the unit's per-endpoint counts attached."""
    return replace(out, endpoints={url: dict(c) for url, c in counts.items()})


def scorer_class(protocol: str) -> Callable[..., HostedScorer[Any, Any]]:
    """The hosted scorer class of ``protocol`` (``"cohere"``, ``"tei"`` or ``"voyage"``)."""
    if protocol not in _PROTOCOLS:
        raise ConfigurationError(
            f"ReplicaScorer speaks one of {', '.join(sorted(_PROTOCOLS))}, got protocol="
            f"{protocol!r}; pass e.g. 'cohere' for Infinity or vLLM."
        )
    module, name = _PROTOCOLS[protocol]
    kind: Callable[..., HostedScorer[Any, Any]] = getattr(importlib.import_module(module), name)
    return kind


def _check_list(value: object, what: str, example: str, one: str) -> None:
    """Refuse anything but a non-empty list (a string is not a list of URLs)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigurationError(
            f"ReplicaScorer needs a list of {what}, got {type(value).__name__}; pass e.g. "
            f"{example}."
        )
    if not value:
        raise ConfigurationError(
            f"ReplicaScorer got an empty list of endpoints; pass at least {one}."
        )


def checked_urls(urls: object) -> list[str]:
    """``urls`` as a list of distinct, well-formed http(s) URLs; anything else is refused."""
    _check_list(
        urls,
        "URLs",
        "['http://10.0.0.1:7997', 'http://10.0.0.2:7997']",
        "one replica URL, e.g. ['http://10.0.0.1:7997']",
    )
    assert isinstance(urls, Sequence)
    seen: dict[str, str] = {}
    for url in urls:
        key = _url_key(url)
        if key in seen:
            raise ConfigurationError(
                f"ReplicaScorer got the URL {url!r} twice; list each replica once."
            )
        seen[key] = url
    return [str(u) for u in urls]


def _url_key(url: object) -> str:
    """A URL in a form that compares equal for the same endpoint; malformed ones are refused."""
    parts = urlsplit(url) if isinstance(url, str) else None
    try:
        port = None if parts is None else parts.port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"ReplicaScorer got a malformed URL {url!r}; pass a full http(s) URL with a host, "
            f"e.g. 'http://10.0.0.1:7997'."
        )
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}{parts.path.rstrip('/')}"


def url_of(scorer: HostedScorer[Any, Any]) -> str:
    """The endpoint's URL (its scorer's ``base_url``)."""
    return scorer.base_url or ""


def checked_endpoints(endpoints: object) -> list[HostedScorer[Any, Any]]:
    """``endpoints`` as a list of hosted scorers of one protocol and model, each at its own URL."""
    _check_list(
        endpoints,
        "hosted scorers",
        "[CohereScorer(base_url=...), ...], or use ReplicaScorer.from_urls",
        "one replica, e.g. ReplicaScorer.from_urls('cohere', ['http://10.0.0.1:7997'], model=...)",
    )
    assert isinstance(endpoints, Sequence)
    scorers = list(endpoints)
    for s in scorers:
        if not isinstance(s, HostedScorer):
            raise ConfigurationError(
                f"ReplicaScorer balances hosted scorers (Cohere, TEI, Voyage), got "
                f"{type(s).__name__}; for scorers of different kinds use FallbackScorer."
            )
        if s.base_url is None:
            raise ConfigurationError(
                f"ReplicaScorer: an endpoint {s!r} has no base_url; give each replica its own "
                f"base_url (the provider's single API is not a replica set)."
            )
    kinds = sorted({type(s).__name__ for s in scorers})
    if len(kinds) > 1:
        raise ConfigurationError(
            f"ReplicaScorer got endpoints that speak different protocols ({', '.join(kinds)}); "
            f"replicas of one engine speak one, so use one scorer class for all (or a "
            f"FallbackScorer to chain different engines)."
        )
    models = sorted({s.model for s in scorers})
    if len(models) > 1:
        raise ConfigurationError(
            f"ReplicaScorer got endpoints serving different models ({', '.join(models)}); "
            f"replicas serve one model: pass the same model= to each."
        )
    checked_urls([url_of(s) for s in scorers])
    return scorers
