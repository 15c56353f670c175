"""The `retrieval` arm: grammatical mutations whose new statements are borrowed from the target's database
neighbours, without a model.

`retrieval` is the mutations of `grammar` (`dream.search.baselines`), except that an inserted or replacing
statement is, with probability `share`, one of the statements of the database programs nearest to the target
(`RetrievalPool`: `logo.tree_path.closed_statements` of the heads of the `k` nearest entries, found once per
target). It measures what borrowing statements from neighbours gives without learning: the policy arms
(`dream.search.policy`) write their pool of statements with the network instead, so `retrieval` is the learned
pool's baseline as `grammar` is the rest's. The solver gives it its database (`attach`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: the retrieval arm's neighbours per target and the share of statements it takes from them
RETRIEVAL_K = 32
RETRIEVAL_SHARE = 0.5


class RetrievalPool:
    """Statements of the database programs nearest to a target image (`closed_statements` of the heads
    of the `k` nearest entries, parsed), found once per target and kept until `reset()`."""

    def __init__(self, db, k: int = RETRIEVAL_K):
        self.db, self.k = db, k
        self._cache: dict[bytes, list] = {}

    def reset(self) -> None:
        self._cache.clear()

    def __call__(self, target: np.ndarray) -> list:
        import logo
        from logo.canonical import canonical
        from logo.tree_path import closed_statements
        key = np.asarray(target, np.uint8).tobytes()
        got = self._cache.get(key)
        if got is None:
            got = []
            if self.db is not None and len(self.db):
                seen = set()
                for eid, _ in self.db.nearest(np.asarray(target, np.uint8), self.k):
                    try:
                        head = self.db.get(eid).head
                        stmts = closed_statements(canonical(logo.parse(head)))
                    except (logo.LogoError, RecursionError, LookupError, KeyError):
                        continue
                    for text in stmts:
                        if text not in seen:
                            seen.add(text)
                            got.append(logo.parse(text).body[0])
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[key] = got
        return got


def renamed(stmt, scope: Sequence[str]):
    """A statement written on its own (loops named from depth 0) renamed to sit below `scope`'s loops."""
    from logo.canonical import LOOP_VARS, rename_vars
    if not scope:
        return stmt
    return rename_vars(stmt, dict(zip(LOOP_VARS, LOOP_VARS[len(scope):])))


class PoolContent:
    """`logo.mutate.RandomContent`, except that a statement is, with probability `share`, one of `pool`
    (renamed into the site's loop variables)."""

    def __init__(self, base, pool: list, share: float):
        self.base, self.pool, self.share = base, pool, share
        self.rng = base.rng

    def stmt(self, depth: int, scope: tuple):
        if self.pool and self.rng.random() < self.share:
            return renamed(self.pool[int(self.rng.random() * len(self.pool))], scope)
        return self.base.stmt(depth, scope)

    def expr(self, role: str, scope: tuple):
        return self.base.expr(role, scope)


class RetrievalProposer:
    """`n` grammatical mutations per node whose new statements come, with probability `share`, from the
    target's database neighbours (`RetrievalPool`); the rest as the `grammar` arm draws them."""
    name = "retrieval"

    def __init__(self, n: int = 16, seed: int = 0, library=None, max_tokens: int | None = None, db=None,
                 k: int = RETRIEVAL_K, share: float = RETRIEVAL_SHARE):
        import random
        from logo.tokens import CONTEXT_TOKENS
        if n < 1:
            raise ValueError("RetrievalProposer needs n >= 1")
        self.n, self.library, self.share = n, library, share
        self.max_tokens = max_tokens or CONTEXT_TOKENS
        self.rng = random.Random(seed)
        self.pools = RetrievalPool(db, k)

    def attach(self, db) -> None:
        """The database whose neighbours lend statements (the solver's)."""
        self.pools.db = db
        self.pools.reset()

    def reset(self) -> None:
        self.pools.reset()

    def __call__(self, images_a, images_b, programs_a: Sequence[str]) -> list[list]:
        import logo
        from logo.canonical import canonical
        from logo.mutate import RandomContent, Sites
        base = RandomContent(self.rng, self.library)
        out = []
        for target, text in zip(images_b, programs_a):
            content = PoolContent(base, self.pools(target), self.share)
            try:
                p = canonical(logo.parse(text)) if text else logo.ast.Program((), ())
            except (logo.LogoError, RecursionError):
                out.append([])
                continue
            sites = Sites.of(p, is_canonical=True)
            kind = None if p.body else "insert"
            got = []
            for _ in range(4 * self.n):
                if len(got) >= self.n:
                    break
                q = sites.mutate(self.rng, kind, content=content)
                if q is not None:
                    got.append(q)
            out.append(got)
        return out
