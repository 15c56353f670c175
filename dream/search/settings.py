"""`SearchSettings`: how each target is searched, the one settings object of every command that searches.

Each knob is one field with its default, flag, range check, help and the commands that show it (`knob`), so
the flags (`add_arguments`), `from_args`, `to_dict` and `to_argv` are derived from the fields, not written
again per knob (as Stitch's `CompressionStepConfig` or nanoGPT's config).

Commands (`ALL`): `solve` (`logo solve`, `python -m app.library_arms`), `dream`, `run` (`logo run`, which hands
its settings on to the searches it starts) and `bench` (the bench scripts: every knob, the count budget too).
The count budget (`max_programs`, `max_rounds`) bounds a search by what it did rather than by the clock, so two
runs can be compared program by program (`bench/same_programs.py`); commands search by `budget_s` alone.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from typing import Callable, Sequence

from logo.cli_errors import float_list, float_range, int_range

ALL = frozenset({"solve", "dream", "run", "bench"})
#: the knobs of the edit arms' enumerated starts and of `enum` (`dream` enumerates too: its `auto` search)
ENUM = frozenset({"solve", "dream", "run", "bench"})
#: `logo run` sets the budget of each search it starts from its configuration (`--solve-budget`, ...)
BUDGET = frozenset({"solve", "dream", "bench"})
BENCH = frozenset({"bench"})


def knob(default, flag: str, type: Callable, help: str, shown: frozenset = ALL, *,
         text: Callable = str, value: Callable = lambda x: x):
    """A field of `SearchSettings` with its flag: `type` parses and range-checks the flag (argparse), `help`
    says what it does (the default is added), `shown` names the commands that have it; `text` writes a value
    as the flag's argument, `value` turns the parsed flag into the field's value."""
    return field(default=default, metadata={"flag": flag, "type": type, "help": help, "shown": shown,
                                            "text": text, "value": value})


def _floats(xs) -> str:
    return ",".join(str(x) for x in xs)


def _count_or_none(lo: int):
    """A whole number from `lo`, or "none" (no limit)."""
    check = int_range(lo)

    def count(s: str):
        return None if str(s).lower() == "none" else check(s)
    return count


@dataclass(frozen=True)
class SearchSettings:
    """How each target is searched (the same for every arm); the defaults of every command's flags."""
    budget_s: float = knob(10.0, "--budget", float_range(0, lo_open=True), "search seconds per target",
                           BUDGET, text=repr)
    k: int = knob(8, "--k", int_range(0, 10_000), "database neighbours to start from")
    batch: int = knob(8, "--batch", int_range(1, 100_000), "nodes expanded per proposer call")
    samples: int = knob(8, "--samples", int_range(1, 100_000),
                        "model: edit scripts sampled per node and temperature")
    temperatures: tuple[float, ...] = knob((1.0,), "--temperatures", float_list(0, lo_open=True),
                                           "model: comma-separated sampling temperatures", text=_floats, value=tuple)
    beam: int = knob(8, "--beam", int_range(0, 100_000),
                     "model: also take the N best scripts of a beam search (0 = off)")
    enum_cap: int = knob(64, "--enum-cap", int_range(1, 1_000_000), "enum arms: candidates per expansion", ENUM)
    length_weight: float = knob(0.0, "--length-weight", float_range(0),
                                "frontier priority per program token, added to the pixel distance (0 = distance "
                                "alone)", text=repr)
    enumerated_starts: int = knob(8, "--enumerated-starts", int_range(0, 10_000),
                                  "edit arms: the N programs enumerated under the fitted grammar nearest the target "
                                  "join the start programs (0 = off)", ENUM)
    enumerate_share: float = knob(0.4, "--enumerate-share", float_range(0, 0.95, lo_open=True),
                                  "with --enumerated-starts: the share of each target's budget spent enumerating",
                                  ENUM, text=repr)
    policy_k: int = knob(128, "--policy-k", int_range(1, 100_000),
                         "policy checkpoints: edits per node from one forward pass")
    policy_eps: float = knob(0.1, "--policy-eps", float_range(0, 1),
                             "policy checkpoints: share of each node's edits that are uniform grammatical mutations")
    max_programs: int | None = knob(None, "--max-programs", _count_or_none(1),
                                    "count budget: programs enumerated per target (topdown; the enumerated starts "
                                    "take --enumerate-share of them); none = the clock alone", BENCH)
    max_rounds: int | None = knob(None, "--max-rounds", _count_or_none(1),
                                  "count budget: search rounds per target (edit arms); none = the clock alone", BENCH)

    def __post_init__(self):
        """Every knob is checked as its flag is (a settings object built in code too): ValueError naming it."""
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:
                try:
                    f.metadata["type"](f.metadata["text"](v))
                except (argparse.ArgumentTypeError, TypeError, ValueError) as e:
                    raise ValueError(f"{f.metadata['flag']} (SearchSettings.{f.name}): {e}") from None

    @property
    def candidates_per_expansion(self) -> int:
        """What the model proposes per node; the random arms get as many."""
        return sum(self.samples if t > 0 else 1 for t in self.temperatures) + max(self.beam, 0)

    def model_proposer(self, watcher, library=()):
        """The checkpoint's proposer under these settings (every command makes it here, so none forgets a
        flag): `dream.search.proposer.CheckpointWatcher.proposer`."""
        return watcher.proposer(self.samples, self.temperatures, self.beam, policy_k=self.policy_k,
                                policy_eps=self.policy_eps, library=library or ())

    def to_dict(self) -> dict:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    @classmethod
    def knobs(cls, command: str) -> list:
        """The fields `command` shows as flags."""
        if command not in ALL:
            raise ValueError(f"unknown command {command!r} (one of {', '.join(sorted(ALL))})")
        return [f for f in fields(cls) if command in f.metadata["shown"]]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, command: str = "solve") -> None:
        """The flags of `command`'s knobs, range-checked, with these defaults; `from_args` reads them back."""
        for f in cls.knobs(command):
            m = f.metadata
            default = "none" if f.default is None else m["text"](f.default)
            parser.add_argument(m["flag"], dest=f.name, type=m["type"], default=default,
                                metavar=m["flag"].lstrip("-").upper().replace("-", "_"),
                                help=m["help"] + " (default %(default)s)")

    @classmethod
    def from_args(cls, args: argparse.Namespace, **given) -> "SearchSettings":
        """The settings the flags of `add_arguments` gave (a knob the parser lacks keeps its default; `given`
        overrides)."""
        for f in fields(cls):
            if f.name not in given and hasattr(args, f.name):
                v = getattr(args, f.name)
                given[f.name] = None if v is None else f.metadata["value"](v)
        return cls(**given)

    def to_argv(self, command: str = "solve", skip: Sequence[str] = ()) -> list[str]:
        """These settings as the flags `command` has (but `skip`), for a child command (`logo run`)."""
        argv = []
        for f in self.knobs(command):
            if f.name not in skip:
                v = getattr(self, f.name)
                argv += [f.metadata["flag"], "none" if v is None else f.metadata["text"](v)]
        return argv
