"""Search and dreaming: find programs that draw target images with the edit model, and feed the database.

Modules:

* `dream.search`: `Search` / `search(expand, target, target28, starts=..., budget_s=...)`, a best-first
  search over programs whose steps are proposed edits; returns a `SearchResult` (best node, solved,
  time to solve, the path from the start program). `Proposer`, the protocol every arm implements
  (`__call__(images_a, images_b, programs_a) -> candidate texts or Program trees`, `max_tokens`, `reset()`).
* `dream.score`: the solve criterion (exact match at 28x28 within a stated tolerance), the graded
  distance (blurred L2) and IoU; image files become targets by `logo.images.load_target_image`.
* `dream.proposer`: `ModelProposer` (a checkpoint's model as the search's `expand`: sampling at given
  temperatures plus beam search) and `CheckpointWatcher` (reloads the newest checkpoint).
* beam-search decoding of edit scripts is `model.generate.beam_propose`.
* `dream.targets`: MNIST training digits, DreamCoder training tasks, database images (dream targets);
  `load_targets` for evaluation: DreamCoder tasks, held-out MNIST, a folder of images, a JSON task list.
* `dream.baselines`: the proposers without a model (none, random, enum, grammar), the search's arms
  (`ARMS`; `MODEL_ARMS` need a checkpoint).
* `dream.solver`: the one search entry point, `start_programs` + `run_search` (one target), `SearchSettings`
  (with their command-line flags), and `solve(targets, proposer=..., ckpt=..., db=..., budget_s=...)` /
  `Solver`, "search these targets with this proposer", behind `logo solve`, `logo run`'s arms and `bench/`.
* `dream.dreamer`: `Dreamer`, the loop of the `dream` process (search with `run_search`, insert, log).
* `dream.cli`: the `dream` command (`logo solve` and `logo run` live in `app`).
"""

from .search import Proposer  # noqa: E402
from .solver import SearchSettings, SolveError, Solver, run_search, solve, start_programs, summarize  # noqa: E402
from .targets import load_targets  # noqa: E402

__all__ = ["Proposer", "SearchSettings", "SolveError", "Solver", "load_targets", "run_search", "solve",
           "start_programs", "summarize"]
