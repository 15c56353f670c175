"""The learning rate: a linear warm-up, then one cosine decay over a horizon that resumed runs continue.

The horizon is a number of steps and/or of training seconds (the training loop's seconds summed over
resumed runs: the checkpoint's `elapsed_s`), counted from the cosine's start; whichever is further
along sets the progress. The checkpoint records the cosine (its meta "schedule"), so a run resumed
from it goes on down the same curve instead of starting the decay again. Which horizon a run follows:

  --schedule-steps / --schedule-seconds   as given (measured from the cosine's start);
  otherwise a resumed run                 its checkpoint's;
  otherwise (a new run)                   its own budget: --steps, and the seconds --max-seconds
                                          leaves to the training loop (reading the database excluded).

`--warm-restart` starts a new cosine at the resumed step instead (a warm restart, SGDR-style: what
every resumed run did before the cosine was recorded), over this run's own budget or the --schedule-*
flags. A checkpoint without a record (from before) starts a new cosine the same way. The warm-up
counts steps from 0 and is not repeated.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


def lr_factor(step: int, frac: float, warmup: int, min_frac: float) -> float:
    """Linear warm-up over `warmup` steps, then cosine from 1 to `min_frac` as `frac` goes 0 -> 1."""
    if step < warmup:
        return (step + 1) / warmup
    if frac <= 0:
        return 1.0
    return min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))


@dataclass(frozen=True)
class Cosine:
    """Where the cosine starts (a step and a count of training seconds) and how long it runs, in steps
    and/or seconds (0: no horizon in that unit; with neither, the rate stays at its peak)."""
    start_step: int = 0
    start_s: float = 0.0
    steps: int = 0
    seconds: float = 0.0

    def progress(self, step: int, trained_s: float) -> float:
        """How far along the cosine a run is at `step` after `trained_s` training seconds: 0 -> 1 (and past)."""
        fracs = []
        if self.steps > 0:
            fracs.append((step - self.start_step) / self.steps)
        if self.seconds > 0:
            fracs.append((trained_s - self.start_s) / self.seconds)
        return max(0.0, max(fracs)) if fracs else 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d) -> Cosine | None:
        """The cosine a checkpoint recorded; None if there is none (or it is not a valid record)."""
        try:
            c = cls(int(d["start_step"]), float(d["start_s"]), int(d["steps"]), float(d["seconds"]))
        except (TypeError, KeyError, ValueError):
            return None
        ok = all(math.isfinite(v) and v >= 0 for v in (c.start_s, c.seconds)) and c.start_step >= 0 and c.steps >= 0
        return c if ok else None


def choose_cosine(saved: Cosine | None, step: int, trained_s: float, budget_steps: int, budget_s: float,
                  steps: int | None = None, seconds: float | None = None, warm_restart: bool = False) -> Cosine:
    """The cosine a run follows (the rules in the module's docstring).

    `saved`: the checkpoint's (None for a new run or an old checkpoint); `step`, `trained_s`: where the
    run starts; `budget_steps`, `budget_s`: the steps and training seconds this run may take (0: no
    limit); `steps`, `seconds`: --schedule-steps / --schedule-seconds (None: not given)."""
    if saved is None or warm_restart:
        return Cosine(step, trained_s, budget_steps if steps is None else steps,
                      budget_s if seconds is None else seconds)
    return Cosine(saved.start_step, saved.start_s, saved.steps if steps is None else steps,
                  saved.seconds if seconds is None else seconds)
