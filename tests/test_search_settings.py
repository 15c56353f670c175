"""`SearchSettings` owns the search flags: `logo solve`, `dream`, `logo run`, `python -m app.library_arms` and
the bench scripts have the same flags with the same defaults and checks, and `logo run` hands its settings
on to the searches it starts."""
import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from dream.search.solver import SearchSettings

ROOT = Path(__file__).resolve().parents[1]


def _bench(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}_settings", ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _subcommand(name):
    """The parser of `logo NAME`."""
    import argparse
    from app.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _parsers():
    """(name, parser, required arguments, whether it has --enum-cap) of every command that searches."""
    from app.library_arms import build_parser as library_arms
    from dream.cli import build_parser as dream
    return [("logo solve", _subcommand("solve"), [], True),
            ("logo run", _subcommand("run"), [], True),
            ("dream", dream(), ["--db", "d", "--ckpt", "c"], True),
            ("app.library_arms", library_arms(), ["--db", "d", "--out", "o"], True),
            ("bench/solve.py", _bench("solve").build_parser(), [], True),
            ("bench/learning.py", _bench("learning").build_parser(), [], True),
            ("bench/proposals.py", _bench("proposals").build_parser(), ["--db", "d"], True),
            ("bench/library.py", _bench("library").build_parser(), ["--db", "d"], True)]


PARSERS = _parsers()
IDS = [p[0] for p in PARSERS]


@pytest.mark.parametrize("name,parser,required,enum", PARSERS, ids=IDS)
def test_every_command_has_the_same_search_flags_and_defaults(name, parser, required, enum):
    got = SearchSettings.from_args(parser.parse_args(required))
    assert got == SearchSettings(), name
    assert got.beam == 8 and got.k == 8 and got.temperatures == (1.0,)     # one default each, `logo solve`'s
    flags = {s for a in parser._actions for s in a.option_strings}
    assert {"--k", "--batch", "--samples", "--temperatures", "--beam"} <= flags
    assert ("--enum-cap" in flags) == enum          # (dream too, since it enumerates: dream.search.arm_choice)


@pytest.mark.parametrize("name,parser,required,enum", PARSERS, ids=IDS)
def test_settings_round_trip_through_the_flags(name, parser, required, enum):
    s = SearchSettings(k=3, batch=2, samples=5, temperatures=(0.5, 1.25), beam=0, enum_cap=7, length_weight=0.003,
                       enumerated_starts=4, enumerate_share=0.3)
    got = SearchSettings.from_args(parser.parse_args(required + s.to_argv(enum=enum)))
    d = SearchSettings()
    assert got == (s if enum else replace(s, enum_cap=d.enum_cap, enumerated_starts=d.enumerated_starts,
                                          enumerate_share=d.enumerate_share))


@pytest.mark.parametrize("name,parser,required,enum", PARSERS, ids=IDS)
@pytest.mark.parametrize("bad", [["--beam", "-1"], ["--k", "x"], ["--batch", "0"], ["--samples", "0"],
                                 ["--temperatures", "0"], ["--temperatures", "a,b"], ["--length-weight", "-0.1"]])
def test_the_search_flags_are_range_checked(name, parser, required, enum, bad, capsys):
    with pytest.raises(SystemExit) as e:
        parser.parse_args(required + bad)
    assert e.value.code == 2
    assert bad[0] in capsys.readouterr().err


def test_logo_run_hands_its_settings_to_the_evaluation():
    from app.run import CONFIGS, heldout_commands
    s = SearchSettings(k=2, beam=3, samples=4)
    commands = heldout_commands(CONFIGS["demo"], Path("round1"), "db.sqlite", "ckpt", "model",
                                Path("round1/grammar.json"), [], [], s.to_argv())
    assert len(commands) == 4
    solve = _subcommand("solve")
    for cmd in commands:
        assert SearchSettings.from_args(solve.parse_args(cmd[cmd.index("solve") + 1:])) == s
