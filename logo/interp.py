"""Public execution API: `run` (segments) and `render` (one image); batches are in `batch.py`.

Programs are compiled to bytecode in Python and executed, centred and rasterized in numba.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from . import vm
from .ast import Define, Program
from .bytecode import Code, compile_program
from .errors import LogoError, LoopLimitError, NumericRangeError, SegmentLimitError, StepLimitError
from .raster import CANVAS, rasterize, scratch
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
