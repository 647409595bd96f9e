"""Text Embeddings Inference (`/rerank`) over `httpx`, against the local server."""

from __future__ import annotations

from tests.contract.hosted import hosted_case

CASES = [hosted_case("tei")]
