"""Grammatical steps: the training examples built from the DSL's grammatical mutations (`logo.mutate`).

The search moves from program to program; a useful step is a *grammatical* one (a whole statement or
sub-expression inserted, deleted or replaced), because token-sized steps mostly leave programs that do
not parse (see issue 11).  `logo.mutate` makes such steps; this module renders them and turns them into
the examples that teach them:

- `mutate(program, rng)` (`logo.mutate`, re-exported): one random grammatical mutation (insert /
  delete / replace a statement, replace a sub-expression, change a loop count, wrap statements in a
  loop / embed / penup, unwrap a block), as canonical text or None; `mutate_valid` additionally
  renders and keeps only mutations that still draw something new, on the canvas, within limits.
- `far_chains(programs, rng, k)`: from stored programs C apply up to k drawing mutations
  C = A0 -> A1 -> ... -> Ak.  `far_pairs` turns a chain into examples (A_j, image A_j, image **C**) ->
  the minimal token script A_j -> A_{j-1}: one grammatical step back, conditioned on the far target
  (Tree Diffusion's "revert one mutation", ec3's (a, b, c) triples).
- `prefix_steps(program)`: first j top-level statements -> first j+1 statements, to be shown the image
  of the whole program (build a drawing from the empty program one statement at a time).
- `grammatical_window(a_tokens, script)`: the shortest prefix of an edit script whose result parses, so
  every emitted step turns a valid program into a valid program.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

import logo
from logo.ast import Program
from logo.canonical import canonical
from logo.mutate import MUTATION_WEIGHTS, MUTATIONS, RandomContent, mutate  # noqa: F401  (re-exported)
from logo.tokens import CONTEXT_TOKENS

from .edits import Edit, apply_edits, edit_script
from ..tokenizer import join, program_tokens


# ---- drawing checks ------------------------------------------------------------------------------------

def draws(texts: Sequence[str], size: int = 32, library=None) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, size, size) uint8, ok (n,) bool): ok when the program runs within the interpreter's
    limits, stays on the canvas and draws something."""
    if not texts:
        return np.zeros((0, size, size), np.uint8), np.zeros(0, bool)
    imgs, verdicts = logo.render_checked(list(texts), size=size, library=library)
    ok = verdicts == logo.Verdict.OK
    return np.asarray(imgs), ok


def mutate_valid(texts: Sequence[str], rng: random.Random, size: int = 32, library=None,
                 max_tokens: int = CONTEXT_TOKENS, rounds: int = 3, images: np.ndarray | None = None,
                 max_step_edits: int | None = None, kinds: Sequence[str] | None = None
                 ) -> list[tuple[str, np.ndarray] | None]:
    """One drawing mutation of each program (batched rendering): (new text, its image) or None.
    With `images` (the inputs' images), a mutation must also change the drawing; with `max_step_edits`,
    its minimal token script (either way: the script lengths are equal) must be at most that long."""
    content = RandomContent(rng, library)
    out: list = [None] * len(texts)
    todo = list(range(len(texts)))
    for _ in range(rounds):
        cand = [(i, mutate(texts[i], rng, library=library, max_tokens=max_tokens, content=content, kinds=kinds))
                for i in todo]
        cand = [(i, t) for i, t in cand if t is not None]
        if max_step_edits is not None:
            cand = [(i, t) for i, t in cand
                    if len(edit_script(program_tokens(texts[i]), program_tokens(t))) <= max_step_edits]
        if not cand:
            break
        imgs, ok = draws([t for _, t in cand], size, library)
        for (i, t), img, good in zip(cand, imgs, ok):
            if good and (images is None or not np.array_equal(img, images[i])):
                out[i] = (t, img)
        todo = [i for i in todo if out[i] is None]
        if not todo:
            break
    return out


# ---- far-target chains -----------------------------------------------------------------------------

@dataclass
class Chain:
    """C = programs[0] -> programs[1] -> ... -> programs[-1], each a drawing mutation of the one before."""
    programs: list[str]
    images: list[np.ndarray]
    origin: int = -1        # index of C among the programs given to `far_chains`

    @property
    def k(self) -> int:
        return len(self.programs) - 1


#: the longest step a chain takes (token edits): the search's proposals are capped near this
#: (`dream.search.proposer.ModelProposer.max_edits`), so the model learns steps it will be allowed to emit
MAX_STEP_EDITS = 16


def far_chains(programs: Sequence[str], rng: random.Random, max_k: int = 8, size: int = 32,
               library=None, max_tokens: int = CONTEXT_TOKENS, images: Sequence[np.ndarray] | None = None,
               max_step_edits: int | None = MAX_STEP_EDITS, kinds: Sequence[str] | None = None) -> list[Chain]:
    """For each program C a chain of k ~ U{1..max_k} drawing mutations, each at most `max_step_edits`
    token edits (shorter chains where mutations failed; chains that could not take one step are left
    out). `images` are the programs' images if known; `kinds` restricts the mutations (default: all)."""
    texts = [logo.to_text(canonical(p)) for p in programs]
    if images is None:
        imgs, ok = draws(texts, size, library)
    else:
        imgs, ok = np.asarray(images), np.ones(len(texts), bool)
    chains = [Chain([t], [im], i) for i, (t, im, good) in enumerate(zip(texts, imgs, ok)) if good]
    want = [rng.randint(1, max_k) for _ in chains]
    for step in range(max_k):
        live = [c for c, w in zip(chains, want) if c.k == step and w > step]
        if not live:
            break
        got = mutate_valid([c.programs[-1] for c in live], rng, size, library, max_tokens,
                           images=np.stack([c.images[-1] for c in live]), max_step_edits=max_step_edits,
                           kinds=kinds)
        for c, g in zip(live, got):
            if g is not None:
                c.programs.append(g[0])
                c.images.append(g[1])
    return [c for c in chains if c.k >= 1]


def far_pairs(chain: Chain, last_only: bool = False) -> list[tuple[list[str], list[str], int]]:
    """(A_j tokens, A_{j-1} tokens, j) for j = k..1 (or only j = k): a step back toward C = A_0.
    Shown with A_j's image and C's image, the target is `edit_script(A_j, A_{j-1})`."""
    toks = [program_tokens(t) for t in chain.programs]
    js = [chain.k] if last_only else range(chain.k, 0, -1)
    return [(toks[j], toks[j - 1], j) for j in js]


def undo_chain(chain: Chain) -> list[str]:
    """Apply the chain's step-back scripts from A_k down to A_0; returns the token texts visited
    (a check that every step is a well-formed script between valid programs)."""
    cur = program_tokens(chain.programs[-1])
    visited = [join(cur)]
    for a, b, _ in far_pairs(chain):
        assert a == cur
        cur = apply_edits(cur, edit_script(a, b))
        visited.append(join(cur))
    return visited


# ---- prefix steps ----------------------------------------------------------------------------------------

def prefixes(program) -> list[str]:
    """Texts of the first j top-level statements, j = 0..n (definitions kept), canonical."""
    p = canonical(program)
    return [logo.to_text(Program(p.defs, p.body[:j])) for j in range(len(p.body) + 1)]


def prefix_steps(program) -> list[tuple[list[str], list[str], int]]:
    """(tokens of first j statements, tokens of first j+1 statements, j) for j = 0..n-1."""
    texts = prefixes(program)
    toks = [program_tokens(t) if t.strip() else [] for t in texts]
    return [(toks[j], toks[j + 1], j) for j in range(len(toks) - 1)]


# ---- grammatical windows ----------------------------------------------------------------------------------

def parses(tokens: Sequence[str]) -> bool:
    if not tokens:
        return True
    try:
        logo.parse(join(tokens))
        return True
    except (logo.LogoError, RecursionError):
        return False


def grammatical_window(a_tokens: Sequence[str], script: Sequence[Edit], start: int = 0) -> list[Edit] | None:
    """The shortest window script[start:start+w] (w >= 1) whose result applied to A parses; None if none.

    Edits before `start` are not applied (positions refer to A, so any window is well-formed on its own).
    With start=0 this is the smallest grammatical first step along the minimal script A -> B; the whole
    script always qualifies when B parses."""
    for w in range(1, len(script) - start + 1):
        window = list(script[start:start + w])
        if parses(apply_edits(a_tokens, window)):
            return window
    return None


def grammatical_steps(a_tokens: Sequence[str], b_tokens: Sequence[str]) -> Iterator[tuple[list[str], list[str]]]:
    """Walk the minimal script A -> B in smallest parseable prefix windows: yields (current, next) token
    lists, every one of them a parseable program, ending at B."""
    cur = list(a_tokens)
    while cur != list(b_tokens):
        script = edit_script(cur, b_tokens)
        w = grammatical_window(cur, script) or script
        nxt = apply_edits(cur, w)
        yield cur, nxt
        cur = nxt
