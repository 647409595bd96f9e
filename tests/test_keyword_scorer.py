"""KeywordScorer, the deterministic backend of tests and demos: its knobs are checked."""

from __future__ import annotations

import pytest

from rerank_plugins import ConfigurationError
from rerank_plugins.scorers.keyword import KeywordScorer


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"unit_size": 0}, "KeywordScorer got unit_size=0; pass an integer >= 1."),
        ({"delay_s": -1.0}, "KeywordScorer got delay_s=-1.0; pass a number >= 0."),
        ({"fail_first": True}, "KeywordScorer got fail_first=True; pass an integer >= 0."),
        ({"fail_always": 1}, "KeywordScorer got fail_always=1; pass True or False."),
        ({"config_error": "yes"}, "KeywordScorer got config_error='yes'; pass True or False."),
        ({"max_retries": -1}, "KeywordScorer got max_retries=-1; pass an integer >= 0."),
    ],
)
def test_a_bad_knob_is_refused_with_its_name(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        KeywordScorer(**options)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_good_knobs_are_kept() -> None:
    scorer = KeywordScorer(unit_size=2, delay_s=0, fail_first=1, fail_always=False, max_retries=0)
    assert (scorer.unit_size, scorer.delay_s, scorer.fail_first, scorer.max_retries) == (2, 0, 1, 0)
