"""Fixtures that several test modules share."""

from __future__ import annotations

import pytest

from rerank_plugins.testing.server import RerankServer
from tests.contract.hosted import BACKENDS


@pytest.fixture(scope="module")
def server() -> RerankServer:
    """The process-wide local server that speaks every hosted protocol (a module may define a
    ``server`` of its own instead)."""
    return RerankServer.shared()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each hosted backend in turn: ``cohere``, ``voyage``, ``tei``."""
    return request.param  # type: ignore[no-any-return]
