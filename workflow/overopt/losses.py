"""DAA losses on the margin h = [log pi(y_w) - log ref(y_w)] - [log pi(y_l) - log ref(y_l)].

The same formulas as TRL's ``DPOTrainer`` (``loss_type`` sigmoid / ipo / hinge), for code
that trains without it (the toy tree MDP, the benchmark's hand-written step); a test checks
them against TRL. IPO here takes the margin as given: TRL divides each log-ratio by its
completion's token count first (``ipo_margin``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def daa_loss(loss_type: str, beta: float, margin: torch.Tensor) -> torch.Tensor:
    """Per-pair loss for ``loss_type`` at ``beta`` (TRL's definitions)."""
    if loss_type == "sigmoid":  # DPO
        return -F.logsigmoid(beta * margin)
    if loss_type == "ipo":  # IPO, Azar et al. eq. 17: (h - 1/(2 beta))^2
        return (margin - 1.0 / (2.0 * beta)) ** 2
    if loss_type == "hinge":  # SLiC
        return torch.relu(1.0 - beta * margin)
    raise ValueError(f"loss_type {loss_type!r} has no standalone definition; allowed: sigmoid, ipo, hinge")


def ipo_margin(
    chosen_logratio: torch.Tensor,
    rejected_logratio: torch.Tensor,
    chosen_tokens: torch.Tensor,
    rejected_tokens: torch.Tensor,
) -> torch.Tensor:
    """TRL's IPO margin: each summed log-ratio averaged over its completion tokens."""
    return chosen_logratio / chosen_tokens.clamp(min=1) - rejected_logratio / rejected_tokens.clamp(min=1)
