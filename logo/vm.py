"""The numba turtle VM: runs compiled code (`bytecode.py`) to a list of segments, within limits.

Returns a status code instead of raising, so a batch of programs runs in one compiled call;
`interp.py` turns codes into `LogoError`s.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .bytecode import (ADD, CONST, DIV, ENDLOOP, HALT, LOOP, MAX_FRAMES, MAX_STACK, MOVE, MUL, PENPOP,
                       PENUP, RESTORE, SAVE, SETVAR, SUB, VAR)

OK, STEP_LIMIT, SEGMENT_LIMIT, LOOP_LIMIT, NUMERIC_RANGE = 0, 1, 2, 3, 4

MAX_STEPS = 200_000        # instructions executed
MAX_SEGMENTS = 4_000       # segments drawn
MAX_LOOP_COUNT = 1_000     # iterations of one loop
MAX_ABS = 1.0e6            # largest magnitude of any computed number
START = 4.5                # the turtle starts at the centre of the 9x9 canvas


@numba.njit(cache=True, nogil=True)
def _check(v):
    return math.isfinite(v) and abs(v) <= MAX_ABS


@numba.njit(cache=True, nogil=True)
def run_code(ops, consts, n_slots, max_steps, segs):
    """Execute `ops`; write segments (x0, y0, x1, y1) into `segs`. Returns (n_segments, status)."""
    max_segments = segs.shape[0]
    slots = np.zeros(max(n_slots, 1), np.float64)
    stack = np.zeros(MAX_STACK, np.float64)
    loop_slot = np.zeros(MAX_FRAMES, np.int64)
    loop_n = np.zeros(MAX_FRAMES, np.int64)
    loop_i = np.zeros(MAX_FRAMES, np.int64)
    saved = np.zeros((MAX_FRAMES, 4), np.float64)
    pens = np.zeros(MAX_FRAMES, np.float64)
    sp = 0
    lp = 0
    svp = 0
    pp = 0
    x = START
    y = START
    h = 0.0
    pen = 1.0
    n = 0
    pc = 0
    steps = 0
    while True:
        steps += 1
        if steps > max_steps:
            return n, STEP_LIMIT
        op = ops[pc, 0]
        if op == CONST:
            stack[sp] = consts[ops[pc, 1]]
            sp += 1
        elif op == VAR:
            stack[sp] = slots[ops[pc, 1]]
            sp += 1
        elif op == SETVAR:
            sp -= 1
            slots[ops[pc, 1]] = stack[sp]
        elif op == ADD or op == SUB or op == MUL or op == DIV:
            b = stack[sp - 1]
            a = stack[sp - 2]
            sp -= 1
            if op == ADD:
                r = a + b
            elif op == SUB:
                r = a - b
            elif op == MUL:
                r = a * b
            else:
                if abs(b) < 1e-12:
                    return n, NUMERIC_RANGE
                r = a / b
            if not _check(r):
                return n, NUMERIC_RANGE
            stack[sp - 1] = r
        elif op == MOVE:
            ang = stack[sp - 1]
            length = stack[sp - 2]
            sp -= 2
            nx = x + length * math.cos(2.0 * math.pi * h)
            ny = y + length * math.sin(2.0 * math.pi * h)
            if not (_check(nx) and _check(ny)):
                return n, NUMERIC_RANGE
            if pen > 0.0:
                if n >= max_segments:
                    return n, SEGMENT_LIMIT
                segs[n, 0] = x
                segs[n, 1] = y
                segs[n, 2] = nx
                segs[n, 3] = ny
                n += 1
            x = nx
            y = ny
            h = h + ang
            if not _check(h):
                return n, NUMERIC_RANGE
            h = h - math.floor(h)
        elif op == LOOP:
            sp -= 1
            c = stack[sp]
            if c > MAX_LOOP_COUNT:
                return n, LOOP_LIMIT
            count = int(math.floor(c + 1e-9))
            if count <= 0:
                pc = ops[pc, 2]
                continue
            loop_slot[lp] = ops[pc, 1]
            loop_n[lp] = count
            loop_i[lp] = 0
            slots[ops[pc, 1]] = 0.0
            lp += 1
        elif op == ENDLOOP:
            k = lp - 1
            loop_i[k] += 1
            if loop_i[k] < loop_n[k]:
                slots[loop_slot[k]] = float(loop_i[k])
                pc = ops[pc, 1]
                continue
            lp -= 1
        elif op == SAVE:
            saved[svp, 0] = x
            saved[svp, 1] = y
            saved[svp, 2] = h
            saved[svp, 3] = pen
            svp += 1
        elif op == RESTORE:
            svp -= 1
            x = saved[svp, 0]
            y = saved[svp, 1]
            h = saved[svp, 2]
            pen = saved[svp, 3]
        elif op == PENUP:
            pens[pp] = pen
            pp += 1
            pen = 0.0
        elif op == PENPOP:
            pp -= 1
            pen = pens[pp]
        elif op == HALT:
            return n, OK
        pc += 1


@numba.njit(cache=True, nogil=True)
def center(segs, n):
    """Shift segments so the centre of their end points' bounding box is (4.5, 4.5), in place."""
    if n == 0:
        return
    lo_x = hi_x = segs[0, 0]
    lo_y = hi_y = segs[0, 1]
    for i in range(n):
        for j in (0, 2):
            lo_x = min(lo_x, segs[i, j])
            hi_x = max(hi_x, segs[i, j])
            lo_y = min(lo_y, segs[i, j + 1])
            hi_y = max(hi_y, segs[i, j + 1])
    dx = START - 0.5 * (lo_x + hi_x)
    dy = START - 0.5 * (lo_y + hi_y)
    for i in range(n):
        segs[i, 0] += dx
        segs[i, 2] += dx
        segs[i, 1] += dy
        segs[i, 3] += dy
