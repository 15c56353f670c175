"""Dreaming: search toward targets and feed what is found to the database (`dream.dreamer`, the `dream`
command in `dream.cli`). The search engine itself, shared with `logo solve`, the web page and the benches,
is the package `dream.search`.
"""

from .search import Proposer, SearchSettings, SolveError, Solver, load_targets, run_search, solve, start_programs, summarize  # noqa: E402,E501

__all__ = ["Proposer", "SearchSettings", "SolveError", "Solver", "load_targets", "run_search", "solve",
           "start_programs", "summarize"]
