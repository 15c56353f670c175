"""Beam search (`model.edit.generate.beam_search` / `beam_propose`) against references written independently of it.

The references score scripts with the model's teacher-forced forward pass (`EditModel.forward`, the
training path: no key/value cache, no `model.edit.generate` code) under the decoding constraints as the
docstrings state them, in plain Python:

- an action is FIN, DEL, INS t or SUB t (t an emittable token); DEL and SUB need a token of A at or
  after the smallest allowed position; at the last step (step `max_edits`) only FIN is left;
- an INS points at a slot from that position to the end of A (len(A)), a DEL or SUB at a token from
  that position to len(A) - 1; after an INS the smallest position is its slot, after a DEL or SUB the
  next slot; FIN has no position.

`brute_force` enumerates every such script (up to one edit) with its log-probability, which the beam
must reproduce exactly when nothing is pruned. `reference_beam` is the beam as `beam_search`'s
docstring describes it: each hypothesis is extended by its `action_top` most likely actions, each with
its `pos_top` most likely positions; per input the candidates are ranked by summed log-probability,
the `beam` best unfinished ones go on, and a FIN ranked above the last of them finishes (until `n` are
finished).
"""
import copy
import math

import numpy as np
import pytest
import torch

import logo
from model.edit.encoding import decode_script, encode_program
from model.edit.generate import beam_propose, beam_search
from model.edit.net import DEL, FIN, INS, SUB, EditModel, ModelConfig
from model.tokenizer import Tokenizer


class Reference:
    """Log-probabilities of edit scripts by the teacher-forced forward pass, one row per (input, script)."""

    def __init__(self, model: EditModel, tok: Tokenizer, images_a, images_b, programs, max_edits: int):
        self.model, self.tok, self.max_edits = model, tok, max_edits
        self.C = model.config.vocab_capacity
        self.emittable = [bool(x) for x in model.emittable]
        self.images = torch.stack([torch.as_tensor(np.asarray(images_a)), torch.as_tensor(np.asarray(images_b))], 1)
        self.inputs = []                  # per input: (ids, depth, len(A)) or None when A cannot be encoded
        for p in programs:
            self.inputs.append(encode_program(tok, tok.tokens(p) if p else [], model.config.max_tokens))

    def a_len(self, i: int) -> int:
        return self.inputs[i][2]

    def actions(self):
        """Every action index with its (type, token) in the layout [FIN, DEL, INS t..., SUB t...]."""
        yield 0, FIN, 0
        yield 1, DEL, 0
        for t in range(self.C):
            yield 2 + t, INS, t
        for t in range(self.C):
            yield 2 + self.C + t, SUB, t

    def allowed_actions(self, i: int, min_pos: int, step: int) -> list[int]:
        if step == self.max_edits:
            return [0]
        out = []
        for a, ty, t in self.actions():
            if ty in (DEL, SUB) and min_pos >= self.a_len(i):
                continue
            if ty in (INS, SUB) and not self.emittable[t]:
                continue
            out.append(a)
        return out

    def allowed_positions(self, i: int, ty: int, min_pos: int) -> list[int]:
        last = self.a_len(i) if ty == INS else self.a_len(i) - 1
        return list(range(min_pos, last + 1))

    @staticmethod
    def next_min_pos(ty: int, pos: int) -> int:
        return pos if ty == INS else pos + 1

    @torch.no_grad()
    def logits(self, rows):
        """rows: (input, [(type, token, position), ...]); the model's action and pointer logits (float64)
        at every step of each row (the script is padded with -1 past its end)."""
        T = max(len(e) for _, e in rows)
        ids, dep, lens, ty, tk, ps = [], [], [], [], [], []
        for i, edits in rows:
            a_ids, depth, n = self.inputs[i]
            ids.append(a_ids)
            dep.append(depth)
            lens.append(n)
            pad = [(-1, 0, 0)] * (T - len(edits))
            ty.append([e[0] for e in edits + pad])
            tk.append([e[1] for e in edits + pad])
            ps.append([e[2] for e in edits + pad])
        as_long = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.int64)    # noqa: E731
        batch = {"images": self.images[[i for i, _ in rows]], "a_ids": as_long(ids), "a_len": as_long(lens),
                 "depth": as_long(dep), "e_type": as_long(ty), "e_tok": as_long(tk), "e_pos": as_long(ps)}
        act, ptr = self.model(batch)
        return act.double().numpy(), ptr.double().numpy()


def log_softmax_over(scores: np.ndarray, allowed: list[int]) -> dict[int, float]:
    x = scores[allowed]
    m = x.max()
    lse = m + math.log(np.exp(x - m).sum())
    return {k: float(v - lse) for k, v in zip(allowed, x)}


def brute_force(ref: Reference, i: int) -> list[tuple[float, tuple]]:
    """Every well-formed script of input i with at most ref.max_edits (here 1) edits, scored, best first."""
    assert ref.max_edits == 1
    scripts = [[(FIN, 0, 0)]]
    for a in ref.allowed_actions(i, 0, 0):
        _, ty, t = next(x for x in ref.actions() if x[0] == a)
        if ty != FIN:
            scripts += [[(ty, t, p), (FIN, 0, 0)] for p in ref.allowed_positions(i, ty, 0)]
    act, ptr = ref.logits([(i, s) for s in scripts])
    out = []
    for r, s in enumerate(scripts):
        lp, min_pos = 0.0, 0
        for step, (ty, t, p) in enumerate(s):
            a = 0 if ty == FIN else 1 if ty == DEL else 2 + t if ty == INS else 2 + ref.C + t
            lp += log_softmax_over(act[r, step], ref.allowed_actions(i, min_pos, step))[a]
            if ty != FIN:
                lp += log_softmax_over(ptr[r, step], ref.allowed_positions(i, ty, min_pos))[p]
                min_pos = ref.next_min_pos(ty, p)
        out.append((lp, tuple(s[:-1])))
    return sorted(out, key=lambda x: -x[0])


def reference_beam(ref: Reference, beam: int, n: int, action_top: int, pos_top: int):
    """Per input, up to n finished (log-probability, edits) best first; [] for an input A that cannot be read."""
    results = []
    for i in range(len(ref.inputs)):
        if ref.inputs[i] is None:
            results.append([])
            continue
        live = [(0.0, (), 0)]                        # (score, edits, smallest allowed position)
        finished = []
        for step in range(ref.max_edits + 1):
            cands = []
            for score, edits, min_pos in live:
                # the action distribution at this step, then the positions of each of the top actions
                act, _ = ref.logits([(i, list(edits) + [(FIN, 0, 0)])])
                lp_a = log_softmax_over(act[0, step], ref.allowed_actions(i, min_pos, step))
                top = sorted(lp_a, key=lambda a: -lp_a[a])[:action_top]
                kinds = {a: (ty, t) for a, ty, t in ref.actions()}
                rows = [(i, list(edits) + [(kinds[a][0], kinds[a][1], 0)]) for a in top]
                _, ptr = ref.logits(rows)
                for r, a in enumerate(top):
                    ty, t = kinds[a]
                    if ty == FIN:
                        cands.append((score + lp_a[a], edits, None, min_pos))
                        continue
                    lp_p = log_softmax_over(ptr[r, step], ref.allowed_positions(i, ty, min_pos))
                    for p in sorted(lp_p, key=lambda q: -lp_p[q])[:pos_top]:
                        cands.append((score + lp_a[a] + lp_p[p], edits, (ty, t, p), min_pos))
            cands.sort(key=lambda c: -c[0])
            live = []
            for score, edits, edit, min_pos in cands:
                if len(live) >= beam:
                    break
                if edit is None:
                    if len(finished) < n:
                        finished.append((score, edits))
                else:
                    live.append((score, edits + (edit,), ref.next_min_pos(edit[0], edit[2])))
            if len(finished) >= n or not live:
                break
        results.append(sorted(finished, key=lambda x: -x[0]))
    return results


def as_edits(ref: Reference, edits: tuple) -> list:
    return decode_script(ref.tok, [e[0] for e in edits], [e[1] for e in edits], [e[2] for e in edits])


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    tok = Tokenizer()
    cfg = ModelConfig(image_size=16, patch=4, d_model=32, n_heads=2, img_layers=1, prog_layers=1, dec_layers=2,
                      max_tokens=24, max_edits=10, vocab_capacity=len(tok) + 8)
    model = EditModel(cfg, len(tok))
    with torch.no_grad():                   # spread the scores so that no two hypotheses tie
        for p in model.parameters():
            p.normal_(0, 0.4)
    return model.double().eval(), tok


@pytest.fixture(scope="module", params=["long scripts", "scripts that end early"])
def models(request, random_model):
    """The random model, and a copy whose FIN is likely enough that hypotheses finish at different steps
    (finished scripts of 0 to 10 edits), so that what happens to a FIN in the ranking matters."""
    model, tok = random_model
    if request.param == "long scripts":
        return model, tok
    early = copy.deepcopy(model)
    with torch.no_grad():
        early.type_head.bias[FIN] = 6.0
    return early, tok


PROGRAMS = ["(move 1 0)", "", "(loop i 3 (move ul (/ ua 3)))", "(move (* 2 ul) ua) (move 1 0)",
            " ".join(["(move 1 0)"] * 6)]           # the last is longer than max_tokens: no scripts


def _images(k, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((k, 16, 16)) < 0.2).astype(np.uint8) * 255 for _ in range(2)]


def test_unpruned_beam_is_every_well_formed_script_with_its_probability(random_model):
    """With nothing pruned and one edit at most, the beam returns exactly the brute-force enumeration."""
    model, tok = random_model
    torch.set_num_threads(1)
    progs = ["(move 1 0)", ""]
    ia, ib = _images(2, seed=1)
    ref = Reference(model, tok, ia, ib, progs, max_edits=1)
    wide = 2 + 2 * ref.C
    got = beam_search(model, tok, ia, ib, progs, beam=2000, n=10_000, max_edits=1, action_top=wide,
                      pos_top=64)
    for i, g in enumerate(got):
        want = brute_force(ref, i)
        assert len(want) > 50                              # the comparison compares something
        assert [s for _, s in g] == [as_edits(ref, e) for _, e in want]
        assert [x for x, _ in g] == pytest.approx([x for x, _ in want], rel=1e-5, abs=1e-5)
        assert sum(math.exp(x) for x, _ in want) == pytest.approx(1.0)      # a distribution over scripts


@pytest.mark.parametrize("beam,n,action_top,pos_top", [(4, 4, 4, 3), (3, 6, 4, 3), (2, 3, 3, 2), (5, 2, 6, 4)])
def test_pruned_beam_matches_the_reference_beam(models, beam, n, action_top, pos_top):
    model, tok = models
    torch.set_num_threads(1)
    ia, ib = _images(len(PROGRAMS))
    ref = Reference(model, tok, ia, ib, PROGRAMS, max_edits=model.config.max_edits)
    want = reference_beam(ref, beam, n, action_top, pos_top)
    got = beam_search(model, tok, ia, ib, PROGRAMS, beam=beam, n=n, action_top=action_top, pos_top=pos_top)
    assert sum(len(w) for w in want) > 4 and want[-1] == []         # the comparison compares something
    assert any(len(e) >= 2 for w in want for _, e in w)              # scripts of several edits took part
    assert [[s for _, s in g] for g in got] == [[as_edits(ref, e) for _, e in w] for w in want]
    for g, w in zip(got, want):
        assert [x for x, _ in g] == pytest.approx([x for x, _ in w], rel=1e-5, abs=1e-5)
    # beam_propose: the same scripts, most likely first, each once
    proposed = beam_propose(model, tok, ia, ib, PROGRAMS, beam=beam, n=n, action_top=action_top, pos_top=pos_top)
    for p, w in zip(proposed, want):
        distinct = []
        for _, e in w:
            if as_edits(ref, e) not in distinct:
                distinct.append(as_edits(ref, e))
        assert p == distinct


def test_beam_propose_gives_distinct_well_formed_scripts(random_model):
    from model.edit.edits import apply_edits
    model, tok = random_model
    progs = ["(move 1 0)", ""]
    img = np.stack([logo.render(p or "(move 0 0)", 16) for p in progs])
    out = beam_propose(model, tok, img, img[::-1], progs, beam=4)
    assert len(out) == 2
    for p, scripts in zip(progs, out):
        assert scripts and len({tuple(s) for s in scripts}) == len(scripts)
        for s in scripts:
            apply_edits(tok.tokens(p) if p else [], s)      # raises EditError when malformed
