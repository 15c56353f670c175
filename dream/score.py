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

Outside images become targets by `logo.images.load_target_image` (re-exported here with `BadImage` and
`resize`), the one reader of image files that `logo db nearest` uses too.
"""
from __future__ import annotations

import numpy as np

from logo.images import INK_THRESHOLD, BadImage, load_target_image, resize  # noqa: F401  (re-exported)
from logo.images import blur as _blur
from logo.library import SOLVE_SIZE

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


def solved_batch(candidates28: np.ndarray, target28: np.ndarray) -> np.ndarray:
    """(n,) bool: which of the (n, SOLVE_SIZE, SOLVE_SIZE) candidates solve the target."""
    d = np.abs(np.asarray(candidates28, np.int16) - np.asarray(target28, np.int16)[None])
    return d.reshape(len(d), -1).max(axis=1, initial=0) <= SOLVE_TOLERANCE


class Scorer:
    """Scores many candidate images against one target (the target's blur is computed once)."""

    def __init__(self, target: np.ndarray):
        self.target = np.asarray(target, np.uint8)
        self._bt = blur(self.target)
        self._norm = float((self._bt ** 2).sum()) or 1.0

    def distance(self, images: np.ndarray) -> np.ndarray:
        """(n,) float distances of (n, H, W) images from the target; see the module docstring."""
        b = blur(np.asarray(images, np.uint8))
        d = ((b - self._bt[None]) ** 2).reshape(len(b), -1).sum(axis=1)
        return d / self._norm


def distance(a: np.ndarray, target: np.ndarray) -> float:
    return float(Scorer(target).distance(np.asarray(a)[None])[0])


def _dilate(mask: np.ndarray) -> np.ndarray:
    p = np.pad(mask, [(0, 0)] * (mask.ndim - 2) + [(1, 1), (1, 1)])
    h, w = mask.shape[-2:]
    out = np.zeros_like(mask)
    for dy in range(3):
        for dx in range(3):
            out |= p[..., dy:dy + h, dx:dx + w]
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ma = _dilate(np.asarray(a) >= IOU_THRESHOLD)
    mb = _dilate(np.asarray(b) >= IOU_THRESHOLD)
    union = int((ma | mb).sum())
    return 1.0 if union == 0 else int((ma & mb).sum()) / union
