"""Public execution API: `run` (segments), `render` (one image), `render_batch` (many into one array).

Programs are compiled to bytecode in Python and executed, centred and rasterized in numba.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numba
import numpy as np

from . import vm
from .ast import Define, Program
from .bytecode import Code, compile_program
from .errors import LogoError, LoopLimitError, NumericRangeError, SegmentLimitError, StepLimitError
from .raster import CANVAS, SUBROWS, rasterize, scratch
from .syntax import parse

_STATUS_ERRORS = {
    vm.STEP_LIMIT: (StepLimitError, f"program ran more than {vm.MAX_STEPS} steps"),
    vm.SEGMENT_LIMIT: (SegmentLimitError, f"program drew more than {vm.MAX_SEGMENTS} segments"),
    vm.LOOP_LIMIT: (LoopLimitError, f"a loop count is above {vm.MAX_LOOP_COUNT}"),
    vm.NUMERIC_RANGE: (NumericRangeError, f"a number left the range ±{vm.MAX_ABS:g} or was divided by zero"),
}

LibraryLike = Sequence[Define] | Mapping[str, Define] | None


def status_error(status: int) -> LogoError:
    cls, msg = _STATUS_ERRORS[status]
    return cls(msg)


def as_program(program_or_text) -> Program:
    if isinstance(program_or_text, Program):
        return program_or_text
    if isinstance(program_or_text, str):
        return parse(program_or_text)
    raise TypeError(f"expected a Program or program text, got {type(program_or_text).__name__}")


def compile_any(program_or_text, library: LibraryLike = None) -> Code:
    return compile_program(as_program(program_or_text), library)


def run(program_or_text, library: LibraryLike = None, centered: bool = True) -> np.ndarray:
    """Run a program; return its segments as a float64 array (n, 4) of (x0, y0, x1, y1).

    Segments are re-centred on the bounding box of their end points (DreamCoder's rule) unless
    `centered=False`. Raises a `LogoError` for bad programs or exceeded limits.
    """
    code = compile_any(program_or_text, library)
    segs = np.empty((vm.MAX_SEGMENTS, 4), np.float64)
    n, status = vm.run_code(code.ops, code.consts, code.n_slots, vm.MAX_STEPS, segs)
    if status != vm.OK:
        raise status_error(status)
    if centered:
        vm.center(segs, n)
    return segs[:n].copy()


def contained(segments: np.ndarray) -> bool:
    """True if every (centred) end point lies on the 9x9 canvas (DreamCoder's candidate check)."""
    return bool(segments.size == 0 or (segments.min() >= 0.0 and segments.max() <= CANVAS))


def render_segments(segments: np.ndarray, size: int = 28) -> np.ndarray:
    """Rasterize already-centred segments to a (size, size) uint8 image, row 0 at the top."""
    out = np.zeros((size, size), np.uint8)
    segs = np.ascontiguousarray(segments, np.float64).reshape(-1, 4)
    rasterize(segs, segs.shape[0], size, scratch(size), out)
    return out


def render(program_or_text, size: int = 28, library: LibraryLike = None) -> np.ndarray:
    """Run and draw a program: (size, size) uint8, 255 = fully inked. Raises `LogoError`."""
    return render_segments(run(program_or_text, library), size)


# ---- batches -----------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True)
def _render_codes(ops, op_start, consts, const_start, n_slots, size, max_steps, out, status, n_segments):
    segs = np.empty((vm.MAX_SEGMENTS, 4), np.float64)
    words = np.zeros((size * SUBROWS, size), np.uint64)
    for p in range(op_start.shape[0] - 1):
        o = ops[op_start[p]:op_start[p + 1]]
        c = consts[const_start[p]:const_start[p + 1]]
        n, st = vm.run_code(o, c, n_slots[p], max_steps, segs)
        status[p] = st
        n_segments[p] = n
        if st != 0:
            continue
        vm.center(segs, n)
        rasterize(segs, n, size, words, out[p])


class CompiledBatch:
    """Many compiled programs packed into flat arrays, ready for one numba call."""

    def __init__(self, codes: Sequence[Code]):
        self.ops = np.concatenate([c.ops for c in codes]) if codes else np.zeros((0, 3), np.int32)
        self.consts = np.concatenate([c.consts for c in codes]) if codes else np.zeros(0)
        self.op_start = np.cumsum([0] + [len(c.ops) for c in codes]).astype(np.int64)
        self.const_start = np.cumsum([0] + [len(c.consts) for c in codes]).astype(np.int64)
        self.n_slots = np.asarray([c.n_slots for c in codes], np.int64)

    def __len__(self) -> int:
        return len(self.n_slots)

    def render(self, size: int = 28):
        """Returns (images (n, size, size) uint8, status (n,) int, n_segments (n,) int)."""
        n = len(self)
        out = np.zeros((n, size, size), np.uint8)
        status = np.zeros(n, np.int64)
        n_segments = np.zeros(n, np.int64)
        _render_codes(self.ops, self.op_start, self.consts, self.const_start, self.n_slots, size,
                      vm.MAX_STEPS, out, status, n_segments)
        return out, status, n_segments


def render_batch(programs: Iterable, size: int = 28, library: LibraryLike = None, errors: str = "raise"):
    """Render many programs into one (n, size, size) uint8 array.

    errors="raise" raises the first `LogoError`; errors="blank" leaves failing programs' images
    empty and returns (images, ok) where ok is a boolean mask.
    """
    codes, compiled_ok = [], []
    empty = Code(np.zeros((1, 3), np.int32), np.zeros(1), 0)  # a lone HALT
    for p in programs:
        try:
            codes.append(compile_any(p, library))
            compiled_ok.append(True)
        except LogoError:
            if errors == "raise":
                raise
            codes.append(empty)
            compiled_ok.append(False)
    images, status, _ = CompiledBatch(codes).render(size)
    if errors == "raise":
        bad = np.flatnonzero(status)
        if bad.size:
            raise status_error(int(status[bad[0]]))
        return images
    ok = np.asarray(compiled_ok, bool) & (status == 0)
    images[~ok] = 0
    return images, ok
