"""Training pairs for the edit model, drawn from the program-image database at speed.

`PairSampler(source, tokenizer, ...)` keeps an in-memory index of the database's head programs
(refreshed with `refresh()` from `source.heads(min_id=last_seen)`, so it follows a database that
another process is filling) and a `PairPool` of ready-encoded pairs:

- "edit":     A and B are stored heads within token edit distance 1..k (both directions);
- "denovo":   A is the empty program, B a stored head;
- "lateral":  A is a stored equivalent of B (same image, longer program), B the head;
- "mutation": B is stored, A a random token mutation of B (1..k edits) that still draws; the
              fallback when the database has few near pairs;
- "far", "prefix", "hindsight": steps toward a far target (`model.edit.step_pairs`): one grammatical
              mutation undone shown the chain's start, a drawing built one statement at a time, and
              the steps of search paths that `dream` logged (`hindsight=LOG/found.jsonl`).

Every pair's A and B are valid programs (B is stored, or was parsed / run when the pair was made), so
the script the model learns turns a valid program into a valid program.

The mixture (`DEFAULT_WEIGHTS`, `train --pair-weights`): kinds with no pairs drop out and the rest are
renormalised. The default was not swept (no time on this CPU for a mixture search): the far-target
kind, the search's own question, gets the largest weight; edit and mutation pairs keep enough weight
that the local skills (small fixes) the first build learned are not lost; hindsight pairs, when a dream
log is given, come from the search itself and get 0.15.

Entries are split into train / held-out by a hash of their id; a pair is held out when its B is.
`batch(n, split)` gathers a batch of tensors (the layout is in `model.edit.net`) with numpy indexing only.

`source` is any `data.source.ProgramSource`: a `data.db.Database` or a `data.memory.MemorySource`.
"""
from __future__ import annotations

import random
from typing import Sequence

import numpy as np
import torch

import logo
from logo.tokens import CONTEXT_TOKENS
from data.novelty import same_image
from data.source import ProgramSource
from .distance import bounded_distances
from .edits import Edit, edit_script
from .encoding import decode_script, encode_program, encode_script
from .mutations import mutate_tokens
from ..examples import follow_library, is_heldout
from ..tokenizer import Tokenizer, join, program_tokens

KINDS = ("edit", "denovo", "lateral", "mutation", "far", "prefix", "hindsight")   # the last three: model.edit.step_pairs
SPLITS = ("train", "heldout")
DEFAULT_WEIGHTS = {"edit": 0.25, "denovo": 0.1, "lateral": 0.05, "mutation": 0.15, "far": 0.3, "prefix": 0.1,
                   "hindsight": 0.15}


class PairPool:
    """Growable arrays of encoded (A, edit script, image A, image B) pairs, indexed by kind and split.

    A row: A's token ids, depths and length; the script's type / token / position columns; `img_a`
    and `img_b`, rows of the sampler's image table; and `b_entry`, the database entry that decides
    the split. `img_b` is the image the model is asked to move toward (B's own image for the kinds
    here; a pair kind may put a farther target image there).
    """

    def __init__(self, tokenizer: Tokenizer, max_tokens: int, max_edits: int, heldout: float = 0.0,
                 capacity: int = 1024):
        self.tok, self.max_tokens, self.max_edits, self.heldout = tokenizer, max_tokens, max_edits, heldout
        self.n = 0
        self.L, self.T = max_tokens + 1, max_edits + 1
        self.arrays: dict[str, np.ndarray] = {}
        self.rows: dict[tuple[str, str], list[int]] = {(k, s): [] for k in KINDS for s in SPLITS}
        self._alloc(capacity)

    def _alloc(self, cap: int):
        spec = {"a_ids": ((self.L,), np.int32), "depth": ((self.L,), np.int8), "a_len": ((), np.int32),
                "e_type": ((self.T,), np.int8), "e_tok": ((self.T,), np.int32), "e_pos": ((self.T,), np.int16),
                "img_a": ((), np.int64), "img_b": ((), np.int64), "b_entry": ((), np.int64)}
        new = {k: np.zeros((cap, *shape), dt) for k, (shape, dt) in spec.items()}
        for k, v in self.arrays.items():
            new[k][:self.n] = v[:self.n]
        self.arrays = new
        self.cap = cap

    def append(self, **row) -> int:
        """Store one already-encoded row (all the array fields); returns its index. Not indexed by kind."""
        if self.n == self.cap:
            self._alloc(self.cap * 2)
        for k, v in row.items():
            self.arrays[k][self.n] = v
        self.n += 1
        return self.n - 1

    def add_pair(self, kind: str, a_tokens: Sequence[str], b_tokens: Sequence[str], img_a: int, img_b: int,
                 b_entry: int) -> bool:
        """Encode and store the pair "edit A into B" under `kind`; False (nothing stored) when A is too
        long or has unknown tokens, the script is empty, too long or emits an unknown token.

        img_a: image row of A's drawing; img_b: image row of the image the model is asked to move
        toward; b_entry: the entry whose id decides the split.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown pair kind {kind!r}; expected one of {KINDS}")
        enc_a = encode_program(self.tok, a_tokens, self.max_tokens)
        if enc_a is None:
            return False
        script = edit_script(a_tokens, b_tokens)
        enc_e = encode_script(self.tok, script, self.max_edits)
        if enc_e is None or not script:
            return False
        a, dep, n = enc_a
        t, k, p = enc_e
        i = self.append(a_ids=a, depth=dep, a_len=n, e_type=t, e_tok=k, e_pos=p, img_a=img_a, img_b=img_b,
                        b_entry=b_entry)
        split = "heldout" if is_heldout(b_entry, self.heldout) else "train"
        self.rows[(kind, split)].append(i)
        return True


class PairSampler:
    """Training pairs from a `data.source.ProgramSource`, encoded and ready to batch (see the module doc)."""

    def __init__(self, source: ProgramSource, tokenizer: Tokenizer, max_tokens: int = CONTEXT_TOKENS, max_edits: int = 48,
                 max_dist: int = 6, heldout: float = 0.1, seed: int = 0, max_neighbors: int = 16,
                 mutations_per_refresh: int = 2048, mutation_capacity: int = 50_000,
                 weights: dict | None = None, refresh_limit: int = 5000, max_candidates: int = 3000,
                 round_to: int = 1, far_chains: int = 256, hindsight=None, target_noise: float = 0.0):
        self.source, self.tok = source, tokenizer
        self.max_tokens, self.max_edits, self.max_dist = max_tokens, max_edits, max_dist
        self.heldout = heldout
        self.rng = random.Random(seed)
        self.nrng = np.random.default_rng(seed)
        self.max_neighbors = max_neighbors
        self.mutations_per_refresh = mutations_per_refresh
        self.mutation_capacity = mutation_capacity
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        self.far_chains = far_chains     # far-target chains built per refresh (model.edit.step_pairs)
        self.target_noise = target_noise   # probability a training row's target image is jittered
        self._hindsight = None
        if hindsight:
            from .hindsight import HindsightReader
            self._hindsight = HindsightReader(hindsight)
        self.refresh_limit = refresh_limit
        self.max_candidates = max_candidates
        self.round_to = round_to       # pad batch lengths to a multiple (fewer shapes for torch.compile)
        self.size = source.image_size
        # images: row 0 is blank (the empty program)
        self._images = np.zeros((1024, self.size, self.size), np.uint8)
        self._n_images = 1
        self.entry_row: dict[int, int] = {}          # entry id -> image row
        self.entry_tokens: dict[int, list[str]] = {}
        self.entry_ids: list[int] = []
        self._hist = np.zeros((0, 0), np.int16)
        self._lens = np.zeros(0, np.int32)
        self.neighbors: dict[int, int] = {}
        self.last_id = 0
        self.pool = PairPool(tokenizer, max_tokens, max_edits, heldout)
        self.kind_index = self.pool.rows         # (kind, split) -> rows of `pool`
        self._mut_pool = PairPool(tokenizer, max_tokens, max_edits, heldout)   # a ring of mutation pairs
        self._mut_rows = {"train": [], "heldout": []}
        self._mut_next = 0
        self._mut_image_rows: np.ndarray | None = None
        self._library_text = None
        self._library = None
        self.stats = {k: 0 for k in KINDS}
        self._worker = None
        self._worker_future = None
        self._steps_future = None
        self._pending_prefix: list[int] = []

    # ---- images ------------------------------------------------------------------------------
    def add_images(self, imgs: np.ndarray) -> np.ndarray:
        """Store images (uint8, (n, size, size)) that pairs will refer to; returns their rows, the
        `img_a` / `img_b` of `add_pair`."""
        n = len(imgs)
        while self._n_images + n > len(self._images):
            bigger = np.zeros((len(self._images) * 2, self.size, self.size), np.uint8)
            bigger[:self._n_images] = self._images[:self._n_images]
            self._images = bigger
        rows = np.arange(self._n_images, self._n_images + n)
        self._images[rows] = imgs
        self._n_images += n
        return rows

    @property
    def images(self) -> np.ndarray:
        return self._images

    @property
    def library(self):
        return self._library

    # ---- pairs ---------------------------------------------------------------------------------
    def add_pair(self, kind: str, a_tokens, b_tokens, img_a: int, img_b: int, b_entry: int) -> bool:
        """Add a training pair of `kind` (A's tokens -> B's tokens, shown the images in rows `img_a`,
        `img_b` of `add_images`; held out when entry `b_entry` is), counted in `stats`. False (nothing
        stored) when it does not fit the model (`PairPool.add_pair`)."""
        ok = self.pool.add_pair(kind, a_tokens, b_tokens, img_a, img_b, b_entry)
        self.stats[kind] += ok
        return ok

    def _refresh_library(self):
        got = follow_library(self.source, self.tok, self._library_text)
        if got is not None:
            self._library_text, self._library = got

    def refresh(self) -> int:
        """Read entries newer than the last seen id; add their pairs. Returns the number of new entries."""
        self._refresh_library()
        rows = self.source.heads(min_id=self.last_id + 1, limit=self.refresh_limit)
        if not rows:
            self._make_mutations()
            self._make_steps([])
            return 0
        self.last_id = max(self.last_id, rows[-1][0])
        new_ids, new_toks = [], []
        for eid, text in rows:
            try:
                toks = program_tokens(text)
            except logo.LogoError:
                continue
            if len(toks) > self.max_tokens or self.tok.unk_id in self.tok.encode(toks):
                continue
            new_ids.append(eid)
            new_toks.append(toks)
        if new_ids:
            img_rows = self.add_images(self.source.images(new_ids))
            for eid, toks, r in zip(new_ids, new_toks, img_rows):
                self.entry_row[eid] = int(r)
                self.entry_tokens[eid] = toks
            self._index_neighbors(new_ids, new_toks)
            for eid, toks in zip(new_ids, new_toks):
                if len(toks) <= self.max_edits:
                    self.add_pair("denovo", [], toks, 0, self.entry_row[eid], eid)
            self._add_laterals(new_ids)
        self._make_mutations()
        self._make_steps(new_ids)
        return len(new_ids)

    def _make_steps(self, new_ids):
        """Far, prefix and hindsight pairs: made now, or (background) prepared in the worker thread and
        committed at a later refresh, so making them never holds up training. Entries and log records
        that arrive while the worker is busy wait for its next batch (prefix pairs for at most 1000
        entries per batch, like the synchronous path)."""
        from . import step_pairs as sp
        self._pending_prefix.extend(new_ids)
        if self._worker is not None:
            fut = self._steps_future
            if fut is not None and not fut.done():
                return
            if fut is not None:
                self._commit_steps(fut.result())
                self._steps_future = None
        rng = random.Random(self.rng.random())
        far = sp.far_inputs(self, self.far_chains, rng) if self.weights.get("far", 0) > 0 else ([], [], None)
        pre = sp.prefix_inputs(self, self._pending_prefix, rng) \
            if self.weights.get("prefix", 0) > 0 and self._pending_prefix else []
        self._pending_prefix = []
        paths = self._hindsight.read() if self._hindsight is not None and self.weights.get("hindsight", 0) > 0 \
            else []
        size, library, max_tokens = self.size, self._library, self.max_tokens

        def prepare():
            return (sp.prepare_far(*far, rng, 8, size, library, max_tokens), sp.prepare_prefix(pre, size, library),
                    sp.prepare_hindsight(paths, size, library))

        if self._worker is None:
            self._commit_steps(prepare())
        else:
            self._steps_future = self._worker.submit(prepare)

    def _commit_steps(self, prepared) -> int:
        from . import step_pairs as sp
        f, p, h = prepared
        return sp.commit_far(self, f) + sp.commit_prefix(self, p) + sp.commit_hindsight(self, h)

    def _index_neighbors(self, new_ids, new_toks):
        V = max(len(self.tok), 1)
        if self._hist.shape[1] < V:
            grown = np.zeros((self._hist.shape[0], V + 64), np.int16)
            grown[:, :self._hist.shape[1]] = self._hist
            self._hist = grown
        width = self._hist.shape[1]
        hist_new = np.zeros((len(new_ids), width), np.int16)
        for r, toks in enumerate(new_toks):
            np.add.at(hist_new[r], self.tok.encode(toks), 1)
        old_n = len(self.entry_ids)
        self._hist = np.concatenate([self._hist, hist_new])
        self._lens = np.concatenate([self._lens, np.array([len(t) for t in new_toks], np.int32)])
        self.entry_ids.extend(new_ids)
        ids_arr = np.asarray(self.entry_ids)
        # token-id sequences, flat, for the numba distance
        seqs = [np.asarray(self.tok.encode(t), np.int32) for t in new_toks]
        self._flat = np.concatenate([getattr(self, "_flat", np.zeros(0, np.int32)), *seqs])
        self._starts = np.concatenate([[0], np.cumsum(self._lens)[:-1]]).astype(np.int64)
        k = self.max_dist
        for r, (eid, toks) in enumerate(zip(new_ids, new_toks)):
            me = old_n + r
            if self.neighbors.get(eid, 0) >= self.max_neighbors:
                continue
            # candidates among the entries seen before this one: |len diff| <= k and hist L1 <= 2k
            cand = np.flatnonzero(np.abs(self._lens[:me] - len(toks)) <= k)
            if cand.size == 0:
                continue
            if cand.size > self.max_candidates:     # large databases: look at a random subset
                cand = np.sort(self.nrng.choice(cand, self.max_candidates, replace=False))
            l1 = np.abs(self._hist[cand] - self._hist[me]).sum(1)
            cand = cand[l1 <= 2 * k]
            if cand.size == 0:
                continue
            dist = bounded_distances(seqs[r], self._flat, self._starts, self._lens, cand.astype(np.int64), k)
            near = cand[(dist >= 1) & (dist <= k)]
            if near.size > self.max_neighbors:
                near = self.nrng.choice(near, self.max_neighbors, replace=False)
            for c in near:
                other = int(ids_arr[c])
                if self.neighbors.get(other, 0) >= self.max_neighbors or self.neighbors.get(eid, 0) >= self.max_neighbors:
                    continue
                ot = self.entry_tokens[other]
                ok1 = self.add_pair("edit", toks, ot, self.entry_row[eid], self.entry_row[other], other)
                ok2 = self.add_pair("edit", ot, toks, self.entry_row[other], self.entry_row[eid], eid)
                if ok1 or ok2:
                    self.neighbors[other] = self.neighbors.get(other, 0) + 1
                    self.neighbors[eid] = self.neighbors.get(eid, 0) + 1

    def _add_laterals(self, new_ids):
        for eid in new_ids:
            try:
                entry = self.source.get(eid)
            except Exception:
                continue
            eqs = list(getattr(entry, "equivalents", []) or [])
            head = self.entry_tokens[eid]
            for text in eqs[1:4]:
                try:
                    a = program_tokens(text)
                except logo.LogoError:
                    continue
                if a != head:
                    self.add_pair("lateral", a, head, self.entry_row[eid], self.entry_row[eid], eid)

    def prepare_mutations(self, n: int) -> list:
        """Make up to n mutation pairs (A = mutate(B), B stored), rendered in one batch; touches no pool."""
        ids = self.entry_ids
        if n <= 0 or not ids:
            return []
        rng = random.Random(self.rng.random())
        cands = []
        for _ in range(n):
            b = ids[rng.randrange(len(ids))]
            bt = self.entry_tokens[b]
            at = mutate_tokens(bt, rng, rng.randint(1, max(1, self.max_dist // 2)))
            try:
                at = program_tokens(join(at))
            except logo.LogoError:
                continue
            if at == bt or len(at) > self.max_tokens:
                continue
            script = edit_script(at, bt)
            if not 1 <= len(script) <= self.max_dist:
                continue
            enc_a = encode_program(self.tok, at, self.max_tokens)
            enc_e = encode_script(self.tok, script, self.max_edits)
            if enc_a is None or enc_e is None:
                continue
            cands.append((b, at, enc_a, enc_e))
        if not cands:
            return []
        imgs, verdicts = logo.render_checked([join(c[1]) for c in cands], self.size, self._library)
        out = []
        for c, img, verdict in zip(cands, imgs, verdicts):
            # A must draw something else than B (else "A already draws B" makes a trivial pair)
            if verdict == 0 and not same_image(img, self._images[self.entry_row[c[0]]]):
                out.append((c, img))
        return out

    def commit_mutations(self, prepared: list) -> int:
        """Write prepared mutation pairs into the ring (main thread only)."""
        if not prepared:
            return 0
        if self._mut_image_rows is None:
            self._mut_image_rows = self.add_images(
                np.zeros((self.mutation_capacity, self.size, self.size), np.uint8))
        pool = self._mut_pool
        wrapped = False
        for (b, at, (a, dep, n), (t, k, p)), img in prepared:
            slot = self._mut_next % self.mutation_capacity
            img_row = int(self._mut_image_rows[slot])
            fields = dict(a_ids=a, depth=dep, a_len=n, e_type=t, e_tok=k, e_pos=p, img_a=img_row,
                          img_b=self.entry_row[b], b_entry=b)
            self._images[img_row] = img
            if self._mut_next < self.mutation_capacity:
                row = pool.append(**fields)
                self._mut_rows["heldout" if is_heldout(b, self.heldout) else "train"].append(row)
            else:
                for key, v in fields.items():
                    pool.arrays[key][slot] = v
                wrapped = True
            self._mut_next += 1
            self.stats["mutation"] += 1
        if wrapped:
            ent = pool.arrays["b_entry"][:pool.n]
            held = np.array([is_heldout(e, self.heldout) for e in ent], bool)
            self._mut_rows = {"heldout": list(np.flatnonzero(held)), "train": list(np.flatnonzero(~held))}
        return len(prepared)

    def _make_mutations(self):
        """Add `mutations_per_refresh` mutation pairs: now, or from the background thread's last batch."""
        if self._worker is None:
            self.commit_mutations(self.prepare_mutations(self.mutations_per_refresh))
            return
        fut = self._worker_future
        if fut is not None and fut.done():
            self.commit_mutations(fut.result())
            fut = None
        if fut is None:
            self._worker_future = self._worker.submit(self.prepare_mutations, self.mutations_per_refresh)

    def start_background(self) -> None:
        """Make mutation and step pairs in a background thread (numba rendering releases the GIL);
        `refresh()` then commits the last finished batches and starts the next, so it never waits."""
        from concurrent.futures import ThreadPoolExecutor
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="pairs")

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)
            self._worker = None

    # ---- batches -------------------------------------------------------------------------------
    def counts(self, split: str = "train") -> dict:
        out = {k: len(self.kind_index[(k, split)]) for k in KINDS if k != "mutation"}
        out["mutation"] = len(self._mut_rows[split])
        return out

    def sample_indices(self, n: int, split: str = "train", kinds: Sequence[str] | None = None,
                       replace: bool = True):
        """[(pool, rows)]: n pairs drawn by kind weight (kinds with no pairs are skipped)."""
        counts = self.counts(split)
        kinds = [k for k in (kinds or KINDS) if counts[k] > 0]
        if not kinds:
            raise RuntimeError("no training pairs yet: is the database empty?")
        w = np.array([self.weights.get(k, 0.0) for k in kinds], float)
        if "mutation" in kinds and counts.get("edit", 0) < 1000:      # few stored near pairs
            w[kinds.index("mutation")] = max(w[kinds.index("mutation")], 0.5 * w.sum())
        w = w / w.sum() if w.sum() > 0 else np.full(len(kinds), 1 / len(kinds))
        per_kind = self.nrng.multinomial(n, w)
        main, mut = [], []
        for k, m in zip(kinds, per_kind):
            if m == 0:
                continue
            if k == "mutation":
                mut.append(self._pick(self._mut_rows[split], m, replace))
            else:
                main.append(self._pick(self.kind_index[(k, split)], m, replace))
        out = []
        if main:
            out.append((self.pool, np.concatenate(main)))
        if mut:
            out.append((self._mut_pool, np.concatenate(mut)))
        return out

    def _pick(self, rows, m, replace):
        rows = np.asarray(rows)
        if replace or m > len(rows):
            return rows[self.nrng.integers(0, len(rows), m)]
        return rows[self.nrng.choice(len(rows), m, replace=False)]

    def gather(self, parts, device="cpu") -> dict:
        """The batch of the given (pool, rows) parts, padding trimmed to the longest A and script."""
        cols = {}
        for key in ("a_ids", "depth", "a_len", "e_type", "e_tok", "e_pos", "img_a", "img_b", "b_entry"):
            cols[key] = np.concatenate([pool.arrays[key][rows] for pool, rows in parts])
        # trim padding to the longest A and longest script in the batch
        r = self.round_to
        L = min(-(-(int(cols["a_len"].max()) + 1) // r) * r, cols["a_ids"].shape[1])
        T = min(-(-int((cols["e_type"] >= 0).sum(1).max()) // r) * r, cols["e_type"].shape[1])
        images = np.stack([self._images[cols["img_a"]], self._images[cols["img_b"]]], axis=1)
        batch = {
            "images": torch.from_numpy(images),
            "a_ids": torch.from_numpy(cols["a_ids"][:, :L].astype(np.int64)),
            "depth": torch.from_numpy(cols["depth"][:, :L].astype(np.int64)),
            "a_len": torch.from_numpy(cols["a_len"].astype(np.int64)),
            "e_type": torch.from_numpy(cols["e_type"][:, :T].astype(np.int64)),
            "e_tok": torch.from_numpy(cols["e_tok"][:, :T].astype(np.int64)),
            "e_pos": torch.from_numpy(cols["e_pos"][:, :T].astype(np.int64)),
        }
        if device != "cpu":
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        batch["b_entry"] = cols["b_entry"]
        return batch

    def batch(self, n: int, split: str = "train", device="cpu", kinds=None) -> dict:
        """n pairs drawn by kind weight, as a batch of tensors (see `model.edit.net`) plus `b_entry` (numpy).
        Training batches get target noise (`target_noise`, `model.edit.target_noise`); held-out ones never."""
        b = self.gather(self.sample_indices(n, split, kinds), "cpu")
        if split == "train" and self.target_noise > 0:
            from .target_noise import jitter
            b["images"][:, 1] = torch.from_numpy(jitter(b["images"][:, 1].numpy(), self.nrng, self.target_noise))
        if device != "cpu":
            b = {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in b.items()}
        return b

    def a_tokens(self, batch) -> list[list[str]]:
        ids = batch["a_ids"].cpu().numpy()
        lens = batch["a_len"].cpu().numpy()
        return [self.tok.decode(ids[i, :lens[i]]) for i in range(len(lens))]

    def target_scripts(self, batch) -> list[list[Edit]]:
        t, k, p = (batch[x].cpu().numpy() for x in ("e_type", "e_tok", "e_pos"))
        return [decode_script(self.tok, t[i], k[i], p[i]) for i in range(len(t))]
