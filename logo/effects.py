"""What one statement does, as a fingerprint: the observational equivalence of statements.

Turtle statements are equivariant under rigid motions: run from any pose, a statement draws the same
segments moved rigidly and ends in the correspondingly moved pose. So running it once from a fixed pose
says everything: two statements with the same *effect* (the set of segments drawn, the points marked by
zero-length pen-down moves, the end pose) are interchangeable in every program. The enumerator keeps the
most probable statement of each effect (`logo.enumeration`); a statement that always fails, that draws
wider or taller than the canvas (every program running it is off the canvas), or that does nothing at all
is dropped.

Effects are computed for closed statements only (no free loop variables), in batches through the numba VM,
from their fragments (`logo.fragments`): each statement runs as the program `S (move 1 0)` (the final
unit move records the end pose) or, in a pen-up context, `(penup S) (move 1 0)` (only the end pose can
matter there).
"""
from __future__ import annotations

import numba
import numpy as np

from . import vm
from .fragments import assemble, const_code, move_frag, wrap_frag, NO_VAR
from .raster import CANVAS

_MARKER = move_frag(const_code(1.0), const_code(0.0), NO_VAR)
_SCALE = 1e6            # coordinates compared to a millionth of a unit


@numba.njit(cache=True, inline="always")
def _mix(h, x):
    # splitmix64-style combination of a running hash with one int64
    z = (h ^ x) * np.int64(-7046029254386353131)
    z = (z ^ (z >> np.int64(31))) * np.int64(-4658895280553007687)
    return z ^ (z >> np.int64(29))


@numba.njit(cache=True)
def _effects(ops, op_start, consts, const_start, n_slots, compiled, max_steps, hashes, spans, status):
    segs = np.empty((vm.MAX_SEGMENTS, 4), np.float64)
    for p in range(op_start.shape[0] - 1):
        if not compiled[p]:
            status[p] = -1                      # beyond the compiler's limits
            continue
        o = ops[op_start[p]:op_start[p + 1]]
        c = consts[const_start[p]:const_start[p + 1]]
        n, st = vm.run_code(o, c, n_slots[p], max_steps, segs)
        status[p] = st
        if st != 0 or n == 0:
            continue
        m = n - 1                               # the marker is the last segment
        items = np.empty(3 * m, np.int64)
        k = 0
        lo_x = lo_y = 1e300
        hi_x = hi_y = -1e300
        for i in range(m):
            a = np.int64(round(segs[i, 0] * _SCALE))
            b = np.int64(round(segs[i, 1] * _SCALE))
            cc = np.int64(round(segs[i, 2] * _SCALE))
            d = np.int64(round(segs[i, 3] * _SCALE))
            lo_x = min(lo_x, segs[i, 0], segs[i, 2])
            hi_x = max(hi_x, segs[i, 0], segs[i, 2])
            lo_y = min(lo_y, segs[i, 1], segs[i, 3])
            hi_y = max(hi_y, segs[i, 1], segs[i, 3])
            items[k] = _mix(_mix(np.int64(1), a), b)          # every end point is a point of the bbox
            items[k + 1] = _mix(_mix(np.int64(1), cc), d)
            k += 2
            if a != cc or b != d:                               # a segment, either direction
                if (a, b) > (cc, d):
                    a, b, cc, d = cc, d, a, b
                items[k] = _mix(_mix(_mix(_mix(np.int64(2), a), b), cc), d)
                k += 1
        h = np.int64(3)
        for j in range(4):
            h = _mix(h, np.int64(round(segs[m, j] * _SCALE)))
        if k:
            srt = np.sort(items[:k])
            h = _mix(h, srt[0])
            for i in range(1, k):
                if srt[i] != srt[i - 1]:
                    h = _mix(h, srt[i])
            spans[p, 0] = hi_x - lo_x
            spans[p, 1] = hi_y - lo_y
        hashes[p] = h


def statement_effects(frags, pen_up: bool):
    """For closed statements' fragments (`logo.fragments`): (status (n,) int64: the VM's, 0 = ran;
    effect hashes (n,) int64; spans (n, 2): width and height of what each draws)."""
    wrap = [(wrap_frag("penup", (f,)),) if pen_up else (f,) for f in frags]
    batch, ok = assemble([w + (_MARKER,) for w in wrap])
    n = len(frags)
    hashes = np.zeros(n, np.int64)
    spans = np.zeros((n, 2), np.float64)
    status = np.zeros(n, np.int64)
    if n:
        _effects(batch.ops, batch.op_start, batch.consts, batch.const_start, batch.n_slots, ok,
                 vm.MAX_STEPS, hashes, spans, status)
    return status, hashes, spans


def identity_hash() -> int:
    """The effect hash of a statement that does nothing (its only segment is the marker)."""
    _, h, _ = statement_effects([wrap_frag("embed", ())], False)
    return int(h[0])


def too_wide(spans: np.ndarray) -> np.ndarray:
    """(n,) bool: drawings wider or taller than the canvas (any program drawing them is off the canvas)."""
    return (spans[:, 0] > CANVAS + 1e-9) | (spans[:, 1] > CANVAS + 1e-9)
