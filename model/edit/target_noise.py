"""Target noise: jitter the image the model is asked to move toward, so it does not need the exact
renderer's strokes (a skeletonised MNIST digit is thinner or thicker, a pixel off, and broken in places).

`jitter(images, rng, p)` changes each (S, S) uint8 image with probability `p` by one of:
- "thicker":  3x3 grey dilation (a wider stroke);
- "shift":    a 1-pixel shift in a random direction (ink pushed off the edge is lost);
- "skeleton": drop ~10% of the ink pixels and add as many single pixels next to the stroke.

Used by `PairSampler.batch` on training batches only (`train --target-noise P`); held-out batches are
never jittered, so the metrics stay comparable between runs with and without it.
"""
from __future__ import annotations

import numpy as np

NOISES = ("thicker", "shift", "skeleton")


def _dilate(img: np.ndarray) -> np.ndarray:
    p = np.pad(img, 1)
    h, w = img.shape
    return np.max(np.stack([p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)]), axis=0)


def _shift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(img)
    h, w = img.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = img[max(-dy, 0):h + min(-dy, 0),
                                                                     max(-dx, 0):w + min(-dx, 0)]
    return out


def _skeleton(img: np.ndarray, rng: np.random.Generator, frac: float = 0.1) -> np.ndarray:
    out = img.copy()
    ink = np.flatnonzero(img.ravel() > 0)
    if ink.size == 0:
        return out
    k = max(1, int(frac * ink.size))
    out.ravel()[rng.choice(ink, min(k, ink.size), replace=False)] = 0
    near = np.flatnonzero((_dilate(img) > 0).ravel() & (img.ravel() == 0))
    if near.size:
        out.ravel()[rng.choice(near, min(k, near.size), replace=False)] = int(img.max())
    return out


def jitter(images: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """A copy of `images` (n, S, S) uint8 with each image jittered with probability `p` (see the module doc)."""
    out = np.array(images, np.uint8, copy=True)
    if p <= 0:
        return out
    for i in np.flatnonzero(rng.random(len(out)) < p):
        kind = NOISES[int(rng.integers(len(NOISES)))]
        if kind == "thicker":
            out[i] = _dilate(out[i])
        elif kind == "shift":
            dy, dx = ((-1, 0), (1, 0), (0, -1), (0, 1))[int(rng.integers(4))]
            out[i] = _shift(out[i], dy, dx)
        else:
            out[i] = _skeleton(out[i], rng)
    return out
