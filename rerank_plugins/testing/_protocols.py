"""The wire protocols of :class:`~rerank_plugins.testing.server.RerankServer`: what each
provider's request must hold, the answer it gets, and the faults the server can inject."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rerank_plugins.testing.server import RerankServer

__all__ = ["FAULTS", "Reject", "Script", "ServedRequest", "answer", "lexical_relevance"]

FAULTS = (
    "http_429",
    "http_429_no_retry_after",
    "http_500",
    "http_503",
    "slow",
    "drop",
    "drop_mid_body",
    "slow_body",
    "malformed_json",
    "index_out_of_range",
    "index_missing",
    "short_results",
    "http_400",
    "http_400_echo_key",
)
"""The faults the server injects on request."""

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def lexical_relevance(query: str, text: str) -> float:
    """The server's deterministic relevance of ``text`` to ``query``, in ``[0, 1]``.

    Example:
        >>> lexical_relevance("red fox", "the red fox")
        0.9333333333333333
        >>> lexical_relevance("red fox", "a cat")
        0.0
    """
    wanted = set(_words(query))
    words = _words(text)
    if not wanted or not words:
        return 0.0
    found = wanted & set(words)
    coverage = len(found) / len(wanted)
    density = sum(1 for w in words if w in wanted) / len(words)
    return 0.8 * coverage + 0.2 * density


@dataclass(frozen=True)
class ServedRequest:
    """One request the server answered (or dropped), for tests to inspect."""

    route: str
    provider: str
    key: str | None
    documents: int
    fault: str | None
    status: int


@dataclass
class Script:
    fault: str
    remaining: int | None  # None: always
    retry_after: float
    delay_s: float


class Reject(Exception):
    """A request the provider would refuse, with its status and message."""

    def __init__(self, status: int, message: str, error_type: str = "validation") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


def _optional(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) and kind is int:
        raise Reject(400, f"invalid request: {name} must be an integer")
    if not isinstance(value, kind):
        raise Reject(400, f"invalid request: {name} has the wrong type ({type(value).__name__})")
    return value


def _required_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise Reject(400, f"invalid request: {name} is required and must be a string")
    return value


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise Reject(400, f"invalid request: {name} must be a positive integer, got {value}")
    return value


def _document_list(
    body: dict[str, Any], name: str, limit: int, *, objects: bool = False
) -> list[str]:
    docs = body.get(name)
    if not isinstance(docs, list) or not docs:
        raise Reject(400, f"invalid request: {name} must be a non-empty list")
    if len(docs) > limit:
        raise Reject(
            400,
            f"invalid request: {name} has {len(docs)} entries; at most {limit} are allowed per "
            f"request",
        )
    out = []
    for i, doc in enumerate(docs):
        if objects and isinstance(doc, dict) and isinstance(doc.get("text"), str):
            doc = doc["text"]
        if not isinstance(doc, str):
            raise Reject(400, f"invalid request: {name}[{i}] must be a string")
        out.append(doc)
    return out


def _ranked(query: str, docs: Sequence[str], keep: int | None) -> list[tuple[int, float]]:
    scored = [(i, lexical_relevance(query, d)) for i, d in enumerate(docs)]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[: keep or len(scored)]


def _truncate_tokens(text: str, limit: int | None) -> str:
    if limit is None:
        return text
    tokens = _TOKEN.findall(text)
    return text if len(tokens) <= limit else " ".join(tokens[:limit])


def _cohere(version: int, body: dict[str, Any], server: RerankServer) -> tuple[Any, int]:
    if version == 2:
        _required_str(body, "model")  # v1 falls back to a default model
    query = _required_str(body, "query")
    if not query.strip():
        raise Reject(400, "invalid request: query must not be empty")
    docs = _document_list(body, "documents", server.max_documents, objects=version == 1)
    top_n = _positive("top_n", _optional(body, "top_n", int))
    max_tokens = _positive("max_tokens_per_doc", _optional(body, "max_tokens_per_doc", int))
    _optional(body, "return_documents", bool)
    scored_docs = [_truncate_tokens(d, max_tokens) for d in docs]
    results: list[dict[str, Any]] = [
        {"index": i, "relevance_score": s} for i, s in _ranked(query, scored_docs, top_n)
    ]
    if version == 1 and body.get("return_documents"):
        for item in results:
            item["document"] = {"text": docs[item["index"]]}
    search_units = math.ceil(len(docs) / 100)  # one query with up to 100 documents
    meta = {
        "api_version": {"version": str(version)},
        "billed_units": {"search_units": search_units},
    }
    return {"id": str(uuid.uuid4()), "results": results, "meta": meta}, len(docs)


def _voyage(body: dict[str, Any], server: RerankServer) -> tuple[Any, int]:
    query = _required_str(body, "query")
    model = _required_str(body, "model")
    docs = _document_list(body, "documents", server.max_documents)
    top_k = _positive("top_k", _optional(body, "top_k", int))
    truncation = _optional(body, "truncation", bool)
    return_documents = _optional(body, "return_documents", bool)
    if truncation is False:
        for i, doc in enumerate(docs):
            if _tokens(query) + _tokens(doc) > 32_000:
                raise Reject(400, f"Request to model '{model}' failed. Document {i} is too long.")
    data: list[dict[str, Any]] = [
        {"relevance_score": s, "index": i} for i, s in _ranked(query, docs, top_k)
    ]
    if return_documents:
        for item in data:
            item["document"] = docs[item["index"]]
    # Voyage counts query tokens once per document, plus the documents' tokens.
    total = _tokens(query) * len(docs) + sum(_tokens(d) for d in docs)
    return {"object": "list", "data": data, "model": model, "usage": {"total_tokens": total}}, len(
        docs
    )


def _tei(body: dict[str, Any], server: RerankServer) -> tuple[Any, int]:
    query = body.get("query")
    texts = body.get("texts")
    if (
        not isinstance(query, str)
        or not isinstance(texts, list)
        or not all(isinstance(t, str) for t in texts)
    ):
        raise Reject(
            422,
            "Failed to deserialize the JSON body into the target type: `query` must be a string "
            "and `texts` a list of strings",
        )
    if not texts:
        raise Reject(400, "`texts` cannot be empty", "empty")
    if len(texts) > server.max_client_batch_size:
        raise Reject(
            413,
            f"batch size {len(texts)} > maximum allowed batch size {server.max_client_batch_size}",
        )
    truncate = bool(body.get("truncate") or False)
    raw = bool(body.get("raw_scores") or False)
    if not truncate:
        for text in texts:
            size = _tokens(query) + _tokens(text)
            if size > server.max_input_tokens:
                raise Reject(
                    413,
                    f"`inputs` must have less than {server.max_input_tokens} tokens. Given: {size}",
                )
    out: list[dict[str, Any]] = []
    for i, relevance in _ranked(query, texts, None):
        logit = 8.0 * relevance - 4.0
        item: dict[str, Any] = {"index": i, "score": logit if raw else 1 / (1 + math.exp(-logit))}
        if body.get("return_text"):
            item["text"] = texts[i]
        out.append(item)
    return out, len(texts)


def is_voyage(body: dict[str, Any]) -> bool:
    """Whether a ``/v1/rerank`` body is Voyage's (Cohere's v1 route is the same path)."""
    model = body.get("model")
    return (
        "top_k" in body
        or "truncation" in body
        or (
            isinstance(model, str)
            and re.fullmatch(r"rerank-(lite-)?\d(\.\d)?(-lite)?", model) is not None
        )
    )


def error_body(provider: str, message: str, error_type: str) -> Any:
    """The provider's error body for ``message``."""
    if provider == "voyage":
        return {"detail": message}
    if provider == "tei":
        return {"error": message, "error_type": error_type}
    return {"message": message}


def corrupt(payload: Any, provider: str, fault: str) -> Any:
    """The response with its results list broken the way ``fault`` says."""
    items = payload if provider == "tei" else payload["data" if provider == "voyage" else "results"]
    if fault == "index_out_of_range" and items:
        items[0]["index"] = len(items) + 7
    elif fault == "index_missing" and items:
        del items[0]["index"]
    elif fault == "short_results" and items:
        items.pop()
    return payload


def answer(provider: str, route: str, body: object, server: RerankServer) -> tuple[Any, int]:
    """The provider's answer to ``body`` and the number of texts in it; :class:`Reject` if the
    provider would refuse the request."""
    if not isinstance(body, dict):
        raise Reject(
            422 if provider == "tei" else 400,
            "invalid request: the body must be a JSON object",
        )
    if provider == "tei":
        return _tei(body, server)
    if provider == "voyage":
        return _voyage(body, server)
    return _cohere(2 if route == "/v2/rerank" else 1, body, server)
