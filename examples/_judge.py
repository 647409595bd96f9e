"""Shared by the LLM-judge examples: one query, its retrieved passages, and a scripted judge."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")

QUERY = "What do cats eat?"
# Retrieved candidates, in retrieval order; "a" is the one that answers the question.
PASSAGES = {
    "d": "Dogs are omnivores and eat both meat and plant foods.",
    "s": "Cats sleep between 12 and 16 hours a day.",
    "m": "The stock market fell sharply on Tuesday.",
    "a": "Cats are carnivores: they eat meat such as mice, birds and fish.",
    "p": "Persian cats have long fur and need daily grooming.",
}
ANSWER = "a"


def mark(doc_id: str) -> str:
    return "✓" if doc_id == ANSWER else "·"


def lexical_judge(prompt: str) -> str:
    """A scripted stand-in for an LLM: ranks or grades passages by the query words they contain."""
    query = set(_WORD.findall(re.findall(r"<query>\n(.*?)\n</query>", prompt, re.S)[-1].lower()))
    found = re.findall(r'<passage id="(\d+)">\n(.*?)\n</passage>', prompt, re.S)
    share = {
        pid: len(query & set(_WORD.findall(t.lower()))) / max(len(query), 1) for pid, t in found
    }
    if "most relevant first" in prompt or "Ranking:" in prompt:
        return " > ".join(f"[{pid}]" for pid in sorted(share, key=lambda p: -share[p]))
    return "\n".join(f"[{pid}] {round(3 * s)}" for pid, s in share.items())
