"""Slow, obviously-correct reference implementations of running and drawing, in plain Python/numpy.

Used by the tests to check the numba VM and rasterizer, and by `bench/render.py` as the baseline.
"""
from __future__ import annotations

import math

import numpy as np

from .ast import CONSTANTS, Call, Const, Embed, Loop, Move, Num, PenUp, Program, Var
from .bytecode import as_library, compile_program
from .errors import LoopLimitError, NumericRangeError, SegmentLimitError, StepLimitError
from .raster import CANVAS, PEN_WIDTH, SUBCOLS, SUBROWS
from .vm import MAX_ABS, MAX_LOOP_COUNT, MAX_SEGMENTS, MAX_STEPS


#: Statements (moves, loop iterations, blocks and procedure calls) the reference executes at most.
MAX_REFERENCE_STEPS = 10 * MAX_STEPS


def _check(v: float) -> float:
    if not (math.isfinite(v) and abs(v) <= MAX_ABS):
        raise NumericRangeError(f"a number left the range ±{MAX_ABS:g} or was divided by zero")
    return v


def _value(e, env) -> float:
    if isinstance(e, Num):
        return float(e.value)
    if isinstance(e, Const):
        return CONSTANTS[e.name]
    if isinstance(e, Var):
        return env[e.name]
    a, b = _value(e.left, env), _value(e.right, env)
    if e.op == "+":
        return _check(a + b)
    if e.op == "-":
        return _check(a - b)
    if e.op == "*":
        return _check(a * b)
    if abs(b) < 1e-12:
        raise NumericRangeError("division by zero")
    return _check(a / b)


def run_reference(program: Program, library=None) -> np.ndarray:
    """Tree-walking interpreter: centred segments (n, 4), same semantics as `logo.run`.

    The compiler's static checks (names, arities, call depth, inlined size) run first, so the walk
    only meets bound names; the walk itself counts every statement it executes, calls included, and
    raises the same `LimitError`s as the VM for segments, loop counts and numbers out of range.
    """
    compile_program(program, library)
    procs = as_library(library)
    procs.update({d.name: d for d in program.defs})
    segs: list[tuple[float, float, float, float]] = []
    state = {"x": 4.5, "y": 4.5, "h": 0.0, "pen": True, "steps": 0}

    def step() -> None:
        state["steps"] += 1
        if state["steps"] > MAX_REFERENCE_STEPS:
            raise StepLimitError(f"program executed more than {MAX_REFERENCE_STEPS} statements")

    def block(stmts, env):
        for s in stmts:
            step()
            if isinstance(s, Move):
                length, angle = _value(s.length, env), _value(s.angle, env)
                nx = _check(state["x"] + length * math.cos(2 * math.pi * state["h"]))
                ny = _check(state["y"] + length * math.sin(2 * math.pi * state["h"]))
                if state["pen"]:
                    if len(segs) >= MAX_SEGMENTS:
                        raise SegmentLimitError(f"program drew more than {MAX_SEGMENTS} segments")
                    segs.append((state["x"], state["y"], nx, ny))
                state["x"], state["y"] = nx, ny
                h = _check(state["h"] + angle)
                state["h"] = h - math.floor(h)
            elif isinstance(s, Loop):
                count = _value(s.count, env)
                if count > MAX_LOOP_COUNT:
                    raise LoopLimitError(f"a loop count is above {MAX_LOOP_COUNT}")
                for i in range(int(math.floor(count + 1e-9))):
                    step()
                    block(s.body, {**env, s.var: float(i)})
            elif isinstance(s, Embed):
                saved = {k: state[k] for k in ("x", "y", "h", "pen")}
                block(s.body, env)
                state.update(saved)
            elif isinstance(s, PenUp):
                pen = state["pen"]
                state["pen"] = False
                block(s.body, env)
                state["pen"] = pen
            elif isinstance(s, Call):
                proc = procs[s.name]
                block(proc.body, {p: _value(a, env) for p, a in zip(proc.params, s.args)})

    block(program.body, {})
    out = np.asarray(segs, np.float64).reshape(-1, 4)
    if len(out):
        xs, ys = out[:, [0, 2]], out[:, [1, 3]]
        out[:, [0, 2]] += 4.5 - 0.5 * (xs.min() + xs.max())
        out[:, [1, 3]] += 4.5 - 0.5 * (ys.min() + ys.max())
    return out


def rasterize_reference(segments: np.ndarray, size: int = 28, rows: int = SUBROWS, cols: int = SUBCOLS) -> np.ndarray:
    """Point-in-stroke test of every sample point against every segment rectangle (numpy).

    Samples sit at the centres of a rows x cols grid in each pixel (the numba rasterizer's grid by
    default); a pixel's value is 255 * inked samples / (rows * cols), rounded.
    """
    x = (np.arange(size * cols) + 0.5) / cols * (CANVAS / size)
    y = CANVAS - (np.arange(size * rows) + 0.5) / rows * (CANVAS / size)  # row 0 at the top
    inked = np.zeros((y.size, x.size), bool)
    for x0, y0, x1, y1 in np.asarray(segments, np.float64).reshape(-1, 4):
        length = math.hypot(x1 - x0, y1 - y0)
        if length <= 1e-12:
            continue
        # only samples in the segment's bounding box (grown by the pen) can be inside it
        c = (x >= min(x0, x1) - PEN_WIDTH) & (x <= max(x0, x1) + PEN_WIDTH)
        r = (y >= min(y0, y1) - PEN_WIDTH) & (y <= max(y0, y1) + PEN_WIDTH)
        px, py = np.meshgrid(x[c], y[r])
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        along = (px - x0) * ux + (py - y0) * uy
        across = -(px - x0) * uy + (py - y0) * ux
        inked[np.ix_(r, c)] |= (along >= 0) & (along <= length) & (np.abs(across) <= PEN_WIDTH / 2)
    counts = inked.reshape(size, rows, size, cols).sum(axis=(1, 3))
    full = rows * cols
    return ((255 * counts + full // 2) // full).astype(np.uint8)
