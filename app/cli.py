"""`logo`: one command with subcommands. Each area of the project registers its own subcommands.

Every module imported here exposes `register(subparsers)`, which adds parsers whose default
`func(args) -> int` does the work. The imports are plain: a missing module is an error, not a
silently absent subcommand.
"""
from __future__ import annotations

import argparse
import sys

import data.cli
import library.cli
from logo.cli_errors import add_debug_flag, debug_requested

from . import render, run, serve, solve
from .errors import run_subcommand

# the order of `logo --help`
SUBCOMMAND_MODULES = (render, data.cli, solve, library.cli, run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logo", description=__doc__.split("\n")[0] +
                                     " Program synthesis for Logo inverse graphics.")
    add_debug_flag(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        added = module.register(sub)
        if module is data.cli:
            serve.register(added)    # `logo db serve` lives here: it uses dream's search
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse and run one subcommand; errors end in one line on stderr (see `app.errors`)."""
    argv, debug = debug_requested(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run_subcommand(args, debug)


if __name__ == "__main__":
    sys.exit(main())
