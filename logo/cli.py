"""`logo`: one command with subcommands. Each area of the project registers its own subcommands.

A module in `SUBCOMMAND_MODULES` exposes `register(subparsers)`, which adds parsers whose default
`func(args) -> int` does the work.
"""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMAND_MODULES = ["logo.render_cli", "data.cli", "dream.solve_cli", "library.cli", "dream.loop_cli"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logo", description=__doc__.split("\n")[0] +
                                     " Program synthesis for Logo inverse graphics.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # that part of the project is not built yet
                continue
            raise
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
