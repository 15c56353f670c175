"""The compressor's core: hash-consed λ-terms and a Stitch-style top-down branch-and-bound search.

Terms are binary trees over four node kinds (de Bruijn variables, as in Stitch):

    PRIM name      a primitive (any symbol)
    VAR  i         `$i`, bound by the i-th enclosing `lam`
    APP  f x       application (curried: `(f a b)` is APP(APP(f, a), b))
    LAM  b         `(lam b)`

A `Store` hash-conses them, so structurally equal subtrees share one id, and ids grow child-first
(a node's children have smaller ids).  Cost is Stitch's default: 100 per primitive / variable, 1 per
application / lambda.

One compression step (`best_abstraction`) searches patterns with holes, grown top-down from the single
hole that matches every subtree.  A pattern (`Partial`) keeps its match locations and, for each open
`Hole` and each abstraction variable (`Arg`, `#i`), the corpus subtree it covers at every location.
Expanding a hole splits the locations by what sits there (a primitive, a variable, an application, a
lambda: `_Search.expand_concrete`) or turns the hole into a parameter (`expand_parameters`): a new `#i`
(at most `max_arity`) or an existing one (keeping only the locations where both cover the same
argument).  The objective is Stitch's utility: corpus cost saved by rewriting
(only the cheapest program of each task counts) minus the abstraction's own size.  A candidate is
dropped as soon as an upper bound on that utility cannot beat the best finished abstraction.  The
bound is tighter than Stitch's: per location it subtracts the parameters already chosen, it counts a
subtree at most once per task (only one program of a task can matter), and it subtracts the body
size built so far.  Holes that cover the same closed subtree at every location are filled at once
(making them a parameter could never help: Stitch's "argument capture" rule).

Binding safety: a body may not contain a variable bound outside it (it must become a parameter), and
an argument may not mention a variable bound inside the body (such locations are dropped).

The search itself knows no language: a `SearchMode` strategy says where patterns may start, what may
become a parameter and whether a pattern ends in a tail (`logo_mode.LogoSearchMode`).  Applying a found
abstraction to the corpus is `rewrite.py`.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import NamedTuple

PRIM, VAR, APP, LAM = 0, 1, 2, 3
HEAD_APP, HEAD_LAM = -1, -2          # head codes; a variable $i has head -3 - i; a primitive its symbol id
COST_PRIM, COST_VAR, COST_APP, COST_LAM = 100, 100, 1, 1

# Corpus.updated rebuilds from scratch when more than 1/REBUILD_DIVISOR of the programs changed
REBUILD_DIVISOR = 8


class Store:
    """Hash-consed term nodes in parallel lists (ids are child-first)."""

    def __init__(self):
        self.kind: list[int] = []
        self.a: list[int] = []       # PRIM: symbol id, VAR: index, APP: f, LAM: body
        self.b: list[int] = []       # APP: x, else -1
        self.head: list[int] = []
        self.cost: list[int] = []
        self.fv: list[int] = []      # bit i set: $i occurs free
        self.table: dict[tuple, int] = {}
        self.symbols: list[str] = []
        self.symbol_id: dict[str, int] = {}
        self._shift_memo: dict[tuple, int] = {}
        self._counts: dict[int, dict[int, int]] = {}

    def __len__(self):
        return len(self.kind)

    def _add(self, key, kind, a, b, head, cost, fv) -> int:
        n = self.table.get(key)
        if n is None:
            n = len(self.kind)
            self.table[key] = n
            self.kind.append(kind)
            self.a.append(a)
            self.b.append(b)
            self.head.append(head)
            self.cost.append(cost)
            self.fv.append(fv)
        return n

    def prim(self, name: str) -> int:
        s = self.symbol_id.get(name)
        if s is None:
            s = self.symbol_id[name] = len(self.symbols)
            self.symbols.append(name)
        return self._add((PRIM, s), PRIM, s, -1, s, COST_PRIM, 0)

    def var(self, i: int) -> int:
        return self._add((VAR, i), VAR, i, -1, -3 - i, COST_VAR, 1 << i)

    def app(self, f: int, x: int) -> int:
        return self._add((APP, f, x), APP, f, x, HEAD_APP, COST_APP + self.cost[f] + self.cost[x],
                         self.fv[f] | self.fv[x])

    def lam(self, body: int) -> int:
        return self._add((LAM, body), LAM, body, -1, HEAD_LAM, COST_LAM + self.cost[body], self.fv[body] >> 1)

    def apps(self, f: int, *xs: int) -> int:
        for x in xs:
            f = self.app(f, x)
        return f

    def counts(self, root: int) -> dict[int, int]:
        """Occurrences of every subtree in the tree under `root` (cached per root)."""
        r = self._counts.get(root)
        if r is None:
            kind, A, B = self.kind, self.a, self.b
            r = {}
            get = r.get
            stack = [root]
            pop, push = stack.pop, stack.append
            while stack:
                n = pop()
                r[n] = get(n, 0) + 1
                k = kind[n]
                if k == APP:
                    push(A[n])
                    push(B[n])
                elif k == LAM:
                    push(A[n])
            self._counts[root] = r
        return r

    def name(self, n: int) -> str:
        return self.symbols[self.a[n]]

    def spine(self, n: int) -> tuple[int, list[int]]:
        """(head, args) of a curried application."""
        args = []
        while self.kind[n] == APP:
            args.append(self.b[n])
            n = self.a[n]
        args.reverse()
        return n, args

    def shift(self, n: int, d: int, cutoff: int = 0) -> int:
        """Add `d` to every variable index >= cutoff (free variables of `n`). Memoized."""
        if self.fv[n] >> cutoff == 0 or d == 0:
            return n
        key = (n, d, cutoff)
        r = self._shift_memo.get(key)
        if r is not None:
            return r
        k = self.kind[n]
        if k == VAR:
            i = self.a[n]
            r = self.var(i + d) if i >= cutoff else n
        elif k == APP:
            r = self.app(self.shift(self.a[n], d, cutoff), self.shift(self.b[n], d, cutoff))
        elif k == LAM:
            r = self.lam(self.shift(self.a[n], d, cutoff + 1))
        else:
            r = n
        self._shift_memo[key] = r
        return r

    def subst_ivars(self, body: int, args: list[int], depth: int = 0, ivar_prefix: str = "#") -> int:
        """Replace primitives `#i` in `body` by args[i] (shifted under `depth` lambdas): inlining."""
        k = self.kind[body]
        if k == PRIM:
            nm = self.symbols[self.a[body]]
            if nm.startswith(ivar_prefix) and nm[len(ivar_prefix):].isdigit():
                return self.shift(args[int(nm[len(ivar_prefix):])], depth)
            return body
        if k == APP:
            return self.app(self.subst_ivars(self.a[body], args, depth, ivar_prefix),
                            self.subst_ivars(self.b[body], args, depth, ivar_prefix))
        if k == LAM:
            return self.lam(self.subst_ivars(self.a[body], args, depth + 1, ivar_prefix))
        return body


# ---- one compression step --------------------------------------------------------------------------

@dataclass
class Corpus:
    """The programs of one step: roots in a store, with task ids and per-node statistics."""
    store: Store
    roots: list[int]
    tasks: list[int]
    nodes: list[int] = field(default_factory=list)          # reachable node ids, ascending
    occ: dict[int, dict[int, int]] = field(default_factory=dict)   # node -> {program: count}
    w: dict[int, int] = field(default_factory=dict)         # node -> sum over tasks of max count in a program
    taskmask: dict[int, int] = field(default_factory=dict)
    progs_of_task: list[list[int]] = field(default_factory=list)
    task_cost: list[int] = field(default_factory=list)
    _parents: dict | None = None
    with_stats: bool = True            # False: only what rewriting needs (nodes, parents, task costs)

    def __post_init__(self):
        st = self.store
        if not self.with_stats:
            n_tasks = max(self.tasks) + 1 if self.tasks else 0
            self.progs_of_task = [[] for _ in range(n_tasks)]
            for p, t in enumerate(self.tasks):
                self.progs_of_task[t].append(p)
            seen: set[int] = set()
            for r in self.roots:
                seen.update(st.counts(r))
            self.nodes = sorted(seen)
            cost = st.cost
            self.task_cost = [min(cost[self.roots[p]] for p in ps) if ps else 0 for ps in self.progs_of_task]
            return
        n_tasks = max(self.tasks) + 1 if self.tasks else 0
        self.progs_of_task = [[] for _ in range(n_tasks)]
        for p, t in enumerate(self.tasks):
            self.progs_of_task[t].append(p)
        occ: dict[int, dict[int, int]] = {}
        w: dict[int, int] = {}
        tm: dict[int, int] = {}
        # programs of one task are counted together: w[n] = sum over tasks of the largest count
        for t, ps in enumerate(self.progs_of_task):
            bit = 1 << t
            best: dict[int, int] = {}
            for p in ps:
                for n, c in st.counts(self.roots[p]).items():
                    d = occ.get(n)
                    if d is None:
                        occ[n] = {p: c}
                        tm[n] = bit
                        best[n] = c
                    else:
                        d[p] = c
                        tm[n] |= bit
                        if c > best.get(n, 0):
                            best[n] = c
            for n, c in best.items():
                w[n] = w.get(n, 0) + c
        self.occ = occ
        self.nodes = sorted(occ)
        self.w = w
        self.taskmask = tm
        cost = st.cost
        self.task_cost = [min(cost[self.roots[p]] for p in ps) if ps else 0 for ps in self.progs_of_task]

    def updated(self, new_roots: list[int]) -> "Corpus":
        """The corpus after a rewrite, updating the statistics of changed programs only (this corpus
        is consumed: its tables move to the result)."""
        if not self.with_stats:
            return Corpus(self.store, new_roots, self.tasks, with_stats=False)
        st = self.store
        occ, w, tm = self.occ, self.w, self.taskmask
        changed_by_task: dict[int, list[int]] = {}
        for p, (r0, r1) in enumerate(zip(self.roots, new_roots)):
            if r0 != r1:
                changed_by_task.setdefault(self.tasks[p], []).append(p)
        if sum(map(len, changed_by_task.values())) * REBUILD_DIVISOR > len(new_roots):
            return Corpus(st, new_roots, self.tasks)    # many programs changed: rebuilding is faster
        gone = False
        for t, ps in changed_by_task.items():
            members = self.progs_of_task[t]
            olds = [st.counts(self.roots[p]) for p in ps]
            news = [st.counts(new_roots[p]) for p in ps]
            touched = set()
            for c in olds:
                touched.update(c)
            for c in news:
                touched.update(c)
            before = {}
            for n in touched:
                d = occ.get(n)
                before[n] = max((d.get(q, 0) for q in members), default=0) if d else 0
            for p, c in zip(ps, olds):
                for n in c:
                    del occ[n][p]
            for p, c in zip(ps, news):
                for n, k in c.items():
                    d = occ.get(n)
                    if d is None:
                        occ[n] = {p: k}
                    else:
                        d[p] = k
            bit = 1 << t
            for n in touched:
                d = occ[n]
                after = max((d.get(q, 0) for q in members), default=0) if d else 0
                if after != before[n]:
                    w[n] = w.get(n, 0) + after - before[n]
                if after:
                    tm[n] = tm.get(n, 0) | bit
                elif n in tm:
                    tm[n] &= ~bit
                if not d:
                    del occ[n]
                    w.pop(n, None)
                    tm.pop(n, None)
                    gone = True
        new = object.__new__(Corpus)
        new.store, new.roots, new.tasks = st, list(new_roots), self.tasks
        new.occ, new.w, new.taskmask = occ, w, tm
        new.nodes = sorted(occ) if (changed_by_task or gone) else self.nodes
        new.progs_of_task = self.progs_of_task
        cost = st.cost
        new.task_cost = [min(cost[new.roots[p]] for p in ps) if ps else 0 for ps in new.progs_of_task]
        new._parents = None
        new.with_stats = True
        self.occ = self.w = self.taskmask = None       # consumed
        return new

    @property
    def parents(self) -> dict[int, list[int]]:
        if self._parents is None:
            st = self.store
            kind, A, B = st.kind, st.a, st.b
            par: dict[int, list[int]] = {}
            for n in self.nodes:
                k = kind[n]
                if k == APP:
                    par.setdefault(A[n], []).append(n)
                    if B[n] != A[n]:
                        par.setdefault(B[n], []).append(n)
                elif k == LAM:
                    par.setdefault(A[n], []).append(n)
            self._parents = par
        return self._parents

    def total_cost(self) -> int:
        return sum(self.task_cost)


# ---- the search ------------------------------------------------------------------------------------

@dataclass
class Found:
    """A finished abstraction of one step."""
    utility: int
    body_cost: int
    locs: list[int]
    ivar_paths: dict[tuple, int]       # path from the root -> ivar index
    arity: int                         # number of parameters (the tail is not one)
    has_tail: bool
    ivar_depth: list[int]              # lambdas above each ivar (index: ivar)
    args: list[list[int]]              # args[i][j]: unshifted corpus node of ivar j at location i
    U: list[int]                       # per-location saving before nested rewrites


class SearchMode:
    """What a language adds to the generic search (a strategy object; this one is the plain λ-calculus
    of Stitch).  A mode may restrict where patterns start, which subtrees may become parameters, and
    give patterns a *tail*: an open end that is not a parameter (`logo_mode.LogoSearchMode` uses it
    for the rest of a statement list)."""

    #: seed the search with every closed subtree as an arity-zero abstraction (then a candidate left
    #: with one closed location is pruned: its arity-zero version is at least as good)
    arity_zero: bool = True
    #: a finished abstraction must have its tail
    require_tail: bool = False

    def root_locations(self, corpus: "Corpus") -> tuple[list[int], bool]:
        """(the locations a pattern may be rooted at, whether the root hole may become the tail)."""
        return list(corpus.nodes), False

    def tail_end_heads(self, corpus: "Corpus") -> set[int]:
        """Heads that may not fill a hole that could be the tail (the tail stands for them)."""
        return set()

    def parameter_values(self, st: Store, nodes: list[int], depth: int) -> list[int] | None:
        """What a parameter at a hole `depth` lambdas deep would pass at each location (-1: it cannot
        be one there), or None when it can be one nowhere."""
        return closed_arguments(st, nodes, depth)


def closed_arguments(st: Store, nodes: list[int], depth: int) -> list[int]:
    """The subtrees with the pattern's `depth` lambdas shifted away; -1 where one mentions a variable
    bound by those lambdas (it cannot be passed in from outside)."""
    if not depth:
        return nodes
    mask = (1 << depth) - 1
    fv = st.fv
    return [-1 if fv[n] & mask else st.shift(n, -depth) for n in nodes]


@dataclass
class SearchConfig:
    max_arity: int = 3
    allow_single_task: bool = False
    mode: SearchMode = field(default_factory=SearchMode)
    max_steps: int = 2_000_000


@dataclass
class SearchStats:
    steps: int = 0
    pushed: int = 0
    finished: int = 0
    exact: int = 0


# the search builds hundreds of thousands of these per step: `_new(Hole, (...))` skips the Python-level
# `Hole.__new__` call that `Hole(...)` makes
_new = tuple.__new__


class Hole(NamedTuple):
    """An open position of a partial abstraction."""
    path: tuple          # from the pattern root: 0 function, 1 argument (of an application), 2 lambda body
    depth: int           # lambdas between the pattern root and the hole
    tail_ok: bool        # the hole may become the pattern's tail (see SearchMode)
    nodes: list[int]     # the corpus subtree at this position, per location


class Arg(NamedTuple):
    """A parameter `#i` (or the tail) of a partial abstraction: what it covers at each location."""
    depth: int           # lambdas above it in the body
    shifted: list[int]   # the argument the call passes (the body's lambdas shifted away)
    nodes: list[int]     # the corpus subtree itself
    is_tail: bool


class Partial(NamedTuple):
    """A partial abstraction: a body with holes and the locations it still matches."""
    locs: list[int]      # match locations (corpus nodes)
    savings: list[int]   # per location: upper bound on the cost a rewrite saves there
    holes: list[Hole]
    args: list[Arg]
    body_cost: int       # cost of the body built so far
    arity: int           # parameters so far (the tail is not one)
    has_tail: bool
    arg_paths: tuple     # ((path, index into args), ...): where the parameters sit
    bound: int           # upper bound on the utility of any completion


def best_abstraction(corpus: Corpus, cfg: SearchConfig, stats: SearchStats | None = None) -> Found | None:
    """The highest-utility abstraction for one step (None if none has positive utility)."""
    search = _Search(corpus, cfg, stats if stats is not None else SearchStats())
    if cfg.mode.arity_zero:
        search.prime_arity_zero()
    search.push(search.single_hole())
    search.run()
    return search.best


class _Search:
    """The state of one branch-and-bound search: a max-heap of partial abstractions by bound, the best
    finished abstraction and its utility (the cutoff every bound has to beat)."""

    def __init__(self, corpus: Corpus, cfg: SearchConfig, stats: SearchStats):
        self.corpus, self.cfg, self.stats, self.mode = corpus, cfg, stats, cfg.mode
        self.st = corpus.store
        self.best: Found | None = None
        self.cutoff = 0
        self.heap: list = []
        self.counter = 0
        self.end_heads = self.mode.tail_end_heads(corpus)
        # read in the innermost loops (NamedTuple fields and chained attributes are slow there)
        self.fv, self.taskmask = self.st.fv, corpus.taskmask
        self.allow_single = cfg.allow_single_task
        self.drop_lone_closed = self.mode.arity_zero

    # ---- bounds and pruning ----

    def bound(self, locs: list[int], savings: list[int], body_cost: int) -> int:
        """Upper bound on the utility: each location's saving counted once per task, minus the body."""
        w = self.corpus.w
        s = 0
        for loc, u in zip(locs, savings):
            if u > 0:
                s += w[loc] * u
        return s - body_cost

    def should_prune(self, locs: list[int]) -> bool:
        """Too few locations to pay: none, all in one task (unless allowed), or one closed subtree
        (its arity-zero abstraction, primed at the start, is at least as good)."""
        if not locs:
            return True
        if not self.allow_single:
            taskmask = self.taskmask
            m = 0
            for loc in locs:
                m |= taskmask[loc]
            if m & (m - 1) == 0:
                return True
        return self.drop_lone_closed and len(locs) == 1 and not self.fv[locs[0]]

    # ---- the queue ----

    def push(self, cand: Partial) -> None:
        heapq.heappush(self.heap, (-cand.bound, self.counter, cand))
        self.counter += 1

    def push_or_finish(self, cand: Partial) -> None:
        """Queue a candidate that still has holes; finish one that has none (it may become the best)."""
        if cand.holes:
            self.push(cand)
            self.stats.pushed += 1
        else:
            found = _finish(cand, self.corpus, self.cfg, self.cutoff, self.stats)
            if found is not None:
                self.best, self.cutoff = found, found.utility

    # ---- the steps ----

    def prime_arity_zero(self) -> None:
        """Every closed subtree as an abstraction without parameters: a first cutoff."""
        corpus, st, stats = self.corpus, self.st, self.stats
        kind, cost, fv = st.kind, st.cost, st.fv
        w, taskmask = corpus.w, corpus.taskmask
        allow_single = self.cfg.allow_single_task
        for n in corpus.nodes:
            if fv[n] or kind[n] == PRIM:
                continue
            if not allow_single and taskmask[n] & (taskmask[n] - 1) == 0:
                continue
            u = cost[n] - COST_PRIM
            if w[n] * u - cost[n] <= self.cutoff:
                continue
            util = _additive([n], [u], corpus) - cost[n]
            stats.exact += 1
            if util > self.cutoff:
                self.cutoff = util
                self.best = Found(util, cost[n], [n], {}, 0, False, [], [[]], [u])

    def single_hole(self) -> Partial:
        """The pattern that is one hole, matching every allowed root."""
        roots, tail_ok = self.mode.root_locations(self.corpus)
        cost = self.st.cost
        savings = [cost[n] - COST_PRIM for n in roots]
        return _new(Partial, (roots, savings, [_new(Hole, ((), 0, tail_ok, roots))], [], 0, 0, False, (),
                       self.bound(roots, savings, 0)))

    def run(self) -> None:
        """Expand the candidate with the highest bound until no bound beats the best utility."""
        heap, stats, max_steps = self.heap, self.stats, self.cfg.max_steps
        while heap:
            negb, _, pat = heapq.heappop(heap)
            if -negb <= self.cutoff:
                break
            stats.steps += 1
            if stats.steps > max_steps:
                break
            pat = self.fill_forced_holes(pat)
            if pat is None:
                continue
            if not pat.holes:
                self.push_or_finish(pat)
                continue
            rest = list(pat.holes)
            hole = rest.pop()
            self.expand_concrete(pat, hole, rest)
            self.expand_parameters(pat, hole, rest)

    def fill_forced_holes(self, pat: Partial) -> Partial | None:
        """Fill the holes that cover the same closed subtree at every location (a parameter there could
        never help: Stitch's argument capture); None if the larger body cannot beat the cutoff."""
        fv, cost = self.fv, self.st.cost
        locs, savings, holes, args, body_cost, arity, has_tail, arg_paths, bound = pat
        k = len(locs)
        body = body_cost
        keep = []
        for hole in holes:
            _, depth, tail_ok, nodes = hole
            n0 = nodes[0]
            if tail_ok or fv[n0] >> depth or nodes.count(n0) != k:
                keep.append(hole)
            else:
                body += cost[n0]
        if body == body_cost:
            return pat
        b = bound - (body - body_cost)
        if b <= self.cutoff:
            return None
        return _new(Partial, (locs, savings, keep, args, body, arity, has_tail, arg_paths, b))

    def expand_concrete(self, pat: Partial, hole: Hole, rest: list[Hole]) -> None:
        """Fill `hole` with a primitive, a variable, an application or a lambda: one candidate per head
        found at the hole, keeping the locations that have it."""
        st = self.st
        A, B, head, fv = st.a, st.b, st.head, st.fv
        path, depth, tail_ok, nodes = hole
        pat_locs, pat_savings, _, pat_args, body_cost, arity, has_tail, arg_paths, bound = pat
        end_heads = self.end_heads
        should_prune = self.should_prune
        k = len(pat_locs)
        groups: dict[int, list[int]] = {}
        for i, n in enumerate(nodes):
            h = head[n]
            g = groups.get(h)
            if g is None:
                groups[h] = [i]
            else:
                g.append(i)
        for h, idx in groups.items():
            if h == HEAD_APP:
                delta = COST_APP
            elif h == HEAD_LAM:
                delta = COST_LAM
            elif h <= -3:
                if -3 - h >= depth:
                    continue              # variable bound outside the pattern: must be a parameter
                delta = COST_VAR
            else:
                if tail_ok and h in end_heads:
                    continue              # the tail stands for it
                delta = COST_PRIM
            body = body_cost + delta
            if len(idx) == k:
                locs, savings, holes, args, sel_nodes = pat_locs, pat_savings, rest, pat_args, nodes
                b = bound - delta                   # same locations: only the body grew
            else:
                locs = [pat_locs[i] for i in idx]
                if should_prune(locs):
                    continue
                savings = [pat_savings[i] for i in idx]
                b = self.bound(locs, savings, body)
                if b <= self.cutoff:
                    continue
                holes, args = _select(rest, pat_args, idx)
                if _useless_or_redundant(args, fv):
                    continue
                sel_nodes = [nodes[i] for i in idx]
            if h == HEAD_APP:
                holes = holes + [_new(Hole, (path + (0,), depth, False, [A[n] for n in sel_nodes])),
                                 _new(Hole, (path + (1,), depth, tail_ok, [B[n] for n in sel_nodes]))]
            elif h == HEAD_LAM:
                holes = holes + [_new(Hole, (path + (2,), depth + 1, False, [A[n] for n in sel_nodes]))]
            if b <= self.cutoff:
                continue
            self.push_or_finish(_new(Partial, (locs, savings, holes, args, body, arity, has_tail, arg_paths, b)))

    def expand_parameters(self, pat: Partial, hole: Hole, rest: list[Hole]) -> None:
        """Make `hole` the tail, an existing parameter (keeping the locations where both cover the same
        argument) or a new one (at most max_arity)."""
        st = self.st
        if hole.tail_ok:
            if not pat.has_tail:
                values = closed_arguments(st, hole.nodes, hole.depth)
                self.add_arg(pat, hole, rest, [i for i, v in enumerate(values) if v != -1], values, True)
            return
        values = self.mode.parameter_values(st, hole.nodes, hole.depth)
        if values is None:
            return
        reuses = []
        for j, arg in enumerate(pat.args):
            if not arg.is_tail:
                idx = [i for i, (x, y) in enumerate(zip(values, arg.shifted)) if x == y]  # shifted holds no -1
                if idx:
                    reuses.append((j, idx))
        for j, idx in reuses:
            self.reuse_arg(pat, hole, rest, j, idx)
        if pat.arity < self.cfg.max_arity:
            self.add_arg(pat, hole, rest, [i for i, v in enumerate(values) if v != -1], values, False)

    def reuse_arg(self, pat: Partial, hole: Hole, rest: list[Hole], j: int, idx: list[int]) -> None:
        """`hole` becomes parameter `j` again, at the locations `idx` where both cover the same argument."""
        allsel = len(idx) == len(pat.locs)
        if allsel:
            locs, savings, b = pat.locs, pat.savings, pat.bound
        else:
            pat_locs, pat_savings = pat.locs, pat.savings
            locs = [pat_locs[i] for i in idx]
            if self.should_prune(locs):
                return
            savings = [pat_savings[i] for i in idx]
            b = self.bound(locs, savings, pat.body_cost)
        if b <= self.cutoff:
            return
        if allsel:
            holes, args = rest, list(pat.args)
        else:
            holes, args = _select(rest, pat.args, idx)
            if _useless_or_redundant(args, self.st.fv):
                return
        self.push_or_finish(_new(Partial, (locs, savings, holes, args, pat.body_cost, pat.arity, pat.has_tail,
                                           pat.arg_paths + ((hole.path, j),), b)))

    def add_arg(self, pat: Partial, hole: Hole, rest: list[Hole], idx: list[int], values: list[int],
                is_tail: bool) -> None:
        """`hole` becomes a new parameter (or the tail), at the locations `idx` where it can be one."""
        if not idx:
            return
        cost, fv = self.st.cost, self.st.fv
        nodes = hole.nodes
        allsel = len(idx) == len(pat.locs)
        new = _new(Arg, (hole.depth, [values[i] for i in idx], [nodes[i] for i in idx], is_tail))
        if not is_tail:
            s0 = new.shifted[0]
            if not fv[s0] and new.shifted.count(s0) == len(idx):
                return                    # same closed argument everywhere: inline it instead
        pat_locs, pat_savings = pat.locs, pat.savings
        locs = pat_locs if allsel else [pat_locs[i] for i in idx]
        if not allsel and self.should_prune(locs):
            return
        savings = [pat_savings[i] - COST_APP - cost[nodes[i]] for i in idx]
        b = self.bound(locs, savings, pat.body_cost)
        if b <= self.cutoff:
            return
        if allsel:
            holes, args = rest, list(pat.args)
        else:
            holes, args = _select(rest, pat.args, idx)
        args.append(new)
        if _useless_or_redundant(args, fv):
            return
        arity = pat.arity if is_tail else pat.arity + 1
        self.push_or_finish(_new(Partial, (locs, savings, holes, args, pat.body_cost, arity,
                                           pat.has_tail or is_tail, pat.arg_paths + ((hole.path, len(pat.args)),), b)))


def _select(holes: list[Hole], args: list[Arg], idx: list[int]) -> tuple[list[Hole], list[Arg]]:
    """Holes and arguments restricted to the locations `idx`."""
    return ([_new(Hole, (path, depth, tail_ok, [nodes[i] for i in idx])) for path, depth, tail_ok, nodes in holes],
            [_new(Arg, (depth, [shifted[i] for i in idx], [nodes[i] for i in idx], is_tail))
             for depth, shifted, nodes, is_tail in args])


def _useless_or_redundant(args: list[Arg], fv) -> bool:
    """Stitch's argument-capture and redundant-argument pruning for the parameters (not the tail)."""
    params = [a for a in args if not a.is_tail]
    for a in params:
        s0 = a.shifted[0]
        if not fv[s0] and a.shifted.count(s0) == len(a.shifted):
            return True
    for i in range(len(params)):
        for j in range(i + 1, len(params)):
            if params[i].shifted == params[j].shifted:
                return True
    return False


def _finish(pat: Partial, corpus: Corpus, cfg: SearchConfig, cutoff: int, stats: SearchStats) -> Found | None:
    """The finished abstraction with its exact utility, or None if it does not beat `cutoff`."""
    stats.finished += 1
    if cfg.mode.require_tail and not pat.has_tail:
        return None
    util = _additive(pat.locs, pat.savings, corpus) - pat.body_cost
    if util <= cutoff:
        return None               # the additive utility is an upper bound on the exact one
    args = [[a.nodes[i] for a in pat.args] for i in range(len(pat.locs))]
    if _overlaps(pat, corpus):
        stats.exact += 1
        util = _exact(pat.locs, pat.savings, args, corpus) - pat.body_cost
        if util <= cutoff:
            return None
    # renumber: parameters 0..arity-1 in creation order, the tail (if any) last
    order = [j for j, a in enumerate(pat.args) if not a.is_tail] + [j for j, a in enumerate(pat.args) if a.is_tail]
    new_index = {old: new for new, old in enumerate(order)}
    ipaths = {path: new_index[j] for path, j in pat.arg_paths}
    return Found(util, pat.body_cost, list(pat.locs), ipaths, pat.arity, pat.has_tail,
                 [pat.args[j].depth for j in order], [[a[j] for j in order] for a in args], list(pat.savings))


# ---- utility ----------------------------------------------------------------------------------------

def choose_rewrites(locs, U, args, corpus: Corpus) -> tuple[dict[int, int], set[int]]:
    """Bottom-up: best total saving under each node, choosing where to rewrite (overlaps exclusive).
    The exact utility and `rewrite.rewrite_roots` make the same choice: (saving per node, chosen locations)."""
    st = corpus.store
    kind, A, B = st.kind, st.a, st.b
    parents = corpus.parents
    locpos = {loc: i for i, loc in enumerate(locs)}
    seen = set(locs)
    stack = list(locs)
    while stack:
        n = stack.pop()
        for p in parents.get(n, ()):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    cum: dict[int, int] = {}
    chosen: set[int] = set()
    get = cum.get
    for n in sorted(seen):
        k = kind[n]
        if k == APP:
            v = get(A[n], 0) + get(B[n], 0)
        elif k == LAM:
            v = get(A[n], 0)
        else:
            v = 0
        i = locpos.get(n)
        if i is not None:
            wv = U[i]
            for x in args[i]:
                wv += get(x, 0)
            if wv > v:
                v = wv
                chosen.add(n)
        if v:
            cum[n] = v
    return cum, chosen


def _additive(locs, U, corpus: Corpus) -> int:
    """Compressive utility if every location could be rewritten independently (exact without overlaps,
    an upper bound otherwise)."""
    occ = corpus.occ
    util: dict[int, int] = {}
    get = util.get
    for loc, u in zip(locs, U):
        if u > 0:
            for p, c in occ[loc].items():
                util[p] = get(p, 0) + c * u
    if not util:
        return 0
    tasks, roots, cost = corpus.tasks, corpus.roots, corpus.store.cost
    gain = 0
    for t in {tasks[p] for p in util}:
        new = min(cost[roots[p]] - get(p, 0) for p in corpus.progs_of_task[t])
        gain += corpus.task_cost[t] - new
    return gain


def _overlaps(pat: Partial, corpus: Corpus) -> bool:
    """Does some location lie inside another location's body (outside its arguments)?"""
    st = corpus.store
    kind, A, B = st.kind, st.a, st.b
    locset = set(pat.locs)
    if len(locset) < 2:
        return False
    # a location inside a repeated argument is rewritten once in the call, not once per occurrence,
    # so it counts as an overlap too (then the exact DP decides)
    stops = {path for path, _ in pat.arg_paths}
    first: dict[int, tuple] = {}
    for path, j in pat.arg_paths:
        first.setdefault(j, path)
    repeats = stops - set(first.values())
    loc0 = pat.locs[0]
    order = []                      # (parent slot, which child, is a repeated argument) in pre-order

    def shape(n, path, parent_slot):
        slot = len(order)
        order.append((parent_slot, path[-1] if path else -1, False))
        k = kind[n]
        children = ((0, A[n]), (1, B[n])) if k == APP else ((2, A[n]),) if k == LAM else ()
        for which, c in children:
            cp = path + (which,)
            if cp in repeats:
                order.append((slot, which, True))
            elif cp not in stops:
                shape(c, cp, slot)
    shape(loc0, (), -1)
    for loc in pat.locs:
        nodes = [loc]
        for parent_slot, which, repeated in order[1:]:
            pn = nodes[parent_slot]
            c = B[pn] if which == 1 else A[pn]
            if c in locset:
                return True
            if repeated and _contains_any(st, c, locset):
                return True
            nodes.append(c)
    return False


def _contains_any(st: Store, n: int, targets: set) -> bool:
    kind, A, B = st.kind, st.a, st.b
    stack = [n]
    seen = set()
    while stack:
        x = stack.pop()
        if x in targets:
            return True
        if x in seen:
            continue
        seen.add(x)
        k = kind[x]
        if k == APP:
            stack.append(A[x])
            stack.append(B[x])
        elif k == LAM:
            stack.append(A[x])
    return False


def _exact(locs, U, args, corpus: Corpus) -> int:
    """Compressive utility: reduction of the sum over tasks of the cheapest program's cost."""
    cum, _ = choose_rewrites(locs, U, args, corpus)
    roots, cost = corpus.roots, corpus.store.cost
    touched = {corpus.tasks[p] for p, r in enumerate(roots) if r in cum}
    gain = 0
    for t in touched:
        new = min(cost[roots[p]] - cum.get(roots[p], 0) for p in corpus.progs_of_task[t])
        gain += corpus.task_cost[t] - new
    return gain
