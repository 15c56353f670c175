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

from . import render, run, solve

# the order of `logo --help`
SUBCOMMAND_MODULES = (render, data.cli, solve, library.cli, run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logo", description=__doc__.split("\n")[0] +
                                     " Program synthesis for Logo inverse graphics.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
