"""`StatementNet`: a small fully convolutional net from a construction state to two ink maps.

Input planes (28x28, `planes`): the target's ink, the canvas drawn so far, the target ink still missing
(not within a pixel of the canvas), a blob at the turtle, and its heading as constant cos/sin planes
(all zero before the first statement). Output: two logit maps, the pixels the *next* statement draws and
the pixels all the remaining statements draw (in the constructions it learned from). Dilated 3x3
convolutions (1, 2, 4, 8) see the whole digit; about 48 k parameters, a fraction of a millisecond per
state on a CPU.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from logo.images import dilate

SIZE = 28
N_PLANES = 6
N_MAPS = 2            # next statement, all remaining statements


class StatementNet(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        layers = [nn.Conv2d(N_PLANES, width, 3, padding=1), nn.ReLU()]
        for d in (1, 2, 4, 8, 1):
            layers += [nn.Conv2d(width, width, 3, padding=d, dilation=d), nn.ReLU()]
        layers += [nn.Conv2d(width, N_MAPS, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def planes(target: np.ndarray, drawn: np.ndarray, pos_px, heading_turns) -> np.ndarray:
    """(6, 28, 28) float32 for one state: `target` and `drawn` bool (28, 28); `pos_px` (row, col) floats
    or None before the first statement; `heading_turns` the heading as a fraction of a turn."""
    t = np.asarray(target, bool)
    d = np.asarray(drawn, bool)
    out = np.zeros((N_PLANES, SIZE, SIZE), np.float32)
    out[0], out[1], out[2] = t, d, t & ~dilate(d)
    if pos_px is not None:
        rr, cc = np.mgrid[0:SIZE, 0:SIZE]
        out[3] = np.exp(-((rr + 0.5 - pos_px[0]) ** 2 + (cc + 0.5 - pos_px[1]) ** 2) / 2.0)
        out[4] = math.cos(2 * math.pi * heading_turns)
        out[5] = math.sin(2 * math.pi * heading_turns)
    return out


@torch.no_grad()
def ink_maps(net: StatementNet, batch: np.ndarray) -> np.ndarray:
    """(n, 2, 28, 28) probabilities for (n, 6, 28, 28) planes."""
    return torch.sigmoid(net(torch.from_numpy(np.ascontiguousarray(batch, np.float32)))).numpy()
