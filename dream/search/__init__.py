"""The search engine: everything that turns a target image into a program, apart from the dreaming process.

`logo solve`, `dream`, the web page's Solve, `logo run`'s evaluation and every bench script search here.

* `frontier`: `Search`, the best-first search over programs whose steps are proposed edits; `Proposer`,
  the protocol every arm implements.
* `solver`: `SearchSettings` (the knobs and their flags), `Solver` (what every arm shares), `solve`.
* `baselines`, `policy`, `proposer`: the arms (model-free; the edit policy's; a checkpoint's model).
* `topdown`: the enumerator's driver (the grammar it is fitted with, enumeration toward a target).
* `score`: the solve criterion, the graded distance and IoU.
* `targets`: DreamCoder tasks, MNIST digits, image files, JSON task lists and database images as targets.
* `executor`, `workers`: searches on every core or a Ray cluster.
"""
from .frontier import Proposer  # noqa: E402
from .solver import SearchSettings, SolveError, Solver, run_search, solve, start_programs, summarize  # noqa: E402
from .targets import load_targets  # noqa: E402

__all__ = ["Proposer", "SearchSettings", "SolveError", "Solver", "load_targets", "run_search", "solve",
           "start_programs", "summarize"]
