"""Image arithmetic and image files: the blur shared by the search's score and the trainer's step pairs,
and the one reader that turns any image file into a drawing (`load_target_image`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .cli_errors import BadInputFile
from .library import SOLVE_SIZE


def blur_kernel(sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian of radius ceil(3 sigma) (at least 1)."""
    r = max(1, int(np.ceil(3 * sigma)))
    x = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur(images: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Separable Gaussian blur of (..., H, W) uint8 images, zero padding; float32, ink in [0, 1]."""
    x = np.asarray(images, np.float32) / 255.0
    k = blur_kernel(sigma)
    r = len(k) // 2
    p = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(r, r), (0, 0)])
    h = x.shape[-2]
    x = sum(k[i] * p[..., i:i + h, :] for i in range(len(k)))
    p = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, 0), (r, r)])
    w = x.shape[-1]
    return sum(k[i] * p[..., :, i:i + w] for i in range(len(k))).astype(np.float32)


# ---- reading image files -----------------------------------------------------------------------

#: A pixel at or above this level is ink (a file whose converted drawing has none is refused).
INK_THRESHOLD = 64


class BadImage(BadInputFile):
    """An image file that cannot be used as a drawing (unreadable, or empty); the message names it."""


def dilate(mask: np.ndarray) -> np.ndarray:
    """3x3 dilation of boolean images (..., h, w): a pixel is set where any of its 8 neighbours or itself is
    (IoU's one-pixel tolerance; the construction's and the digit networks' view of a stroke)."""
    p = np.pad(mask, [(0, 0)] * (mask.ndim - 2) + [(1, 1), (1, 1)])
    h, w = mask.shape[-2:]
    out = np.zeros_like(mask)
    for dy in range(3):
        for dx in range(3):
            out |= p[..., dy:dy + h, dx:dx + w]
    return out


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
    """Read any image file into a size x size uint8 ink image (255 = ink), in this stated way (every
    command that reads a picture, `logo solve --tasks DIR` and `logo db nearest` alike, reads it here):

    1. colour modes: transparency is composited onto white, then the image is converted to greyscale
       (PIL "L": 0.299 R + 0.587 G + 0.114 B); 16-bit, 32-bit and float greys are scaled linearly so
       their minimum is 0 and their maximum 255;
    2. polarity: if the mean of the one-pixel border is above 127 the picture is dark ink on a light
       background (like our PNGs) and is inverted, so that ink is high;
    3. shape: a non-square image is padded with background to a square, centred;
    4. size: resized to size x size (box filter when shrinking, bilinear when enlarging).

    Raises `BadImage` naming the file when it cannot be read or holds no ink (nothing at or above
    `INK_THRESHOLD`) after conversion.
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
    if int(out.max(initial=0)) < INK_THRESHOLD:
        raise BadImage(f"{path}: image is empty (no ink after conversion to a {size}x{size} drawing)")
    return out
