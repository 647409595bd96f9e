"""One scorer over several replicas of one serving engine: balancing, ejection, hedging.

:class:`ReplicaScorer` sends each unit to one of several endpoints that speak the same protocol
(Cohere-compatible: Infinity, vLLM; TEI; Voyage-compatible), each a hosted scorer of the package
with its own ``base_url``:

* **Balancing** (``balance=``): ``"p2c"``, the better of two random choices among the healthy
  endpoints, by outstanding requests times recent latency (an idle endpoint's latency estimate
  halves every second, so a replica that was slow or dead is tried again after a while); or
  ``"least_outstanding"``, the endpoint with the fewest requests in flight, ties taken in turn
  (round robin when calls come one at a time).
* **Passive health**: after ``eject_after`` consecutive failures (transient errors, timeouts) an
  endpoint is ejected; once its probe interval has passed, the next request goes to it as a
  probe. A success brings it back at once; a failure ejects it again with twice the interval (at
  most ``max_probe_interval_s``). It is never removed for good: with every endpoint ejected, the
  one whose probe is due first is used.
* **Hedging**: when a request has taken longer than its endpoint's learned p95 (and never longer
  than the typical endpoint's p95, so a replica that is slow all the time is hedged on time too),
  and the deadline leaves room for another endpoint's usual latency, the same request goes to
  another endpoint. The first answer wins; the other request is cancelled.
* **Failover**: a request that fails is sent to an endpoint not yet tried for this unit, at once,
  while the deadline leaves room; the core's own retries (``max_retries``) come after.

Both paths run on asyncio, so that a hedge's loser is really cancelled: the async path on the
caller's loop, the sync path on one private event loop thread the scorer owns (started on first
use, stopped by :meth:`ReplicaScorer.close` or when the scorer is dropped).
"""

from __future__ import annotations

import asyncio
import inspect
import random
import statistics
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from rerank_plugins._checks import check_bool, check_int, check_number
from rerank_plugins._deadline import Deadline
from rerank_plugins._exceptions import ConfigurationError, TimedOutError, TransientError
from rerank_plugins._scorer import Normalization, Scorer, UnitScores
from rerank_plugins.scorers.hosted import HostedScorer
from rerank_plugins.scorers.replicas._endpoints import (
    Endpoint,
    checked_endpoints,
    checked_urls,
    scorer_class,
    typical_latency,
    url_of,
    with_endpoints,
)
from rerank_plugins.scorers.replicas._loop import LoopThread

__all__ = ["ReplicaScorer"]

T = TypeVar("T")

_BALANCERS = ("p2c", "least_outstanding")


class ReplicaScorer(Scorer):
    """Scores with one engine served by several replicas, surviving slow and dead ones.

    Args:
        endpoints: Hosted scorers of one protocol (all :class:`~rerank_plugins.CohereScorer`, all
            :class:`~rerank_plugins.TEIScorer` or all :class:`~rerank_plugins.VoyageScorer`),
            each with its own ``base_url``. The replica set owns them: :meth:`close` closes them.
            :meth:`from_urls` builds them from URLs.
        balance: ``"p2c"`` (the better of two random choices, by load times latency) or
            ``"least_outstanding"`` (fewest requests in flight, ties in turn).
        hedging: Send a slow request to a second endpoint too (first answer wins).
        hedge_min_ms: Never hedge sooner than this (jitter below it is not worth a second
            request).
        eject_after: Consecutive failures that eject an endpoint.
        probe_interval_s: How long an endpoint stays ejected the first time before a request
            probes it; doubled after each failed probe.
        max_probe_interval_s: The longest an endpoint stays ejected between probes.
        max_retries: Retries of a whole unit by the core after every endpoint tried failed
            (failing over to another endpoint is immediate and does not count).
        seed: Seed of the balancer's random choices (for reproducible tests).

    Raises:
        ConfigurationError: an empty list, something other than a hosted scorer, endpoints
            of different protocols or models, an endpoint without ``base_url``, duplicate URLs,
            or a bad option; the message names the fix.

    Example:
        >>> from rerank_plugins import Reranker
        >>> from rerank_plugins.testing.server import RerankServer
        >>> with RerankServer(api_key="k") as a, RerankServer(api_key="k") as b:
        ...     with ReplicaScorer.from_urls("tei", [a.url, b.url], api_key="k") as s:
        ...         r = Reranker(s, top_n=1).rerank("red fox", ["a cat", "the red fox"])
        >>> r.items[0].text, [c["requests"] for c in r.stats.endpoints.values()]
        ('the red fox', [1.0])
    """

    backend: ClassVar[str] = "replicas"
    learns_own_cost: ClassVar[bool] = False

    def __init__(
        self,
        endpoints: Sequence[HostedScorer[Any, Any]],
        *,
        balance: str = "p2c",
        hedging: bool = True,
        hedge_min_ms: float = 5.0,
        eject_after: int = 3,
        probe_interval_s: float = 1.0,
        max_probe_interval_s: float = 30.0,
        max_retries: int = 1,
        seed: int | None = None,
    ) -> None:
        scorers = checked_endpoints(endpoints)
        check_number("ReplicaScorer", "hedge_min_ms", hedge_min_ms, minimum=0.0)
        check_number("ReplicaScorer", "probe_interval_s", probe_interval_s, minimum=1e-3)
        check_number("ReplicaScorer", "max_probe_interval_s", max_probe_interval_s, minimum=0.0)
        if max_probe_interval_s < probe_interval_s:
            raise ConfigurationError(
                f"ReplicaScorer got max_probe_interval_s={max_probe_interval_s!r}; pass a number "
                f">= probe_interval_s ({probe_interval_s:g})."
            )
        check_int("ReplicaScorer", "eject_after", eject_after)
        check_int("ReplicaScorer", "max_retries", max_retries, 0)
        if balance not in _BALANCERS:
            raise ConfigurationError(
                f"ReplicaScorer got balance={balance!r}; pass 'p2c' or 'least_outstanding'."
            )
        check_bool("ReplicaScorer", "hedging", hedging)
        self._endpoints = [Endpoint(url_of(s), s, backoff=float(probe_interval_s)) for s in scorers]
        first = scorers[0]
        self.normalization: Normalization = first.normalization
        self.unit_size = first.unit_size
        self.max_concurrency = sum(s.max_concurrency for s in scorers)
        self.max_retries = max_retries
        self.balance = balance
        self.hedging = hedging
        self._turn = 0
        self.hedge_min_s = float(hedge_min_ms) / 1000.0
        self.eject_after = eject_after
        self.probe_interval_s = float(probe_interval_s)
        self.max_probe_interval_s = float(max_probe_interval_s)
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._runner = LoopThread(scorers)
        self._finalizer = weakref.finalize(self, self._runner.stop)

    @classmethod
    def from_urls(cls, protocol: str, urls: Sequence[str], **options: Any) -> ReplicaScorer:
        """A replica set of ``protocol`` (``"cohere"``, ``"tei"`` or ``"voyage"``) over ``urls``.

        ``options`` are the replica set's own where the constructor takes them (``balance``,
        ``hedging``, ``hedge_min_ms``, ``eject_after``, ``probe_interval_s``,
        ``max_probe_interval_s``, ``max_retries``, ``seed``); the others go to each endpoint's
        scorer (``model``, ``api_key``, ``timeout``...).

        Example:
            >>> ReplicaScorer.from_urls("tei", ["http://10.0.0.1:8080", "http://10.0.0.1:8080/"])
            Traceback (most recent call last):
                ...
            rerank_plugins._exceptions.ConfigurationError: ReplicaScorer got the URL \
'http://10.0.0.1:8080/' twice; list each replica once.
        """
        kind = scorer_class(protocol)
        checked = checked_urls(urls)
        own = {
            name: options[name]
            for name, param in inspect.signature(cls.__init__).parameters.items()
            if param.kind is param.KEYWORD_ONLY and name in options
        }
        for_scorer = {name: value for name, value in options.items() if name not in own}
        return cls([kind(base_url=url, **for_scorer) for url in checked], **own)

    # -- what it is ----------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self._endpoints[0].scorer.model

    @property
    def endpoints(self) -> list[HostedScorer[Any, Any]]:
        """The endpoints' scorers, in the order given."""
        return [e.scorer for e in self._endpoints]

    def __repr__(self) -> str:
        urls = [e.url for e in self._endpoints]
        kind = type(self._endpoints[0].scorer).__name__
        return f"ReplicaScorer({kind}, model={self.model!r}, urls={urls!r})"

    # Copies are the scorer itself (Scorer's __copy__ and __deepcopy__): one replica set, whose
    # clients, health and what it learned every copy shares.
    def __reduce__(self) -> Any:
        raise TypeError(
            "ReplicaScorer is not picklable: it owns live connections and a worker loop; build "
            "it where it runs (ReplicaScorer.from_urls(...))."
        )

    def endpoint_stats(self) -> dict[str, dict[str, Any]]:
        """What each endpoint did since the scorer was built, by URL: ``state`` (``healthy``,
        ``ejected`` or ``probing``), ``requests``, ``errors``, ``timeouts``, ``hedges`` (hedge
        requests it received), ``cancelled`` (requests it lost to a faster answer),
        ``ejections``, ``outstanding``, and its recent ``latency_p50_ms`` / ``latency_p95_ms``
        (``None`` before a few answers)."""
        now = time.monotonic()
        with self._lock:
            return {e.url: e.stats(now) for e in self._endpoints}

    # -- resources -----------------------------------------------------------------------
    def prepare(self) -> None:
        self._runner.run(self._aprepare_all(), None)

    async def aprepare(self) -> None:
        await self._aprepare_all()

    async def _aprepare_all(self) -> None:
        for e in self._endpoints:
            await e.scorer.aprepare()

    def close(self) -> None:
        """Stop the private loop (closing the clients made on it) and close every endpoint's
        sync client; a later call starts afresh."""
        self._runner.stop()
        for e in self._endpoints:
            e.scorer.close()

    async def aclose(self) -> None:
        """Close every endpoint's async client of the running event loop."""
        for e in self._endpoints:
            await e.scorer.aclose()

    async def __aexit__(self, *exc: object) -> None:
        """Close the running loop's async clients, then the sync ones (off the loop)."""
        await self.aclose()
        await asyncio.to_thread(self.close)

    # -- scoring -------------------------------------------------------------------------
    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        deadline = Deadline.after(timeout)
        return self._runner.run(self._ascore(query, texts, deadline), deadline.left())

    async def ascore_unit(
        self, query: str, texts: Sequence[str], *, timeout: float | None
    ) -> UnitScores:
        return await self._ascore(query, texts, Deadline.after(timeout))

    async def _ascore(self, query: str, texts: Sequence[str], deadline: Deadline) -> UnitScores:
        counts: dict[str, dict[str, float]] = {}
        tried: set[str] = set()
        tasks: dict[asyncio.Task[UnitScores], tuple[Endpoint, float]] = {}
        hedged = False
        last: TransientError | None = None

        def start(endpoint: Endpoint, *, hedge: bool) -> None:
            tried.add(endpoint.url)
            task = asyncio.ensure_future(self._attempt(endpoint, query, texts, deadline, counts))
            tasks[task] = (endpoint, time.monotonic())
            if hedge:
                self._note(endpoint, counts, "hedges")

        try:
            start(self._pick(tried, deadline), hedge=False)
            while tasks:
                wait = self._until_hedge(tasks, hedged, tried, deadline)
                done, _ = await asyncio.wait(
                    list(tasks), timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    if deadline.expired():
                        raise TimedOutError(
                            f"ReplicaScorer: no replica answered within the deadline "
                            f"({len(tried)} tried)"
                        )
                    hedged = True  # one hedge per unit at most
                    target = self._pick_other(tried, deadline)
                    if target is not None:
                        start(target, hedge=True)
                    continue
                for task in done:
                    tasks.pop(task)
                    error = task.exception()
                    if error is None:
                        return with_endpoints(task.result(), counts)
                    if not isinstance(error, TransientError):
                        raise error  # configuration errors go to the caller at once
                    last = error
                if not tasks:  # every request in flight failed: fail over, within the deadline
                    target = self._pick_other(tried, deadline)
                    if target is None:
                        break
                    start(target, hedge=False)
            assert last is not None
            raise last
        finally:
            for task in tasks:
                task.cancel()  # the losers: cancelled, not left to run
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _attempt(
        self,
        endpoint: Endpoint,
        query: str,
        texts: Sequence[str],
        deadline: Deadline,
        counts: dict[str, dict[str, float]],
    ) -> UnitScores:
        with self._lock:
            endpoint.outstanding += 1
        self._note(endpoint, counts, "requests")
        started = time.monotonic()
        left = deadline.left()
        try:
            call = endpoint.scorer.ascore_unit(query, texts, timeout=left)
            try:
                out = await (asyncio.wait_for(call, left) if left is not None else call)
            except asyncio.TimeoutError as exc:
                raise TimedOutError(
                    f"ReplicaScorer: {endpoint.url} did not answer within the deadline"
                ) from exc
        except TransientError as exc:
            self._failed(endpoint, counts, exc, time.monotonic() - started)
            raise
        except asyncio.CancelledError:
            self._note(endpoint, counts, "cancelled")
            now = time.monotonic()
            with self._lock:
                endpoint.probing = False  # a probe that lost a hedge proved nothing: probe again
                # It took at least this long: the balancer learns that much (a lower bound, so
                # it stays out of the p95 samples), and the idle clock restarts.
                waited = now - started
                endpoint.ewma = max(endpoint.estimate(started, waited), waited)
                endpoint.last_seen = now
            raise
        finally:
            with self._lock:
                endpoint.outstanding -= 1
        seconds = time.monotonic() - started
        self._succeeded(endpoint, counts, seconds)
        return out if isinstance(out, UnitScores) else UnitScores(list(out))

    # -- health and learning -------------------------------------------------------------
    def _note(
        self, endpoint: Endpoint, counts: dict[str, dict[str, float]], key: str, value: float = 1
    ) -> None:
        with self._lock:
            endpoint.count(key, value)
            mine = counts.setdefault(endpoint.url, {})
            mine[key] = mine.get(key, 0.0) + value

    def _succeeded(
        self, endpoint: Endpoint, counts: dict[str, dict[str, float]], seconds: float
    ) -> None:
        now = time.monotonic()
        self._note(endpoint, counts, "latency_ms", seconds * 1000.0)
        with self._lock:
            endpoint.samples.append((now, seconds))
            # The estimate as it stood when the request left (decayed if it had been idle).
            endpoint.ewma = 0.7 * endpoint.estimate(now - seconds, seconds) + 0.3 * seconds
            endpoint.last_seen = now
            endpoint.failures = 0
            endpoint.ejected_until = None
            endpoint.probing = False
            endpoint.backoff = self.probe_interval_s

    def _failed(
        self,
        endpoint: Endpoint,
        counts: dict[str, dict[str, float]],
        exc: TransientError,
        seconds: float,
    ) -> None:
        timed_out = isinstance(exc, TimedOutError)
        self._note(endpoint, counts, "timeouts" if timed_out else "errors")
        now = time.monotonic()
        with self._lock:
            typical = typical_latency(self._endpoints, 0.95, now)
            probe_failed = endpoint.probing
            endpoint.probing = False
            if timed_out and typical is not None and seconds < 2 * typical:
                return  # the call's budget was short, not the replica slow: not its fault
            endpoint.failures += 1
            if endpoint.ejected_until is not None and not probe_failed:
                return  # already out (a request sent before it was ejected)
            if endpoint.failures < self.eject_after and not probe_failed:
                return
            if probe_failed:
                endpoint.backoff = min(self.max_probe_interval_s, endpoint.backoff * 2)
            endpoint.ejected_until = now + endpoint.backoff
            endpoint.count("ejections")
            mine = counts.setdefault(endpoint.url, {})
            mine["ejections"] = mine.get("ejections", 0.0) + 1

    def _hedge_delay(self, endpoint: Endpoint, now: float) -> float | None:
        with self._lock:
            own = endpoint.quantile(0.95, now)
            typical = typical_latency(self._endpoints, 0.95, now)
        known = [v for v in (own, typical) if v is not None]
        return max(self.hedge_min_s, min(known)) if known else None

    def _until_hedge(
        self,
        tasks: Mapping[asyncio.Task[UnitScores], tuple[Endpoint, float]],
        hedged: bool,
        tried: set[str],
        deadline: Deadline,
    ) -> float | None:
        """How long to wait before hedging (or until the deadline); ``None``: no limit."""
        left = deadline.left()
        if hedged or not self.hedging or len(tasks) != 1 or len(tried) >= len(self._endpoints):
            return left
        endpoint, started = next(iter(tasks.values()))
        now = time.monotonic()
        delay = self._hedge_delay(endpoint, now)
        if delay is None:
            return left
        wait = max(0.0, started + delay - now)
        with self._lock:
            expected = typical_latency(self._endpoints, 0.5, now) or 0.0
        if left is not None and wait + expected >= left:
            return left  # no room for a second try: just wait for this one
        return wait if left is None else min(wait, left)

    def _pick(self, tried: set[str], deadline: Deadline) -> Endpoint:
        chosen = self._pick_other(tried, deadline, force=True)
        assert chosen is not None
        return chosen

    def _pick_other(
        self, tried: set[str], deadline: Deadline, *, force: bool = False
    ) -> Endpoint | None:
        """The endpoint for the next request, among those not yet tried for this unit."""
        now = time.monotonic()
        with self._lock:
            fresh = [e for e in self._endpoints if e.url not in tried]
            if not fresh:
                return None
            if not force:
                left = deadline.left()
                expected = typical_latency(self._endpoints, 0.5, now)
                if left is not None and expected is not None and left <= expected:
                    return None  # no room for another try
            due = [
                e
                for e in fresh
                if e.ejected_until is not None and now >= e.ejected_until and not e.probing
            ]
            if due:
                chosen = min(due, key=lambda e: e.ejected_until or 0.0)
                chosen.probing = True  # this request is its probe
                return chosen
            healthy = [e for e in fresh if e.ejected_until is None]
            if not healthy:  # every one ejected: the first due to be probed, never none
                return min(fresh, key=lambda e: e.ejected_until or 0.0)
            if len(healthy) == 1:
                return healthy[0]
            if self.balance == "least_outstanding":
                fewest = min(e.outstanding for e in healthy)
                ties = [e for e in healthy if e.outstanding == fewest]
                self._turn += 1
                return ties[self._turn % len(ties)]
            ewmas = [e.ewma for e in self._endpoints if e.ewma is not None]
            typical = statistics.median(ewmas) if ewmas else 0.0
            a, b = self._random.sample(healthy, 2)
            return a if a.load(now, typical) <= b.load(now, typical) else b
