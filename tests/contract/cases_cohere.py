"""Cohere Rerank (`/v2/rerank`) through the official `cohere` SDK, against the local server."""

from __future__ import annotations

from tests.contract.hosted import hosted_case

CASES = [hosted_case("cohere")]
