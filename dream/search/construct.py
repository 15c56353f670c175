"""Execution-guided construction: build a drawing statement by statement from what is still missing.

Why: a digit is a handful of strokes and arcs, 40-80 tokens of Logo. Enumeration from the root cannot
reach that length and local edits of unrelated database programs wander (issue 31). Here a beam of
partial programs grows one statement at a time; each step runs the partial program (its pixels are
kept per state, so "running" a new statement is drawing only that statement) and chooses the next
statement by the residual: the target ink that is still missing and the ink a candidate would add where
the target has none.

Frame. The renderer re-centres every drawing on the bounding box of its pen-down end points, so a
partial drawing's placement shifts as it grows. Construction therefore works in the *target's own
frame* (world units, pixel (r, c) of the 28x28 target is the square [c, c+1] x [9-(r+1), 9-r] x 9/28):
a statement's pixels do not move when later statements are added. Only the finished program is
re-centred; where the target's bounding box is not centred on the canvas (MNIST digits are centred by
mass, off by about one pixel), `finish` tries the program with and without an invisible anchor (a pen-up
jump and a zero-length pen-down move at the point that makes the bounding boxes agree) and keeps the one
that scores better under the real renderer.

Statements (all relative to the turtle's position and heading, which the state carries; the heading
change before a statement is folded into the previous `move`'s turn where there is one):

* stroke `(move L A)`: 80 headings (4.5 degrees) x lengths 0.3 .. 7.6 units (the values of short
  expressions: literals are the digits 0..9, so 3.5 is `(/ 7 2)`);
* arc `(loop i N (move S A))`: radius x sweep x side, 40 headings, steps of 9 or 18 degrees;
* pen-up jump `(penup (move L A))` to an end of the missing ink, followed by a stroke or arc from there.

Candidates are ranked by a cheap line integral of a value map over their sampled points (+1 where they
would cover missing target ink, -`mu` where the target has none, a little less than 0 on ink already
covered) minus `lam` per token; the best `per_state` of each state are drawn exactly and the children
ranked by missing + `mu` x extra pixels + `lam` x tokens (partial programs: distance plus length).

`construct(target28, budget_s)` returns a `Construction` (program text, tokens, its 28x28 drawing, IoU)
after `refine` (coordinate descent on the statements' numbers) and `prune` (statements whose removal does
not cost); `polish` runs the `grammar` arm's search from it as the only start program (the shorter or
closer program wins by `judge`); `construct_row` is the `construct` arm's `Solver` entry (dispatched by
`dream.search.solver.Solver.solve_one`). `dream.search.arms.resolve_auto` chooses this arm for MNIST digits.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from logo.images import dilate
from logo.library import SOLVE_SIZE
from logo.raster import CANVAS


PX = CANVAS / SOLVE_SIZE            # world units per pixel at the solve size
SPACING = PX                        # candidate sample spacing when ranking (one pixel)
TURN = 80                           # headings are multiples of 1/80 turn (4.5 degrees)
ARC_HEADING_STEP = 2                # arcs start at every other heading (9 degrees)
ARC_STEPS = (2, 4)                  # turn per arc step, in 80ths (eps_a and two of them)
STROKE_RANGE = (0.3, 7.6)           # stroke lengths, units
ARC_RADII = (0.5, 0.7, 0.9, 1.2, 1.5, 2.0, 2.6)
ARC_SWEEPS = (1 / 8, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 7 / 8, 1)     # of a turn
INK = 64                            # the IoU threshold (dream.search.score.IOU_THRESHOLD)


# ---- numbers as short Logo expressions -------------------------------------------------------------

_DIGITS = {str(d): Fraction(d) for d in range(10)}
#: the atoms each kind of number is written with, so a length reads as a length and a turn as a turn
_ATOMS = {"length": {**_DIGITS, "eps_l": Fraction(1, 20)},
          "angle": {**_DIGITS, "ua": Fraction(1), "eps_a": Fraction(1, 40)},
          "count": {**_DIGITS, "inf": Fraction(20)}}


def _op(op: str, x: Fraction, y: Fraction):
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    return x / y if y else None


@lru_cache(maxsize=3)
def numbers(kind: str = "length") -> dict:
    """Every value an expression of at most 9 tokens reaches (literals are the digits 0..9) from the
    atoms of `kind` ("length", "angle", "count"): value -> (tokens, shortest text); one atom, `(op a b)`
    of atoms, and `(op a (op b c))` / `(op (op a b) c)`."""
    best: dict = {}
    atoms = _ATOMS[kind]

    def add(v, n, text):
        if v is not None and (v not in best or best[v][0] > n):
            best[v] = (n, text)
    for name, v in atoms.items():
        add(v, 1, name)
    pairs = {}
    for (a, va), (b, vb) in itertools.product(atoms.items(), repeat=2):
        for op in "+-*/":
            v = _op(op, va, vb)
            if v is not None:
                pairs.setdefault(v, f"({op} {a} {b})")
                add(v, 5, f"({op} {a} {b})")
    for a, va in atoms.items():
        for vb, tb in pairs.items():
            for op in "+-*/":
                add(_op(op, va, vb), 9, f"({op} {a} {tb})")
                add(_op(op, vb, va), 9, f"({op} {tb} {a})")
    return best


@lru_cache(maxsize=1)
def angles() -> list:
    """For each turn k/80 (k = 0..79): (tokens, text) of its shortest expression (mod one turn), or None."""
    table = numbers("angle")
    out = []
    for k in range(TURN):
        got = [table[Fraction(k, TURN) + m] for m in (-1, 0, 1) if Fraction(k, TURN) + m in table]
        out.append(min(got) if got else None)
    return out


def angle_tokens() -> np.ndarray:
    """(80,) tokens of each turn (`UNREACHABLE` where none is short enough)."""
    return np.array([a[0] if a else UNREACHABLE for a in angles()], np.int64)


#: the token cost of a turn no short expression makes (its candidates can never score above zero)
UNREACHABLE = 10 ** 6


def angle_expr(k: int) -> str:
    got = angles()[k % TURN]
    if got is None:
        raise ValueError(f"no short expression for a turn of {k}/{TURN}")
    return got[1]


def number_expr(v, kind: str = "length") -> str:
    return numbers(kind)[Fraction(v)][1]


def _tokens_of(v, kind: str = "length") -> int:
    return numbers(kind)[Fraction(v)][0]


@lru_cache(maxsize=1)
def stroke_lengths() -> tuple:
    """Stroke lengths, one per tenth of a unit in `STROKE_RANGE`: the shortest expression's value within
    0.04 units of it (the nearest among equally short ones)."""
    table = numbers("length")
    lo, hi = STROKE_RANGE
    values = sorted(v for v in table if lo - 0.05 <= v <= hi + 0.05)
    out = set()
    for tenth in range(int(round(lo * 10)), int(round(hi * 10)) + 1):
        g = Fraction(tenth, 10)
        near = [v for v in values if abs(v - g) <= Fraction(1, 25)]
        if near:
            out.add(min(near, key=lambda v: (table[v][0], abs(v - g))))
    return tuple(sorted(out))


# ---- primitives --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prim:
    """One statement of a construction. `heading` is the absolute heading it starts at (80ths of a turn)."""
    kind: str                 # "stroke", "arc" or "jump"
    heading: int
    a: Fraction               # stroke/jump: length; arc: step length (units)
    n: int = 0                # arc: steps
    turn: int = 0             # arc: signed 80ths of a turn per step

    @property
    def end_heading(self) -> int:
        return (self.heading + self.n * self.turn) % TURN if self.kind == "arc" else self.heading

    def points(self, x: float, y: float) -> list[tuple[float, float]]:
        """The vertices it visits from (x, y), in the construction's exact numbers."""
        if self.kind != "arc":
            h = 2 * math.pi * self.heading / TURN
            L = float(self.a)
            return [(x, y), (x + L * math.cos(h), y + L * math.sin(h))]
        pts = [(x, y)]
        s = float(self.a)
        for k in range(self.n):
            h = 2 * math.pi * (self.heading + k * self.turn) / TURN
            x, y = x + s * math.cos(h), y + s * math.sin(h)
            pts.append((x, y))
        return pts

    def text(self, after: int) -> str:
        """The statement, turning by `after` 80ths at its end (strokes and jumps only)."""
        if self.kind == "stroke":
            return f"(move {number_expr(self.a)} {angle_expr(after)})"
        if self.kind == "jump":
            return f"(penup (move {number_expr(self.a)} {angle_expr(after)}))"
        return f"(loop i {number_expr(self.n, 'count')} (move {number_expr(self.a)} {angle_expr(self.turn)}))"


def _jump_length(dist: float) -> Fraction:
    """The length nearest `dist` among the stroke lengths (a jump only has to land near an end)."""
    lengths = stroke_lengths()
    return min(lengths, key=lambda v: abs(float(v) - dist)) if dist >= float(lengths[0]) else lengths[0]


def emit(prims, anchor: tuple[float, float] | None = None, start=(0.0, 0.0)) -> str:
    """The program text of a construction (turns folded into the previous move), with an optional
    invisible anchor point at the end: a pen-up jump to `anchor` and a zero-length pen-down move there."""
    stmts: list[list] = []                 # [prim, "turn" or "point", turn after]
    heading = 0

    def turn_to(want):
        delta = (want - heading) % TURN
        if delta:
            if stmts and isinstance(stmts[-1][0], Prim) and stmts[-1][0].kind != "arc" and stmts[-1][1] == 0:
                stmts[-1][1] = delta
            else:
                stmts.append(["turn", delta])
    for p in prims:
        turn_to(p.heading)
        stmts.append([p, 0])
        heading = p.end_heading
    if anchor is not None:
        x, y = _end_position(prims, start)
        jump = anchor_jump(heading, (x, y), anchor)
        if jump is not None:
            turn_text, length_text = jump
            if stmts and isinstance(stmts[-1][0], Prim) and stmts[-1][0].kind != "arc" and stmts[-1][1] == 0:
                stmts[-1][1] = turn_text
            elif turn_text != "0":
                stmts.append(["turn", turn_text])
            stmts.append([f"(penup (move {length_text} 0))", 0])
        stmts.append(["point", 0])
    out = []
    for p, after in stmts:
        if p == "turn":
            out.append(f"(move 0 {after if isinstance(after, str) else angle_expr(after)})")
        elif p == "point":
            out.append("(move 0 0)")
        elif isinstance(p, str):
            out.append(p)
        elif isinstance(after, str):
            out.append(p.text(0)[:-len(" 0)")] + f" {after})" if p.kind == "stroke" else
                       p.text(0)[:-len(" 0))")] + f" {after}))")
        else:
            out.append(p.text(after))
    return " ".join(out)


@lru_cache(maxsize=1)
def _anchor_tables():
    """(turn values mod 1, their texts, tokens; lengths, texts, tokens) for the anchor's jump: every short
    expression, not only the construction's grid (the jump is the last statement: its turn is free)."""
    ang = {}
    for v, (n, text) in numbers("angle").items():
        w = v % 1
        if w not in ang or ang[w][0] > n:
            ang[w] = (n, text)
    lens = {v: nt for v, nt in numbers("length").items() if 0 < v <= 14}
    a_val = np.array([float(v) for v in ang], float)
    l_val = np.array([float(v) for v in lens], float)
    order = np.argsort(l_val)
    l_items = list(lens.items())
    return (a_val, [t for _, t in ang.values()], np.array([n for n, _ in ang.values()]),
            l_val[order], [l_items[i][1][1] for i in order], np.array([l_items[i][1][0] for i in order]))


def anchor_jump(heading: int, here, anchor) -> tuple[str, str] | None:
    """(turn text, length text) of the pen-up jump from `here` (heading in 80ths) that lands nearest the
    anchor on its fixed axes (and inside the box on a free one), fewest tokens among the near-exact;
    None when `here` is already good."""
    (ax, ay), free = anchor
    def miss(x, y):
        e = 0.0
        for v, want, rng in ((x, ax, free[0]), (y, ay, free[1])):
            e += (np.maximum(0, rng[0] - v) + np.maximum(0, v - rng[1])) if rng is not None else np.abs(v - want)
        return e
    if miss(*here) < 0.02 * PX:
        return None
    a_val, a_txt, a_tok, l_val, l_txt, l_tok = _anchor_tables()
    dx, dy = ax - here[0], ay - here[1]
    rel = (math.atan2(dy, dx) / (2 * math.pi) - heading / TURN) % 1
    diff = np.abs((a_val - rel + 0.5) % 1 - 0.5)
    near = np.nonzero(diff < 0.02)[0]
    if not len(near):
        near = np.argsort(diff)[:8]
    best = None
    for i in near:
        theta = 2 * math.pi * (heading / TURN + a_val[i])
        ux, uy = math.cos(theta), math.sin(theta)
        proj = dx * ux + dy * uy
        k = np.searchsorted(l_val, proj)
        for j in range(max(0, k - 3), min(len(l_val), k + 3)):
            e = float(miss(here[0] + l_val[j] * ux, here[1] + l_val[j] * uy))
            key = (round(e / (0.05 * PX)), a_tok[i] + l_tok[j])      # within a twentieth of a pixel: shortest
            if best is None or key < best[0]:
                best = (key, a_txt[i], l_txt[j])
    return best[1], best[2]


def _end_position(prims, start):
    x, y = start
    for p in prims:
        x, y = p.points(x, y)[-1]
    return x, y


def drawn_points(prims, start) -> np.ndarray:
    """(n, 2) the pen-down vertices of a construction from `start` (what the bounding box is made of)."""
    x, y = start
    pts = []
    for p in prims:
        v = p.points(x, y)
        if p.kind != "jump":
            pts.extend(v)
        x, y = v[-1]
    return np.asarray(pts, float).reshape(-1, 2)


# ---- candidate banks ------------------------------------------------------------------------------------

@dataclass
class Bank:
    """Candidate statements at the origin: sampled points per candidate (padded), validity, end offset."""
    prims: list
    pts: np.ndarray           # (n, m, 2) float32
    valid: np.ndarray         # (n, m) bool
    end: np.ndarray           # (n, 2) end position relative to the start
    tokens: np.ndarray        # (n,) tokens of the statement itself (turn folded: counted separately)


def _sample(vertices, spacing: float = SPACING) -> np.ndarray:
    v = np.asarray(vertices, float)
    out = [v[:1]]
    for a, b in zip(v[:-1], v[1:]):
        L = float(np.hypot(*(b - a)))
        k = max(1, int(math.ceil(L / spacing)))
        t = (np.arange(1, k + 1) / k)[:, None]
        out.append(a + t * (b - a))
    return np.concatenate(out)


def _bank(prims) -> Bank:
    samples = [_sample(p.points(0.0, 0.0)) for p in prims]
    m = max(len(s) for s in samples)
    pts = np.zeros((len(prims), m, 2), np.float32)
    valid = np.zeros((len(prims), m), bool)
    for i, s in enumerate(samples):
        pts[i, :len(s)] = s
        valid[i, :len(s)] = True
    end = np.array([p.points(0.0, 0.0)[-1] for p in prims], np.float32)
    tokens = np.array([_statement_tokens(p) for p in prims], np.int32)
    return Bank(list(prims), pts, valid, end, tokens)


def _statement_tokens(p: Prim) -> int:
    """Tokens of a statement with no turn at its end (a turn there is counted by `_turn_cost`)."""
    if p.kind == "arc":       # ( loop i N ( move S A ) )
        return 7 + _tokens_of(p.n, "count") + _tokens_of(p.a) + angles()[p.turn % TURN][0]
    inner = 4 + _tokens_of(p.a)                          # ( move L 0 )
    return inner + (3 if p.kind == "jump" else 0)


@lru_cache(maxsize=1)
def arc_steps() -> tuple:
    """Arc step lengths: the values of expressions of at most 5 tokens in [1/20, 1] units."""
    return tuple(sorted(v for v, (n, _) in numbers().items() if n <= 5 and Fraction(1, 20) <= v <= 1))


@lru_cache(maxsize=1)
def banks() -> tuple[Bank, Bank]:
    """(strokes, arcs), built once per process."""
    strokes = [Prim("stroke", h, L) for h in range(TURN) for L in stroke_lengths()]
    steps = arc_steps()
    arcs = []
    for turn in ARC_STEPS:
        for r in ARC_RADII:
            if (turn == 2) != (r >= 1.0):       # 9-degree steps for wide arcs, 18 for tight ones
                continue
            chord = 2 * r * math.sin(math.pi * turn / TURN)
            s = min(steps, key=lambda v: abs(float(v) - chord))
            for sweep in ARC_SWEEPS:
                n = int(round(sweep * TURN / turn))
                if Fraction(n) not in numbers("count"):
                    continue
                for h in range(0, TURN, ARC_HEADING_STEP):
                    for side in (1, -1):
                        if angles()[(side * turn) % TURN] is not None:
                            arcs.append(Prim("arc", h, s, n, side * turn))
    return _bank(strokes), _bank(arcs)


# ---- pixels ----------------------------------------------------------------------------------------------

def _box(mask: np.ndarray) -> np.ndarray:
    """Number of set pixels in each pixel's 3x3 neighbourhood."""
    p = np.pad(mask.astype(np.int16), 1)
    h, w = mask.shape
    return sum(p[dy:dy + h, dx:dx + w] for dy in (0, 1, 2) for dx in (0, 1, 2))


def to_pixels(pts: np.ndarray):
    """(rows, cols, inside) of points in the target frame (y up)."""
    col = np.floor(pts[..., 0] / PX).astype(np.int32)
    row = np.floor((CANVAS - pts[..., 1]) / PX).astype(np.int32)
    inside = (col >= 0) & (col < SOLVE_SIZE) & (row >= 0) & (row < SOLVE_SIZE)
    return np.clip(row, 0, SOLVE_SIZE - 1), np.clip(col, 0, SOLVE_SIZE - 1), inside


def world_to_pixel(pos) -> tuple[float, float]:
    """(row, col) as floats of a target-frame point (pixel (r, c) spans [r, r+1) x [c, c+1))."""
    return (CANVAS - pos[1]) / PX, pos[0] / PX


def pixel_centre(r: int, c: int) -> tuple[float, float]:
    return (c + 0.5) * PX, CANVAS - (r + 0.5) * PX


def components(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    """The 8-connected pieces of a boolean image, largest first."""
    seen = np.zeros_like(mask)
    out = []
    h, w = mask.shape
    for r0, c0 in zip(*np.nonzero(mask)):
        if seen[r0, c0]:
            continue
        seen[r0, c0] = True
        stack, piece = [(int(r0), int(c0))], []
        while stack:
            r, c = stack.pop()
            piece.append((r, c))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
        out.append(piece)
    return sorted(out, key=len, reverse=True)


def ends(mask: np.ndarray, limit: int, min_piece: int = 3) -> list[tuple[int, int]]:
    """Where a stroke could start on `mask`: the ends (pixels with at most one 8-neighbour in the piece)
    of its pieces of at least `min_piece` pixels, largest piece first, two per piece (a closed loop
    gives its first pixel); at most `limit`."""
    p = np.pad(mask, 1).astype(np.int8)
    h, w = mask.shape
    nb = sum(p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
             if dy or dx)
    out = []
    for piece in components(mask):
        if len(piece) < min_piece:
            break
        tips = [q for q in piece if nb[q] <= 1] or [min(piece)]
        if len(tips) > 2:                    # the two farthest apart
            tips = max(((a, b) for a in tips for b in tips), key=lambda ab: (ab[0][0] - ab[1][0]) ** 2
                       + (ab[0][1] - ab[1][1]) ** 2)
        out.extend(sorted(set(tips)))
        if len(out) >= limit:
            break
    return out[:limit]


#: the network's value map: NET_SCALE x (p(next) + p(later) / 2 - NET_OFFSET) (tuned on training digits)
NET_SCALE = 3.0
NET_OFFSET = 0.4


# ---- the beam ------------------------------------------------------------------------------------------------

@dataclass
class State:
    prims: tuple
    start: tuple                        # where the first statement starts (target frame)
    pos: tuple | None
    heading: int
    drawn: np.ndarray                   # (28, 28) bool: pixels drawn so far
    tokens: int
    objective: float
    last_kind: str | None = None


@dataclass
class Construction:
    program: str
    tokens: int
    image28: np.ndarray
    iou: float
    states: int = 0
    elapsed: float = 0.0
    candidates: int = 0
    prims: tuple = ()                   # its statements (target frame), for the corpus a network learns from
    start: tuple = (0.0, 0.0)


@dataclass
class Settings:
    width: int = 8            # beam width
    per_state: int = 16       # candidates drawn exactly per state
    lam: float = 0.4          # pixels per token (tuned on training digits: 0.3 draws more, 0.5 shorter)
    mu: float = 1.0           # weight of ink where the target has none
    max_statements: int = 12
    jump_ends: int = 6        # ends of the missing ink a state may jump to
    choose_tokens: float = 0.002  # final choice: IoU minus this per token


def _turn_cost(last_kind: str | None) -> np.ndarray:
    """(80,) tokens a turn by k/80 costs before the next statement: folded into the previous move's
    turn (which was `0`), or a statement `(move 0 A)` of its own after an arc or at the start."""
    t = angle_tokens().copy()
    cost = t - 1 if last_kind in ("stroke", "jump") else t + 4
    cost[0] = 0
    return cost


class Constructor:
    """The beam search for one target (28x28 uint8, 255 = ink)."""

    def __init__(self, target28: np.ndarray, settings: Settings | None = None, net=None):
        self.st = settings or Settings()
        self.target = np.asarray(target28) >= INK
        self.near_target = dilate(self.target)
        self.strokes, self.arcs = banks()
        self.candidates = 0
        self.net = net                     # a `model.statement.net.StatementNet`: the network's statements

    def source_map(self, s: "State") -> np.ndarray:
        """The statement source: the model-free `value_map`, or the network's (`net_value`)."""
        return self.value_map(s.drawn) if self.net is None else self.net_value(s)

    def net_value(self, s: "State") -> np.ndarray:
        """What a stroke through each pixel is worth to the network: the chance the next statement draws
        there plus half the chance a later one does, less `NET_OFFSET`, on the model-free map's scale."""
        from model.statement.net import ink_maps, planes
        pos = None if s.pos is None else world_to_pixel(s.pos)
        p = ink_maps(self.net, planes(self.target, s.drawn, pos, s.heading / TURN)[None])[0]
        return (NET_SCALE * (p[0] + 0.5 * p[1] - NET_OFFSET)).astype(np.float32)

    def objective(self, drawn: np.ndarray, tokens: int) -> float:
        """Pixels where the dilated drawing and the dilated target differ (IoU's union minus its
        intersection; extra ink weighted `mu`), plus `lam` per token."""
        d = dilate(drawn)
        missing = self.near_target & ~d
        extra = d & ~self.near_target
        return float(missing.sum() + self.st.mu * extra.sum() + self.st.lam * tokens)

    def value_map(self, drawn: np.ndarray) -> np.ndarray:
        """What a stroke passing through each pixel is worth: the missing dilated-target pixels around it
        less the extra ones it would add (a third: a line's samples share their neighbourhoods)."""
        d = dilate(drawn)
        gain = _box(self.near_target & ~d) - self.st.mu * _box(~self.near_target & ~d)
        return gain.astype(np.float32) / 3.0

    def rank(self, bank: Bank, origin, value: np.ndarray):
        """Approximate gain of every candidate of `bank` drawn from `origin` (pixels, before token cost)."""
        pts = bank.pts + np.asarray(origin, np.float32)
        r, c, inside = to_pixels(pts)
        v = np.where(inside, value[r, c], -self.st.mu - 1.0)
        v = np.where(bank.valid, v, 0.0)
        self.candidates += len(bank.prims)
        return v.sum(axis=1) * (SPACING / PX)

    def children(self, s: State) -> list[State]:
        st = self.st
        value = self.source_map(s)
        missing = self.target & ~dilate(s.drawn)
        options = []                      # (score, origin, jump prim or None, bank, index, turn tokens)
        origins = []
        if s.pos is None:
            for r, c in ends(self.target, 12):
                origins.append((pixel_centre(r, c), None, 0))
        else:
            origins.append((s.pos, None, 0))
            for r, c in ends(missing, st.jump_ends):
                q = pixel_centre(r, c)
                dx, dy = q[0] - s.pos[0], q[1] - s.pos[1]
                dist = math.hypot(dx, dy)
                if dist < PX:
                    continue
                h = int(round(math.atan2(dy, dx) / (2 * math.pi) * TURN)) % TURN
                turns = _turn_cost(s.last_kind)
                h = min((h, (h + 1) % TURN, (h - 1) % TURN), key=lambda g: turns[(g - s.heading) % TURN])
                jump = Prim("jump", h, _jump_length(dist))
                q = jump.points(*s.pos)[-1]
                cost = int(turns[(h - s.heading) % TURN]) + _statement_tokens(jump)
                if cost >= UNREACHABLE:
                    continue
                origins.append((q, jump, cost))
        for origin, jump, cost in origins:
            heading = jump.heading if jump else s.heading
            last = "jump" if jump else s.last_kind
            if s.pos is None:
                last = None
            for bank in (self.strokes, self.arcs):
                gain = self.rank(bank, origin, value)
                heads = np.array([p.heading for p in bank.prims])
                turn = _turn_cost(last)[(heads - heading) % TURN]
                score = gain - st.lam * (bank.tokens + turn + cost)
                top = np.argpartition(-score, min(st.per_state, len(score) - 1))[:st.per_state]
                for i in top:
                    if score[i] > 0:
                        options.append((float(score[i]), origin, jump, bank, int(i)))
        options.sort(key=lambda o: -o[0])
        out = []
        for _, origin, jump, bank, i in options[:st.per_state]:
            prim = bank.prims[i]
            drawn = s.drawn | ink(prim.points(*origin))
            prims = s.prims + ((jump,) if jump else ()) + (prim,)
            start = s.start if s.pos is not None else tuple(origin)
            tokens = _count(prims)
            end = bank.end[i] + np.asarray(origin, np.float32)
            child = State(prims, start, (float(end[0]), float(end[1])), prim.end_heading, drawn, tokens,
                          self.objective(drawn, tokens), prim.kind)
            if child.objective < s.objective:
                out.append(child)
        return out

    def run(self, budget_s: float, deadline: float | None = None, should_stop=None) -> list[State]:
        """The beam until no child improves, `max_statements`, the budget or `should_stop()`; returns the
        states seen, best first."""
        t0 = time.monotonic()
        deadline = deadline or t0 + budget_s

        stopped = should_stop or (lambda: False)

        def over() -> bool:
            return time.monotonic() > deadline or stopped()
        empty = np.zeros_like(self.target)
        root = State((), (0.0, 0.0), None, 0, empty, 0, self.objective(empty, 0))
        beam, seen = [root], {}
        for _ in range(self.st.max_statements):
            kids = []
            for s in beam:
                if over():
                    break
                kids.extend(self.children(s))
            uniq = {}
            for k in kids:
                key = emit(k.prims)
                if key not in uniq or k.objective < uniq[key].objective:
                    uniq[key] = k
            beam = sorted(uniq.values(), key=lambda k: k.objective)[:self.st.width]
            for k in beam:
                seen[emit(k.prims)] = k
            if not beam or over():
                break
        return sorted(seen.values(), key=lambda k: k.objective)


def draw(prims, start) -> np.ndarray:
    """(28, 28) bool: the pixels a construction's pen-down statements pass through (target frame)."""
    out = np.zeros((SOLVE_SIZE, SOLVE_SIZE), bool)
    x, y = start
    for p in prims:
        v = p.points(x, y)
        if p.kind != "jump":
            out |= ink(v)
        x, y = v[-1]
    return out


def ink(vertices) -> np.ndarray:
    """(28, 28) bool: where the renderer inks (>= `INK`) the polyline through `vertices`, in the target
    frame (the renderer's own rasterizer, without its centring)."""
    from logo.interp import render_segments
    v = np.asarray(vertices, float)
    segs = np.concatenate([v[:-1], v[1:]], axis=1)
    return render_segments(segs, SOLVE_SIZE) >= INK


def _variants(p: Prim):
    """Its neighbours: heading one step either way, the next lengths (steps, counts) either way."""
    for dh in (-1, 1):
        yield replace(p, heading=(p.heading + dh) % TURN)
    if p.kind == "arc":
        for dn in (-2, -1, 1, 2):
            if p.n + dn >= 2 and Fraction(p.n + dn) in numbers("count"):
                yield replace(p, n=p.n + dn)
        steps = arc_steps()
        k = min(range(len(steps)), key=lambda i: abs(steps[i] - p.a))
        for dk in (-1, 1):                   # the radius: the next step lengths either way
            if 0 <= k + dk < len(steps):
                yield replace(p, a=steps[k + dk])
        return
    lengths = stroke_lengths()
    k = min(range(len(lengths)), key=lambda i: abs(lengths[i] - p.a))
    for dk in (-2, -1, 1, 2):
        if 0 <= k + dk < len(lengths):
            yield replace(p, a=lengths[k + dk])


def refine(c: "Constructor", prims, start, deadline: float):
    """Coordinate descent on the statements' numbers (and the start by half a pixel) under the beam's
    objective: the beam chose each statement before it knew the next ones."""
    prims = list(prims)

    def score(ps, st):
        try:
            return c.objective(draw(ps, st), _count(ps))
        except ValueError:                  # a turn with no short expression
            return math.inf
    best = score(prims, start)
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for k in range(len(prims)):
            for q in _variants(prims[k]):
                trial = prims[:k] + [q] + prims[k + 1:]
                got = score(trial, start)
                if got < best:
                    prims, best, improved = trial, got, True
        for dx, dy in ((PX / 2, 0), (-PX / 2, 0), (0, PX / 2), (0, -PX / 2)):
            st = (start[0] + dx, start[1] + dy)
            got = score(prims, st)
            if got < best:
                start, best, improved = st, got, True
    return prims, start


def _count(prims) -> int:
    from logo.tokens import n_tokens
    return n_tokens(emit(prims))


# ---- the finished program ---------------------------------------------------------------------------------

def anchor_point(points: np.ndarray):
    """Where an invisible point must be for the drawing's bounding box to be centred on the canvas centre
    (where the renderer puts it), so the drawing lands where it was built: ((x, y), (x range, y range)),
    a range where that axis is free (centred already: the point need only stay inside the box); None when
    the box is centred already (within a tenth of a pixel)."""
    if not len(points):
        return None
    lo, hi = points.min(axis=0), points.max(axis=0)
    c = CANVAS / 2
    want, free = [], []
    for k in (0, 1):
        centre = (lo[k] + hi[k]) / 2
        if abs(centre - c) < 0.1 * PX:
            want.append(centre)
            free.append((lo[k], hi[k]))
        else:
            want.append(2 * c - lo[k] if centre < c else 2 * c - hi[k])
            free.append(None)
    if free[0] is not None and free[1] is not None:
        return None
    return (want[0], want[1]), (free[0], free[1])


def judge(texts, target28: np.ndarray, choose_tokens: float, library=None):
    """(score, text, tokens, image28, iou) of the best of `texts` under the real renderer (with `library`'s
    procedures): IoU minus `choose_tokens` per token."""
    import logo
    from logo.tokens import n_tokens
    from .score import iou
    texts = list(dict.fromkeys(t for t in texts if t is not None))
    images, ok = logo.render_batch(texts, size=SOLVE_SIZE, library=library, errors="blank")
    best = None
    for text, img, good in zip(texts, images, ok):
        if not good:
            continue
        u = float(iou(img, target28))
        n = n_tokens(text)
        score = u - choose_tokens * n
        if best is None or score > best[0]:
            best = (score, text, n, img, u)
    return best


def _drop(prims, start, k):
    """`prims` without statement k (and without leading jumps), with the start that keeps the others
    where they were."""
    trial = list(prims[:k]) + list(prims[k + 1:])
    x, y = start
    if k == 0:
        x, y = prims[0].points(x, y)[-1]
    while trial and trial[0].kind == "jump":
        x, y = trial[0].points(x, y)[-1]
        trial = trial[1:]
    return trial, (x, y)


def prune(prims, start, target28, choose_tokens: float):
    """Drop statements one at a time while the judged score does not fall (construction adds a statement
    for a few pixels that a later one covers too)."""
    prims = list(prims)
    best = _judge_prims(prims, start, target28, choose_tokens)
    improved = True
    while improved and best is not None and len(prims) > 1:
        improved = False
        for k in range(len(prims)):
            trial, tstart = _drop(prims, start, k)
            if not trial:
                continue
            got = _judge_prims(trial, tstart, target28, choose_tokens)
            if got is not None and got[0] >= best[0]:
                prims, start, best, improved = trial, tstart, got, True
                break
    return prims, best, start


def _judge_prims(prims, start, target28, choose_tokens):
    anchor = anchor_point(drawn_points(prims, start))
    try:
        texts = [emit(prims)] + ([emit(prims, anchor, start)] if anchor is not None else [])
    except ValueError:                      # a turn with no short expression (after a statement was dropped)
        return None
    return judge(texts, target28, choose_tokens)


def statement_examples(prims, start, target28: np.ndarray) -> list[dict]:
    """The states a finished construction passed through, for `model.statement`: the target, the canvas
    before each statement, the turtle there ((row, col) pixels, None before the first), its heading (turns),
    and what was drawn from there: the next pen-down statement's ink and all the ink still to come."""
    target = np.asarray(target28) >= INK
    prims = list(prims)
    origins, x, y = [], *start
    for p in prims:
        origins.append((x, y))
        x, y = p.points(x, y)[-1]
    inks = [None if p.kind == "jump" else ink(p.points(*o)) for p, o in zip(prims, origins)]
    out, drawn, heading = [], np.zeros_like(target), 0
    for k, p in enumerate(prims):
        j = next((i for i in range(k, len(prims)) if inks[i] is not None), None)
        if j is None:
            break
        rest = np.zeros_like(target)
        for m in inks[k:]:
            if m is not None:
                rest |= m
        out.append({"target": target, "drawn": drawn.copy(), "pos": world_to_pixel(origins[k]) if k else None,
                    "heading": heading / TURN, "next": inks[j], "rest": rest & ~drawn})
        if inks[k] is not None:
            drawn |= inks[k]
        heading = p.end_heading
    return out


def prims_from_rows(rows) -> tuple:
    """`Prim`s from their JSON form `[kind, heading, a, n, turn]` (the corpus `bench/digit_library.py` writes)."""
    return tuple(Prim(k, int(h), Fraction(a), int(n), int(t)) for k, h, a, n, t in rows)


def construct(target28: np.ndarray, budget_s: float = 5.0, settings: Settings | None = None,
              net=None, should_stop=None) -> Construction:
    """The best construction for `target28` within `budget_s` (or until `should_stop()`): beams under
    `schedule(settings)` while the budget lasts (other token and extra-ink weights first: a wider beam
    rarely finds a better state, a different trade-off often does), then `refine`, pruning and the anchor on
    the best states (by the base settings' objective, and each beam's own best), judged by the renderer."""
    banks()                      # built once per process (about 3 s), before the first target's clock starts
    t0 = time.monotonic()
    deadline = t0 + budget_s
    st = settings or Settings()
    stopped = should_stop or (lambda: False)
    judge_c = Constructor(target28, st)
    states: dict = {}
    leaders: list = []
    n_candidates, took = 0, 0.0
    for variant in schedule(st):
        t = time.monotonic()
        if states and (deadline - t < 2.5 * took or stopped()):
            break                                          # the next beam would not finish
        c = Constructor(target28, variant, net=net)
        stop = deadline - 0.15 * budget_s
        got = c.run(budget_s, deadline=stop if states else max(stop, t + 0.5 * budget_s), should_stop=stopped)
        for s in got:
            states.setdefault(emit(s.prims), replace(s, objective=judge_c.objective(s.drawn, s.tokens)))
        if got:
            leaders.append(emit(got[0].prims))
        n_candidates += c.candidates
        took = time.monotonic() - t
    best = None
    ranked = sorted(states.values(), key=lambda k: k.objective)
    tried = list(dict.fromkeys([emit(s.prims) for s in ranked[:4]] + leaders))
    for key in tried:
        s = states[key]
        if not s.prims:
            continue
        if stopped() and best is not None:
            break
        prims, start = refine(judge_c, s.prims, s.start, t0 if stopped() else deadline)
        prims, got, start = prune(prims, start, target28, st.choose_tokens)
        if got is not None and (best is None or got[0] > best[0]):
            best, best_prims, best_start = got, tuple(prims), start
    if best is None:
        empty = np.zeros((SOLVE_SIZE, SOLVE_SIZE), np.uint8)
        return Construction("", 0, empty, 0.0, len(states), time.monotonic() - t0, n_candidates)
    _, text, n, img, u = best
    return Construction(text, n, img, u, len(states), time.monotonic() - t0, n_candidates, best_prims, best_start)


#: the trade-offs `construct` tries after its first beam, in order (then wider beams)
#: (tuned on training digits at 6-8 s: the variants add about 0.01-0.02 mean IoU over widening one beam)
VARIANTS = ({"lam": 0.25}, {"mu": 0.7}, {"lam": 0.6}, {"per_state": 32}, {"lam": 0.25, "mu": 0.7}, {"mu": 0.5},
            {"lam": 0.15}, {"mu": 1.4}, {"jump_ends": 12, "per_state": 24}, {"mu": 0.5, "per_state": 32})


def schedule(st: Settings):
    """The beams `construct` runs while its budget lasts: `st`, its `VARIANTS`, then `st` twice, four times...
    as wide, up to `MAX_WIDTH`."""
    yield st
    for v in VARIANTS:
        yield replace(st, **v)
    width = st.width * 2
    while width <= MAX_WIDTH:
        yield replace(st, width=width)
        width *= 2


@lru_cache(maxsize=1)
def statement_net():
    """The network statement source (`model.statement`), trained on first use and cached; once per process."""
    from model.statement.train import load_or_train
    return load_or_train()


#: the widest beam `construct` tries
MAX_WIDTH = 64


#: procedures learned from constructions of training digits (`bench/digit_library.py --write`)
DIGIT_LIBRARY = Path(__file__).resolve().parents[2] / "data" / "digit_library.logo"


def with_library(text: str, library) -> str | None:
    """`text` rewritten with `library`'s procedures wherever that shortens it (`library.api.compress`
    with no new procedures: Stitch's rewrite), or None when nothing changes; digit procedures learned from
    training digits (`bench/digit_library.py`) turn a construction's arcs and strokes into calls."""
    if not text or not library:
        return None
    import logo
    from library.api import compress
    got = logo.to_text(compress([text], iterations=0, library=list(library)).rewritten[0])
    return got if got != text else None


# ---- the `construct` arm (`dream.search.solver.Solver.construct_one` runs it) ----------------------------------

#: of the arm's budget: construction (the beam and pruning); the rest goes to the `grammar` arm's search
#: from the constructed program (compression and polish), whose result replaces it only if it judges better
CONSTRUCT_SHARE = 0.8


#: the longest program the polishing search expands (a construction can exceed a model's context)
POLISH_MAX_TOKENS = 200

#: the polishing search's frontier weight per token (distance 1.0 = the empty program)
POLISH_LENGTH_WEIGHT = 0.002
