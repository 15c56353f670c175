"""Tree paths: the grammatical edits that move one program toward another (the policy's training labels).

For a current program A and a target program C (both canonical, `logo.canonical`), `first_steps(A, C)`
lists the single grammatical mutations of A (`logo.mutate.Mutation`, relative to `Sites.of(A)`) that
each fix one differing node of the tree, nearest the root first, as Tree Diffusion's `find_path` does
(revalo/tree-diffusion, `td/samplers/mutator.py`). Statement lists are aligned by their longest common
subsequence; in each run of unaligned statements:

- a statement C has and A lacks is *inserted* (C's own statement, so it is in A's loop names);
- a statement A has and C lacks is *deleted*;
- paired statements of different forms are *replaced* by C's; a C block whose body is A's statements
  is a *wrap*, an A block whose body is C's statements an *unwrap*;
- paired statements of the same form are compared inside: a move or call differing in one expression
  gets that expression replaced (`replace_expr`; both differ: the statement is replaced), a loop whose
  count differs gets `loop_count`, and bodies are aligned recursively.

`path(A, C)` applies first steps until A equals C (each step fixes a node; bounded). Every mutation
returned applies with `Sites.apply`, so a label is always a grammatical edit.

What a path may insert: `closed_statements(C)` are C's statements at any depth that use no loop
variable from outside themselves, each written on its own (the policy's pool targets, and what the
retrieval arm takes from database neighbours); `statement_keys(C)` are all of C's statements written
on their own (the test "this statement occurs in the target's program").

    >>> from logo.canonical import canonical
    >>> a = canonical("(move ul 0)")
    >>> c = canonical("(move ul 0) (loop i 4 (move ul (/ ua 4)))")
    >>> first_steps(a, c)[0].kind
    'insert'
    >>> len(path(canonical(""), c))
    2
"""
from __future__ import annotations

from typing import NamedTuple

from .ast import Call, Embed, Loop, Move, PenUp, Program, Var, size, walk
from .canonical import canonical
from .mutate import Mutation, Sites, _uses
from .syntax import to_text

#: a path longer than this is cut (each step fixes at least one node, so real paths are far shorter)
MAX_PATH = 64
_BLOCKS = (Loop, Embed, PenUp)


class Step(NamedTuple):
    """One fixing edit and where it sits: `depth` (nesting of the block it edits; the root is 0) and
    `order` (position in print order), by which `first_steps` sorts."""
    mutation: Mutation
    depth: int
    order: int


def _layout(program: Program) -> list[list[tuple[int, int | None]]]:
    """For each block site of `Sites.of(program)`: per statement (index of its first expression site,
    index of its inner block site or None), walking in the order `Sites.of` numbers its sites."""
    blocks: list = []
    n_expr = [0]

    def body(b) -> int:
        k = len(blocks)
        blocks.append(None)
        info = []
        for s in b:
            e0, inner = n_expr[0], None
            if isinstance(s, Move):
                n_expr[0] += size(s.length) + size(s.angle)
            elif isinstance(s, Loop):
                n_expr[0] += size(s.count)
                inner = body(s.body)
            elif isinstance(s, (Embed, PenUp)):
                inner = body(s.body)
            elif isinstance(s, Call):
                n_expr[0] += sum(size(a) for a in s.args)
            info.append((e0, inner))
        blocks[k] = info
        return k

    body(program.body)
    return blocks


def _key(stmts) -> str:
    """Statements compared as written on their own (loops inside renamed from depth 0): equal keys mean
    equal statements wherever they are nested."""
    return to_text(canonical(Program((), tuple(stmts))))


def _lcs(a: tuple, b: tuple) -> list[tuple[int, int]]:
    """Index pairs of a longest common subsequence of two statement tuples (equality of nodes)."""
    n, m = len(a), len(b)
    if a == b:
        return [(i, i) for i in range(n)]
    dp = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            dp[i][j] = dp[i + 1][j + 1] + 1 if a[i] == b[j] else max(dp[i + 1][j], dp[i][j + 1])
    out, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            out.append((i, j))
            i, j = i + 1, j + 1
        elif dp[i + 1][j] >= dp[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


def _regions(a: tuple, b: tuple):
    """(a_lo, a_hi, b_lo, b_hi) of each run of unaligned statements between LCS anchors."""
    anchors = _lcs(a, b) + [(len(a), len(b))]
    ai = bi = 0
    for i, j in anchors:
        if i > ai or j > bi:
            yield ai, i, bi, j
        ai, bi = i + 1, j + 1


def first_steps(a: Program, c: Program, sites: Sites | None = None) -> list[Mutation]:
    """The single mutations of `a` that each fix one differing node toward `c`, nearest the root first
    (empty when the bodies are equal). Both programs canonical; `sites`: `Sites.of(a)` if at hand."""
    return [s.mutation for s in fixing_steps(a, c, sites)]


def fixing_steps(a: Program, c: Program, sites: Sites | None = None) -> list[Step]:
    """`first_steps` with each step's depth and print order."""
    sites = sites or Sites.of(a, is_canonical=True)
    layout = _layout(a)
    out: list[Step] = []
    order = [0]

    def add(m: Mutation, depth: int):
        out.append(Step(m, depth, order[0]))
        order[0] += 1

    def block(k: int, a_body: tuple, c_body: tuple, depth: int):
        site = sites.blocks[k]
        for a_lo, a_hi, c_lo, c_hi in _regions(a_body, c_body):
            a_seg, c_seg = a_body[a_lo:a_hi], c_body[c_lo:c_hi]
            if not a_seg:
                add(Mutation("insert", k, a_lo, 0, c_seg[0]), depth)
                continue
            if not c_seg:
                if len(a_body) >= (1 if site.top else 2):
                    add(Mutation("delete", k, a_lo), depth)
                continue
            wrap = _wrap(k, a_seg, c_seg[0], a_lo, sites)
            if wrap is not None:
                add(wrap, depth)
                continue
            if _unwraps(a_seg[0], c_seg):
                add(Mutation("unwrap", k, a_lo), depth)
                continue
            for i in range(min(len(a_seg), len(c_seg))):
                pair(k, a_lo + i, a_seg[i], c_seg[i], depth)
            if len(c_seg) > len(a_seg):
                add(Mutation("insert", k, a_hi, 0, c_seg[len(a_seg)]), depth)
            elif len(a_seg) > len(c_seg) and len(a_body) >= 2:
                add(Mutation("delete", k, a_lo + len(c_seg)), depth)

    def pair(k: int, at: int, x, y, depth: int):
        e0, inner = layout[k][at]
        if type(x) is not type(y) or (isinstance(x, Call) and (x.name != y.name or len(x.args) != len(y.args))):
            add(Mutation("replace_stmt", k, at, 0, y), depth)
        elif isinstance(x, Move):
            diff = [(x.length != y.length), (x.angle != y.angle)]
            if all(diff):
                add(Mutation("replace_stmt", k, at, 0, y), depth)
            elif diff[0]:
                add(Mutation("replace_expr", e0, content=y.length), depth)
            else:
                add(Mutation("replace_expr", e0 + size(x.length), content=y.angle), depth)
        elif isinstance(x, Call):
            e = e0
            changed = [(e0 + sum(size(q) for q in x.args[:j]), y.args[j]) for j in range(len(x.args))
                       if x.args[j] != y.args[j]]
            if len(changed) == 1:
                add(Mutation("replace_expr", changed[0][0], content=changed[0][1]), depth)
            else:
                add(Mutation("replace_stmt", k, at, 0, y), depth)
            del e
        elif isinstance(x, Loop):
            if x.count != y.count:
                add(Mutation("loop_count", e0, content=y.count), depth)
            if x.body != y.body:
                block(inner, x.body, y.body, depth + 1)
        else:                                              # embed / penup
            block(inner, x.body, y.body, depth + 1)

    block(0, a.body, c.body, 0)
    out.sort(key=lambda s: (s.depth, s.order))
    return out


def _wrap(k: int, a_seg: tuple, c_stmt, at: int, sites: Sites) -> Mutation | None:
    """A wrap of a_seg[:w] (w = 1, 2) into c_stmt's kind of block when c_stmt's body is exactly them."""
    if not isinstance(c_stmt, _BLOCKS) or sites.blocks[k].depth >= 8:
        return None
    w = len(c_stmt.body)
    if w > min(2, len(a_seg)) or _key(c_stmt.body) != _key(a_seg[:w]):
        return None
    if isinstance(c_stmt, Loop):
        if _uses(c_stmt.body, c_stmt.var):
            return None
        wrapper = Loop(sites.wrap_var(k, at, at + w), c_stmt.count, ())
    else:
        wrapper = type(c_stmt)(())
    return Mutation("wrap", k, at, at + w, wrapper)


def _unwraps(a_stmt, c_seg: tuple) -> bool:
    """Whether A's block statement, unwrapped, gives the first statements of C's run."""
    if not isinstance(a_stmt, _BLOCKS) or len(a_stmt.body) > len(c_seg):
        return False
    if isinstance(a_stmt, Loop) and _uses(a_stmt.body, a_stmt.var):
        return False
    return _key(a_stmt.body) == _key(c_seg[:len(a_stmt.body)])


def first_step(a: Program, c: Program) -> Mutation | None:
    """The first step of the tree path from `a` toward `c` (None when they are equal)."""
    steps = first_steps(a, c)
    return steps[0] if steps else None


def path(a: Program, c: Program, max_steps: int = MAX_PATH) -> list[Program]:
    """The programs after each first step from `a` until `c` (canonical; `c` last when reached within
    `max_steps`)."""
    out = []
    cur = canonical(a)
    c = canonical(c)
    for _ in range(max_steps):
        if cur.body == c.body:
            break
        steps = first_steps(cur, c)
        if not steps:
            break
        cur = canonical(Sites.of(cur, is_canonical=True).apply(steps[0]))
        out.append(cur)
    return out


def closed_statements(program) -> list[str]:
    """C's statements at any depth that use no loop variable bound outside them, each written on its own
    in canonical form (distinct, in print order): the pool decoder's targets."""
    out: dict[str, None] = {}

    def body(b, scope):
        for s in b:
            if not any(isinstance(n, Var) and n.name in scope for n in walk(s)):
                out[to_text(canonical(Program((), (s,))))] = None
            if isinstance(s, Loop):
                body(s.body, scope | {s.var})
            elif isinstance(s, (Embed, PenUp)):
                body(s.body, scope)

    body(program.body, frozenset())
    return list(out)


def statement_keys(program) -> set[str]:
    """Every statement of a program at any depth, written on its own in canonical form (loops renamed
    from depth 0; free loop variables kept): the "occurs in the reference program" test."""
    out = set()

    def body(b):
        for s in b:
            out.add(to_text(canonical(Program((), (s,)))))
            if isinstance(s, (Loop, Embed, PenUp)):
                body(s.body)

    body(program.body)
    return out
