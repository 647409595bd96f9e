"""Hugging Face Text Embeddings Inference (TEI) ``POST /rerank``, over ``httpx``.

TEI is the standard engine for serving a cross-encoder to many machines: the same MiniLM (or
any sequence-classification model) that :class:`~rerank_plugins.CrossEncoderScorer` loads in
process, behind an HTTP endpoint with dynamic batching.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rerank_plugins._calibration import CalibrationLike
from rerank_plugins._checks import check_bool
from rerank_plugins._exceptions import (
    MalformedResponseError,
    RerankError,
)
from rerank_plugins._optional import require
from rerank_plugins._scorer import Normalization, UnitScores
from rerank_plugins.scorers.hosted._boundary import scores_by_index
from rerank_plugins.scorers.hosted._http import HostedScorer

__all__ = ["TEIScorer"]


class TEIScorer(HostedScorer[Any, Any]):
    """Scores with a TEI server's ``/rerank`` route.

    Scores: with ``raw_scores=True`` (the default) TEI returns the model's logits, which the core
    maps through a sigmoid, exactly as :class:`~rerank_plugins.CrossEncoderScorer` does in
    process (same model → same scores, and ``raw_score`` keeps the logit); with
    ``raw_scores=False`` TEI applies the activation itself and its ``[0, 1]`` score is used as
    given.

    Args:
        model: A name for stats and metadata (TEI serves one model; it is not sent).
        base_url: The TEI server, e.g. ``"http://tei-host:8080"`` (``/rerank`` under it).
        api_key: The key of a server started with ``--api-key`` (sent as a bearer token);
            default: the ``TEI_API_KEY`` environment variable; none if neither is set.
        truncate: Let TEI truncate texts longer than the model's maximum (``False``: TEI
            rejects them with HTTP 413/422).
        raw_scores: Ask TEI for logits (``True``) or activated scores (``False``).
        timeout, max_retries, max_concurrency, calibration: As for every
            :class:`~rerank_plugins.scorers.hosted.HostedScorer`.
        unit_size: Texts per request; at most the server's ``--max-client-batch-size``
            (TEI's default: 32).

    Example (``raw_score`` keeps TEI's logit; ``score`` is its sigmoid):
        >>> from rerank_plugins import Reranker
        >>> from rerank_plugins.testing import server as test_server
        >>> with test_server.RerankServer() as tei:
        ...     best = Reranker(TEIScorer(base_url=tei.url, api_key=tei.api_key)).rerank(
        ...         "red fox", ["a cat", "the red fox"]
        ...     ).items[0]
        >>> best.text, round(best.raw_score, 2), round(best.score, 2)
        ('the red fox', 3.47, 0.97)
    """

    backend: ClassVar[str] = "tei"
    env_vars: ClassVar[tuple[str, ...]] = ("TEI_API_KEY",)
    key_required: ClassVar[bool] = False

    def __init__(
        self,
        model: str = "tei",
        *,
        base_url: str = "http://127.0.0.1:8080",
        api_key: str | None = None,
        truncate: bool = True,
        raw_scores: bool = True,
        timeout: float = 30.0,
        max_retries: int = 2,
        max_concurrency: int = 4,
        unit_size: int = 32,
        calibration: CalibrationLike = None,
    ) -> None:
        super().__init__(locals())
        self.truncate = check_bool("TEIScorer", "truncate", truncate)
        self.raw_scores = check_bool("TEIScorer", "raw_scores", raw_scores)
        # What the scores mean follows from what the server is asked for (see the class doc).
        vars(self)["normalization"] = (
            Normalization.SIGMOID if raw_scores else Normalization.IDENTITY
        )
        self.calibration = calibration  # once what the scores mean is known

    @property
    def key_hint(self) -> str:
        return "pass api_key=... (the server's --api-key) or set TEI_API_KEY"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "rerank-plugins"}
        if self._secret is not None:
            headers["Authorization"] = f"Bearer {self._secret.get()}"
        return headers

    def _new_client(self) -> Any:
        httpx = require("httpx", extra="tei", who="TEIScorer")
        return httpx.Client(base_url=self.base_url or "", headers=self._headers())

    def _new_async_client(self) -> Any:
        httpx = require("httpx", extra="tei", who="TEIScorer")
        return httpx.AsyncClient(base_url=self.base_url or "", headers=self._headers())

    def _body(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        return {
            "query": query,
            "texts": list(texts),
            "raw_scores": self.raw_scores,
            "truncate": self.truncate,
            "return_text": False,
        }

    def _request(self, client: Any, query: str, texts: Sequence[str], timeout: float) -> UnitScores:
        response = client.post("/rerank", json=self._body(query, texts), timeout=timeout)
        return self._scores(response, len(texts))

    async def _arequest(
        self, client: Any, query: str, texts: Sequence[str], timeout: float
    ) -> UnitScores:
        response = await client.post("/rerank", json=self._body(query, texts), timeout=timeout)
        return self._scores(response, len(texts))

    def _scores(self, response: Any, n: int) -> UnitScores:
        try:
            body = response.json()
        except ValueError:
            body = None
            if response.is_success:
                raise MalformedResponseError(
                    f"TEIScorer: malformed rerank response (HTTP {response.status_code}): the "
                    f"body is not valid JSON",
                ) from None
        if not response.is_success:
            raise self.status_error(
                response.status_code, body if body is not None else response.text, response.headers
            )
        if not isinstance(body, list):
            raise MalformedResponseError(
                f"TEIScorer: malformed rerank response: expected a list of {{index, score}}, "
                f"got {type(body).__name__}",
            )
        pairs = [
            (item.get("index"), item.get("score")) if isinstance(item, dict) else (None, None)
            for item in body
        ]
        return UnitScores(scores_by_index("TEIScorer", pairs, n))

    def _translate(self, exc: Exception) -> RerankError | None:
        return None  # httpx's own timeouts and connection errors: see transport_error in _boundary
