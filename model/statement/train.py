"""Training the statement net on construction states of *training* digits, and its cached weights.

The examples (`data/digit_statements.npz`, written by `bench/digit_library.py --write-examples` from its
constructions of MNIST training digits; never a held-out digit) are the states a construction passed
through: the target, the canvas before statement k, the turtle there, and as labels the ink of statement
k and of statements k.. (all that construction still drew). Loss: binary cross-entropy per pixel, ink
weighted up (it is a few percent of the pixels); each state shifted by up to 2 pixels (planes and labels
together) so the net reads positions relative to the ink, not to the canvas.

`load_or_train()` reads the weights bundled beside this file for these examples (`statement_net_DIGEST.pt`,
keyed by the examples' content), else the user's cache, else trains now (a minute or two on a CPU) and
caches them, written atomically and read back with `torch.load(weights_only=True)`.
`python -m model.statement.train` trains on nine tenths of the digits and prints the loss on the rest next
to the untrained net's; `--write` then trains on all of them and writes the bundled weights.
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

import data

from .. import weights_cache
from ..weights_cache import save_weights, train_on_one_thread
from .net import SIZE, StatementNet, planes

EXAMPLES = Path(data.__file__).parent / "digit_statements.npz"
INK_WEIGHT = 4.0


def save_examples(path, rows: dict) -> None:
    """Write examples (bool masks packed): rows has target, drawn, next, rest (n, 28, 28) bool, pos (n, 2)
    (nan before the first statement), heading (n,) turns, digit (n,) the construction each came from."""
    from logo.files import atomic_write
    packed = {k: np.packbits(np.asarray(rows[k], bool), axis=-1) for k in ("target", "drawn", "next", "rest")}
    with atomic_write(path, "wb") as f:
        np.savez_compressed(f, pos=np.asarray(rows["pos"], np.float32),
                            heading=np.asarray(rows["heading"], np.float32),
                            digit=np.asarray(rows["digit"], np.int32), **packed)


def load_examples(path=EXAMPLES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(planes (n, 6, 28, 28), labels (n, 2, 28, 28), digit (n,)) of an examples file."""
    with np.load(path, allow_pickle=False) as z:
        m = {k: np.unpackbits(z[k], axis=-1, count=SIZE).astype(bool) for k in ("target", "drawn", "next", "rest")}
        pos, heading, digit = z["pos"], z["heading"], z["digit"]
    x = np.stack([planes(m["target"][i], m["drawn"][i], None if np.isnan(pos[i, 0]) else pos[i], heading[i])
                  for i in range(len(pos))])
    y = np.stack([m["next"], m["rest"]], axis=1).astype(np.float32)
    return x, y, digit


def _shift(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, most: int = 2):
    """Spatial planes (0..3) and labels moved together by a random whole-pixel offset."""
    xo, yo = x.clone(), torch.zeros_like(y)
    xo[:, :4] = 0
    for i, (dy, dx) in enumerate(torch.randint(-most, most + 1, (len(x), 2), generator=gen).tolist()):
        rs, rd = slice(max(0, -dy), SIZE - max(0, dy)), slice(max(0, dy), SIZE - max(0, -dy))
        cs, cd = slice(max(0, -dx), SIZE - max(0, dx)), slice(max(0, dx), SIZE - max(0, -dx))
        xo[i, :4, rd, cd] = x[i, :4, rs, cs]
        yo[i, :, rd, cd] = y[i, :, rs, cs]
    return xo, yo


def loss_of(net, x, y) -> torch.Tensor:
    w = 1.0 + (INK_WEIGHT - 1.0) * y
    return nn.functional.binary_cross_entropy_with_logits(net(x), y, weight=w)


def train(x: np.ndarray, y: np.ndarray, epochs: int = 30, seed: int = 0, batch: int = 64, lr: float = 3e-3,
          progress: bool = False) -> StatementNet:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = StatementNet()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    net.train()
    epochs_iter = range(epochs)
    if progress:
        from tqdm import tqdm
        epochs_iter = tqdm(epochs_iter, desc="statement net")
    for _ in epochs_iter:
        order = torch.randperm(len(xt), generator=gen)
        for k in range(0, len(xt), batch):
            idx = order[k:k + batch]
            loss = loss_of(net, *_shift(xt[idx], yt[idx], gen))
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    return net


def _name(examples) -> str:
    return f"statement_net_{hashlib.sha256(Path(examples).read_bytes()).hexdigest()[:12]}.pt"


def bundled_path(examples=EXAMPLES) -> Path:
    return Path(__file__).parent / _name(examples)


def cache_path(examples=EXAMPLES) -> Path:
    return weights_cache.cache_path(_name(examples))


def load_weights(path) -> StatementNet:
    """A net from a weights file; raises on a file that is not one (damaged, foreign)."""
    net = StatementNet()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net.eval()


def load_or_train(examples=EXAMPLES, verbose: bool = False) -> StatementNet:
    """The bundled or cached net for `examples`, or one trained now on them and cached (atomically)."""
    path = cache_path(examples)
    for p in (bundled_path(examples), path):
        if p.is_file():
            try:
                return load_weights(p)
            except Exception as e:  # noqa: BLE001 - a damaged or foreign weights file: the next, or train again
                if verbose:
                    print(f"statement net: {p} does not load ({type(e).__name__})")
    if verbose:
        print("statement net: training on", examples)
    x, y, _ = load_examples(examples)
    net = train_on_one_thread(lambda: train(x, y, progress=verbose))
    save_weights(net, path, "statement net", verbose)
    return net


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Train the statement net; print its loss on held-out training digits.")
    ap.add_argument("--examples", default=str(EXAMPLES))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--write", action="store_true", help="then train on every example and write the bundled weights")
    args = ap.parse_args(argv)
    x, y, digit = load_examples(args.examples)
    cut = np.quantile(np.unique(digit), 0.9)
    tr, te = digit <= cut, digit > cut
    net = train(x[tr], y[tr], epochs=args.epochs, progress=True)
    xt, yt = torch.from_numpy(x[te]), torch.from_numpy(y[te])
    with torch.no_grad():
        print(f"{tr.sum()} train states, {te.sum()} held-out states; held-out loss {loss_of(net, xt, yt).item():.4f} "
              f"(untrained {loss_of(StatementNet().eval(), xt, yt).item():.4f})")
    if args.write:
        from logo.files import atomic_write
        net = train(x, y, epochs=args.epochs, progress=True)
        path = bundled_path(args.examples)
        with atomic_write(path, "wb") as f:
            torch.save(net.state_dict(), f)
        print("wrote", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
