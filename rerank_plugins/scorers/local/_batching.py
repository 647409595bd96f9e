"""Turning ``(query, text)`` pairs into padded model inputs with little waste.

Three pieces, shared by every runtime of :class:`~rerank_plugins.CrossEncoderScorer`:

- :class:`PairEncoder` tokenizes pairs under one truncation policy: **keep the query and the head
  of the passage**. The query is kept whole unless it would take more than half of the room; the
  passage is cut at its end. A long passage is tokenized only as far as needed.
- :func:`plan_batches` groups pairs by length (length bucketing) into forward passes bounded by a
  token budget (padded tokens, ``pairs x longest pair``), splitting the sorted pairs where a pass
  saves more padding than it costs, so padding stays small and a pass never grows past what the
  CPU's caches and memory handle well.
- :func:`pad` builds the arrays of one forward pass.

:meth:`PairEncoder.encode_windows` is the other policy, for passages longer than the room left
after the query: the passage is cut into overlapping windows of that room, each paired with the
whole query, so a relevant sentence past the cut is still read (the caller keeps the best
window's score). A passage that fits gives exactly the one pair :meth:`PairEncoder.encode` gives.

The tokenizer is a private copy of the model's fast (Rust) tokenizer with truncation and padding
switched off and never changed afterwards, so threads can share it (the fast tokenizer fails with
"Already borrowed" when its settings change while another thread encodes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rerank_plugins._checks import check_int
from rerank_plugins._exceptions import ConfigurationError

__all__ = [
    "CHARS_PER_TOKEN_BOUND",
    "PASS_TOKENS",
    "EncodedPair",
    "PairEncoder",
    "input_names",
    "pad",
    "plan_batches",
]

# A token is rarely longer than this many characters; a passage is cut to room x this before
# tokenizing (and tokenized whole when the cut turns out too short), so a huge text costs little.
CHARS_PER_TOKEN_BOUND = 12
# What a WordPiece or SentencePiece token of English prose averages: the budget's estimate of a
# text's tokens before it is tokenized (the forward passes then learn from the exact counts).
_CHARS_PER_TOKEN = 4
# What one more forward pass costs beyond its tokens (the framework's per-pass work, and the
# cores' lower efficiency on a small pass), in tokens: the length bucketing's price of a pass.
PASS_TOKENS = 256


@dataclass(frozen=True)
class EncodedPair:
    """One tokenized pair: token ids and segment ids (special tokens included)."""

    input_ids: list[int]
    token_type_ids: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


class PairEncoder:
    """Tokenizes ``(query, text)`` pairs to at most ``max_length`` tokens.

    Args:
        tokenizer: The model's Hugging Face tokenizer (a fast one, with a ``backend_tokenizer``).
        max_length: Tokens per pair, special tokens included.
    """

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None or backend.post_processor is None:
            raise ConfigurationError(
                f"CrossEncoderScorer needs the model's fast (Rust) tokenizer with a pair "
                f"template; {type(tokenizer).__name__} has none. Save the model with its "
                f"tokenizer.json (transformers converts most tokenizers when loading), or use a "
                f"model that ships one."
            )
        tokenizers = type(backend)
        self._tok = tokenizers.from_str(backend.to_str())
        self._tok.no_truncation()
        self._tok.no_padding()
        self.max_length = max_length
        self.special = int(self._tok.post_processor.num_special_tokens_to_add(True))
        self.room = max(2, max_length - self.special)
        pad_id = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = int(pad_id) if pad_id is not None else 0

    def estimate(
        self, query: str, texts: Sequence[str], *, max_windows: int = 1, overlap: int = 0
    ) -> list[float]:
        """The tokens each ``(query, text)`` pair is expected to run, all its windows together,
        from character counts alone (no tokenizer call: the budget asks it before each unit).

        >>> enc = PairEncoder.__new__(PairEncoder)
        >>> enc.max_length, enc.special, enc.room = 128, 3, 125
        >>> enc.estimate("q" * 40, ["t" * 200, "t" * 4000])  # truncated at 128 tokens
        [63.0, 128.0]
        >>> enc.estimate("q" * 40, ["t" * 4000], max_windows=4, overlap=0)
        [512.0]
        """
        q = min(len(query) / _CHARS_PER_TOKEN, self.room // 2)
        width = max(1.0, self.room - q)
        step = max(1.0, width - min(overlap, width // 2))
        out: list[float] = []
        for text in texts:
            t = len(text) / _CHARS_PER_TOKEN
            windows = 1 if t <= width else min(max_windows, 1 + math.ceil((t - width) / step))
            out.append(float(min(windows * self.max_length, windows * (self.special + q) + t)))
        return out

    def encode(self, query: str, texts: Sequence[str]) -> list[EncodedPair]:
        """Tokenize ``(query, text)`` for each text, truncated under the policy."""
        q_full = self._tok.encode(query, add_special_tokens=False)
        limit = self.room * CHARS_PER_TOKEN_BOUND
        cut = [t[:limit] for t in texts]
        encoded = self._tok.encode_batch(cut, add_special_tokens=False)
        queries: dict[int, Any] = {}
        out: list[EncodedPair] = []
        for text, short, enc in zip(texts, cut, encoded, strict=True):
            if len(short) < len(text) and len(enc.ids) <= self.room:
                enc = self._tok.encode(text, add_special_tokens=False)  # the cut was too short
            q_keep = min(len(q_full.ids), max(self.room - len(enc.ids), self.room // 2))
            t_keep = min(len(enc.ids), self.room - q_keep)
            q_enc = queries.get(q_keep)
            if q_enc is None:
                q_enc = self._tok.encode(query, add_special_tokens=False)
                if q_keep < len(q_enc.ids):
                    q_enc.truncate(q_keep)
                queries[q_keep] = q_enc
            if t_keep < len(enc.ids):
                enc.truncate(t_keep)
            pair = self._tok.post_process(q_enc, enc, add_special_tokens=True)
            out.append(EncodedPair(list(pair.ids), list(pair.type_ids)))
        return out

    def encode_windows(
        self, query: str, texts: Sequence[str], *, max_windows: int, overlap: int
    ) -> tuple[list[EncodedPair], list[int]]:
        """Tokenize each text as up to ``max_windows`` overlapping windows, each with the query.

        A text that fits gets exactly the pair :meth:`encode` gives. A longer one is cut into
        windows of the room the query leaves (the query keeps at most half of it); consecutive
        windows share ``overlap`` tokens, so a sentence cut at one window's end is whole in the
        next. Windows past ``max_windows`` are dropped (the passage's tail).

        Returns:
            The pairs, text by text, and for each pair the position of its text in ``texts``.
        """
        check_int("PairEncoder.encode_windows", "max_windows", max_windows)
        check_int("PairEncoder.encode_windows", "overlap", overlap, 0)
        q_full = self._tok.encode(query, add_special_tokens=False)
        q_keep = min(len(q_full.ids), self.room // 2)
        width = self.room - q_keep
        stride = min(overlap, width // 2)
        limit = (width + (width - stride) * (max_windows - 1)) * CHARS_PER_TOKEN_BOUND
        single = self.encode(query, texts)
        long = [i for i, pair in enumerate(single) if len(pair) - self.special >= self.room]
        encoded = dict(
            zip(
                long,
                self._tok.encode_batch([texts[i][:limit] for i in long], add_special_tokens=False),
                strict=True,
            )
        )
        if q_keep < len(q_full.ids):
            q_full.truncate(q_keep)
        pairs: list[EncodedPair] = []
        owners: list[int] = []
        for pos, whole in enumerate(single):
            enc = encoded.get(pos)
            if enc is None or len(enc.ids) + q_keep <= self.room:
                pairs.append(whole)  # it fits: exactly what truncation gives
                owners.append(pos)
                continue
            enc.truncate(width, stride=stride)
            for window in [enc, *enc.overflowing][:max_windows]:
                pair = self._tok.post_process(q_full, window, add_special_tokens=True)
                pairs.append(EncodedPair(list(pair.ids), list(pair.type_ids)))
                owners.append(pos)
        return pairs, owners


def plan_batches(
    lengths: Sequence[int], *, max_tokens: int, max_size: int, pass_tokens: int = PASS_TOKENS
) -> list[list[int]]:
    """Group positions into forward passes: sorted by length, each within the token budget, at
    the least cost.

    A pass costs its padded tokens (``len(batch) * longest``) plus ``pass_tokens``, what running
    one more pass costs in tokens; the split of the sorted pairs into consecutive passes with the
    least total cost is found exactly (dynamic programming, ``O(n * max_size)``). Filling each
    pass greedily pads short pairs up to much longer ones where lengths spread; this pads little
    and adds a pass only where that saves more than a pass costs. A pair longer than the budget
    gets a pass of its own. Equal lengths keep their input order.

    >>> plan_batches([5, 1, 4, 2], max_tokens=8, max_size=8)
    [[1, 3], [2], [0]]
    >>> plan_batches([3, 3, 3], max_tokens=100, max_size=2)
    [[0, 1], [2]]
    >>> plan_batches([10, 10, 10, 100], max_tokens=1000, max_size=8, pass_tokens=8)
    [[0, 1, 2], [3]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    widths = [lengths[i] for i in order]
    best = [0.0] + [math.inf] * len(order)  # best[j]: least cost of the first j sorted pairs
    start = [0] * (len(order) + 1)  # where the last pass of that best split starts
    for end in range(1, len(order) + 1):
        longest = widths[end - 1]
        for size in range(1, min(max_size, end) + 1):
            if size > 1 and size * longest > max_tokens:
                break
            cost = best[end - size] + size * longest + pass_tokens
            if cost < best[end]:
                best[end], start[end] = cost, end - size
    batches: list[list[int]] = []
    end = len(order)
    while end:
        batches.append(order[start[end] : end])
        end = start[end]
    return batches[::-1]


def pad(pairs: Sequence[EncodedPair], pad_id: int) -> dict[str, Any]:
    """The int64 arrays of one forward pass, padded to the longest pair (right padding)."""
    import numpy as np

    width = max(len(p) for p in pairs)
    ids = np.full((len(pairs), width), pad_id, dtype=np.int64)
    types = np.zeros((len(pairs), width), dtype=np.int64)
    mask = np.zeros((len(pairs), width), dtype=np.int64)
    for row, p in enumerate(pairs):
        n = len(p)
        ids[row, :n] = p.input_ids
        types[row, :n] = p.token_type_ids
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def input_names(model: Any) -> list[str]:
    """The inputs the model's ``forward`` takes, in its signature order (what a padded pass
    feeds it; every runtime asks, so it lives here rather than with one of them)."""
    import inspect

    params = inspect.signature(model.forward).parameters
    return [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in params]
