"""What the networks share: the transformer block, the encoder of (image A, target image, program A) with
its weight init, emittable-token mask, parameter count and optimizer (`TokenModel`), the configuration
fields every network has (`TokenModelConfig`) and how a checkpoint stores a configuration (`ConfigDict`).

The edit model (`model.edit.net.EditModel`) and the edit policy (`model.policy.net.PolicyModel`) each add
their own heads and decoder on top of `TokenModel`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from logo.tokens import CONTEXT_TOKENS

MAX_DEPTH = 32


class ConfigDict:
    """A frozen dataclass config as a checkpoint stores it; unknown keys of an older/newer file are dropped."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class TokenModelConfig(ConfigDict):
    """The fields every network's configuration has (the encoder's and the decoder's sizes); a network's
    own configuration adds its fields after these (`dataclasses` keeps a redeclared field in its place, so a
    network may change a default, as the policy's `dec_layers`)."""
    image_size: int = 32
    patch: int = 4
    d_model: int = 256
    n_heads: int = 8
    img_layers: int = 4
    prog_layers: int = 3
    dec_layers: int = 4
    ffn_mult: int = 4
    max_tokens: int = CONTEXT_TOKENS   # context: tokens of A (plus one END slot)
    vocab_capacity: int = 256   # token embedding rows; the tokenizer may grow up to this
    dropout: float = 0.0


#: model sizes by name (`train --preset`): the fields they change from a configuration's defaults (a network's own
#: table may differ: the policy's "small" decodes with two layers)
PRESETS = {
    "tiny": dict(d_model=96, n_heads=4, img_layers=2, prog_layers=2, dec_layers=2, ffn_mult=3),
    "small": dict(d_model=160, n_heads=5, img_layers=3, prog_layers=2, dec_layers=3),
    "default": {},
}


def preset_config(config_class, presets: dict, name: str, **overrides):
    """`config_class` sized by preset `name` of `presets`, with `overrides` over it."""
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(presets)}")
    return replace(config_class(**presets[name]), **overrides)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.h = heads
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.o = nn.Linear(d, d)

    def forward(self, x, mem=None, mask=None, causal=False):
        mem = x if mem is None else mem
        k, v = self.keys_values(mem)
        return self.attend(x, k, v, mask, causal)

    def keys_values(self, mem):
        b, s, d = mem.shape
        k, v = self.kv(mem).view(b, s, 2, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        return k, v

    def attend(self, x, k, v, mask=None, causal=False):
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.h, d // self.h).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return self.o(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """Pre-norm transformer block: self-attention, optional cross-attention, MLP."""

    def __init__(self, d: int, heads: int, ffn_mult: int, cross: bool, dropout: float):
        super().__init__()
        self.n1 = nn.LayerNorm(d)
        self.sa = Attention(d, heads)
        self.cross = cross
        if cross:
            self.n2 = nn.LayerNorm(d)
            self.ca = Attention(d, heads)
        self.n3 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, ffn_mult * d), nn.GELU(), nn.Linear(ffn_mult * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, self_mask=None, causal=False, mem=None, mem_mask=None):
        x = x + self.drop(self.sa(self.n1(x), mask=self_mask, causal=causal))
        if self.cross:
            x = x + self.drop(self.ca(self.n2(x), mem, mask=mem_mask))
        return x + self.drop(self.mlp(self.n3(x)))

    def step(self, x, cache: dict, mem_mask=None):
        """One new position x (B, 1, d) of a causal stack; `cache` holds past keys/values and the
        cross-attention keys/values of the memory (see `TokenModel.start_cache`)."""
        h = self.n1(x)
        k, v = self.sa.keys_values(h)
        if "k" in cache:
            k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
        cache["k"], cache["v"] = k, v
        x = x + self.sa.attend(h, k, v)
        if self.cross:
            # rows i*g .. i*g+g-1 (samples or beams of input i) share input i's memory: attend as g
            # query positions of one row, so the memory is neither copied nor projected once per row
            b, _, d = x.shape
            g = b // cache["mem_k"].shape[0]
            y = self.ca.attend(self.n2(x).view(b // g, g, d), cache["mem_k"], cache["mem_v"], mask=mem_mask)
            x = x + y.view(b, 1, d)
        return x + self.mlp(self.n3(x))


class TokenModel(nn.Module):
    """What the edit model and the edit policy share: the encoder of (image A, image B, program A), weight
    init, the emittable-token mask over a vocabulary that may grow up to `config.vocab_capacity`, the
    parameter count and the optimizer."""

    def _build_encoder(self, patch: nn.Module, n_tokens: int) -> None:
        """The encoder's modules (`encode`), after `patch`, which embeds the stacked (A, B, B - A) images
        into `(image_size // patch) ** 2` tokens of `d_model`. Built in this order, so a seed gives the
        same weights as before the two networks shared it."""
        c = self.config
        d = c.d_model
        if n_tokens > c.vocab_capacity:
            raise ValueError(f"{n_tokens} tokens do not fit a vocabulary capacity of {c.vocab_capacity}")
        self.patch = patch
        self.img_pos = nn.Parameter(torch.randn(1, (c.image_size // c.patch) ** 2, d) * 0.02)
        self.img_blocks = nn.ModuleList(Block(d, c.n_heads, c.ffn_mult, False, c.dropout)
                                        for _ in range(c.img_layers))
        self.img_norm = nn.LayerNorm(d)
        self.tok_emb = nn.Embedding(c.vocab_capacity, d)
        self.tok_pos = nn.Embedding(c.max_tokens + 1, d)
        self.tok_depth = nn.Embedding(MAX_DEPTH, d)
        self.prog_blocks = nn.ModuleList(Block(d, c.n_heads, c.ffn_mult, True, c.dropout)
                                         for _ in range(c.prog_layers))
        self.prog_norm = nn.LayerNorm(d)

    def encode(self, images, a_ids, a_len, depth):
        """images uint8 (B, 2, S, S) -> (memory, memory mask (B,1,1,M), A slots (B, L+1, d), A slot mask)."""
        x = images.float() / 255.0
        if x.shape[-1] != self.config.image_size:
            x = F.interpolate(x, size=(self.config.image_size,) * 2, mode="area")
        x = torch.cat([x, x[:, 1:2] - x[:, 0:1]], dim=1)
        img = self.patch(x.to(self.img_pos.dtype)).flatten(2).transpose(1, 2) + self.img_pos
        for blk in self.img_blocks:
            img = blk(img)
        img = self.img_norm(img)
        b, l1 = a_ids.shape
        pos = torch.arange(l1, device=a_ids.device)
        slot_ok = pos[None, :] <= a_len[:, None]                      # (B, L+1) tokens and END
        self_mask = slot_ok[:, None, None, :]
        a = self.tok_emb(a_ids) + self.tok_pos(pos)[None] + self.tok_depth(depth.clamp(max=MAX_DEPTH - 1))
        for blk in self.prog_blocks:
            a = blk(a, self_mask=self_mask, mem=img)
        a = self.prog_norm(a)
        mem = torch.cat([img, a], dim=1)
        mem_mask = torch.cat([torch.ones(b, img.shape[1], dtype=torch.bool, device=a.device), slot_ok], 1)
        return mem, mem_mask[:, None, None, :], a, slot_ok

    def decode(self, x, mem, mem_mask):
        """The causal decoder stack (`dec_blocks`, `dec_norm`: each network builds its own) over inputs x
        (B, T, d), cross-attending to the encoder's memory."""
        for blk in self.dec_blocks:
            x = blk(x, causal=True, mem=mem, mem_mask=mem_mask)
        return self.dec_norm(x)

    def start_cache(self, mem) -> list[dict]:
        """For incremental decoding (`Block.step`): the cross-attention keys/values of the memory, once per
        input; the decoder may then run any whole number of rows per input (consecutive rows: samples or
        beams of one input)."""
        return [dict(zip(("mem_k", "mem_v"), blk.ca.keys_values(mem))) for blk in self.dec_blocks]

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def set_vocab_size(self, n_tokens: int) -> None:
        from .tokenizer import SPECIALS
        if n_tokens > self.config.vocab_capacity:
            raise ValueError(f"{n_tokens} tokens do not fit a vocabulary capacity of "
                             f"{self.config.vocab_capacity}")
        self.emittable.zero_()
        self.emittable[len(SPECIALS):n_tokens] = True

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def configure_optimizers(self, weight_decay: float, lr: float, betas=(0.9, 0.98), device_type: str = "cpu"):
        """AdamW with weight decay on the weights of linear and convolution layers only.

        Norms, biases, embeddings and the learned position / BOS vectors are not decayed (after
        nanoGPT): decaying them pulls scales and lookup rows toward zero without regularising much.
        """
        decay, no_decay = [], []
        for module in self.modules():
            for name, p in module.named_parameters(recurse=False):
                if isinstance(module, (nn.Linear, nn.Conv2d)) and name == "weight":
                    decay.append(p)
                else:
                    no_decay.append(p)
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        extra = {"fused": True} if device_type == "cuda" else {}
        return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), **extra)


def unwrap(model) -> TokenModel:
    """The network (`TokenModel`) inside any DistributedDataParallel (`.module`) and torch.compile (`._orig_mod`)
    wrappers: its config, cache decoding and state dict are not reachable through them."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model
