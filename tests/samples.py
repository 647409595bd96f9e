"""A claim and passages, one of which answers it, shared by the tests and integration tests that
need a few short, real-looking texts (the fallback chain, the Infinity servers)."""

from __future__ import annotations

QUERY = "Aspirin lowers the risk of stroke."
TEXTS = [
    "The stock market fell sharply on Tuesday.",
    "Low-dose aspirin reduced the rate of ischemic stroke in a randomized trial.",
    "Cats are carnivores.",
    "Aspirin is an anti-inflammatory drug.",
    "Stroke risk rises with age.",
    "A new bridge opened downtown.",
]
