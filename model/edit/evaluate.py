"""Held-out evaluation during `train`: a fixed set of held-out pairs per kind, scored teacher-forced
(loss, token accuracy) and by greedy decoding (exact script; whether the edits applied to A draw B).

"Edits reproduce B": the greedy script applied to A parses, runs and draws B (`data.novelty.same_image`
under the database's threshold); for lateral pairs (A already draws B) the result must also be
shorter than A; for the step kinds (`model.edit.step_pairs`: B is one step, the image a far target) it must
draw B, and `closer_<kind>` counts steps that draw closer to the far target. `a_draws_b` is the rate at
which A itself already draws B (a baseline)."""
from __future__ import annotations

import numpy as np
import torch

import logo
from data.novelty import same_image
from .edits import EditError, apply_edits
from .generate import decode, scripts_from
from .net import loss_and_metrics
from ..transformer import unwrap
from .pairs import KINDS, PairSampler
from .step_pairs import STEP_KINDS
from ..examples import step_closer
from ..tokenizer import join


def same_image_fn(threshold: float | None):
    """`data.novelty.same_image` under the database's threshold (its default when there is none)."""
    return (lambda a, b: same_image(a, b, threshold)) if threshold else same_image


class Evaluator:
    """A fixed set of held-out pairs (per kind), chosen once there are enough."""

    def __init__(self, sampler: PairSampler, per_kind: int, same_image, seed: int = 1234):
        self.sampler, self.per_kind, self.same_image = sampler, per_kind, same_image
        self.batches: dict[str, dict] | None = None
        self.seed = seed

    def _choose(self):
        s = self.sampler
        counts = s.counts("heldout")
        if sum(counts.values()) == 0:
            return None
        state = s.nrng
        s.nrng = np.random.default_rng(self.seed)
        try:
            out = {}
            for k in KINDS:
                if counts[k]:
                    parts = s.sample_indices(min(self.per_kind, counts[k]), "heldout", kinds=[k], replace=False)
                    out[k] = (parts, min(self.per_kind, counts[k]))
            return out
        finally:
            s.nrng = state

    @torch.no_grad()
    def run(self, model, device, autocast) -> dict | None:
        """The held-out metrics, overall and per kind (None while there are no held-out pairs)."""
        if self.batches is None or sum(n for _, n in self.batches.values()) < 4 * self.per_kind // 2:
            self.batches = self._choose()
        if not self.batches:
            return None
        core = unwrap(model)
        core.eval()
        totals = dict.fromkeys(("loss", "token_acc", "exact", "reproduces", "parses", "a_draws_b"), 0.0)
        n_all = 0
        out = {}
        for kind, (parts, n) in self.batches.items():
            sums = {"loss": 0.0, "token_acc": 0.0, "exact": 0, "reproduces": 0, "parses": 0, "a_draws_b": 0,
                    "closer": 0}
            for lo in range(0, n, 128):
                sub = [(pool, rows[lo:lo + 128]) for pool, rows in parts]
                for k, v in self._score(core, kind, [(p, r) for p, r in sub if len(r)], device, autocast).items():
                    sums[k] += v
            out[f"reproduces_{kind}"] = sums["reproduces"] / n
            out[f"exact_{kind}"] = sums["exact"] / n
            if kind in STEP_KINDS:
                out[f"closer_{kind}"] = sums["closer"] / n
            for k in totals:
                totals[k] += sums[k]
            n_all += n
        out.update({k: v / n_all for k, v in totals.items()})
        out["n_eval"] = n_all
        return out

    def _score(self, core, kind: str, parts, device, autocast) -> dict:
        """Sums over one batch of held-out pairs of one kind (loss and token accuracy weighted by pairs)."""
        s = self.sampler
        b = s.gather(parts, device)
        m = len(b["b_entry"])
        with autocast():
            _, met = loss_and_metrics(core, b)
            ty, tk, ps = decode(core, b["images"], b["a_ids"], b["a_len"], b["depth"])
        got = scripts_from(s.tok, ty.cpu(), tk.cpu(), ps.cpu())
        want = s.target_scripts(b)
        a_toks = s.a_tokens(b)
        exact = 0
        texts = []
        for g, w, a in zip(got, want, a_toks):
            exact += g == w
            try:
                texts.append(join(apply_edits(a, g)))
            except EditError:
                texts.append("")
        imgs_b = b["images"][:, 1].cpu().numpy()
        progs, ok = [], []
        for t in texts:
            try:
                progs.append(logo.parse(t))
                ok.append(bool(t))
            except logo.LogoError:
                progs.append(logo.parse("(move 0 0)"))
                ok.append(False)
        imgs, drew = logo.render_batch(progs, size=s.size, library=s.library, errors="blank")
        imgs_a = b["images"][:, 0].cpu().numpy()
        closer = 0
        if kind in STEP_KINDS:    # B is one step, the image a far target: "reproduces" = draws B
            imgs_b = logo.render_batch([join(apply_edits(a, w)) for a, w in zip(a_toks, want)],
                                       size=s.size, library=s.library, errors="blank")[0]
            closer = step_closer(imgs_a, imgs, drew & np.asarray(ok), b["images"][:, 1].cpu().numpy())
        rep = parses = base = 0
        for i in range(m):
            parses += ok[i]
            hit = ok[i] and drew[i] and self.same_image(imgs[i], imgs_b[i])
            a_hit = len(a_toks[i]) > 0 and self.same_image(imgs_a[i], imgs_b[i])
            if kind == "lateral":      # A already draws B: success means a shorter program
                hit = hit and len(texts[i].split()) < len(a_toks[i])
            rep += bool(hit)
            base += bool(a_hit) and kind != "lateral"
        return {"loss": float(met["loss"]) * m, "token_acc": float(met["token_acc"]) * m, "exact": exact,
                "reproduces": rep, "parses": parses, "a_draws_b": base, "closer": closer}
