"""One training step of a network, and the optimizer it steps: the one definition that `train`,
the benchmarks (`bench/train.py`, `bench/pairs.py`) and the tests all run, so that what they measure
is what `train` does."""
from __future__ import annotations

from contextlib import nullcontext

import torch

from .transformer import TokenModel, unwrap

# `train`'s defaults (its --lr, --weight-decay and --clip flags start from these); Adam's betas are fixed
LR = 1e-3
WEIGHT_DECAY = 0.01
CLIP = 1.0
BETAS = (0.9, 0.98)


def make_optimizer(model: TokenModel, device_type: str, lr: float = LR,
                   weight_decay: float = WEIGHT_DECAY) -> torch.optim.Optimizer:
    """The optimizer `train` uses: `TokenModel.configure_optimizers` (AdamW, decay on weights only; fused
    on CUDA) with `BETAS`. `device_type` is "cpu" or "cuda"."""
    return unwrap(model).configure_optimizers(weight_decay, lr, BETAS, device_type)


def train_step(model, optimizer: torch.optim.Optimizer, batch: dict, autocast=nullcontext,
               clip: float = 0.0, *, loss_fn) -> dict:
    """Forward (under `autocast()`), backward, clip the gradient norm to `clip` (0: no clipping), step.

    `model` may be the network or its torch.compile / DDP wrapper (clipping reaches through to the
    parameters); `loss_fn(model, batch)` is its loss (`model.edit.net.loss_and_metrics`, the edit model's:
    loss, token_acc, exact_tf; `model.policy.net.policy_loss` for the policy). Returns the batch's metrics
    from `loss_fn`: detached tensors; reading
    them waits for the device, so a caller reads them only when it logs."""
    model.train()
    with autocast():
        loss, metrics = loss_fn(model, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(unwrap(model).parameters(), clip)
    optimizer.step()
    return metrics
