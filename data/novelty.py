"""When two rendered images count as "the same", and a fast index to find stored images near a new one.

Distance: the root-mean-square pixel difference of two (S, S) uint8 images, in units of full ink
(0 = identical, 1 = one all-ink and one blank).  Two images are the same if the distance is at most
`THRESHOLD` (0.01 by default; a database records its own threshold at creation).  At S = 32 this allows
about one pixel differing by a third of full ink: equivalent programs (`(move ul 0) (move ul 0)` vs
`(move 2 0)`) are at 0, a one-epsilon gap or a 1/20 shorter stroke is at ~0.003-0.007 (same image),
a line of length 1.5 vs 2 is at ~0.015 and a pentagon vs a hexagon at ~0.09 (different images).

Search (`NoveltyIndex`): exact duplicates are found by a 64-bit hash of the pixels (verified
byte-for-byte); near duplicates by a faiss range search over a 16x16 grid of block sums (2x2 pixel blocks
at S = 32), scaled so that the grid distance is a lower bound of the pixel distance (Cauchy-Schwarz:
(sum d)^2 / b^2 <= sum d^2 for a b x b block), then exact integer distances on the candidates (numba, with
early exit).  Up to `hnsw_from` (2000) images the faiss index is flat and the search exact; past that it is
rebuilt as PCA to 64 dimensions (an orthonormal projection: still a lower bound) + an HNSW graph, which
is approximate (it agreed with brute force on every query we measured, see bench/db.py) and logarithmic,
so inserting stays fast at 10^6 entries (measured: the writer handled ~16k programs/s at 15k entries and
~11k/s at 100k).
Memory per stored image: S*S bytes (the image) + ~0.6 KB (faiss index, hash tables); a writer rebuilds the index from the
file when it opens it (~5 s per 100k entries).  The faiss part is built on the first `match` (one faiss call
per `add` batch, replayed in order: the same graph), so a process that only reads never pays for it.

`NoveltyIndex.nearest` (the search's start programs, `logo db nearest`) is exact and uses the sparse index
of `data.nearest` (+~0.2 KB per image, made on its first call).
"""
from __future__ import annotations

import math
import os

import faiss
import numba
import numpy as np

from .nearest import NearestIndex, rms_distance

THRESHOLD = 0.01
GRID = 16
#: faiss runs single-threaded in a process that uses this module: its OpenMP threads spin-wait, which
#: made adds and searches 10x slower while the build's worker processes (or training) used the cores.
FAISS_THREADS = int(os.environ.get("LOGO_FAISS_THREADS", "1"))
if FAISS_THREADS > 0:
    # also keeps OpenMP from starting a thread pool, which would make forked worker processes hang
    faiss.omp_set_num_threads(FAISS_THREADS)


def image_distance(a: np.ndarray, b: np.ndarray) -> float:
    """RMS pixel difference in [0, 1] of two uint8 images of the same shape."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images have different shapes {a.shape} and {b.shape}")
    d = a.astype(np.float32) - b.astype(np.float32)
    return float(np.sqrt(np.mean(d * d)) / 255.0)


def same_image(a: np.ndarray, b: np.ndarray, threshold: float = THRESHOLD) -> bool:
    """True if `image_distance(a, b) <= threshold`."""
    return image_distance(a, b) <= threshold


def sq_radius(threshold: float, size: int) -> float:
    """The threshold as a bound on the sum of squared differences (pixels in [0, 1])."""
    return threshold * threshold * size * size


def int_limit(radius: float) -> int:
    """The squared-sum radius in integer pixel units (0..255), rounded down (with a tiny float slack)."""
    return int(math.floor(radius * 255.0 * 255.0 * (1 + 1e-9)))


def sum_sq_dist(query: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Sum of squared differences (pixels in [0, 1]) between one image and many: (n,) float64."""
    q = query.reshape(1, -1).astype(np.float32)
    x = images.reshape(len(images), -1).astype(np.float32)
    d = x - q
    return np.einsum("ij,ij->i", d, d).astype(np.float64) / (255.0 * 255.0)


@numba.njit(cache=True, nogil=True)
def _best_matches(queries, qrows, lims, cand, stored, limit, best, best_d):
    """For query i (image queries[qrows[i]]), the candidate stored row cand[lims[i]:lims[i+1]] with the
    smallest integer sum of squared differences <= limit (ties: lowest row); early exit per candidate."""
    npix = queries.shape[1]
    for i in range(lims.shape[0] - 1):
        q = queries[qrows[i]]
        bd = limit + 1
        br = -1
        for t in range(lims[i], lims[i + 1]):
            r = cand[t]
            s = stored[r]
            acc = 0
            for p in range(npix):
                d = np.int64(q[p]) - np.int64(s[p])
                acc += d * d
                if acc > bd:
                    break
            if acc < bd or (acc == bd and r < br):
                bd = acc
                br = r
        best[i] = br
        best_d[i] = bd


@numba.njit(cache=True, nogil=True)
def _pair_dists(images, lims, cand, limit, out):
    """out[t] = integer sum of squared differences between image i and cand[t] (t in lims[i]:lims[i+1]),
    or limit + 1 if it is larger than limit (early exit)."""
    npix = images.shape[1]
    for i in range(lims.shape[0] - 1):
        q = images[i]
        for t in range(lims[i], lims[i + 1]):
            s = images[cand[t]]
            acc = 0
            for p in range(npix):
                d = np.int64(q[p]) - np.int64(s[p])
                acc += d * d
                if acc > limit:
                    acc = limit + 1
                    break
            out[t] = acc


_MULT = None


def image_hashes(images: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each image's pixels (n,) uint64 (collisions are possible: verify)."""
    global _MULT
    n = len(images)
    flat = np.ascontiguousarray(images.reshape(n, -1))
    pad = (-flat.shape[1]) % 8
    if pad:
        flat = np.concatenate([flat, np.zeros((n, pad), np.uint8)], axis=1)
    words = flat.view(np.uint64)
    if _MULT is None or len(_MULT) != words.shape[1]:
        rng = np.random.default_rng(12345)
        _MULT = rng.integers(1, 2 ** 63, size=words.shape[1], dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    with np.errstate(over="ignore"):
        h = (words * _MULT).sum(axis=1, dtype=np.uint64)
        h ^= h >> np.uint64(29)
    return h


@numba.njit(cache=True, nogil=True)
def _grid_sums(images, grid, b, scale, out):
    n, s = images.shape[0], images.shape[1]
    for k in range(n):
        for gy in range(grid):
            for gx in range(grid):
                acc = 0
                for y in range(gy * b, min(s, gy * b + b)):
                    for x in range(gx * b, min(s, gx * b + b)):
                        acc += images[k, y, x]
                out[k, gy * grid + gx] = acc * scale


def grid_vectors(images: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(n, grid*grid) float32 block sums / block side: ||u - v||^2 <= sum of squared pixel differences.

    Blocks are b x b pixels, b = ceil(S / grid) (the last ones may be cut by the border: still a bound)."""
    images = np.ascontiguousarray(images, np.uint8)
    n, s = images.shape[0], images.shape[1]
    b = math.ceil(s / grid)
    out = np.empty((n, grid * grid), np.float32)
    if n:
        _grid_sums(images, grid, b, np.float32(1.0 / (255.0 * b)), out)
    return out


class NoveltyIndex:
    """All stored images of a database, searchable by exact hash and by faiss range search.

    Rows are in insertion order; `ids[row]` is the database entry id of a row.
    """

    def __init__(self, size: int, threshold: float = THRESHOLD, hnsw_from: int = 2_000, pca_dim: int = 64):
        if FAISS_THREADS > 0:
            faiss.omp_set_num_threads(FAISS_THREADS)
        self.size = size
        self.threshold = threshold
        self.radius = sq_radius(threshold, size)
        self.hnsw_from = hnsw_from
        self.pca_dim = pca_dim
        self.dim = GRID * GRID
        self._faiss = faiss.IndexFlatL2(self.dim)
        self._hnsw = False
        # batches (first row, end row, their vectors or None) added since the faiss index was last brought
        # up to date: faiss is only needed by `match`, so a process that only reads (`nearest`) never
        # builds the graph, and a writer's graph is built by the same faiss calls in the same order
        self._faiss_pending: list[tuple[int, int, np.ndarray | None]] = []
        self.images = np.zeros((1024, size, size), np.uint8)
        self.ids = np.zeros(1024, np.int64)
        self.n = 0
        self.by_hash: dict[int, int] = {}       # hash -> row
        self.row_of: dict[int, int] = {}        # entry id -> row
        self._nearest: NearestIndex | None = None   # for `nearest`, made on first use

    def __len__(self) -> int:
        return self.n

    def max_id(self) -> int:
        return int(self.ids[self.n - 1]) if self.n else 0

    def add(self, entry_ids, images: np.ndarray, vectors: np.ndarray | None = None) -> None:
        k = len(entry_ids)
        if k == 0:
            return
        need = self.n + k
        if need > len(self.ids):
            cap = max(need, 2 * len(self.ids))
            imgs = np.zeros((cap, self.size, self.size), np.uint8)
            imgs[:self.n] = self.images[:self.n]
            ids = np.zeros(cap, np.int64)
            ids[:self.n] = self.ids[:self.n]
            self.images, self.ids = imgs, ids
        self.images[self.n:need] = images
        self.ids[self.n:need] = entry_ids
        for j, h in enumerate(image_hashes(images).tolist()):
            self.by_hash.setdefault(h, self.n + j)
        for j, e in enumerate(entry_ids):
            self.row_of[int(e)] = self.n + j
        self._faiss_pending.append((self.n, need, vectors))
        self.n = need

    @property
    def index(self):
        """The faiss index over the grid vectors of all rows (brought up to date first)."""
        self._sync_faiss()
        return self._faiss

    @property
    def hnsw(self) -> bool:
        """Whether the faiss index is the approximate graph (from `hnsw_from` rows on)."""
        self._sync_faiss()
        return self._hnsw

    def _sync_faiss(self) -> None:
        """Add the pending batches to faiss, one call per batch as `add` received them."""
        for lo, hi, vectors in self._faiss_pending:
            if not self._hnsw and hi >= self.hnsw_from:
                self._to_hnsw(hi)                # (replaces the flat index: all rows so far)
            else:
                self._faiss.add(grid_vectors(self.images[lo:hi]) if vectors is None else vectors)
        self._faiss_pending.clear()

    def _to_hnsw(self, n: int) -> None:
        """Rebuild the first n rows as a graph index: PCA to `pca_dim` dimensions (an orthonormal projection,
        so the distance stays a lower bound of the pixel distance) and HNSW over the projections."""
        vec = grid_vectors(self.images[:n])
        if self.pca_dim and self.pca_dim < self.dim:
            pca = faiss.PCAMatrix(self.dim, self.pca_dim)
            pca.train(vec)
            hnsw = faiss.IndexHNSWFlat(self.pca_dim, 16)
            idx = faiss.IndexPreTransform(pca, hnsw)
        else:
            hnsw = faiss.IndexHNSWFlat(self.dim, 16)
            idx = hnsw
        hnsw.hnsw.efSearch = 32
        hnsw.hnsw.efConstruction = 32
        idx.add(vec)
        self._faiss = idx
        self._hnsw = True

    def exact_row(self, image: np.ndarray, h: int) -> int:
        """Row of a byte-identical stored image (by hash `h`), or -1."""
        r = self.by_hash.get(h, -1)
        if r >= 0 and self.images[r].tobytes() == image.tobytes():
            return r
        return -1

    def match(self, images: np.ndarray, vectors: np.ndarray | None = None,
              integer: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """For each query image, the nearest stored row within the threshold (or -1) and its distance.

        Ties go to the lowest row (the oldest entry).  With `integer=True` the distances are the integer
        sums of squared pixel differences (0..255 units) instead of RMS distances."""
        q = len(images)
        rows = np.full(q, -1, np.int64)
        dist = np.full(q, np.inf)
        if q == 0 or self.n == 0:
            return rows, dist
        if vectors is None:
            vectors = grid_vectors(images)
        lims, _, cand = self.index.range_search(vectors, self.radius * (1 + 1e-5) + 1e-6)
        limit = int_limit(self.radius)
        best_d = np.zeros(q, np.int64)
        _best_matches(images.reshape(q, -1), np.arange(q), lims.astype(np.int64), cand.astype(np.int64),
                      self.images.reshape(len(self.images), -1), limit, rows, best_d)
        if integer:
            return rows, best_d
        hit = rows >= 0
        dist[hit] = np.sqrt(best_d[hit]) / (255.0 * self.size)
        return rows, dist

    def nearest_memory_bytes(self) -> int:
        """Memory held by the nearest-neighbour index (0 before the first `nearest`)."""
        return 0 if self._nearest is None else self._nearest.nbytes()

    def nearest(self, image: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k stored images nearest to `image`, nearest first (ties: the oldest): (entry id, distance).

        Exact, by the sparse index of `data.nearest` (built on the first call, then brought up to date with
        the rows added since, so inserting costs nothing until someone asks)."""
        if self.n == 0 or k <= 0:
            return []
        if self._nearest is None:
            self._nearest = NearestIndex(self.size)
        self._nearest.sync(self.images, self.n)
        rows, sq = self._nearest.nearest(self.images, image, k)
        return [(int(self.ids[r]), rms_distance(d, self.size)) for r, d in zip(rows.tolist(), sq.tolist())]


def within_batch_groups(images: np.ndarray, threshold: float, size: int,
                        vectors: np.ndarray | None = None) -> list[list[tuple[int, int]]]:
    """For each image i, the earlier images j < i of the batch within the threshold, as (j, integer sum
    of squared pixel differences), ascending j (candidates by a faiss range search)."""
    n = len(images)
    out: list[list[int]] = [[] for _ in range(n)]
    if n < 2:
        return out
    vec = grid_vectors(images) if vectors is None else vectors
    idx = faiss.IndexFlatL2(vec.shape[1])
    idx.add(vec)
    radius = sq_radius(threshold, size)
    lims, _, cand = idx.range_search(vec, radius * (1 + 1e-5) + 1e-6)
    limit = int_limit(radius)
    cand = cand.astype(np.int64)
    lims = lims.astype(np.int64)
    d = np.zeros(len(cand), np.int64)
    _pair_dists(images.reshape(n, -1), lims, cand, limit, d)
    keep = d <= limit
    owner = np.repeat(np.arange(n), np.diff(lims))
    keep &= cand < owner
    for i, j, dj in zip(owner[keep].tolist(), cand[keep].tolist(), d[keep].tolist()):
        out[i].append((j, dj))
    for lst in out:
        lst.sort()
    return out
