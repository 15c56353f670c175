"""Image arithmetic shared by the search's score and the trainer's step pairs (one home for the blur)."""
from __future__ import annotations

import numpy as np


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
