"""Random well-formed Logo programs that look like DreamCoder's LOGO programs, for the database.

The statements come from the DSL's generator (`logo.generate.Generator`: single moves, regular polygons,
spirals, arcs and circles of epsilon steps, `embed`, pen-up gaps, library calls); this module adds the
database's `Constraints` (token limits, segment limit) and `run_batch`.  Every program parses back from
its canonical text; programs that draw nothing, leave the canvas or hit an execution limit are filtered
later (by `run_batch` verdicts).

    >>> import logo
    >>> progs = random_programs(3, seed=0)
    >>> [logo.parse(logo.to_text(p)) == p for p in progs]
    [True, True, True]

Reproducible: the same `(n, seed, constraints)` always gives the same programs (Python's `random`
seeded with an integer), whatever the process.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Sequence

import logo
from logo import vm
from logo.ast import Define, Program
from logo.batch import Verdict, render_checked
from logo.generate import Generator, GeneratorSettings
from logo.tokens import n_tokens  # re-exported: callers and tests import it from here

# ---- constraints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraints(GeneratorSettings):
    """Controls for size and for which constructs appear: the generator's `logo.generate.GeneratorSettings`
    (max_statements, max_depth, loops, loop_index, embed, penup, arithmetic, p_call) plus

    min_tokens / max_tokens: length of the canonical text in tokens (programs outside are resampled).
    max_segments: programs drawing more segments are rejected ("too_big") by `run_batch`.
    """
    min_tokens: int = 1
    max_tokens: int = 60
    max_segments: int = 400

    @classmethod
    def make(cls, **kw) -> "Constraints":
        names = {f.name for f in fields(cls)}
        bad = sorted(set(kw) - names)
        if bad:
            raise TypeError(f"unknown generator constraint(s) {bad}; known: {sorted(names)}")
        c = cls(**kw)
        if c.min_tokens > c.max_tokens:
            raise ValueError("min_tokens must be <= max_tokens")
        if c.max_statements < 1 or c.max_depth < 0:
            raise ValueError("max_statements must be >= 1 and max_depth >= 0")
        return c

    def as_dict(self) -> dict:
        return asdict(self)

    def generator_settings(self) -> GeneratorSettings:
        """The constructs part, for `logo.generate.Generator`."""
        return GeneratorSettings(**{f.name: getattr(self, f.name) for f in fields(GeneratorSettings)})


def sort_key(text: str) -> tuple[int, str]:
    """Shorter programs first; ties broken by the canonical text."""
    return (n_tokens(text), text)


# ---- programs -----------------------------------------------------------------------------------


def random_programs(n: int, seed: int = 0, library: Sequence[Define] | None = None, **constraints) -> list[Program]:
    """`n` random well-formed programs (not yet filtered by what they draw), reproducible from `seed`.

    `constraints` are `Constraints` fields (max_tokens, max_depth, loops, embed, penup, p_call, ...).
    With a `library` (sequence of `logo.Define`), statements call its procedures with probability p_call.
    """
    return random_programs_and_texts(n, seed, library, **constraints)[0]


def random_programs_and_texts(n: int, seed: int = 0, library: Sequence[Define] | None = None,
                              **constraints) -> tuple[list[Program], list[str]]:
    """`random_programs` and the canonical text of each."""
    c = constraints.pop("_constraints", None) or Constraints.make(**constraints)
    g = Generator(random.Random(int(seed)), c.generator_settings(), library or ())
    out, texts = [], []
    tries = 0
    to_text = logo.to_text
    while len(out) < n:
        p = g.program()
        t = to_text(p)
        tries += 1
        k = n_tokens(t)
        if (k < c.min_tokens or k > c.max_tokens) and tries < 50 * (n + 10):
            continue
        out.append(p)
        texts.append(t)
    return out, texts


# ---- running a batch: images plus the reason each program is rejected ----------------------------

OK, ERROR, EMPTY, OFF_CANVAS, TOO_BIG = (Verdict.OK, Verdict.ERROR, Verdict.EMPTY, Verdict.OFF_CANVAS,
                                         Verdict.TOO_BIG)
REASONS = {ERROR: "error", EMPTY: "empty", OFF_CANVAS: "off_canvas", TOO_BIG: "too_big"}


def run_batch(programs: Sequence[Program], size: int = 32, library=None, max_segments: int = vm.MAX_SEGMENTS):
    """Run and draw programs; returns (images (n, size, size) uint8, verdict (n,) int8 of `logo.Verdict`).

    The generator's name for `logo.render_checked`: OK, ERROR (LogoError: bad call, execution limit),
    EMPTY (no ink), OFF_CANVAS (the centred drawing does not fit the 9x9 canvas, `logo.contained`),
    TOO_BIG (more than max_segments); rejected programs get blank images.
    """
    return render_checked(programs, size, library, max_segments=max_segments)
