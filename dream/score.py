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
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from logo.images import blur as _blur

from logo.library import SOLVE_SIZE

SOLVE_TOLERANCE = 40
BLUR_SIGMA = 1.0
IOU_THRESHOLD = 64


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


# ---- outside images ----------------------------------------------------------------------------

class BadImage(ValueError):
    """An image file that cannot be used as a target (unreadable, or empty); the message names it."""


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a square uint8 ink image (255 = ink) to size x size (PIL box filter down, bilinear up)."""
    image = np.asarray(image, np.uint8)
    if image.shape == (size, size):
        return image
    from PIL import Image
    pil = Image.fromarray(image, mode="L")
    method = Image.BOX if image.shape[0] >= size else Image.BILINEAR
    return np.asarray(pil.resize((size, size), method), np.uint8)


def load_target_image(path: str | Path, size: int = SOLVE_SIZE) -> np.ndarray:
    """Read any image file into a size x size uint8 ink image (255 = ink), in this stated way:

    1. colour modes: transparency is composited onto white, then the image is converted to greyscale
       (PIL "L": 0.299 R + 0.587 G + 0.114 B); 16-bit, 32-bit and float greys are scaled linearly so
       their minimum is 0 and their maximum 255;
    2. polarity: if the mean of the one-pixel border is above 127 the picture is dark ink on a light
       background (like our PNGs) and is inverted, so that ink is high;
    3. shape: a non-square image is padded with background to a square, centred;
    4. size: resized to size x size (box filter when shrinking, bilinear when enlarging).

    Raises `BadImage` naming the file when it cannot be read or holds no ink after conversion.
    """
    from PIL import Image, UnidentifiedImageError
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            if im.mode in ("I", "F") or im.mode.startswith("I;"):     # 16/32-bit and float greys
                arr = np.asarray(im, np.float64)
                lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
                grey = np.zeros(arr.shape, np.uint8) if hi <= lo else \
                    np.rint((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8)
            else:
                grey = np.asarray(im.convert("L"), np.uint8)
    except IsADirectoryError:
        raise BadImage(f"{path}: is a directory, not an image file") from None
    except Image.DecompressionBombError as e:    # e.g. 30000 x 30000: refused before decoding
        raise BadImage(f"{path}: image too large to read ({e})") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, MemoryError) as e:
        raise BadImage(f"{path}: cannot read image: {e}") from None
    if grey.size == 0:
        raise BadImage(f"{path}: image has no pixels")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.mean() > 127:
        grey = 255 - grey
    h, w = grey.shape
    if h != w:
        s = max(h, w)
        sq = np.zeros((s, s), np.uint8)
        sq[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = grey
        grey = sq
    out = resize(grey, size)
    if int(out.max(initial=0)) < IOU_THRESHOLD:
        raise BadImage(f"{path}: image is empty (no ink after conversion to a {size}x{size} drawing)")
    return out
