"""How a candidate's image is compared with a target, and how outside images become targets.

Solved (DreamCoder's criterion at 28x28, with our renderer drawing both): `solved(a, b)` is true when the
two 28x28 uint8 images differ by at most `SOLVE_TOLERANCE` = 40 at every pixel. The renderer samples each
pixel in 16 rows (exact along x), one sample row is 255/16 = 16 levels, so the tolerance allows two
sub-pixel rows to flip (floating-point noise between equivalent programs such as (* ul 3) and three unit moves) and
nothing a person could see.

Graded distance for partial progress (`distance`): both images are blurred with a Gaussian of
`BLUR_SIGMA` = 1 pixel, and the distance is ||blur(a) - blur(b)||^2 / ||blur(target)||^2, so the empty
program scores 1.0 against any non-empty target and a perfect match 0.0 (it can exceed 1 for
drawings that add ink where the target has none). Program length (number of tokens) breaks ties,
shorter first.

IoU (`iou`, reported for MNIST where exact solutions are rare): both images are thresholded at ink >=
`IOU_THRESHOLD` = 64, each binary mask is dilated by a 3x3 square (a one-pixel tolerance for strokes
that are off by one pixel), and IoU = |A & B| / |A | B| (1.0 when both are empty).

The search scores a whole round of candidates in one compiled call (`Scorer.score`: graded distance and
solved for every candidate); it computes exactly the numpy definitions above (`Scorer.reference_distance`,
`solved_batch`), the same float32 operations in the same order, so the numbers are bit-identical.

Outside images become targets by `logo.images.load_target_image` (re-exported here with `BadImage` and
`resize`), the one reader of image files that `logo db nearest` uses too.
"""
from __future__ import annotations

import numba
import numpy as np

from logo.images import INK_THRESHOLD, BadImage, load_target_image, resize  # noqa: F401  (re-exported)
from logo.images import blur as _blur
from logo.images import blur_kernel, dilate
from logo.library import SOLVE_SIZE
from logo.raster import CANVAS

SOLVE_TOLERANCE = 40
BLUR_SIGMA = 1.0
IOU_THRESHOLD = INK_THRESHOLD


def blur(images: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """Separable Gaussian blur at the score's sigma (`logo.images.blur`); float32, ink in [0, 1]."""
    return _blur(images, sigma)


def solved(candidate28: np.ndarray, target28: np.ndarray) -> bool:
    a = np.asarray(candidate28, np.int16)
    b = np.asarray(target28, np.int16)
    return a.shape == b.shape and int(np.abs(a - b).max(initial=0)) <= SOLVE_TOLERANCE


def reach_box(target28: np.ndarray, tolerance: int = SOLVE_TOLERANCE) -> tuple[float, float, float, float] | None:
    """The box on the 9x9 canvas (x_lo, x_hi, y_lo, y_hi; y up) that a drawing's ink must extend past on every
    side to solve `target28`, or None when the target has no pixel above `tolerance` (anything may solve it).

    Why: a solution differs from the target by at most `tolerance` at every pixel, so it inks every pixel
    where the target is above it, among them the leftmost, rightmost, top and bottom such pixels. A drawing
    whose ink stops short of one of them (it ends right of the leftmost one's right edge, ...) leaves it
    blank and cannot solve the target, whatever else it draws; the search then skips drawing it at 28x28
    (`logo.render_checked_sizes(reach=...)`), and its blank 28x28 image is judged unsolved, as its drawing
    would have been."""
    rows, cols = np.nonzero(np.asarray(target28) > tolerance)
    if not len(rows):
        return None
    px = CANVAS / np.shape(target28)[1]
    return ((cols.min() + 1) * px, cols.max() * px, CANVAS - rows.max() * px, CANVAS - (rows.min() + 1) * px)


def solved_batch(candidates28: np.ndarray, target28: np.ndarray) -> np.ndarray:
    """(n,) bool: which of the (n, SOLVE_SIZE, SOLVE_SIZE) candidates solve the target."""
    d = np.abs(np.asarray(candidates28, np.int16) - np.asarray(target28, np.int16)[None])
    return d.reshape(len(d), -1).max(axis=1, initial=0) <= SOLVE_TOLERANCE


def _pairwise_plan(n: int, lo: int = 0) -> list[tuple[int, int]]:
    """numpy's pairwise float32 sum of n numbers as a postfix plan: (lo, count) sums a block of at most 128
    numbers in 8 lanes; (-1, 0) adds the last two results. Above 128, numpy splits at half the count
    rounded down to a multiple of 8."""
    if n <= 128:
        return [(lo, n)]
    half = n // 2
    half -= half % 8
    return _pairwise_plan(half, lo) + _pairwise_plan(n - half, lo + half) + [(-1, 0)]


@numba.njit(cache=True, nogil=True)
def _pairwise_sum(a, plan):
    """The float32 sum of `a` by `_pairwise_plan(len(a))`: numpy's order, so numpy's result (no recursion:
    numba's cache does not keep recursive functions)."""
    stack = np.empty(plan.shape[0], np.float32)
    top = 0
    for s in range(plan.shape[0]):
        lo, n = plan[s, 0], plan[s, 1]
        if lo < 0:
            top -= 1
            stack[top - 1] = stack[top - 1] + stack[top]
            continue
        if n < 8:
            res = np.float32(-0.0)
            for i in range(lo, lo + n):
                res = res + a[i]
        else:
            r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
            r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
            i = 8
            while i < n - (n % 8):
                r0 += a[lo + i]
                r1 += a[lo + i + 1]
                r2 += a[lo + i + 2]
                r3 += a[lo + i + 3]
                r4 += a[lo + i + 4]
                r5 += a[lo + i + 5]
                r6 += a[lo + i + 6]
                r7 += a[lo + i + 7]
                i += 8
            res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
            while i < n:
                res += a[lo + i]
                i += 1
        stack[top] = res
        top += 1
    return stack[0]


@numba.njit(cache=True, nogil=True)
def _score(images, kernel, target_blur, norm, plan, images28, target28, tolerance, distance, solved):
    """distance[p] = ||blur(images[p]) - target_blur||^2 / norm (float32, `logo.images.blur`'s operations in
    its order: /255, vertical then horizontal taps k[0]..k[-1], zero padding), solved[p] = images28[p] within
    `tolerance` of target28 at every pixel; one pass over the batch."""
    n, h, w = images.shape
    taps = kernel.shape[0]
    r = taps // 2
    x = np.zeros((h + 2 * r, w), np.float32)          # zero rows above and below
    v = np.zeros((h, w + 2 * r), np.float32)          # zero columns left and right
    row = np.empty(w, np.float32)
    sq = np.empty(h * w, np.float32)
    ink = np.float32(255.0)
    for p in range(n):
        for a in range(h):
            for b in range(w):
                x[a + r, b] = np.float32(images[p, a, b]) / ink
        for a in range(h):                            # vertical taps
            for b in range(w):
                v[a, b + r] = kernel[0] * x[a, b]
            for i in range(1, taps):
                for b in range(w):
                    v[a, b + r] = v[a, b + r] + kernel[i] * x[a + i, b]
        for a in range(h):                            # horizontal taps, then the squared difference
            for b in range(w):
                row[b] = kernel[0] * v[a, b]
            for i in range(1, taps):
                for b in range(w):
                    row[b] = row[b] + kernel[i] * v[a, b + i]
            for b in range(w):
                d = row[b] - target_blur[a, b]
                sq[a * w + b] = d * d
        distance[p] = _pairwise_sum(sq, plan) / norm
        ok = True
        for a in range(images28.shape[1]):
            for b in range(images28.shape[2]):
                if abs(np.int32(images28[p, a, b]) - np.int32(target28[a, b])) > tolerance:
                    ok = False
        solved[p] = ok


class Scorer:
    """Scores many candidate images against one target (the target's blur is computed once)."""

    def __init__(self, target: np.ndarray, target28: np.ndarray | None = None):
        self.target = np.asarray(target, np.uint8)
        self.target28 = None if target28 is None else np.asarray(target28, np.uint8)
        self._bt = blur(self.target)
        self._norm = float((self._bt ** 2).sum()) or 1.0
        self._kernel = blur_kernel(BLUR_SIGMA).astype(np.float32)
        self._plan = np.asarray(_pairwise_plan(self.target.size), np.int64).reshape(-1, 2)

    def score(self, images: np.ndarray, images28: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(distance float32 (n,), solved bool (n,)) of (n, H, W) images and their (n, 28, 28) drawings, in
        one compiled call (the search's round). Without a `target28`, solved is all False."""
        images = np.ascontiguousarray(images, np.uint8)
        if images.ndim != 3 or images.shape[1:] != self.target.shape:
            raise ValueError(f"images of shape {images.shape} cannot be scored against a {self.target.shape} target")
        n = len(images)
        judge = images28 is not None and self.target28 is not None and np.shape(images28)[1:] == self.target28.shape
        if judge:
            images28, target28 = np.ascontiguousarray(images28, np.uint8), self.target28
        else:                                        # nothing to judge: solved stays False
            images28, target28 = np.zeros((n, 0, 0), np.uint8), np.zeros((0, 0), np.uint8)
        distance = np.empty(n, np.float32)
        solved = np.zeros(n, np.bool_)
        if n:
            _score(images, self._kernel, self._bt, np.float32(self._norm), self._plan, images28, target28,
                   SOLVE_TOLERANCE, distance, solved)
        if not judge:
            solved[:] = False
        return distance, solved

    def distance(self, images: np.ndarray) -> np.ndarray:
        """(n,) float distances of (n, H, W) images from the target; see the module docstring."""
        return self.score(images)[0]

    def reference_distance(self, images: np.ndarray) -> np.ndarray:
        """`distance` in numpy: the definition the compiled score reproduces bit for bit."""
        b = blur(np.asarray(images, np.uint8))
        d = ((b - self._bt[None]) ** 2).reshape(len(b), -1).sum(axis=1)
        return d / self._norm


def distance(a: np.ndarray, target: np.ndarray) -> float:
    return float(Scorer(target).distance(np.asarray(a)[None])[0])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ma = dilate(np.asarray(a) >= IOU_THRESHOLD)
    mb = dilate(np.asarray(b) >= IOU_THRESHOLD)
    union = int((ma | mb).sum())
    return 1.0 if union == 0 else int((ma & mb).sum()) / union
