"""The recognition network: image -> log-weights of every production of a `logo.grammar_table.GrammarLayout`.

    image (B, 28, 28) uint8 -> encoder -> h (B, hidden) -> delta (B, L);  logits = s * prior + delta

Encoders: `cnn` is DreamCoder's LOGO feature extractor (`LogoFeatureCNN`: 3x3 convolutions of 64 channels,
ReLU, 2x2 max-pool; six layers, pooling after every second one at our 28-pixel targets, where six pools
would leave nothing), `vit` a small patch transformer (the edit model's `model.transformer.Block`s). The head
adds `delta` to the fitted prior grammar's log-weights times a learned scale `s` (the "mix"); `delta`
starts at zero, so an untrained model *is* the prior grammar (the learning curve starts at `topdown`).
With `use_prior=False` the head writes the logits alone, as DreamCoder's does.

`derivation_logp(logits, layout sets, chosen, choice_set, example)` is the exact log-probability of
programs' derivations: a gather and a logsumexp per normaliser set.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from ..transformer import Block, ConfigDict

IMAGE_SIZE = 28


@dataclass(frozen=True)
class RecognitionConfig(ConfigDict):
    encoder: str = "cnn"        # "cnn" (DreamCoder's) or "vit"
    channels: int = 64          # cnn: channels of each 3x3 convolution
    conv_layers: int = 6
    d_model: int = 96           # vit: width
    vit_layers: int = 2
    n_heads: int = 4
    patch: int = 4
    hidden: int = 256           # the MLP between the features and the head
    use_prior: bool = True      # logits = scale * prior + delta (else delta alone)
    layout_size: int = 0        # filled from the layout


class CNNEncoder(nn.Module):
    """DreamCoder's LOGO CNN: `conv_layers` x (3x3 conv, ReLU), a 2x2 max-pool after every second one."""

    def __init__(self, c: RecognitionConfig):
        super().__init__()
        layers, ch, size = [], 1, IMAGE_SIZE
        for i in range(c.conv_layers):
            layers += [nn.Conv2d(ch, c.channels, 3, padding=1), nn.ReLU()]
            ch = c.channels
            if i % 2 == 1 and size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
        self.net = nn.Sequential(*layers)
        self.out_dim = ch * size * size

    def forward(self, x):
        return self.net(x).flatten(1)


class ViTEncoder(nn.Module):
    """Patches of `patch` pixels, `vit_layers` transformer blocks, mean-pooled."""

    def __init__(self, c: RecognitionConfig):
        super().__init__()
        self.patch = nn.Conv2d(1, c.d_model, c.patch, c.patch)
        n = (IMAGE_SIZE // c.patch) ** 2
        self.pos = nn.Parameter(torch.randn(1, n, c.d_model) * 0.02)
        self.blocks = nn.ModuleList(Block(c.d_model, c.n_heads, 4, False, 0.0) for _ in range(c.vit_layers))
        self.norm = nn.LayerNorm(c.d_model)
        self.out_dim = c.d_model

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        for b in self.blocks:
            t = b(t)
        return self.norm(t).mean(dim=1)


class RecognitionModel(nn.Module):
    kind = "recognition"

    def __init__(self, config: RecognitionConfig, prior: np.ndarray):
        super().__init__()
        if config.layout_size != len(prior):
            raise ValueError(f"the prior has {len(prior)} weights, the layout {config.layout_size}")
        self.config = config
        self.encoder = CNNEncoder(config) if config.encoder == "cnn" else ViTEncoder(config)
        if config.encoder not in ("cnn", "vit"):
            raise ValueError(f"unknown encoder {config.encoder!r} (cnn or vit)")
        self.mlp = nn.Sequential(nn.Linear(self.encoder.out_dim, config.hidden), nn.ReLU())
        self.head = nn.Linear(config.hidden, config.layout_size)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        p = torch.as_tensor(np.nan_to_num(np.asarray(prior, np.float64), neginf=-30.0), dtype=torch.float32)
        self.register_buffer("prior", p)
        self.prior_scale = nn.Parameter(torch.ones(()))

    def forward(self, images):
        """images uint8 (B, 28, 28) or (B, 1, 28, 28) -> log-weights (B, layout_size)."""
        x = images.float() / 255.0
        if x.dim() == 3:
            x = x[:, None]
        delta = self.head(self.mlp(self.encoder(x)))
        if self.config.use_prior:
            return self.prior_scale * self.prior + delta
        return delta


def derivation_logp(logits, sets, set_mask, chosen, choice_set, example, n_examples: int):
    """log P(program_b) for every example b (B,), from the derivations' choices concatenated:
    `chosen`, `choice_set` and `example` (the row of `logits` each choice belongs to) are int64 (N,);
    `sets` / `set_mask` are the layout's normaliser sets (S, W)."""
    x = logits[:, sets].masked_fill(~set_mask, float("-inf"))          # (B, S, W)
    logz = torch.logsumexp(x, dim=-1)                                    # (B, S)
    per = logits[example, chosen] - logz[example, choice_set]           # (N,)
    return torch.zeros(n_examples, dtype=logits.dtype, device=logits.device).index_add(0, example, per)
