"""A small CNN that names the digit a line drawing shows: the judge of "looks like the digit" (issue 31).

Why: IoU says how many pixels agree, not whether a person would read the drawing as a 2. The benches
report the share of reconstructions this classifier names as their label, next to its accuracy on the
targets themselves (its ceiling).

Trained only on the *training* split of the bundled MNIST digits (`data.mnist`, 4,500 digits; the 500
held-out digits are never seen), in their line-drawing form, so it reads targets and renderings alike.
Both are prepared the same way (`prepare`): ink where the pixel is >= 64 (the IoU threshold), dilated by
a 3x3 square (a rendered stroke and a thinned MNIST stroke then look alike), as 0/1 floats. Training
shifts each digit by up to 2 pixels (reconstructions may sit a pixel off).

`load_or_train()` trains on first use (seconds on a CPU) and caches the weights under the user's cache
directory (`$XDG_CACHE_HOME/logo-synth/`, else `~/.cache/logo-synth/`), written atomically and read back
with `torch.load(weights_only=True)`; a cache file that does not load is trained again.
`classify(images)` -> predicted labels; `accuracy(images, labels)`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from logo.images import dilate

from . import weights_cache
from .weights_cache import save_weights, train_on_one_thread

INK = 64
VERSION = 1
CACHE_NAME = f"digit_classifier_v{VERSION}.pt"


class DigitNet(nn.Module):
    """Two conv blocks and two linear layers (about 0.1 M parameters)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.head(self.features(x))


def prepare(images: np.ndarray) -> torch.Tensor:
    """uint8 (n, 28, 28), 255 = ink -> float (n, 1, 28, 28): thresholded at `INK` and dilated 3x3."""
    x = np.asarray(images)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"the digit classifier reads (n, 28, 28) images, not {x.shape}")
    return torch.from_numpy(dilate(x >= INK).astype(np.float32))[:, None]


def _shift(x: torch.Tensor, gen: torch.Generator, most: int = 2) -> torch.Tensor:
    """Each image moved by a random whole-pixel offset in [-most, most]^2 (zeros shifted in)."""
    out = torch.zeros_like(x)
    offs = torch.randint(-most, most + 1, (len(x), 2), generator=gen)
    for i, (dy, dx) in enumerate(offs.tolist()):
        src = x[i, :, max(0, -dy):28 - max(0, dy), max(0, -dx):28 - max(0, dx)]
        out[i, :, max(0, dy):max(0, dy) + src.shape[1], max(0, dx):max(0, dx) + src.shape[2]] = src
    return out


def training_digits(limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 28, 28), labels (n,)) of the bundled MNIST *training* split, line drawings."""
    from data.mnist import labels as digit_labels
    from data.mnist import mnist, raw_digits, to_line_drawing
    labels = digit_labels("train")
    if limit is None:
        return mnist(None, "train", 28), labels
    pick = np.linspace(0, len(labels) - 1, limit).round().astype(int)    # sorted by class: every class
    return to_line_drawing(raw_digits(None, "train")[pick], 28), labels[pick]


def train(images: np.ndarray, labels: np.ndarray, epochs: int = 4, seed: int = 0, batch: int = 64,
          lr: float = 2e-3) -> DigitNet:
    """A fresh `DigitNet` trained on `images` (uint8 line drawings) and `labels` on the CPU."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = DigitNet()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x, y = prepare(images), torch.as_tensor(labels, dtype=torch.long)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for k in range(0, len(x), batch):
            idx = order[k:k + batch]
            loss = nn.functional.cross_entropy(net(_shift(x[idx], gen)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


def cache_path() -> Path:
    return weights_cache.cache_path(CACHE_NAME)


def load_or_train(path: str | Path | None = None, verbose: bool = False) -> DigitNet:
    """The cached classifier, or one trained now on the training digits and cached (atomically)."""
    path = Path(path) if path is not None else cache_path()
    net = DigitNet()
    if path.is_file():
        try:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            net.eval()
            return net
        except Exception as e:  # noqa: BLE001 - a damaged or foreign cache file: train again
            if verbose:
                print(f"digit classifier: {path} does not load ({type(e).__name__}); training again")
    net = train_on_one_thread(lambda: train(*training_digits()))
    save_weights(net, path, "digit classifier", verbose)
    return net


@torch.no_grad()
def classify(images: np.ndarray, net: DigitNet | None = None) -> np.ndarray:
    """Predicted digit (n,) int64 for uint8 (n, 28, 28) line drawings."""
    net = net or load_or_train()
    if len(images) == 0:
        return np.zeros(0, np.int64)
    return net(prepare(images)).argmax(1).numpy()


def accuracy(images: np.ndarray, labels, net: DigitNet | None = None) -> float:
    """Share of `images` classified as their `labels`."""
    labels = np.asarray(labels)
    return float((classify(images, net) == labels).mean()) if len(labels) else 0.0
