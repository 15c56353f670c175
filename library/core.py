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
hole that matches every subtree.  A pattern keeps its match locations and, for each open hole and each
abstraction variable (`#i`), the corpus subtree it covers at every location.  Expanding a hole splits
the locations by what sits there (a primitive, a variable, an application, a lambda) or turns the hole
into a parameter: a new `#i` (at most `max_arity`) or an existing one (keeping only the locations where
both cover the same argument).  The objective is Stitch's utility: corpus cost saved by rewriting
(only the cheapest program of each task counts) minus the abstraction's own size.  A candidate is
dropped as soon as an upper bound on that utility cannot beat the best finished abstraction.  The
bound is tighter than Stitch's: per location it subtracts the parameters already chosen, it counts a
subtree at most once per task (only one program of a task can matter), and it subtracts the body
size built so far.  Holes that cover the same closed subtree at every location are filled at once
(making them a parameter could never help: Stitch's "argument capture" rule).

Binding safety: a body may not contain a variable bound outside it (it must become a parameter), and
an argument may not mention a variable bound inside the body (such locations are dropped).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field

PRIM, VAR, APP, LAM = 0, 1, 2, 3
HEAD_APP, HEAD_LAM = -1, -2          # head codes; a variable $i has head -3 - i; a primitive its symbol id
COST_PRIM, COST_VAR, COST_APP, COST_LAM = 100, 100, 1, 1

# hole flags (Logo mode): ROOTCHAIN marks the statement-sequence positions reachable from the pattern root
# through continuations only; the one place where the sequence may end in the "rest of the body" tail.
ROOTCHAIN = 1
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


@dataclass
class Found:
    """A finished abstraction of one step."""
    utility: int
    body_cost: int
    locs: list[int]
    ivar_paths: dict[tuple, int]       # path from the root -> ivar index
    arity: int                         # number of parameters (the Logo tail is not one)
    has_tail: bool
    ivar_depth: list[int]              # lambdas above each ivar (index: ivar)
    args: list[list[int]]              # args[i][j]: unshifted corpus node of ivar j at location i
    U: list[int]                       # per-location saving before nested rewrites


@dataclass
class SearchConfig:
    max_arity: int = 3
    logo: bool = False                 # Logo mode: typed holes, sequence roots, tail continuation
    allow_single_task: bool = False
    param_ok: dict | None = None       # Logo: node -> may be a parameter (an expression)
    chain: set | None = None           # Logo: statement-sequence nodes that are not the empty end
    seq: set | None = None             # Logo: all statement-sequence nodes (incl. the empty end)
    max_steps: int = 2_000_000


@dataclass
class SearchStats:
    steps: int = 0
    pushed: int = 0
    finished: int = 0
    exact: int = 0


class _P:
    """A partial pattern (mutable only while being built)."""
    __slots__ = ("locs", "U", "holes", "ivars", "body", "nparams", "tail", "ipaths", "bound")

    def __init__(self, locs, U, holes, ivars, body, nparams, tail, ipaths, bound):
        self.locs = locs          # list of corpus nodes
        self.U = U                # per-location upper bound on the saving
        self.holes = holes        # list of (path, depth, flags, nodes)
        self.ivars = ivars        # list of (depth, shifted, unshifted, is_tail)
        self.body = body          # body cost so far
        self.nparams = nparams
        self.tail = tail
        self.ipaths = ipaths      # tuple of (path, ivar index)
        self.bound = bound

    def __lt__(self, other):
        return False


def _popcount_le1(x: int) -> bool:
    return x & (x - 1) == 0


def best_abstraction(corpus: Corpus, cfg: SearchConfig, stats: SearchStats | None = None) -> Found | None:
    """The highest-utility abstraction for one step (None if none has positive utility)."""
    st = corpus.store
    kind, A, B, head, cost, fv = st.kind, st.a, st.b, st.head, st.cost, st.fv
    w = corpus.w
    taskmask = corpus.taskmask
    logo = cfg.logo
    max_arity = cfg.max_arity
    allow_single = cfg.allow_single_task
    stats = stats if stats is not None else SearchStats()
    param_ok = cfg.param_ok or {}
    chain = cfg.chain or set()
    nil_heads = set()
    if logo:
        for n in (cfg.seq or ()):
            if n not in chain:
                nil_heads.add(head[n])

    best: Found | None = None
    cutoff = 0

    def bound_of(locs, U, body):
        s = 0
        for loc, u in zip(locs, U):
            if u > 0:
                s += w[loc] * u
        return s - body

    # ---- arity-zero priming: every closed subtree as an abstraction (generic mode only) ----
    if not logo:
        for n in corpus.nodes:
            if fv[n] or kind[n] == PRIM:
                continue
            if not allow_single and _popcount_le1(taskmask[n]):
                continue
            u = cost[n] - COST_PRIM
            if w[n] * u - cost[n] <= cutoff:
                continue
            util = _additive([n], [u], corpus) - cost[n]
            stats.exact += 1
            if util > cutoff:
                cutoff = util
                best = Found(util, cost[n], [n], {}, 0, False, [], [[]], [u])

    # ---- the single hole ----
    if logo:
        roots = [n for n in corpus.nodes if n in chain]
        flags0 = ROOTCHAIN
    else:
        roots = list(corpus.nodes)
        flags0 = 0
    U0 = [cost[n] - COST_PRIM for n in roots]
    p0 = _P(roots, U0, [((), 0, flags0, roots)], [], 0, 0, False, (), bound_of(roots, U0, 0))
    heap = [(-p0.bound, 0, p0)]
    counter = 1

    while heap:
        negb, _, pat = heapq.heappop(heap)
        if -negb <= cutoff:
            break
        stats.steps += 1
        if stats.steps > cfg.max_steps:
            break
        holes = list(pat.holes)
        body = pat.body
        # fill holes that cover the same closed subtree everywhere (forced; no branching)
        locs = pat.locs
        k = len(locs)
        keep = []
        for hole in holes:
            nodes = hole[3]
            n0 = nodes[0]
            if hole[2] & ROOTCHAIN or fv[n0] >> hole[1] or nodes.count(n0) != k:
                keep.append(hole)
            else:
                body += cost[n0]
        holes = keep
        if body != pat.body:
            b = pat.bound - (body - pat.body)
            if b <= cutoff:
                continue
            if not holes:
                cand = _P(locs, pat.U, holes, pat.ivars, body, pat.nparams, pat.tail, pat.ipaths, b)
                res = _finish(cand, corpus, cfg, cutoff, stats)
                if res is not None:
                    best, cutoff = res, res.utility
                continue
        path, depth, flags, nodes = holes.pop()
        U = pat.U
        ivars = pat.ivars

        expansions = []   # (head, location indices, body cost added)
        # 1) concrete expansions, grouped by head
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
                if flags & ROOTCHAIN and h in nil_heads:
                    continue              # Logo: a body ends in the caller's continuation, not here
                delta = COST_PRIM
            expansions.append((h, idx, delta))

        for h, idx, delta in expansions:
            allsel = len(idx) == k
            if allsel:
                nlocs, nU, nholes, nivars = locs, U, holes, ivars
                sel_nodes = nodes
            else:
                nlocs = [locs[i] for i in idx]
                if not allow_single:
                    m = 0
                    for loc in nlocs:
                        m |= taskmask[loc]
                    if _popcount_le1(m):
                        continue
                if not logo and len(nlocs) == 1 and not fv[nlocs[0]]:
                    continue                  # single use: the arity-zero abstraction is better
                nU = [U[i] for i in idx]
                b = bound_of(nlocs, nU, body + delta)
                if b <= cutoff:
                    continue
                nholes = [(hp, hd, hf, [hn[i] for i in idx]) for hp, hd, hf, hn in holes]
                nivars = [(vd, [vs[i] for i in idx], [vu[i] for i in idx], vt) for vd, vs, vu, vt in ivars]
                if _useless_or_redundant(nivars, fv):
                    continue
                sel_nodes = [nodes[i] for i in idx]
            nbody = body + delta
            if allsel:
                b = pat.bound - (nbody - pat.body)      # same locations: only the body grew
            if h == HEAD_APP:
                cf = flags if (flags & ROOTCHAIN) else 0
                nholes = nholes + [(path + (0,), depth, 0, [A[n] for n in sel_nodes]),
                                   (path + (1,), depth, cf, [B[n] for n in sel_nodes])]
            elif h == HEAD_LAM:
                nholes = nholes + [(path + (2,), depth + 1, 0, [A[n] for n in sel_nodes])]
            if b <= cutoff:
                continue
            cand = _P(nlocs, nU, nholes, nivars, nbody, pat.nparams, pat.tail, pat.ipaths, b)
            if nholes:
                heapq.heappush(heap, (-b, counter, cand))
                counter += 1
                stats.pushed += 1
            else:
                res = _finish(cand, corpus, cfg, cutoff, stats)
                if res is not None:
                    best, cutoff = res, res.utility

        # 2) parameters
        is_tail_pos = logo and bool(flags & ROOTCHAIN)
        mask = (1 << depth) - 1
        if logo and not is_tail_pos:
            # only expressions can be parameters; the hole's locations may still disagree on that
            # when the statement around it is not fixed yet
            sh = [-1 if not param_ok.get(n, False) or fv[n] & mask else st.shift(n, -depth) for n in nodes]
            if sh.count(-1) == k:
                continue
        elif depth:
            sh = [-1 if fv[n] & mask else st.shift(n, -depth) for n in nodes]
        else:
            sh = nodes
        options = []
        if is_tail_pos:
            if not pat.tail:
                options.append(("tail", None))
        else:
            for j, (vd, vs, vu, vt) in enumerate(ivars):
                if vt:
                    continue
                idx = [i for i, (x, y) in enumerate(zip(sh, vs)) if x == y]   # vs holds no -1
                if idx:
                    options.append(("reuse", j, idx))
            if pat.nparams < max_arity:
                options.append(("new", None))
        for opt in options:
            kind_opt = opt[0]
            if kind_opt == "reuse":
                j, idx = opt[1], opt[2]
                allsel = len(idx) == k
                nlocs = locs if allsel else [locs[i] for i in idx]
                nU = U if allsel else [U[i] for i in idx]
                new_ivar = None
            else:
                idx = [i for i in range(k) if sh[i] != -1]
                if not idx:
                    continue
                allsel = len(idx) == k
                nlocs = locs if allsel else [locs[i] for i in idx]
                nU = [U[i] - COST_APP - cost[nodes[i]] for i in idx]
                new_ivar = (depth, [sh[i] for i in idx], [nodes[i] for i in idx], kind_opt == "tail")
                if kind_opt == "new":
                    s0 = new_ivar[1][0]
                    if not fv[s0] and new_ivar[1].count(s0) == len(idx):
                        continue              # same closed argument everywhere: inline it instead
            if not allsel:
                if not nlocs:
                    continue
                if not allow_single:
                    m = 0
                    for loc in nlocs:
                        m |= taskmask[loc]
                    if _popcount_le1(m):
                        continue
                if not logo and len(nlocs) == 1 and not fv[nlocs[0]]:
                    continue
            b = pat.bound - (body - pat.body) if nU is U else bound_of(nlocs, nU, body)
            if b <= cutoff:
                continue
            if allsel:
                nholes, nivars = holes, list(ivars)
            else:
                nholes = [(hp, hd, hf, [hn[i] for i in idx]) for hp, hd, hf, hn in holes]
                nivars = [(vd, [vs[i] for i in idx], [vu[i] for i in idx], vt) for vd, vs, vu, vt in ivars]
            if kind_opt == "reuse":
                ipaths = pat.ipaths + ((path, opt[1]),)
                nparams, tail = pat.nparams, pat.tail
                if not allsel and _useless_or_redundant(nivars, fv):
                    continue
            else:
                nivars.append(new_ivar)
                ipaths = pat.ipaths + ((path, len(ivars)),)
                if kind_opt == "tail":
                    nparams, tail = pat.nparams, True
                else:
                    nparams, tail = pat.nparams + 1, pat.tail
                if _useless_or_redundant(nivars, fv):
                    continue
            cand = _P(nlocs, nU, nholes, nivars, body, nparams, tail, ipaths, b)
            if nholes:
                heapq.heappush(heap, (-b, counter, cand))
                counter += 1
                stats.pushed += 1
            else:
                res = _finish(cand, corpus, cfg, cutoff, stats)
                if res is not None:
                    best, cutoff = res, res.utility
    return best


def _useless_or_redundant(ivars, fv) -> bool:
    """Stitch's argument-capture and redundant-argument pruning for the parameters (not the tail)."""
    params = [v for v in ivars if not v[3]]
    for vd, vs, vu, vt in params:
        s0 = vs[0]
        if not fv[s0] and vs.count(s0) == len(vs):
            return True
    for i in range(len(params)):
        for j in range(i + 1, len(params)):
            if params[i][1] == params[j][1]:
                return True
    return False


def _finish(pat: _P, corpus: Corpus, cfg: SearchConfig, cutoff: int, stats: SearchStats) -> Found | None:
    stats.finished += 1
    if cfg.logo and not pat.tail:
        return None
    util = _additive(pat.locs, pat.U, corpus) - pat.body
    if util <= cutoff:
        return None               # the additive utility is an upper bound on the exact one
    args = [[v[2][i] for v in pat.ivars] for i in range(len(pat.locs))]
    if _overlaps(pat, corpus):
        stats.exact += 1
        util = _exact(pat.locs, pat.U, args, corpus) - pat.body
        if util <= cutoff:
            return None
    # renumber: parameters 0..arity-1 in creation order, the tail (if any) last
    order = [j for j, v in enumerate(pat.ivars) if not v[3]] + [j for j, v in enumerate(pat.ivars) if v[3]]
    new_index = {old: new for new, old in enumerate(order)}
    ipaths = {path: new_index[j] for path, j in pat.ipaths}
    return Found(util, pat.body, list(pat.locs), ipaths, pat.nparams, pat.tail,
                 [pat.ivars[j][0] for j in order], [[a[j] for j in order] for a in args], list(pat.U))


def _dp(locs, U, args, corpus: Corpus):
    """Bottom-up: best total saving under each node, choosing where to rewrite (overlaps exclusive)."""
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


def _overlaps(pat: _P, corpus: Corpus) -> bool:
    """Does some location lie inside another location's body (outside its arguments)?"""
    st = corpus.store
    kind, A, B = st.kind, st.a, st.b
    locset = set(pat.locs)
    if len(locset) < 2:
        return False
    # a location inside a repeated argument is rewritten once in the call, not once per occurrence,
    # so it counts as an overlap too (then the exact DP decides)
    stops = {path for path, _ in pat.ipaths}
    first: dict[int, tuple] = {}
    for path, j in pat.ipaths:
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
    cum, _ = _dp(locs, U, args, corpus)
    roots, cost = corpus.roots, corpus.store.cost
    touched = {corpus.tasks[p] for p, r in enumerate(roots) if r in cum}
    gain = 0
    for t in touched:
        new = min(cost[roots[p]] - cum.get(roots[p], 0) for p in corpus.progs_of_task[t])
        gain += corpus.task_cost[t] - new
    return gain


# ---- abstraction bodies and rewriting ------------------------------------------------------------

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
    cum, chosen = _dp(found.locs, found.U, found.args, corpus)
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

    import sys
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        return [rw(r) for r in corpus.roots]
    finally:
        sys.setrecursionlimit(old)
