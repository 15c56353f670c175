"""`SearchSettings` owns the search flags: `logo solve`, `dream`, `logo run`, `python -m app.library_arms` and
the bench scripts have the same flags with the same defaults and checks (derived from the fields: one line per
knob), and `logo run` hands its settings on to the searches it starts."""
import importlib.util
from dataclasses import fields, replace
from pathlib import Path

import pytest

from dream.search.settings import SearchSettings

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
    """(name, parser, required arguments, which knobs it shows) of every command that searches."""
    from app.library_arms import build_parser as library_arms
    from dream.cli import build_parser as dream
    return [("logo solve", _subcommand("solve"), [], "solve"),
            ("logo run", _subcommand("run"), [], "run"),
            ("dream", dream(), ["--db", "d", "--ckpt", "c"], "dream"),
            ("app.library_arms", library_arms(), ["--db", "d", "--out", "o"], "solve"),
            ("bench/solve.py", _bench("solve").build_parser(), [], "bench"),
            ("bench/learning.py", _bench("learning").build_parser(), [], "bench"),
            ("bench/proposals.py", _bench("proposals").build_parser(), ["--db", "d"], "bench"),
            ("bench/library.py", _bench("library").build_parser(), ["--db", "d"], "bench")]


PARSERS = _parsers()
IDS = [p[0] for p in PARSERS]


@pytest.mark.parametrize("name,parser,required,command", PARSERS, ids=IDS)
def test_every_command_has_the_same_search_flags_and_defaults(name, parser, required, command):
    got = SearchSettings.from_args(parser.parse_args(required))
    assert got == SearchSettings(), name
    assert got.beam == 8 and got.k == 8 and got.temperatures == (1.0,) and got.budget_s == 10.0   # one default each
    flags = {s for a in parser._actions for s in a.option_strings}
    assert {"--k", "--batch", "--samples", "--temperatures", "--beam"} <= flags
    assert "--enum-cap" in flags and "--enumerated-starts" in flags       # dream too: its auto search enumerates
    assert ("--budget" in flags) == (command != "run")                   # logo run's budgets are its configuration's
    assert ("--max-programs" in flags) == (command == "bench")           # the count budget: benches only


@pytest.mark.parametrize("name,parser,required,command", PARSERS, ids=IDS)
def test_settings_round_trip_through_the_flags(name, parser, required, command):
    s = SearchSettings(budget_s=2.5, k=3, batch=2, samples=5, temperatures=(0.5, 1.25), beam=0, enum_cap=7,
                       length_weight=0.003, enumerated_starts=4, enumerate_share=0.3, policy_k=9, policy_eps=0.25,
                       max_programs=100, max_rounds=3)
    got = SearchSettings.from_args(parser.parse_args(required + s.to_argv(command)))
    shown = {f.name for f in SearchSettings.knobs(command)}
    assert got == replace(SearchSettings(), **{k: getattr(s, k) for k in shown})
    assert got.to_dict() == {k: (v if k in shown else getattr(SearchSettings(), k)) for k, v in s.to_dict().items()}


def test_each_knob_is_one_field_with_its_flag():
    """Flags, `to_dict` and `to_argv` come from the fields: a new field is a new flag everywhere."""
    d = SearchSettings()
    assert list(d.to_dict()) == [f.name for f in fields(SearchSettings)]
    flags = [f.metadata["flag"] for f in fields(SearchSettings)]
    assert len(set(flags)) == len(flags) and all(f.startswith("--") for f in flags)
    assert SearchSettings.from_args(object(), budget_s=3.0) == replace(d, budget_s=3.0)
    with pytest.raises(ValueError, match="unknown command"):
        SearchSettings.knobs("serve")


@pytest.mark.parametrize("bad", [{"budget_s": 0}, {"k": -1}, {"temperatures": ()}, {"enumerate_share": 1.0},
                                 {"max_rounds": 0}, {"policy_eps": 2.0}])
def test_settings_built_in_code_are_checked_as_their_flags(bad):
    with pytest.raises(ValueError, match=next(f.metadata["flag"] for f in fields(SearchSettings) if f.name in bad)):
        SearchSettings(**bad)


@pytest.mark.parametrize("name,parser,required,command", PARSERS, ids=IDS)
@pytest.mark.parametrize("bad", [["--beam", "-1"], ["--k", "x"], ["--batch", "0"], ["--samples", "0"],
                                 ["--temperatures", "0"], ["--temperatures", "a,b"], ["--length-weight", "-0.1"]])
def test_the_search_flags_are_range_checked(name, parser, required, command, bad, capsys):
    with pytest.raises(SystemExit) as e:
        parser.parse_args(required + bad)
    assert e.value.code == 2
    assert bad[0] in capsys.readouterr().err


def test_logo_run_hands_its_settings_to_the_evaluation():
    from app.run import CONFIGS, heldout_commands
    s = SearchSettings(k=2, beam=3, samples=4)
    commands = heldout_commands(CONFIGS["demo"], Path("round1"), "db.sqlite", "ckpt", "model",
                                Path("round1/grammar.json"), [], [], s.to_argv("solve", skip=("budget_s",)))
    assert len(commands) == 4
    solve = _subcommand("solve")
    for cmd in commands:          # the search's settings, with the configuration's budget
        got = SearchSettings.from_args(solve.parse_args(cmd[cmd.index("solve") + 1:]))
        assert got == replace(s, budget_s=CONFIGS["demo"].solve_budget)
