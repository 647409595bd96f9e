"""The LLM judge's reply parsers: messy, hostile and random replies (pure functions, no LLM)."""

from __future__ import annotations

import math
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rerank_plugins.scorers.llm.parsing import (
    UnparseableReply,
    clean_reply,
    complete_permutation,
    extract_ids,
    parse_grades,
    parse_permutation,
    yes_probability,
)

# --- clean_reply -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("<think>[9] looks best</think>[2] > [1]", "[2] > [1]"),
        ("<THINKING>\nhmm [3]\n</THINKING>\n[1]", "[1]"),
        ("<reasoning>a</reasoning>x<think>b</think>y", "x y"),
        ("the template opened it... [7]</think>[1] > [2]", "[1] > [2]"),  # lone closing tag
        ("[2] > [1] <think>still thinking about [3]", "[2] > [1]"),  # unclosed: truncated
        ('```json\n{"1": 2}\n```', '{"1": 2}'),
        ("~~~\n[1]\n~~~", "[1]"),
        ("[\uff13] > [\uff11]", "[3] > [1]"),  # fullwidth digits
        ("\uff3b3\uff3d", "[3]"),  # fullwidth brackets
        ("[\u0663] > [\u0661]", "[3] > [1]"),  # Arabic-Indic digits
        ("[\u0968]", "[2]"),  # Devanagari
        ("[l] > [I] > [1O] > [l2]", "[1] > [1] > [10] > [12]"),
        ("[O]", "[0]"),
    ],
)
def test_clean_reply(reply: str, expected: str) -> None:
    assert clean_reply(reply) == expected


def test_clean_reply_leaves_words_alone() -> None:
    # Letter lookalikes are mapped only inside numbers and bracketed ids, never in words.
    assert clean_reply("I looked at all Ol passages; O2 and CO2") == (
        "I looked at all Ol passages; 02 and CO2"
    )


@given(st.characters(categories=["Nd"]))
def test_every_unicode_decimal_digit_becomes_ascii(digit: str) -> None:
    assert clean_reply(f"[{digit}]") == f"[{unicodedata.decimal(digit)}]"


# --- listwise ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "count", "expected"),
    [
        ("[2] > [3] > [1]", 3, [1, 2, 0]),
        ("Sure! Based on the 3 passages, here is the ranking:\n\n[3] > [1] > [2]", 3, [2, 0, 1]),
        ("```\n[2] > [1] > [3]\n```\nHope this helps.", 3, [1, 0, 2]),
        ("<think>[3] mentions cats but [1]...</think>\n[1] > [2] > [3]", 3, [0, 1, 2]),
        ("[2] > [2] > [1] > [2]", 3, [1, 0, 2]),  # duplicates: first mention wins
        ("[4] > [0] > [99] > [2]", 3, [1, 0, 2]),  # out of range dropped, missing appended
        ("[3]", 4, [2, 0, 1, 3]),  # missing appended in prior order
        ("2 > 3 > 1", 3, [1, 2, 0]),
        ("Passage 3 > Passage 1 > Passage 2", 3, [2, 0, 1]),
        ("3, 1, 2", 3, [2, 0, 1]),
        ("2\n1\n3", 3, [1, 0, 2]),
        ("The 20 passages ranked: 3 > 1", 3, [2, 0, 1]),  # "20" in prose is not an id
        ("[\uff12] > [\u0663] > [l]", 3, [1, 2, 0]),
        ("3", 3, [2, 0, 1]),
        ("**[2]** > **[1]**", 2, [1, 0]),
    ],
)
def test_parse_permutation(reply: str, count: int, expected: list[int]) -> None:
    assert parse_permutation(reply, count) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I cannot rank these passages.",
        "[7] > [8]",  # every id out of range
        "<think>[1] > [2]</think>",  # the only ids were reasoning
        "The most relevant is the second one.",
        "In 2023 there were 3 studies.",  # numbers in prose are not a ranking
    ],
)
def test_parse_permutation_unusable(reply: str) -> None:
    with pytest.raises(UnparseableReply, match="no passage id between 1 and 3"):
        parse_permutation(reply, 3)


def test_extract_ids_prefers_brackets_over_prose_numbers() -> None:
    assert extract_ids("Of the 10 passages, [4] is best, then [2].") == [4, 2]


@given(st.permutations(list(range(1, 13))), st.sampled_from([" > ", ">", " >> ", ", ", " -> "]))
def test_any_rendered_permutation_round_trips(perm: list[int], sep: str) -> None:
    bracketed = sep.join(f"[{i}]" for i in perm)
    bare = sep.join(str(i) for i in perm)
    expected = [i - 1 for i in perm]
    assert parse_permutation(f"Ranking:\n```\n{bracketed}\n```", 12) == expected
    assert parse_permutation(f"<think>[1] first?</think>{bare}", 12) == expected


@given(st.text(max_size=200), st.integers(min_value=1, max_value=30))
@settings(max_examples=300)
def test_parse_permutation_returns_a_permutation_or_raises(reply: str, count: int) -> None:
    try:
        order = parse_permutation(reply, count)
    except UnparseableReply:
        return
    assert sorted(order) == list(range(count))


@given(st.lists(st.integers(min_value=-3, max_value=25), max_size=40), st.integers(0, 20))
def test_complete_permutation_keeps_every_candidate_once(ids: list[int], count: int) -> None:
    order = complete_permutation(ids, count)
    assert sorted(order) == list(range(count))
    mentioned = list(dict.fromkeys(i - 1 for i in ids if 1 <= i <= count))
    assert order[: len(mentioned)] == mentioned  # mentioned ids first, in mention order
    rest = order[len(mentioned) :]
    assert rest == sorted(rest)  # missing ids in their prior order


# --- pointwise ---------------------------------------------------------------------------------

IDS = {1, 2, 3}


def grades(reply: str, ids: set[int] = IDS) -> dict[int, float]:
    return parse_grades(reply, ids, min_grade=0, max_grade=3)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("[1] 3\n[2] 0\n[3] 1", {1: 3.0, 2: 0.0, 3: 1.0}),
        ("[3] 1\n[1] 3\n[2] 0", {1: 3.0, 2: 0.0, 3: 1.0}),  # by id, never by line position
        ("[1] 3 [2] 0 [3] 2", {1: 3.0, 2: 0.0, 3: 2.0}),  # one line
        ("Here are the grades:\n[1]: 2\n[2] - 1\n\nLet me know!", {1: 2.0, 2: 1.0}),
        ("[1] grade: 2/3\n[2] Score = 3", {1: 2.0, 2: 3.0}),
        ("**[2]** 3\n- [1] 0", {2: 3.0, 1: 0.0}),
        ("1: 3\n2: 0", {1: 3.0, 2: 0.0}),
        ("Passage 2: 3\nPassage 1 - 1", {2: 3.0, 1: 1.0}),
        ("id 3 is about cats, so its grade is 2", {3: 2.0}),
        ('{"1": 3, "2": 0, "3": "2"}', {1: 3.0, 2: 0.0, 3: 2.0}),
        ('```json\n{"[2]": 1, "passage 3": {"grade": 3}}\n```', {2: 1.0, 3: 3.0}),
        ('[{"id": 2, "grade": 3}, {"ID": "1", "Score": 1}]', {2: 3.0, 1: 1.0}),
        ("[[1, 2], [3, 0]]", {1: 2.0, 3: 0.0}),
        ("[1] 2.5", {1: 2.5}),
        ("<think>[1] 0? no...</think>[1] 3", {1: 3.0}),
        ("[\uff11] \uff13\n[\u0662] \u0660", {1: 3.0, 2: 0.0}),  # lookalike digits
        ("[l] 3\n[2] O", {1: 3.0}),  # "[l]" is id 1; a lone "O" is not a grade
        ("[1] 3\n[1] 0", {1: 3.0}),  # duplicates: the first wins
        ("[1] 7\n[2] -1\n[3] 2", {3: 2.0}),  # outside the scale: ungraded
        ("[9] 3\n[2] 1", {2: 1.0}),  # unknown id dropped
    ],
)
def test_parse_grades(reply: str, expected: dict[int, float]) -> None:
    assert grades(reply) == expected


@pytest.mark.parametrize(
    "reply",
    ["", "All passages look relevant.", "[1] 9\n[2] 12", "[7] 2", '{"1": "high"}', "[1] [2] [3]"],
)
def test_parse_grades_unusable(reply: str) -> None:
    with pytest.raises(UnparseableReply, match=r"no grade between 0 and 3 for ids \[1, 2, 3\]"):
        grades(reply)


@given(
    st.dictionaries(st.integers(1, 20), st.integers(0, 3), min_size=1, max_size=20),
    st.randoms(use_true_random=False),
    st.sampled_from(["[{i}] {g}", "[{i}]: {g}", "{i}: {g}", "Passage {i} - {g}"]),
)
def test_grades_follow_ids_whatever_the_line_order(
    truth: dict[int, int], rnd: object, line: str
) -> None:
    items = list(truth.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    reply = "\n".join(line.format(i=i, g=g) for i, g in items)
    assert grades(reply, set(truth)) == {i: float(g) for i, g in truth.items()}


@given(st.text(max_size=200))
@settings(max_examples=300)
def test_grades_are_on_the_scale_and_for_known_ids_or_raise(reply: str) -> None:
    try:
        found = grades(reply)
    except UnparseableReply:
        return
    assert found and set(found) <= IDS
    assert all(0.0 <= g <= 3.0 for g in found.values())


# --- yes probability ---------------------------------------------------------------------------


def test_yes_probability_from_both_alternatives() -> None:
    p = yes_probability([[(" Yes", math.log(0.6)), (" No", math.log(0.2)), ("Maybe", -3.0)]])
    assert p == pytest.approx(0.75)


def test_yes_probability_skips_whitespace_and_markdown_tokens() -> None:
    positions = [
        [("\n", -0.01)],
        [("**", -0.1)],
        [("▁no", math.log(0.9)), ("▁yes", math.log(0.05))],
    ]
    assert yes_probability(positions) == pytest.approx(0.05 / 0.95)


def test_yes_probability_with_one_side_only() -> None:
    assert yes_probability([[("yes", math.log(0.8))]]) == pytest.approx(0.8)
    assert yes_probability([[("No", math.log(0.8))]]) == pytest.approx(0.2)
    assert yes_probability([[("ĠTrue", math.log(0.5)), ("Ġfalse", math.log(0.5))]]) == 0.5


def test_yes_probability_unusable() -> None:
    with pytest.raises(UnparseableReply, match="no yes/no token"):
        yes_probability([[("The", -0.1), ("This", -2.0)], [("yes", -0.1)]])
    with pytest.raises(UnparseableReply):
        yes_probability([])


@given(st.floats(-20, 0), st.floats(-20, 0))
def test_yes_probability_is_a_probability_and_grows_with_yes(yes: float, no: float) -> None:
    p = yes_probability([[("yes", yes), ("no", no)]])
    assert 0.0 <= p <= 1.0
    # Monotone up to float rounding (near p = 1 the two values can differ in the last bit).
    assert yes_probability([[("yes", min(0.0, yes + 1.0)), ("no", no)]]) >= p - 1e-12
