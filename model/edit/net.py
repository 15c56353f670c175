"""The edit model: a ViT over (image A, image B, B - A), a transformer over A's tokens that
cross-attends to the image, and an autoregressive decoder over edits.

Each decoder step emits one edit in two parts: an *action* from one softmax over
`[FIN, DELETE, INSERT t for each token t, SUBSTITUTE t for each token t]` (token scores tied to the
token embedding, so the vocabulary can grow), then a *position* by pointing at one of A's token
slots (slot len(A) is the end, for appending).  Position scores are conditioned on the chosen action.

Batches are dicts of tensors (made by `model.edit.pairs.PairSampler.batch`):
  images   uint8 (B, 2, S, S)        image A and image B
  a_ids    int64 (B, L + 1)          A's token ids, then END at a_len, then PAD
  a_len    int64 (B,)
  depth    int64 (B, L + 1)          parenthesis depth of each token (a position channel)
  e_type   int64 (B, T)              0 FIN, 1 DELETE, 2 INSERT, 3 SUBSTITUTE, -1 padding
  e_tok    int64 (B, T)              token of insert / substitute (0 otherwise)
  e_pos    int64 (B, T)              position in A (0 for FIN / padding)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..transformer import PRESETS as SIZES, Block, TokenModel, TokenModelConfig, preset_config, unwrap

FIN, DEL, INS, SUB = 0, 1, 2, 3
N_TYPES = 4


@dataclass(frozen=True)
class ModelConfig(TokenModelConfig):
    """The edit model's configuration: the shared fields (`TokenModelConfig`) and the edit script's length."""
    max_edits: int = 48         # edits per script (plus FIN)


PRESETS = SIZES


def preset(name: str, **overrides) -> ModelConfig:
    return preset_config(ModelConfig, PRESETS, name, **overrides)


class EditModel(TokenModel):
    def __init__(self, config: ModelConfig, n_tokens: int):
        super().__init__()
        c = self.config = config
        d = c.d_model
        self._build_encoder(nn.Conv2d(3, d, c.patch, c.patch), n_tokens)
        self.bos = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.type_emb = nn.Embedding(N_TYPES, d)
        self.slot_proj = nn.Linear(d, d)
        self.step_pos = nn.Embedding(c.max_edits + 1, d)
        self.dec_blocks = nn.ModuleList(Block(d, c.n_heads, c.ffn_mult, True, c.dropout)
                                        for _ in range(c.dec_layers))
        self.dec_norm = nn.LayerNorm(d)
        self.type_head = nn.Linear(d, N_TYPES)
        self.ins_proj = nn.Linear(d, d)
        self.sub_proj = nn.Linear(d, d)
        self.ptr_type = nn.Embedding(N_TYPES, d)
        self.ptr_q = nn.Linear(d, d)
        self.ptr_k = nn.Linear(d, d)
        # which token ids may be emitted (grows with the tokenizer; specials never)
        self.register_buffer("emittable", torch.zeros(c.vocab_capacity, dtype=torch.bool))
        self.set_vocab_size(n_tokens)
        self.apply(self._init)

    @property
    def vocab_size(self) -> int:
        return int(self.emittable.nonzero().max()) + 1

    # ---- decoder --------------------------------------------------------------------------------

    def decoder_inputs(self, slots, e_type, e_tok, e_pos):
        """Embeddings of [BOS, edit_0, ..., edit_{T-2}] (B, T, d) for targets e_* of length T."""
        b = e_type.shape[0]
        t = e_type[:, :-1].clamp(min=0)
        emb = self.type_emb(t) + self.tok_emb(e_tok[:, :-1])
        idx = e_pos[:, :-1].clamp(min=0, max=slots.shape[1] - 1)
        emb = emb + self.slot_proj(torch.gather(slots, 1, idx[..., None].expand(-1, -1, slots.shape[2])))
        x = torch.cat([self.bos.expand(b, -1, -1), emb], dim=1)
        return x + self.step_pos(torch.arange(x.shape[1], device=x.device))[None]

    # incremental decoding: one step at a time with cached keys/values (`start_cache`; same result as `decode`)
    def step_input(self, slots, t: int, prev_type=None, prev_tok=None, prev_pos=None):
        """Decoder input (B, 1, d) at step t: BOS for t = 0, else the embedding of edit t - 1."""
        b = slots.shape[0]
        if t == 0:
            x = self.bos.expand(b, -1, -1)
        else:
            idx = prev_pos.clamp(min=0, max=slots.shape[1] - 1)
            slot = torch.gather(slots, 1, idx[:, None, None].expand(-1, 1, slots.shape[2]))
            x = (self.type_emb(prev_type.clamp(min=0)) + self.tok_emb(prev_tok))[:, None] + self.slot_proj(slot)
        return x + self.step_pos.weight[t]

    def decode_step(self, x, caches, mem_mask):
        for blk, cache in zip(self.dec_blocks, caches):
            x = blk.step(x, cache, mem_mask)
        return self.dec_norm(x)

    def action_logits(self, h):
        """(..., d) -> (..., 2 + 2C) scores over [FIN, DEL, INS t..., SUB t...]."""
        ty = self.type_head(h)
        w = self.tok_emb.weight
        ins = self.ins_proj(h) @ w.t().to(h.dtype)
        sub = self.sub_proj(h) @ w.t().to(h.dtype)
        neg = torch.finfo(ins.dtype).min
        ins = (ins + ty[..., INS:INS + 1]).masked_fill(~self.emittable, neg)
        sub = (sub + ty[..., SUB:SUB + 1]).masked_fill(~self.emittable, neg)
        return torch.cat([ty[..., FIN:FIN + 1], ty[..., DEL:DEL + 1], ins, sub], dim=-1)

    def pointer_logits(self, h, slots, slot_ok, a_type, a_tok, keys=None):
        """Position scores (B, T, L+1) given the chosen action (type and token). `keys`, the slots'
        `ptr_k` projection, can be computed once per decode instead of once per step."""
        q = self.ptr_q(h + self.ptr_type(a_type.clamp(min=0)) + self.tok_emb(a_tok))
        k = self.ptr_k(slots) if keys is None else keys
        s = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
        return s.masked_fill(~slot_ok[:, None, :], torch.finfo(s.dtype).min)

    def action_index(self, e_type, e_tok):
        """Joint action id of (type, token): FIN 0, DEL 1, INS 2 + t, SUB 2 + C + t (-100 for padding)."""
        c = self.config.vocab_capacity
        idx = torch.where(e_type == INS, 2 + e_tok, torch.where(e_type == SUB, 2 + c + e_tok, e_type))
        return torch.where(e_type < 0, torch.full_like(idx, -100), idx)

    def forward(self, batch):
        """Teacher-forced logits: (action logits (B, T, 2+2C), pointer logits (B, T, L+1))."""
        mem, mem_mask, slots, slot_ok = self.encode(batch["images"], batch["a_ids"], batch["a_len"],
                                                    batch["depth"])
        x = self.decoder_inputs(slots, batch["e_type"], batch["e_tok"], batch["e_pos"])
        h = self.decode(x, mem, mem_mask)
        return self.action_logits(h), self.pointer_logits(h, slots, slot_ok, batch["e_type"], batch["e_tok"])


def loss_and_metrics(model: EditModel, batch, logits=None):
    """Cross-entropy over actions and positions; also token and exact-script accuracy (teacher forced)."""
    core = unwrap(model)
    act_logits, ptr_logits = model(batch) if logits is None else logits
    act_t = core.action_index(batch["e_type"], batch["e_tok"])
    e_type = batch["e_type"]
    ptr_t = torch.where((e_type > FIN), batch["e_pos"], torch.full_like(e_type, -100))
    act_loss = F.cross_entropy(act_logits.float().flatten(0, 1), act_t.flatten(), ignore_index=-100,
                               reduction="sum")
    ptr_loss = F.cross_entropy(ptr_logits.float().flatten(0, 1), ptr_t.flatten(), ignore_index=-100,
                               reduction="sum")
    n_steps = (act_t != -100).sum().clamp(min=1)
    loss = (act_loss + ptr_loss) / n_steps
    with torch.no_grad():
        valid = act_t != -100
        act_ok = (act_logits.argmax(-1) == act_t) | ~valid
        ptr_ok = (ptr_logits.argmax(-1) == ptr_t) | (ptr_t == -100)
        step_ok = act_ok & ptr_ok
        n_ptr = (ptr_t != -100).sum()
        metrics = {
            "loss": loss.detach(),
            "token_acc": ((act_ok & valid).sum() + (ptr_ok & (ptr_t != -100)).sum()).float()
            / (valid.sum() + n_ptr).clamp(min=1),
            "exact_tf": step_ok.all(dim=1).float().mean(),
        }
    return loss, metrics
