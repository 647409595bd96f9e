"""Cohere Rerank (``POST /v2/rerank``) through the official ``cohere`` SDK.

The same scorer serves self-hosted engines that speak Cohere's protocol (vLLM's ``/v2/rerank``,
for instance): point ``base_url`` at them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rerank_plugins._calibration import CalibrationLike
from rerank_plugins._checks import check_int
from rerank_plugins._exceptions import (
    MalformedResponseError,
    RerankError,
)
from rerank_plugins._optional import require
from rerank_plugins._scorer import UnitScores
from rerank_plugins.scorers.hosted._boundary import scores_by_index
from rerank_plugins.scorers.hosted._http import HostedScorer

__all__ = ["CohereScorer"]


class CohereScorer(HostedScorer[Any, Any]):
    """Scores with Cohere's Rerank API: the score is the API's ``relevance_score``.

    The SDK's own retries are off: the core retries 429 (honouring ``Retry-After``), 5xx,
    timeouts and connection errors inside the call's budget, and each request's timeout is the
    time left. Requests above 1,000 texts are split into concurrent requests (``unit_size``,
    ``max_concurrency``); billed search units are summed into the stats.

    Args:
        model: The rerank model, e.g. ``"rerank-v3.5"``; any name the endpoint knows.
        api_key: The key; default: the ``CO_API_KEY`` or ``COHERE_API_KEY`` environment variable.
            A self-hosted engine without auth takes any non-empty string.
        base_url: Another endpoint speaking Cohere's protocol (``/v2/rerank`` under it), e.g.
            ``"http://vllm-host:8000"``; ``None`` for Cohere's API.
        max_tokens_per_doc: Truncate each text to this many tokens (Cohere's default: 4,096).
        timeout, max_retries, max_concurrency, calibration: As for every
            :class:`~rerank_plugins.scorers.hosted.HostedScorer`.
        unit_size: Texts per request (Cohere recommends at most 1,000).

    Example (the package's test server speaks Cohere's protocol; so do vLLM and Infinity):
        >>> from rerank_plugins import Reranker
        >>> from rerank_plugins.testing.server import RerankServer
        >>> with RerankServer() as server:
        ...     scorer = CohereScorer(api_key=server.api_key, base_url=server.url)
        ...     result = Reranker(scorer, top_n=1).rerank("red fox", ["a cat", "the red fox"])
        >>> result.items[0].text, result.stats.billed  # the billed units, summed per call
        ('the red fox', {'search_units': 1.0})
    """

    backend: ClassVar[str] = "cohere"
    env_vars: ClassVar[tuple[str, ...]] = ("CO_API_KEY", "COHERE_API_KEY")

    def __init__(
        self,
        model: str = "rerank-v3.5",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens_per_doc: int | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_concurrency: int = 4,
        unit_size: int = 1000,
        calibration: CalibrationLike = None,
    ) -> None:
        super().__init__(locals())
        self.max_tokens_per_doc = check_int(
            "CohereScorer", "max_tokens_per_doc", max_tokens_per_doc, allow_none=True
        )
        self.calibration = calibration  # once what the scores mean is known

    def _client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "api_key": self._secret.get() if self._secret is not None else None,
            "timeout": self.timeout,
            "client_name": "rerank-plugins",
        }
        if self.base_url is not None:
            options["base_url"] = self.base_url
        return options

    def _new_client(self) -> Any:
        cohere = require("cohere", extra="cohere", who="CohereScorer")
        return cohere.ClientV2(**self._client_options())

    def _new_async_client(self) -> Any:
        cohere = require("cohere", extra="cohere", who="CohereScorer")
        return cohere.AsyncClientV2(**self._client_options())

    def _arguments(self, query: str, texts: Sequence[str], timeout: float) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": self.model,
            "query": query,
            "documents": list(texts),
            # max_retries=0: the core's retry loop is the only one. "timeout" is the SDK 7 name,
            # "timeout_in_seconds" the SDK 5 one (an alias in 7): both, so either SDK obeys.
            "request_options": {
                "max_retries": 0,
                "timeout": timeout,
                "timeout_in_seconds": timeout,
            },
        }
        if self.max_tokens_per_doc is not None:
            args["max_tokens_per_doc"] = self.max_tokens_per_doc
        return args

    def _request(self, client: Any, query: str, texts: Sequence[str], timeout: float) -> UnitScores:
        return self._scores(client.rerank(**self._arguments(query, texts, timeout)), len(texts))

    async def _arequest(
        self, client: Any, query: str, texts: Sequence[str], timeout: float
    ) -> UnitScores:
        response = await client.rerank(**self._arguments(query, texts, timeout))
        return self._scores(response, len(texts))

    def _scores(self, response: Any, n: int) -> UnitScores:
        results = getattr(response, "results", None)
        if not isinstance(results, list):
            raise MalformedResponseError(
                f"CohereScorer: malformed rerank response: no 'results' list ({results!r:.80})",
            )
        pairs = [(getattr(r, "index", None), getattr(r, "relevance_score", None)) for r in results]
        scores = scores_by_index("CohereScorer", pairs, n)
        meta = getattr(response, "meta", None)
        units = getattr(getattr(meta, "billed_units", None), "search_units", None)
        billed = {"search_units": float(units)} if isinstance(units, (int, float)) else {}
        return UnitScores(scores, billed)

    def _translate(self, exc: Exception) -> RerankError | None:
        core = require("cohere.core", extra="cohere", who="CohereScorer")
        if isinstance(exc, core.ParsingError):
            return MalformedResponseError(
                f"CohereScorer: malformed rerank response (HTTP {exc.status_code}): the body "
                f"does not match Cohere's schema",
            )
        if isinstance(exc, core.ApiError):
            status = exc.status_code or 0
            if 200 <= status < 300:
                return MalformedResponseError(
                    f"CohereScorer: malformed rerank response (HTTP {status}): the body is "
                    f"not valid JSON",
                )
            return self.status_error(status, exc.body, exc.headers)
        return None
