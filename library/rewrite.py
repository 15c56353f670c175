"""Applying an abstraction: its body as a term, where an existing one matches, and rewriting the corpus.

`rewrite_roots` replaces the chosen locations by calls `(fn arg ...)` (the same non-overlapping choice
the search's exact utility made: `core.choose_rewrites`), so the cost after a step is the cost before
minus the utility plus the body's size.
"""
from __future__ import annotations

import sys

from .core import APP, COST_APP, COST_PRIM, LAM, Corpus, Found, Store, choose_rewrites


def pattern_body(st: Store, found: Found, tail_name: str = "#tail") -> int:
    """The abstraction body as a term, with parameters as primitives `#0`, `#1`, ... (the tail `#tail`)."""
    loc = found.locs[0]
    prefixes = set()
    for path in found.ivar_paths:
        for i in range(len(path)):
            prefixes.add(path[:i])

    def build(n, path):
        j = found.ivar_paths.get(path)
        if j is not None:
            if found.has_tail and j == found.arity:
                return st.prim(tail_name)
            return st.prim(f"#{j}")
        if path not in prefixes:
            return n
        k = st.kind[n]
        if k == APP:
            return st.app(build(st.a[n], path + (0,)), build(st.b[n], path + (1,)))
        if k == LAM:
            return st.lam(build(st.a[n], path + (2,)))
        return n
    return build(loc, ())


def match_abstraction(corpus: Corpus, body: int, arity: int, candidates=None,
                      tail_name: str = "#tail") -> Found | None:
    """An existing abstraction (body with `#0..#arity-1` and optionally a tail) as a `Found`: where it
    matches in the corpus (parameters consistent, no captured variables), ready for `rewrite_roots`."""
    st = corpus.store
    kind, A, B, fv, cost = st.kind, st.a, st.b, st.fv, st.cost
    names = {st.prim(f"#{i}"): i for i in range(arity)}
    tail = st.prim(tail_name)
    has_tail = False
    n_args = arity

    def match(p, n, depth, got, depths):
        nonlocal has_tail
        if p in names or p == tail:
            j = names.get(p, arity)
            if p == tail:
                has_tail = True
            if fv[n] & ((1 << depth) - 1):
                return False                      # the argument mentions a variable bound in the body
            sh = st.shift(n, -depth)
            if got[j] is None:
                got[j] = (sh, n)
                depths[j] = depth
                return True
            return got[j][0] == sh
        kp = kind[p]
        if kp != kind[n]:
            return False
        if kp == APP:
            return match(A[p], A[n], depth, got, depths) and match(B[p], B[n], depth, got, depths)
        if kp == LAM:
            return match(A[p], A[n], depth + 1, got, depths)
        return p == n

    locs, args, U = [], [], []
    ivar_depth = None
    for n in (candidates if candidates is not None else corpus.nodes):
        got = [None] * (n_args + 1)
        depths = [0] * (n_args + 1)
        if not match(body, n, 0, got, depths):
            continue
        used = [j for j in range(n_args + 1) if got[j] is not None]
        if any(got[j] is None for j in range(arity)):
            continue                              # a parameter the body never uses: cannot tell its value
        locs.append(n)
        args.append([got[j][1] for j in used])
        U.append(cost[n] - COST_PRIM - sum(COST_APP + cost[got[j][1]] for j in used))
        ivar_depth = [depths[j] for j in used]
    if not locs:
        return None
    return Found(0, 0, locs, {}, arity, has_tail, ivar_depth, args, U)


def rewrite_roots(corpus: Corpus, found: Found, fn_name: str) -> list[int]:
    """Rewrite every program with the abstraction where it pays (the same choice as the utility)."""
    st = corpus.store
    cum, chosen = choose_rewrites(found.locs, found.U, found.args, corpus)
    argmap = {loc: a for loc, a in zip(found.locs, found.args)}
    fn = st.prim(fn_name)
    memo: dict[int, int] = {}

    def rw(n):
        r = memo.get(n)
        if r is not None:
            return r
        if n not in cum:
            return n
        if n in chosen:
            r = fn
            for x, d in zip(argmap[n], found.ivar_depth):
                r = st.app(r, st.shift(rw(x), -d))
        else:
            k = st.kind[n]
            if k == APP:
                r = st.app(rw(st.a[n]), rw(st.b[n]))
            elif k == LAM:
                r = st.lam(rw(st.a[n]))
            else:
                r = n
        memo[n] = r
        return r

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        return [rw(r) for r in corpus.roots]
    finally:
        sys.setrecursionlimit(old)
