"""Bounded token edit distance, compiled: which stored programs lie within k edits of a new one.

The pair sampler asks this for every new database entry against thousands of candidates, so it
runs in numba and gives up on a candidate as soon as a whole row of the table exceeds k.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def bounded_distances(a, flat, starts, lens, cand, k):
    """Levenshtein distance from token-id sequence `a` to each candidate sequence (flat[starts[c]:+lens[c]]),
    or k + 1 where it exceeds k (rows stop early)."""
    out = np.full(cand.shape[0], k + 1, np.int64)
    n = a.shape[0]
    prev = np.empty(n + 1, np.int64)
    cur = np.empty(n + 1, np.int64)
    for ci in range(cand.shape[0]):
        c = cand[ci]
        b = flat[starts[c]:starts[c] + lens[c]]
        m = b.shape[0]
        if abs(m - n) > k:
            continue
        for i in range(n + 1):
            prev[i] = i
        over = False
        for j in range(1, m + 1):
            cur[0] = j
            best = cur[0]
            for i in range(1, n + 1):
                v = prev[i - 1] + (0 if a[i - 1] == b[j - 1] else 1)
                if prev[i] + 1 < v:
                    v = prev[i] + 1
                if cur[i - 1] + 1 < v:
                    v = cur[i - 1] + 1
                cur[i] = v
                if v < best:
                    best = v
            if best > k:
                over = True
                break
            for i in range(n + 1):
                prev[i] = cur[i]
        if not over and prev[n] <= k:
            out[ci] = prev[n]
    return out
