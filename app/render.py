"""`logo render` and `logo tasks`: draw programs and the DreamCoder task sheet to PNG."""
from __future__ import annotations

import sys
from pathlib import Path

from logo.cli_errors import int_range, read_text
from logo.errors import LogoError

MAX_SIZE = 4096      # pixels per side of `logo render` (a 4096^2 PNG is 16 MB of pixels)


def register(sub) -> None:
    p = sub.add_parser("render", help="draw a program to PNG",
                       description="Draw a Logo program (text, or --file) to a PNG.")
    p.add_argument("program", nargs="?", help="program text, e.g. \"(loop i 4 (move ul (/ ua 4)))\"")
    p.add_argument("--file", help="read the program from this file instead")
    p.add_argument("--dreamcoder", action="store_true", help="the program is in DreamCoder's LOGO syntax")
    p.add_argument("--library", help="a library file of (define ...) procedures the program may call")
    p.add_argument("--size", type=int_range(4, MAX_SIZE), default=128,
                   help=f"image size in pixels, 4 to {MAX_SIZE} (default 128)")
    p.add_argument("--out", default="program.png", help="output PNG (default program.png)")
    p.set_defaults(func=_render)

    t = sub.add_parser("tasks", help="render the 160 DreamCoder LOGO tasks as a contact sheet",
                       description="Render the DreamCoder LOGO tasks to a labelled PNG contact sheet.")
    t.add_argument("--split", choices=["train", "test", "all"], default="all")
    t.add_argument("--size", type=int_range(4, 1024), default=64, help="pixels per drawing, 4 to 1024 (default 64)")
    t.add_argument("--out", default="tasks.png", help="output PNG (default tasks.png)")
    t.add_argument("--list", action="store_true", help="also print each task's name and program")
    t.set_defaults(func=_tasks)


def load_library(path: str | None):
    if not path:
        return None
    from logo import parse_library
    return parse_library(read_text(path))


def check_output_path(path) -> None:
    """Refuse an output path that is a directory before any work (PIL would raise a bare error)."""
    if Path(path).is_dir():
        raise IsADirectoryError(21, "is a directory, not a file", str(path))


def _render(args) -> int:
    from logo import from_dreamcoder, parse, render
    from logo.pictures import save_png
    if args.file:
        text = read_text(args.file)
    elif args.program:
        text = args.program
    else:
        print("logo render: give a program or --file", file=sys.stderr)
        return 2
    try:
        program = from_dreamcoder(text) if args.dreamcoder else parse(text)
        image = render(program, size=args.size, library=load_library(args.library))
    except LogoError as e:
        print(f"logo render: {e}", file=sys.stderr)
        return 1
    check_output_path(args.out)
    save_png(image, args.out)
    print(f"wrote {args.out}")
    return 0


def _tasks(args) -> int:
    from data import dreamcoder_tasks
    from logo.pictures import save_sheet
    from logo.syntax import to_text
    tasks = dreamcoder_tasks(None if args.split == "all" else args.split, size=args.size)
    if args.list:
        for t in tasks:
            print(f"{t.split:5s}  {t.name:32s}  {to_text(t.program)}")
    check_output_path(args.out)
    save_sheet([t.image for t in tasks], args.out, labels=[t.name for t in tasks], columns=16, scale=1)
    print(f"wrote {args.out} ({len(tasks)} tasks)")
    return 0
