"""The k stored images nearest to a query, exact, visiting only the stored pixels under the query's ink.

The distance is the novelty module's: the sum of squared pixel differences (in 0..255 units, compared as
exact integers), ties to the lowest row (the oldest entry).  It is written as

    |q - x|^2 = |q|^2 + |x|^2 - 2 q.x

with |x|^2 kept per row, and q.x summed only over the pixels the query inks: the stored images are kept a
second time in pixel-major sparse form (for each pixel, the rows that ink it and their values; line
drawings ink ~6 % of their pixels), so a query visits (its inked pixels) x (rows inking each) values,
about 13 x n for the DreamCoder tasks, instead of 1024 x n for a brute force, and no float conversion.
The answer is exact (not a shortlist): the same entries and order as a brute force over all rows.

Rows arrive in insertion order (`sync`).  The sparse form is held in chunks of up to 65,536 consecutive rows
(row offsets in uint16); rows past the last chunk wait in a dense tail, searched by a gather over the
query's inked pixels, until there are `tail_rows` (4096) of them, then the last partial chunk is encoded
again with them (each row is encoded at most 16 times).  Memory: 3 bytes per inked pixel (~190 bytes per
32x32 line drawing, ~40 MB at 200,000 entries) + 12 bytes per row.  Time per query at 200,000 entries:
~3.5 ms of CPU for the sums + 0.5 ms to pick the k best (bench/nearest.py); it still grows with the
database, but ~80x more slowly than a brute force's.
"""
from __future__ import annotations

import math

import numba
import numpy as np

#: new rows searched densely before they are encoded into the last sparse chunk
TAIL_ROWS = 4096
#: rows per sparse chunk (at most 65,536: row offsets are uint16)
CHUNK_ROWS = 65536
#: up to this k the best k are kept in a sorted list during the scan; larger k use numpy's partition
SCAN_K = 64


@numba.njit(cache=True, nogil=True)
def _encode(flat, lo, hi, ptr, rows, vals):
    """Pixel-major sparse form of flat[lo:hi] (rows ascending within a pixel); `ptr` has npix + 1 zeros."""
    npix = flat.shape[1]
    for r in range(lo, hi):
        for p in range(npix):
            if flat[r, p] != 0:
                ptr[p + 1] += 1
    for p in range(npix):
        ptr[p + 1] += ptr[p]
    fill = ptr[:npix].copy()
    for r in range(lo, hi):
        for p in range(npix):
            v = flat[r, p]
            if v != 0:
                t = fill[p]
                rows[t] = r - lo
                vals[t] = v
                fill[p] = t + 1


@numba.njit(cache=True, nogil=True)
def _sq_norms(flat, lo, hi, out):
    npix = flat.shape[1]
    for r in range(lo, hi):
        acc = np.int64(0)
        for p in range(npix):
            v = np.int64(flat[r, p])
            acc += v * v
        out[r] = acc


@numba.njit(cache=True, nogil=True)
def _dot_chunk(qpix, qval, lo, ptr, rows, vals, dot):
    """dot[lo + row] += q.x over the query's inked pixels, for the rows of one sparse chunk."""
    for i in range(qpix.shape[0]):
        p = qpix[i]
        w = np.int32(qval[i])
        for t in range(ptr[p], ptr[p + 1]):
            dot[lo + rows[t]] += w * np.int32(vals[t])


@numba.njit(cache=True, nogil=True)
def _dot_dense(qpix, qval, flat, lo, hi, dot):
    """dot[r] = q.x over the query's inked pixels for the dense tail rows lo..hi-1."""
    for r in range(lo, hi):
        acc = np.int64(0)
        for i in range(qpix.shape[0]):
            acc += np.int64(qval[i]) * np.int64(flat[r, qpix[i]])
        dot[r] = acc


@numba.njit(cache=True, nogil=True)
def _best_k(qn, norms, dot, n, k, best_d, best_r):
    """The k smallest (distance, row) over rows 0..n-1, ascending; distance = qn + norms - 2 dot."""
    m = 0
    for r in range(n):
        d = qn + norms[r] - 2 * np.int64(dot[r])
        if m == k:
            if d >= best_d[k - 1]:           # rows ascend: an equal distance loses the tie
                continue
            j = k - 1
        else:
            j = m
            m += 1
        while j > 0 and best_d[j - 1] > d:
            best_d[j] = best_d[j - 1]
            best_r[j] = best_r[j - 1]
            j -= 1
        best_d[j] = d
        best_r[j] = r
    return m


class NearestIndex:
    """Exact k nearest neighbours over rows 0..n-1 of an (n, S, S) uint8 image array that only grows.

    The caller owns the images (they may be reallocated between calls) and passes them to `sync` and
    `nearest`; this keeps only the squared norms and the sparse chunks."""

    def __init__(self, size: int, tail_rows: int | None = None, chunk_rows: int | None = None):
        self.size = size
        self.npix = size * size
        self.tail_rows = max(1, int(TAIL_ROWS if tail_rows is None else tail_rows))
        self.chunk_rows = int(CHUNK_ROWS if chunk_rows is None else chunk_rows)
        if not 1 <= self.chunk_rows <= 65536:
            raise ValueError(f"chunk_rows must be in 1..65536 (row offsets are uint16), not {self.chunk_rows}")
        self.n = 0                                   # rows seen
        self.norms = np.zeros(1024, np.int64)        # |x|^2 per row
        self.chunks: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]] = []   # (lo, hi, ptr, rows, vals)
        # q.x fits in int32 up to 181x181 images (npix * 255^2 < 2^31)
        self._dot_type = np.int32 if self.npix * 255 * 255 < 2 ** 31 else np.int64
        self._dot = np.zeros(0, self._dot_type)

    def __len__(self) -> int:
        return self.n

    @property
    def sparse_rows(self) -> int:
        """Rows held in sparse chunks (the rest, fewer than `tail_rows`, are searched densely)."""
        return self.chunks[-1][1] if self.chunks else 0

    def nbytes(self) -> int:
        return self.norms.nbytes + self._dot.nbytes + sum(p.nbytes + r.nbytes + v.nbytes for _, _, p, r, v in self.chunks)

    def sync(self, images: np.ndarray, n: int) -> None:
        """Take in rows self.n..n-1 of `images` (rows before self.n must be unchanged)."""
        if n < self.n:
            raise ValueError(f"the index has {self.n} rows; images has only {n}")
        if n == self.n:
            return
        flat = images.reshape(len(images), self.npix)
        if n > len(self.norms):
            norms = np.zeros(max(n, 2 * len(self.norms)), np.int64)
            norms[:self.n] = self.norms[:self.n]
            self.norms = norms
        _sq_norms(flat, self.n, n, self.norms)
        self.n = n
        if n - self.sparse_rows >= self.tail_rows:
            if self.chunks and self.chunks[-1][1] - self.chunks[-1][0] < self.chunk_rows:
                self.chunks.pop()                  # the partial last chunk is encoded again with the new rows
            for lo in range(self.sparse_rows, n, self.chunk_rows):
                self.chunks.append(self._encode_rows(flat, lo, min(n, lo + self.chunk_rows)))

    def _encode_rows(self, flat: np.ndarray, lo: int, hi: int):
        nnz = int(np.count_nonzero(flat[lo:hi]))
        ptr = np.zeros(self.npix + 1, np.int64)
        rows = np.empty(nnz, np.uint16)
        vals = np.empty(nnz, np.uint8)
        _encode(flat, lo, hi, ptr, rows, vals)
        return lo, hi, ptr, rows, vals

    def nearest(self, images: np.ndarray, image: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the k stored images nearest to `image` and their integer sums of squared differences,
        nearest first (ties: lowest row).  Call `sync` first: only the rows seen are searched."""
        n = self.n
        k = min(int(k), n)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        q = np.ascontiguousarray(image, np.uint8).reshape(self.npix)
        qpix = np.flatnonzero(q)
        qval = q[qpix]
        qn = int(np.dot(qval.astype(np.int64), qval.astype(np.int64)))
        if len(self._dot) < n:
            self._dot = np.zeros(max(n, 2 * len(self._dot)), self._dot_type)
        dot = self._dot
        dot[:n] = 0
        for lo, _hi, ptr, rows, vals in self.chunks:
            _dot_chunk(qpix, qval, lo, ptr, rows, vals, dot)
        flat = images.reshape(len(images), self.npix)
        _dot_dense(qpix, qval, flat, self.sparse_rows, n, dot)
        if k <= SCAN_K:
            best_d = np.zeros(k, np.int64)
            best_r = np.zeros(k, np.int64)
            _best_k(np.int64(qn), self.norms, dot, n, k, best_d, best_r)
            return best_r, best_d
        d = qn + self.norms[:n] - 2 * dot[:n].astype(np.int64)
        kth = np.partition(d, k - 1)[k - 1]
        cand = np.flatnonzero(d <= kth)                # all ties at the k-th distance, then the lowest rows
        order = np.lexsort((cand, d[cand]))[:k]
        return cand[order], d[cand[order]]


def rms_distance(sq_sum: int, size: int) -> float:
    """An integer sum of squared differences (0..255 units) of two (size, size) images as the RMS distance."""
    return math.sqrt(max(int(sq_sum), 0)) / (255.0 * size)
