"""The search engine: everything that turns a target image into a program, apart from the dreaming process.

`logo solve`, `dream`, the web page's Solve, `logo run`'s evaluation and every bench script search here.

* `frontier`: `Search`, the best-first search over programs whose steps are proposed edits; `Proposer`,
  the protocol every arm implements.
* `settings`: `SearchSettings`, the knobs (the budget among them) and the flags derived from them.
* `solver`: `Solver` (what every arm shares), `build_search`, `run_search`, `solve`, the result rows.
* `arms`: the registry of arms by name (users' arms and ablations; `auto`); `baselines` (model-free),
  `retrieval`, `policy` (the edit policy's), `proposer` (a checkpoint's model): the proposers.
* `topdown`: the enumerator's driver (the grammar it is fitted with, enumeration toward a target).
* `score`: the solve criterion, the graded distance and IoU.
* `targets`: DreamCoder tasks, MNIST digits, image files, JSON task lists and database images as targets.
* `executor`, `workers`: searches on every core or a Ray cluster.
"""
from .frontier import Proposer  # noqa: E402
from .settings import SearchSettings  # noqa: E402
from .solver import SolveError, Solver, run_search, solve, start_programs, summarize  # noqa: E402
from .targets import load_targets  # noqa: E402

__all__ = ["Proposer", "SearchSettings", "SolveError", "Solver", "load_targets", "run_search", "solve",
           "start_programs", "summarize"]
