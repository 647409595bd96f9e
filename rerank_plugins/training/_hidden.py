"""The ``"hidden"`` distillation loss: the teacher's logits plus its hidden states, layer by layer.

A student cut from a teacher's layers starts far from it (for the bundled 6-layer reranker, a
3-layer student's scores correlate about 0.1 to 0.3 with the teacher's before training), and one
logit a pair is little to learn from when the lists are few. TinyBERT's answer (Jiao et al.,
2020) is to teach every layer as well: student layer ``i`` is pulled towards the output of the
teacher layer it was copied from, over every real token of the pair. That is hundreds of targets
a pair instead of one, for one extra forward pass of the teacher (no backward).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["HiddenStateLoss"]

_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class HiddenStateLoss(nn.Module):
    """MSE of the student's logit against the teacher's label, plus ``weight`` times the mean,
    over the student's layers, of the MSE between its hidden states and those of the teacher
    layer it started from (``layers[i]`` for student layer ``i``), over the pair's real tokens.

    The labels are the teacher's logits already (``teacher_lists.jsonl``); the teacher runs here
    only for its hidden states, on the student's tokens (same tokenizer, the student's
    ``max_length``), without gradients, in the mode it was given (a loaded teacher is in eval
    mode: :func:`~rerank_plugins.training.distill.load_teacher`). Imported only when this loss
    is asked for, so the package imports without torch.
    """

    teacher: CrossEncoder

    def __init__(
        self, model: CrossEncoder, teacher: CrossEncoder, layers: Sequence[int], weight: float = 1.0
    ) -> None:
        super().__init__()
        self.model = model
        # Not a submodule: the trainer's train() and the loss's parameters leave the teacher
        # alone, and the caller's teacher is not changed (it runs as given: eval mode, no grad).
        object.__setattr__(self, "teacher", teacher)
        self.layers = tuple(layers)
        self.weight = float(weight)

    def forward(self, inputs: list[list[str]], labels: torch.Tensor, **_: Any) -> torch.Tensor:
        pairs = list(zip(inputs[0], inputs[1], strict=True))
        tokens = self.model.tokenizer(
            pairs, padding=True, truncation=True, max_length=self.model.max_length,
            return_tensors="pt",
        ).to(self.model.device)  # fmt: skip
        feed = {k: tokens[k] for k in _MODEL_INPUTS if k in tokens}
        ours: Any = self.model.transformers_model
        theirs: Any = self.teacher.transformers_model
        student = ours(**feed, output_hidden_states=True)
        with torch.no_grad():
            teacher = theirs(
                **{k: v.to(self.teacher.device) for k, v in feed.items()},
                output_hidden_states=True,
            )
        logits = student.logits.view(-1)
        target = labels.view(-1).float().to(logits.device)
        loss: torch.Tensor = nn.functional.mse_loss(logits, target)
        mask = feed["attention_mask"].unsqueeze(-1).to(logits.dtype)
        real = mask.sum() * student.hidden_states[1].shape[-1]
        hidden: torch.Tensor = logits.new_zeros(())
        for i, layer in enumerate(self.layers):
            goal = teacher.hidden_states[layer + 1].to(logits.device)
            hidden = hidden + ((student.hidden_states[i + 1] - goal).pow(2) * mask).sum() / real
        return loss + self.weight * hidden / len(self.layers)

    def get_config_dict(self) -> dict[str, Any]:
        return {"layers": list(self.layers), "weight": self.weight}
