"""Spend one forward pass of the policy on many grammatical edits of each program.

`PolicySampler.propose(images_a, images_b, programs)` encodes every program once (a batch), reads the
where x what distribution (`model.policy.net`), draws K (slot, action) pairs per program, decodes the
content the drawn actions need (statements, expressions, a wrapped loop's count) in one batched,
grammar-masked decode (`model.grammar`), and applies each edit with `logo.mutate.Sites.apply`:
every candidate is a valid program tree by construction. A share `eps` of each program's K candidates
are uniform grammatical mutations (`Sites.mutate`, the `grammar` arm's step), so the worst case stays
near that arm; with `fill`, draws that repeat an edit already made are replaced by such mutations too.

Inserted and replacing statements come from the decoder started at the edit's slot or, with probability
`pool_share`, from the node's *pool*: statements decoded once per node from its end slot (the `POOL`
nonterminal, trained on the target's own statements), drawn in turn and renamed into the site's loop
variables, so a few dozen decoded statements serve every slot.

The ablations swap one head for the grammar's uniform choice (`where`, `what` = "learned" | "uniform"):
uniform *where* draws the slot uniformly among the program's editable slots and the action from the
policy at that slot; uniform *what* draws the slot from the policy and the action and content as the
random mutator would (`RandomContent`).
"""
from __future__ import annotations

import random
from collections import Counter

import numpy as np
import torch

from logo.forms import LOOP_VARS
from logo.mutate import (MUTATION_WEIGHTS, MUTATIONS, RandomContent, Sites, random_count, random_expr,
                         random_wrap_count, rename_vars)
from logo.syntax import to_text
from logo.tokens import tokenize

from ..tokenizer import paren_depth
from .actions import ACTION_KIND, ACTIONS, HAS_CONTENT, N_ACTIONS, SiteTable
from ..grammar import POOL, STMT, Grammar, build

MODES = ("learned", "uniform")
_KIND_WEIGHT = np.array([MUTATION_WEIGHTS[MUTATIONS.index(k)] for k in ACTION_KIND])


class PolicySampler:
    def __init__(self, model, tokenizer, device="cpu", k: int = 128, eps: float = 0.1, where: str = "learned",
                 what: str = "learned", temperature: float = 1.0, content_temperature: float = 1.0,
                 library=None, seed: int = 0, fill: bool = True, max_content_rows: int = 96, record: bool = False,
                 pool_share: float = 0.5, pool_size: int = 32):
        if where not in MODES or what not in MODES:
            raise ValueError(f"where and what are one of {MODES}")
        if k < 1 or not 0.0 <= eps <= 1.0:
            raise ValueError("PolicySampler needs k >= 1 and 0 <= eps <= 1")
        self.model, self.tok, self.device = model, tokenizer, device
        self.k, self.eps, self.where, self.what = k, eps, where, what
        self.temperature, self.content_temperature = temperature, content_temperature
        self.library = library
        self.fill = fill
        self.max_content_rows = max_content_rows
        self.pool_share, self.pool_size = pool_share, pool_size
        self.grammar = Grammar(tokenizer, library or ())
        self.rng = random.Random(seed)
        self.nrng = np.random.default_rng(seed)
        self.content = RandomContent(self.rng, library)
        self.max_tokens = model.config.max_tokens
        self.max_content = model.config.max_content
        self._masks: torch.Tensor | None = None
        self.stats = Counter()
        self.record = record
        #: with `record`: per program of the last `propose`, the (action name, content) of each policy edit
        self.trace: list[list[tuple[str, object]]] = []

    def reseed(self, seed: int) -> None:
        self.rng.seed(seed)
        self.nrng = np.random.default_rng(seed)

    # ---- the forward pass ---------------------------------------------------------------------------
    def _encode(self, programs):
        """Tables and token ids of the programs the policy can read (others get uniform mutations)."""
        rows = []
        for i, p in enumerate(programs):
            text = to_text(p)
            toks = tokenize(text) if text else []
            if len(toks) > self.max_tokens:
                continue
            ids = self.tok.encode(toks)
            if self.tok.unk_id in ids:
                continue
            sites = Sites.of(p, is_canonical=True)
            rows.append((i, ids, paren_depth(toks), SiteTable.of(p, sites, len(toks))))
        return rows

    @torch.no_grad()
    def _forward(self, rows, images_a, images_b):
        L = max(len(ids) for _, ids, _, _ in rows) + 1
        B = len(rows)
        a_ids = np.zeros((B, L), np.int64)
        depth = np.zeros((B, L), np.int64)
        valid = np.zeros((B, L, N_ACTIONS), bool)
        a_len = np.zeros(B, np.int64)
        for r, (_, ids, dep, table) in enumerate(rows):
            n = len(ids)
            a_ids[r, :n] = ids
            a_ids[r, n] = self.tok.end_id
            depth[r, :n] = dep
            valid[r, :n + 1] = table.valid
            a_len[r] = n
        idx = [i for i, _, _, _ in rows]
        images = np.stack([np.asarray(images_a)[idx], np.asarray(images_b)[idx]], 1)
        dev = self.device
        t = lambda x: torch.from_numpy(x).to(dev)   # noqa: E731
        model = self.model
        mem, mem_mask, slots, _ = model.encode(t(images), t(a_ids), t(a_len), t(depth))
        act = model.action_logits(slots, t(valid)).float()
        if self.temperature != 1.0:
            act = act / self.temperature
        probs = act.flatten(1).softmax(-1).view(act.shape).cpu().numpy() * valid
        return mem, mem_mask, slots, probs

    # ---- drawing (slot, action) pairs ---------------------------------------------------------------
    def _draw_pairs(self, probs: np.ndarray, table: SiteTable, n: int) -> list[tuple[int, int]]:
        valid = table.valid
        pr = probs[:valid.shape[0]]
        if self.where == "learned":
            if self.what == "learned":
                flat = pr.ravel()
                picks = self.nrng.choice(flat.size, n, p=flat / flat.sum())
                return [(int(i) // N_ACTIONS, int(i) % N_ACTIONS) for i in picks]
            slot_p = pr.sum(1)
            slots = self.nrng.choice(len(slot_p), n, p=slot_p / slot_p.sum())
        else:
            editable = np.flatnonzero(valid.any(1))
            slots = editable[self.nrng.integers(0, len(editable), n)]
        out = []
        for s in slots:
            if self.what == "learned":
                w = pr[s]
            else:                                          # the random mutator's kind weights
                w = valid[s] * _KIND_WEIGHT
            a = int(self.nrng.choice(N_ACTIONS, p=w / w.sum())) if w.sum() > 0 else int(np.flatnonzero(valid[s])[0])
            out.append((int(s), a))
        return out

    # ---- content ------------------------------------------------------------------------------------
    def _random_content(self, table: SiteTable, slot: int, action: int):
        """Content as the random mutator writes it (`Sites.draw`'s choices, `logo.mutate.random_*`)."""
        info = table.slot[(slot, action)]
        name = ACTIONS[action]
        rng, content = self.rng, self.content
        if name in ("insert", "replace_stmt"):
            return content.stmt(info.depth, info.scope)
        if name.startswith("wrap_loop"):
            return random_wrap_count(rng)
        e = table.sites.exprs[info.mutation.site]
        if name == "loop_count":
            new = random_count(rng, e.expr, e.scope, content)
            return new if new is not None else content.expr("count", e.scope)
        return random_expr(rng, e.expr, e.role, e.scope, content)

    def masks(self) -> torch.Tensor:
        if self._masks is None or self._masks.shape[0] != len(self.grammar.masks):
            self._masks = torch.from_numpy(self.grammar.mask_table(len(self.tok))).to(self.device)
        return self._masks

    @torch.no_grad()
    def decode(self, mem, mem_mask, slots, requests: list[list[tuple]]) -> list[list]:
        """Decode content for `requests[r]` = [(slot, nt, scope, depth, budget), ...] of encoded row r
        in one batch (`model.policy.net.RowDecoder`); returns the subtrees (None for a row that did not
        finish) in the same layout."""
        model, g = self.model, self.grammar
        out: list[list] = [[None] * len(req) for req in requests]
        states, row_node, slot_of, nts, where = [], [], [], [], []
        for r, req in enumerate(requests):
            for j, (slot, nt, scope, depth, budget) in enumerate(req):
                states.append(g.start(nt, scope, depth, budget))
                row_node.append(r)
                slot_of.append(slot)
                nts.append(nt)
                where.append((r, j))
        if not states:
            return out
        dev = self.device
        rn = torch.tensor(row_node, device=dev)
        start = model.start_vectors(slots[rn, torch.tensor(slot_of, device=dev)], torch.tensor(nts, device=dev))
        dec = model.row_decoder(mem, mem_mask, rn, start)
        temp = self.content_temperature
        for _ in range(self.max_content):
            rows = dec.live_rows.tolist()
            if not rows:
                break
            h = dec.step()
            ids = torch.tensor([states[i].mask_id for i in rows], device=dev)
            logits = model.token_logits(h, self.masks()[ids]).float()   # (the table grows as masks appear)
            if temp > 0:
                gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp_(1e-9, 1 - 1e-9)))
                tok = (logits / temp + gumbel).argmax(-1)
            else:
                tok = logits.argmax(-1)
            finished = []
            for i, t in zip(rows, tok.tolist()):
                st = states[i]
                st.advance(t)
                finished.append(st.done)
            dec.feed(tok, torch.tensor(finished, device=dev))
        vocab = self.tok.vocab
        for st, nt, (r, j) in zip(states, nts, where):
            if st.done and st.tokens:
                out[r][j] = build([vocab[i] for i in st.tokens], nt)
        return out

    # ---- proposing ----------------------------------------------------------------------------------
    def propose(self, images_a, images_b, programs) -> list[list]:
        """K candidate program trees per (image A, target image, canonical program)."""
        out: list[list] = [[] for _ in programs]
        self.trace = [[] for _ in programs]
        sites_of = {}
        rows = self._encode(programs)
        n_eps = int(round(self.eps * self.k))
        plans = []
        if rows:
            mem, mem_mask, slots, probs = self._forward(rows, images_a, images_b)
            requests = []
            for r, (i, ids, _, table) in enumerate(rows):
                pairs = Counter(self._draw_pairs(probs[r], table, self.k - n_eps))
                plan, req = [], []
                n_pool = 0
                for (slot, action), c in pairs.items():
                    if HAS_CONTENT[action] and self.what == "learned":
                        info = table.slot[(slot, action)]
                        budget = self._budget(info.nt, len(ids), table, slot, action)
                        for _ in range(c):
                            if info.nt == STMT and self.rng.random() < self.pool_share:
                                plan.append((slot, action, ("pool", n_pool)))
                                n_pool += 1
                            elif len(req) < self.max_content_rows:
                                plan.append((slot, action, len(req)))
                                req.append((slot, info.nt, info.scope, info.depth, budget))
                    elif HAS_CONTENT[action]:
                        plan += [(slot, action, "random")] * c
                    else:
                        plan.append((slot, action, None))
                first_pool = len(req)
                req += [(len(ids), POOL, (), 0, self.max_content)] * min(n_pool, self.pool_size)
                plans.append((i, table, plan, first_pool))
                requests.append(req)
            decoded = self.decode(mem, mem_mask, slots, requests)
            for (i, table, plan, first_pool), subs in zip(plans, decoded):
                pool = [s for s in subs[first_pool:] if s is not None]
                sites_of[i] = table.sites
                seen, got = set(), []
                for slot, action, ref in plan:
                    if ref == "random":
                        content = self._random_content(table, slot, action)
                    elif ref is None:
                        content = None
                    elif isinstance(ref, tuple):
                        if not pool:
                            continue
                        scope = table.slot[(slot, action)].scope
                        content = pool[ref[1] % len(pool)]
                        if scope:       # the pool's loops are named from depth 0: rename below the site's
                            content = rename_vars(content, dict(zip(LOOP_VARS, LOOP_VARS[len(scope):])))
                    else:
                        content = subs[ref]
                        if content is None:
                            continue
                    key = (slot, action, content)
                    if key in seen:
                        self.stats["repeats"] += 1
                        continue
                    seen.add(key)
                    try:
                        got.append(table.sites.apply(table.mutation(slot, action, content)))
                    except (IndexError, ValueError, TypeError):
                        self.stats["failed"] += 1
                        continue
                    if self.record:
                        self.trace[i].append((ACTIONS[action], content))
                out[i] = got
        for i, p in enumerate(programs):
            sites = sites_of.get(i) or Sites.of(p, is_canonical=True)
            want = self.k - len(out[i]) if (self.fill or i not in sites_of) else n_eps
            self.stats["policy"] += len(out[i])
            added = 0
            kind = None if p.body else "insert"     # the empty program: only an insert applies
            for _ in range(4 * want):               # a drawn kind may not apply here: draw again
                if added >= want:
                    break
                q = sites.mutate(self.rng, kind, content=self.content)
                if q is not None:
                    out[i].append(q)
                    added += 1
            self.stats["uniform"] += added
        return out

    def _budget(self, nt: int, n_tokens: int, table: SiteTable, slot: int, action: int) -> int:
        """Tokens a decoded subtree may take: what keeps the program within the model's context (at
        least what the nonterminal needs), at most `max_content`."""
        need = 5 if nt == STMT else 1
        freed = 0
        m = table.slot[(slot, action)].mutation
        if m.kind == "replace_stmt":
            freed = len(tokenize(to_text(table.sites.blocks[m.site].body[m.at])))
        elif m.kind in ("replace_expr", "loop_count"):
            freed = len(tokenize(to_text(table.sites.exprs[m.site].expr)))
        return int(min(self.max_content, max(need, self.max_tokens - n_tokens + freed)))
