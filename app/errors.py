"""The error boundary of the `logo` command: `logo.cli_errors.run_guarded` with the project's own error
types of every layer below app (a bad database, an unusable image, a missing checkpoint, an empty target set,
a worker that cannot start)."""
from __future__ import annotations

from data.db import DatabaseError
from dream.search.executor import WorkerError
from dream.search.proposer import CheckpointMissing
from dream.search.targets import NoTargets
from logo.images import BadImage
from logo.cli_errors import run_guarded

PROJECT_ERRORS: tuple[type, ...] = (DatabaseError, BadImage, CheckpointMissing, NoTargets, WorkerError)


def command_name(args) -> str:
    """`logo db stats`, `logo render`, ...: the words the user typed to reach the subcommand."""
    words = ["logo"]
    for attr in ("command", "db_command"):
        if getattr(args, attr, None):
            words.append(getattr(args, attr))
    return " ".join(words)


def main_path(args) -> str | None:
    """The file a subcommand is mainly about (its database), to name in an error that does not."""
    return getattr(args, "db", None) or None


def run_subcommand(args, debug: bool) -> int:
    """Run `args.func(args)` inside the boundary; the exit status."""
    return run_guarded(command_name(args), lambda: args.func(args), debug=debug, extra=PROJECT_ERRORS,
                       path=main_path(args))
