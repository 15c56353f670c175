"""The one batch path from programs to images and verdicts: parse, compile, run, check, draw.

    >>> import logo
    >>> images, verdicts = logo.render_checked(["(move ul 0)", "(move 0 0)", "(nope)"], size=28)
    >>> [logo.Verdict(v).name for v in verdicts]
    ['OK', 'EMPTY', 'ERROR']

Every caller that needs many drawings (the database generator, the search, the trainer) goes through
`render_checked`, so all of them agree on what counts as a usable drawing; `render_batch` is the
same path with the plain "image or error" contract of `logo.render`.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Iterable, Sequence

import numba
import numpy as np

from . import vm
from .ast import Program
from .bytecode import CodeBatch, compile_batch
from .errors import LogoError
from .interp import LibraryLike, status_error
from .raster import CANVAS, PEN_WIDTH, rasterize, scratch
from .syntax import parse


class Verdict(IntEnum):
    """Why a program's drawing is (not) usable."""
    OK = 0          # ran within the limits, draws ink, fits the canvas
    ERROR = 1       # does not parse or compile, or exceeds an execution limit (a LogoError)
    EMPTY = 2       # runs but draws no ink
    OFF_CANVAS = 3  # the centred drawing does not fit the 9x9 canvas (`logo.contained` is False)
    TOO_BIG = 4     # draws more than `max_segments` segments


@numba.njit(cache=True, nogil=True)
def _any_ink(image):
    for a in range(image.shape[0]):
        for b in range(image.shape[1]):
            if image[a, b] != 0:
                return True
    return False


@numba.njit(cache=True, nogil=True)
def _run_checked(ops, op_start, consts, const_start, n_slots, sizes, words, max_steps, max_segments,
                 draw_off_canvas, reach, outs, verdict, status, reached):
    """Run, check and draw each program whose verdict is still OK (0); see `Verdict` for the codes.

    One VM run per program, drawn at every size of `sizes` (into `outs[s]` with scratch `words[s]`);
    EMPTY is judged on the first size's drawing. With a `reach` box (x_lo, x_hi, y_lo, y_hi), the later
    sizes are drawn only where the strokes' extent passes it on every side (`reached[p]`)."""
    segs = np.empty((vm.MAX_SEGMENTS, 4), np.float64)
    half = 0.5 * PEN_WIDTH + 1e-9                      # a stroke's ink ends within this of its end points
    for p in range(op_start.shape[0] - 1):
        if verdict[p] != 0:
            continue
        o = ops[op_start[p]:op_start[p + 1]]
        c = consts[const_start[p]:const_start[p + 1]]
        n, st = vm.run_code(o, c, n_slots[p], max_steps, segs)
        status[p] = st
        if st != 0:
            verdict[p] = 1
            continue
        if n == 0:
            verdict[p] = 2
            continue
        if n > max_segments:
            verdict[p] = 4
            continue
        vm.center(segs, n)
        x_lo = y_lo = 1e30
        x_hi = y_hi = -1e30
        for i in range(n):
            for j in (0, 2):
                x_lo = min(x_lo, segs[i, j])
                x_hi = max(x_hi, segs[i, j])
                y_lo = min(y_lo, segs[i, j + 1])
                y_hi = max(y_hi, segs[i, j + 1])
        if min(x_lo, y_lo) < 0.0 or max(x_hi, y_hi) > CANVAS:
            verdict[p] = 3
            if not draw_off_canvas:
                continue
        rasterize(segs, n, sizes[0], words[0], outs[0][p])
        reached[p] = reach.shape[0] == 0 or (x_lo - half < reach[0] and x_hi + half > reach[1]
                                             and y_lo - half < reach[2] and y_hi + half > reach[3])
        if reached[p]:
            for s in range(1, len(sizes)):
                rasterize(segs, n, sizes[s], words[s], outs[s][p])
        if verdict[p] != 0:
            continue
        if not _any_ink(outs[0][p]):
            verdict[p] = 2


def parse_all(programs: Iterable) -> list:
    """Each item as a `Program`, or the `LogoError` that parsing it raised."""
    out = []
    for p in programs:
        if isinstance(p, Program):
            out.append(p)
        elif isinstance(p, str):
            try:
                out.append(parse(p))
            except LogoError as e:
                out.append(e)
        else:
            raise TypeError(f"expected a Program or program text, got {type(p).__name__}")
    return out


def run_compiled(batch: CodeBatch, size: int = 28, max_segments: int = vm.MAX_SEGMENTS,
                 draw_off_canvas: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a compiled batch: (images (n, size, size) uint8, verdicts (n,) int8, vm status (n,) int64).

    Only OK programs are drawn (others stay blank), and OFF_CANVAS ones too (clipped to the canvas)
    when `draw_off_canvas`. The status is the VM's code (`vm.OK`, `vm.STEP_LIMIT`, ...) for programs that ran.
    """
    (images,), verdict, status, _ = run_compiled_sizes(batch, (size,), max_segments, draw_off_canvas)
    return images, verdict, status


def run_compiled_sizes(batch: CodeBatch, sizes: Sequence[int], max_segments: int = vm.MAX_SEGMENTS,
                       draw_off_canvas: bool = False, reach: Sequence[float] | None = None
                       ) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray, np.ndarray]:
    """`run_compiled` drawing every program at each of `sizes` from one run of the VM: (images per size,
    verdicts, vm status, reached); EMPTY is judged at `sizes[0]`. See `render_checked_sizes` for `reach`."""
    n = len(batch)
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise ValueError("run_compiled_sizes needs at least one size")
    box = np.asarray(() if reach is None else reach, np.float64)
    if box.shape not in ((0,), (4,)):
        raise ValueError(f"reach is (x_lo, x_hi, y_lo, y_hi), not {reach!r}")
    outs = tuple(np.zeros((n, s, s), np.uint8) for s in sizes)
    verdict = np.asarray([Verdict.OK if e is None else Verdict.ERROR for e in batch.errors], np.int8)
    status = np.zeros(n, np.int64)
    reached = np.zeros(n, np.bool_)
    if n:
        _run_checked(batch.ops, batch.op_start, batch.consts, batch.const_start, batch.n_slots, sizes,
                     tuple(scratch(s) for s in sizes), vm.MAX_STEPS, min(int(max_segments), vm.MAX_SEGMENTS),
                     bool(draw_off_canvas), box, outs, verdict, status, reached)
    return outs, verdict, status, reached


def render_checked(programs: Iterable, size: int = 28, library: LibraryLike = None, *,
                   max_segments: int = vm.MAX_SEGMENTS, draw_off_canvas: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Draw many programs (texts or `Program`s) and say which drawings are usable.

    Returns (images (n, size, size) uint8, verdicts (n,) int8 of `Verdict`). Only OK programs are
    drawn; the others get blank images (OFF_CANVAS ones are drawn clipped when `draw_off_canvas`).
    Never raises a `LogoError`: bad programs get `Verdict.ERROR`.
    """
    batch = compile_batch(parse_all(programs), library)
    images, verdicts, _ = run_compiled(batch, size, max_segments, draw_off_canvas)
    return images, verdicts


def render_checked_sizes(programs: Iterable, sizes: Sequence[int], library: LibraryLike = None, *,
                         max_segments: int = vm.MAX_SEGMENTS, draw_off_canvas: bool = False,
                         reach: Sequence[float] | None = None
                         ) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """`render_checked` at several sizes from one compilation and one run per program (the search scores
    at the model's size and judges "solved" at `SOLVE_SIZE`): (images per size, verdicts, reached).

    Each size's images are exactly `render_checked`'s at that size; the verdicts are those at `sizes[0]`.
    `reach` = (x_lo, x_hi, y_lo, y_hi) on the 9x9 canvas (y up) skips work at the later sizes: a drawing is
    drawn there only when its ink may extend past that box on every side (its end points' extent widened
    by half the pen width passes x_lo to the left, x_hi to the right, y_lo below and y_hi above; nothing
    outside that widened extent is inked), which `reached` (n,) says; the others stay blank there."""
    batch = compile_batch(parse_all(programs), library)
    images, verdicts, _, reached = run_compiled_sizes(batch, sizes, max_segments, draw_off_canvas, reach)
    return images, verdicts, reached


def render_batch(programs: Iterable, size: int = 28, library: LibraryLike = None, errors: str = "raise"):
    """Render many programs into one (n, size, size) uint8 array, like `logo.render` on each.

    errors="raise" raises the first `LogoError` (parse or compile errors before execution limits);
    errors="blank" returns (images, ok) where ok is a boolean mask and failing programs' images are blank.
    Drawings that are empty or leave the canvas count as ok here (use `render_checked` to reject them).
    """
    if errors not in ("raise", "blank"):
        raise ValueError(f"errors must be 'raise' or 'blank', not {errors!r}")
    batch = compile_batch(parse_all(programs), library)
    if errors == "raise":
        first = next((e for e in batch.errors if e is not None), None)
        if first is not None:
            raise first
    images, verdicts, status = run_compiled(batch, size, draw_off_canvas=True)
    ok = verdicts != Verdict.ERROR
    if errors == "raise":
        bad = np.flatnonzero(~ok)
        if bad.size:
            raise status_error(int(status[bad[0]]))
        return images
    return images, ok
