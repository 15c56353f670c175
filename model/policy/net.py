"""The edit policy network: one forward pass per search node, then many grammatical edits from it.

Encoder (the edit model's design, `model.edit.net`): a ViT over (image A, target image, target - A) and
a transformer over A's canonical tokens that cross-attends to the image. With `image_encoder="cnn"` (the
default) the image's tokens come from a small convolutional stem (three 3x3 convolutions down to
`image_size / patch` squared cells) before the transformer blocks: on this CPU it learns the same
held-out metrics in fewer steps than patches alone (measured in the README). Heads:

- **where x what**: for every token slot of A (`model.policy.actions`: a statement's "(", a block's
  append place, an expression's first token; slot len(A) is the program's end) a score per action
  (insert, delete, replace_stmt, wrap variants, unwrap, replace_expr, loop_count); softmax over the
  valid (slot, action) pairs of the program is the policy's joint distribution of where and which edit.
- **subtree decoder**: a small causal transformer that writes the content of an edit (a whole
  statement, or an expression) token by token, cross-attending to the encoder's memory; it starts
  from the slot's state plus the nonterminal's embedding, and its output is masked by the grammar
  (`model.grammar`), so every decoded subtree parses. Output scores are tied to the token
  embedding (the vocabulary grows with the library).

Batches (`model.policy.data`): images uint8 (B, 2, S, S); a_ids, depth (B, L+1); a_len (B,);
valid, target bool (B, L+1, N_ACTIONS); c_row (B,) index of the example's content row or -1; content
rows: c_slot, c_nt (C,), c_ids, c_mask (C, T) (token ids and grammar mask ids, -1 padding) and the
mask table `masks` bool (M, V).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..grammar import NONTERMINALS
from ..transformer import PRESETS as SIZES, Block, TokenModel, TokenModelConfig, preset_config
from .actions import ACTION_KIND, N_ACTIONS

KIND = "policy"


@dataclass(frozen=True)
class PolicyConfig(TokenModelConfig):
    """The policy's configuration: the shared fields (`TokenModelConfig`; three decoder layers by default),
    the longest decoded subtree and the image encoder."""
    dec_layers: int = 3
    max_content: int = 48               # tokens of one decoded subtree
    image_encoder: str = "cnn"          # "cnn": convolutional stem; "vit": patches (as the edit model)


PRESETS = {**SIZES, "small": {**SIZES["small"], "dec_layers": 2}}


def preset(name: str, **overrides) -> PolicyConfig:
    return preset_config(PolicyConfig, PRESETS, name, **overrides)


class PolicyModel(TokenModel):
    kind = KIND

    def __init__(self, config: PolicyConfig, n_tokens: int):
        super().__init__()
        c = self.config = config
        d = c.d_model
        if c.image_encoder == "cnn":
            if c.patch not in (2, 4, 8):
                raise ValueError(f"the cnn image encoder needs patch 2, 4 or 8, not {c.patch}")
            convs, ch = [], 3
            for i, stride in enumerate((1,) + (2,) * (c.patch.bit_length() - 1)):
                out = d if stride == 2 and 2 ** i == c.patch else max(32, d // 2)
                convs += [nn.Conv2d(ch, out, 3, stride, 1), nn.GELU()]
                ch = out
            patch = nn.Sequential(*convs[:-1])
        elif c.image_encoder == "vit":
            patch = nn.Conv2d(3, d, c.patch, c.patch)
        else:
            raise ValueError(f"unknown image encoder {c.image_encoder!r} (cnn or vit)")
        self._build_encoder(patch, n_tokens)
        self.action_head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, N_ACTIONS))
        self.nt_emb = nn.Embedding(len(NONTERMINALS), d)
        self.start_proj = nn.Linear(d, d)
        self.dec_pos = nn.Embedding(c.max_content + 1, d)
        self.dec_blocks = nn.ModuleList(Block(d, c.n_heads, c.ffn_mult, True, c.dropout) for _ in range(c.dec_layers))
        self.dec_norm = nn.LayerNorm(d)
        self.out_proj = nn.Linear(d, d)
        self.register_buffer("emittable", torch.zeros(c.vocab_capacity, dtype=torch.bool))
        self.set_vocab_size(n_tokens)
        self.apply(self._init)

    def action_logits(self, slots, valid):
        """(B, L+1, N_ACTIONS) scores, invalid pairs at the dtype's minimum."""
        s = self.action_head(slots)
        return s.masked_fill(~valid, torch.finfo(s.dtype).min)

    # ---- subtree decoder ----------------------------------------------------------------------------
    def start_vectors(self, slots_rows, nt):
        """Decoder input at step 0: the site's slot state (projected) plus the nonterminal's embedding."""
        return self.start_proj(slots_rows) + self.nt_emb(nt)

    def token_logits(self, h, masks=None):
        """(..., d) -> (..., V) scores over token ids (tied to the embedding); `masks` bool (..., V)."""
        s = self.out_proj(h) @ self.tok_emb.weight.t().to(h.dtype)
        if masks is not None and masks.shape[-1] < s.shape[-1]:         # a table as wide as the vocabulary
            masks = F.pad(masks, (0, s.shape[-1] - masks.shape[-1]))
        ok = self.emittable if masks is None else masks & self.emittable
        return s.masked_fill(~ok, torch.finfo(s.dtype).min)

    def decode_inputs(self, start, c_ids):
        """[start, emb(c_0), ..., emb(c_{T-2})] + positions (C, T, d)."""
        prev = self.tok_emb(c_ids[:, :-1].clamp(min=0))
        x = torch.cat([start[:, None], prev], 1)
        return x + self.dec_pos(torch.arange(x.shape[1], device=x.device))[None]

    def decode_step(self, x, caches, mem_mask, t: int):
        """One step: x (R, 1, d) for rows grouped by input (consecutive groups of equal size, as
        `model.transformer.Block.step` reads the cached memory) -> (R, 1, d)."""
        x = x + self.dec_pos.weight[t]
        for blk, cache in zip(self.dec_blocks, caches):
            x = blk.step(x, cache, mem_mask)
        return self.dec_norm(x)

    def row_decoder(self, mem, mem_mask, row_node, start) -> "RowDecoder":
        """Incremental decoding of many rows over a few inputs (`RowDecoder`)."""
        return RowDecoder(self, mem, mem_mask, row_node, start)

    # ---- training -----------------------------------------------------------------------------------
    def forward(self, batch):
        """(action scores (B, L+1, N_ACTIONS), content token scores (C, T, V) or None)."""
        mem, mem_mask, slots, _ = self.encode(batch["images"], batch["a_ids"], batch["a_len"], batch["depth"])
        act = self.action_logits(slots, batch["valid"])
        rows = batch["c_row"]       # the example of each decoder row (content labels, then pool statements)
        if rows.numel() == 0:
            return act, None
        slot_rows = slots[rows, batch["c_slot"]]
        x = self.decode_inputs(self.start_vectors(slot_rows, batch["c_nt"]), batch["c_ids"])
        h = self.decode(x, mem[rows], mem_mask[rows])
        masks = batch["masks"][batch["c_mask"].clamp(min=0)]
        return act, self.token_logits(h, masks)


class RowDecoder:
    """Decode rows of the subtree decoder one token at a time, rows belonging to inputs (`row_node`).

    Keys and values of past tokens sit in preallocated buffers; cross-attention reads each input's memory
    once, with its rows' queries laid out in a (inputs, rows per input) grid; rows that have finished are
    dropped from the computation (the buffers are compacted once a quarter of the rows are done), so the
    cost follows the tokens actually decoded, not rows x the longest row.

        dec = model.row_decoder(mem, mem_mask, row_node, start)
        while len(dec.live_rows):
            h = dec.step()                       # (live rows, d): the next token's hidden states
            dec.feed(tokens, finished)           # tokens (live rows,), finished bool (live rows,)
    `dec.live_rows` holds the original numbers of the rows still decoding, in the order of `step`'s rows.
    """

    def __init__(self, model: "PolicyModel", mem, mem_mask, row_node, start):
        self.m = model
        dev = mem.device
        self.row_node = torch.as_tensor(row_node, device=dev)
        R = len(self.row_node)
        c = model.config
        heads = c.n_heads
        dh = c.d_model // heads
        T = c.max_content
        self.t = 0
        self.active = torch.arange(R, device=dev)            # original row ids, compact order
        self.x = start
        dtype = start.dtype
        self.k = [torch.empty(R, heads, T, dh, device=dev, dtype=dtype) for _ in model.dec_blocks]
        self.v = [torch.empty(R, heads, T, dh, device=dev, dtype=dtype) for _ in model.dec_blocks]
        self.mem_kv = [blk.ca.keys_values(mem) for blk in model.dec_blocks]
        self.mem_mask = mem_mask
        self.live = torch.ones(R, dtype=torch.bool, device=dev)   # of the rows in the buffers
        self._layout()

    def _layout(self):
        """The cross-attention grid of the rows in the buffers: their inputs and places in them."""
        nodes = self.row_node[self.active]
        uniq, inverse, counts = torch.unique(nodes, return_inverse=True, return_counts=True)
        self.nodes = uniq
        self.G = int(counts.max()) if len(counts) else 1
        order = torch.argsort(inverse, stable=True)
        rank = torch.empty_like(order)
        starts = torch.cumsum(counts, 0) - counts
        rank[order] = torch.arange(len(order), device=order.device) - starts[inverse[order]]
        self.grid_index = inverse * self.G + rank
        self.kv = [(k[uniq], v[uniq]) for k, v in self.mem_kv]
        self.mmask = self.mem_mask[uniq]

    @torch.no_grad()
    def step(self):
        """Hidden states (rows in the buffers that are live, d) for the next token."""
        m, t = self.m, self.t
        x = self.x + m.dec_pos.weight[t]
        n_rows, d = x.shape
        for blk, kb, vb, (mk, mv) in zip(m.dec_blocks, self.k, self.v, self.kv):
            h = blk.n1(x)[:, None]
            k, v = blk.sa.keys_values(h)
            kb[:, :, t] = k[:, :, 0]
            vb[:, :, t] = v[:, :, 0]
            x = x + blk.sa.attend(h, kb[:, :, :t + 1], vb[:, :, :t + 1])[:, 0]
            q = x.new_zeros(len(self.nodes) * self.G, d)
            q[self.grid_index] = blk.n2(x)
            y = blk.ca.attend(q.view(len(self.nodes), self.G, d), mk, mv, mask=self.mmask)
            x = x + y.reshape(-1, d)[self.grid_index]
            x = x + blk.mlp(blk.n3(x))
        self.h = m.dec_norm(x)
        return self.h[self.live]

    @torch.no_grad()
    def feed(self, tokens, finished) -> None:
        """The tokens chosen for the live rows (as `step` returned them) and which rows are now done."""
        self.t += 1
        emb = self.m.tok_emb(tokens)
        x = torch.zeros_like(self.h)
        x[self.live] = emb
        self.x = x
        live_idx = torch.nonzero(self.live)[:, 0]
        self.live[live_idx[finished]] = False
        n_live = int(self.live.sum())
        if n_live <= 0.75 * len(self.live) and self.t < self.m.config.max_content:
            keep = torch.nonzero(self.live)[:, 0]
            self.k = [b[keep] for b in self.k]
            self.v = [b[keep] for b in self.v]
            self.x = self.x[keep]
            self.active = self.active[keep]
            self.live = torch.ones(len(keep), dtype=torch.bool, device=keep.device)
            if len(keep):
                self._layout()

    @property
    def live_rows(self):
        """Original row ids of the live rows, in the order of `step`'s output."""
        return self.active[self.live]


_KIND_IDS = {k: i for i, k in enumerate(dict.fromkeys(ACTION_KIND))}
_ACTION_TO_KIND = torch.tensor([_KIND_IDS[k] for k in ACTION_KIND])


def policy_loss(model, batch, logits=None):
    """Cross-entropy of the where x what head (the log of the probability of the set of labelled
    first steps) plus the decoder's per-token cross-entropy; metrics: teacher-forced top-1 of where
    (the most probable slot is a labelled one), what (the best action at a labelled slot is a label,
    edit kinds: `what_kind`), and content token accuracy."""
    act, tok = model(batch) if logits is None else logits
    b = act.shape[0]
    flat = act.float().flatten(1)                                      # (B, (L+1) * N)
    logp = flat.log_softmax(-1)
    target = batch["target"].flatten(1)
    pos_lp = logp.masked_fill(~target, float("-inf")).logsumexp(-1)
    where_loss = -pos_lp.mean()
    loss = where_loss
    metrics = {"where_loss": where_loss.detach()}
    if tok is not None:
        tgt = batch["c_ids"].long()
        ce = F.cross_entropy(tok.float().flatten(0, 1), tgt.flatten().masked_fill(tgt.flatten() < 0, -100),
                             ignore_index=-100)
        loss = loss + ce
        with torch.no_grad():
            ok = tgt >= 0
            metrics["content_loss"] = ce.detach()
            metrics["content_acc"] = ((tok.argmax(-1) == tgt) & ok).sum().float() / ok.sum().clamp(min=1)
    with torch.no_grad():
        metrics.update(where_what_accuracy(act, batch["valid"], batch["target"]))
        metrics["loss"] = loss.detach()
    return loss, metrics


@torch.no_grad()
def where_what_accuracy(act, valid, target, k: int = 5) -> dict:
    """Top-1 / top-k accuracy of where (slot probabilities summed over actions) and top-1 of what
    (the best valid action at a labelled slot is labelled; `what_kind`: its edit kind is a labelled
    kind there)."""
    p = act.float().flatten(1).softmax(-1).view(act.shape)
    p = p * valid
    slot_p = p.sum(-1)                                                 # (B, L+1)
    pos_slot = target.any(-1)
    kk = min(k, slot_p.shape[1])
    top = slot_p.topk(kk, -1).indices
    hit = pos_slot.gather(1, top)
    # what: at each labelled slot, the argmax action
    best = act.float().masked_fill(~valid, float("-inf")).argmax(-1)   # (B, L+1)
    what_ok = target.gather(2, best[..., None])[..., 0]
    kinds = _ACTION_TO_KIND.to(act.device)
    onehot = F.one_hot(kinds, int(kinds.max()) + 1).float()            # (N_ACTIONS, kinds)
    tk = (target.float() @ onehot) > 0                                 # labelled kinds per slot
    kind_ok = tk.gather(2, kinds[best][..., None])[..., 0]
    n_pos = pos_slot.sum().clamp(min=1)
    return {"where_top1": hit[:, 0].float().mean(), f"where_top{k}": hit.any(-1).float().mean(),
            "what_top1": (what_ok & pos_slot).sum().float() / n_pos,
            "what_kind": (kind_ok & pos_slot).sum().float() / n_pos}


def slot_probabilities(act, valid):
    """(B, L+1, N) probabilities of the valid pairs (softmax over each program's pairs)."""
    return act.float().flatten(1).softmax(-1).view(act.shape) * valid

