"""Antialiased numba rasterizer for turtle segments.

Each segment is a butt-capped stroke 0.225 units wide: a rectangle.  The canvas [0, 9]^2 (y up) is
sampled on an (size*S)^2 grid of sub-pixel points; a sample is inked if it lies in the *union* of the
rectangles (so overlaps do not add up), and a pixel's value is 255 * inked samples / S^2.
Rectangles are filled scan-line by scan-line: per sample row the inside is one x-interval.
"""
from __future__ import annotations

import math

import numba
import numpy as np

CANVAS = 9.0
PEN_WIDTH = 0.225
DEFAULT_SUPERSAMPLE = 4


@numba.njit(cache=True, nogil=True)
def fill_segments(segs, n, size, ss, buf):
    """Mark sub-pixel samples covered by segments in `buf` ((size*ss)^2 uint8, zeroed by the caller).

    Returns the touched sample-row range (r0, r1) so callers only clear/reduce what was drawn.
    """
    res = size * ss
    scale = res / CANVAS
    hw = 0.5 * PEN_WIDTH * scale
    r_lo = res
    r_hi = -1
    for k in range(n):
        # sample coordinates: u = x*scale (column), v = (9-y)*scale (row); sample centres at i+0.5
        x0 = segs[k, 0] * scale
        y0 = (CANVAS - segs[k, 1]) * scale
        x1 = segs[k, 2] * scale
        y1 = (CANVAS - segs[k, 3]) * scale
        dx = x1 - x0
        dy = y1 - y0
        length = math.sqrt(dx * dx + dy * dy)
        if length <= 1e-12:
            continue  # butt caps: a zero-length segment paints nothing
        ux = dx / length
        uy = dy / length
        # rectangle corners give the row range
        ox = -uy * hw
        oy = ux * hw
        vmin = min(min(y0 + oy, y0 - oy), min(y1 + oy, y1 - oy))
        vmax = max(max(y0 + oy, y0 - oy), max(y1 + oy, y1 - oy))
        j0 = max(0, int(math.ceil(vmin - 0.5)))
        j1 = min(res - 1, int(math.floor(vmax - 0.5)))
        for j in range(j0, j1 + 1):
            v = j + 0.5
            # along = (u-x0)*ux + (v-y0)*uy in [0, length]; across = -(u-x0)*uy + (v-y0)*ux in [-hw, hw]
            lo = -1e30
            hi = 1e30
            ca = (v - y0) * uy
            if abs(ux) > 1e-12:
                a = (0.0 - ca) / ux
                b = (length - ca) / ux
                lo = max(lo, min(a, b))
                hi = min(hi, max(a, b))
            elif not (0.0 <= ca <= length):
                continue
            cb = (v - y0) * ux
            if abs(uy) > 1e-12:
                a = (cb + hw) / uy
                b = (cb - hw) / uy
                lo = max(lo, min(a, b))
                hi = min(hi, max(a, b))
            elif not (-hw <= cb <= hw):
                continue
            lo += x0
            hi += x0
            if hi < lo:
                continue
            i0 = max(0, int(math.ceil(lo - 0.5)))
            i1 = min(res - 1, int(math.floor(hi - 0.5)))
            if i1 < i0:
                continue
            for i in range(i0, i1 + 1):
                buf[j, i] = 1
            r_lo = min(r_lo, j)
            r_hi = max(r_hi, j)
    return r_lo, r_hi


@numba.njit(cache=True, nogil=True)
def reduce_samples(buf, size, ss, r_lo, r_hi, out):
    """Average ss x ss sample blocks into uint8 pixels of `out`, and clear the used rows of `buf`."""
    if r_hi < r_lo:
        return
    res = size * ss
    full = ss * ss
    p0 = r_lo // ss
    p1 = r_hi // ss
    for py in range(p0, p1 + 1):
        for px in range(size):
            c = 0
            for j in range(py * ss, py * ss + ss):
                for i in range(px * ss, px * ss + ss):
                    c += buf[j, i]
            if c:
                out[py, px] = (255 * c + full // 2) // full
    for j in range(p0 * ss, min(res, p1 * ss + ss)):
        for i in range(res):
            buf[j, i] = 0


@numba.njit(cache=True, nogil=True)
def rasterize(segs, n, size, ss, buf, out):
    """Render `n` centred segments into `out` (size x size uint8, zeroed) using scratch `buf`."""
    r_lo, r_hi = fill_segments(segs, n, size, ss, buf)
    reduce_samples(buf, size, ss, r_lo, r_hi, out)


def scratch(size: int, ss: int = DEFAULT_SUPERSAMPLE) -> np.ndarray:
    return np.zeros((size * ss, size * ss), np.uint8)
