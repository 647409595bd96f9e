"""Voyage AI (`/v1/rerank`) through the official `voyageai` SDK, against the local server."""

from __future__ import annotations

from tests.contract.hosted import hosted_case

CASES = [hosted_case("voyage")]
