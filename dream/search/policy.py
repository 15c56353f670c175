"""The policy arms of the search: a trained edit policy (`train --model policy`) as a `dream.search.frontier.Proposer`.

`PolicyProposer` runs the policy network once per search node and returns K grammatical edits of each
node as program trees (`model.policy.sample.PolicySampler`; the search canonicalises trees itself).
The arms (`POLICY_ARMS`, built by `PolicyArms.proposer(name, ...)`; they share the loaded network):

| arm | where (which slot) | what (which edit, its content) |
| --- | --- | --- |
| `policy` | learned | learned (whole statements and expressions from the grammar-masked decoder) |
| `policy-where` | learned | uniform (the random mutator's kinds and content) |
| `policy-what` | uniform | learned |
| `policy+grammar` | `policy`'s K and as many uniform grammatical mutations |

Every arm also mixes in a share `eps` of uniform grammatical mutations per node (`--policy-eps`), and
fills edits that repeat one already made with them, so no node gets fewer than K candidates.
`grammar` (`dream.search.baselines`) is uniform where and what: the baseline all of them must beat.

`retrieval` needs no model: the grammatical mutations of `grammar`, except that an inserted or
replacing statement is, with probability `share`, one of the statements of the database programs
nearest to the target (`RetrievalPool`: `logo.tree_path.closed_statements` of the heads of the
`k` nearest entries, found once per target). It measures what borrowing statements from neighbours
gives without learning. The policy arms write their pool of statements with the network instead (decoded
once per node, `PolicySampler.pool_share`), so `retrieval` is the learned pool's baseline as `grammar`
is the rest's.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

POLICY_ARMS = ("policy", "policy-where", "policy-what", "policy+grammar")
#: the retrieval arm's neighbours per target and the share of statements it takes from them
RETRIEVAL_K = 32
RETRIEVAL_SHARE = 0.5
#: candidates per node and the uniform share, unless told otherwise (`--policy-k`, `--policy-eps`)
DEFAULT_K = 128
DEFAULT_EPS = 0.1
_MODES = {"policy": ("learned", "learned"), "policy-where": ("learned", "uniform"),
          "policy-what": ("uniform", "learned"), "policy+grammar": ("learned", "learned")}


class PolicyProposer:
    """K edits per node from one forward pass of the policy (see the module doc)."""

    def __init__(self, sampler, name: str = "policy"):
        self.sampler = sampler
        self.name = name
        #: the policy reads programs up to its context; longer nodes are scored, not expanded
        self.max_tokens: int = sampler.max_tokens

    def reset(self) -> None:
        """Nothing is kept about a target (the random stream goes on; seed a new proposer to repeat it)."""

    def __call__(self, images_a: np.ndarray, images_b: np.ndarray, programs_a: Sequence[str]) -> list[list]:
        import logo
        from logo.canonical import canonical
        programs = []
        for text in programs_a:
            try:
                programs.append(canonical(logo.parse(text)) if text else logo.ast.Program((), ()))
            except (logo.LogoError, RecursionError):
                programs.append(None)
        ok = [i for i, p in enumerate(programs) if p is not None]
        out: list[list] = [[] for _ in programs_a]
        if ok:
            got = self.sampler.propose(np.asarray(images_a)[ok], np.asarray(images_b)[ok], [programs[i] for i in ok])
            for i, cands in zip(ok, got):
                out[i] = cands
        return out


class PolicyArms:
    """A loaded policy network, shared by the policy arms; `proposer(name, seed, ...)` makes a fresh one."""

    def __init__(self, model, tokenizer, device: str = "cpu", k: int = DEFAULT_K, eps: float = DEFAULT_EPS,
                 temperature: float = 1.0, content_temperature: float = 1.0):
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.k, self.eps = k, eps
        self.temperature, self.content_temperature = temperature, content_temperature
        self.max_tokens: int = model.config.max_tokens
        self._default = None

    def proposer(self, name: str, seed: int = 0, library=None, max_tokens: int | None = None):
        from model.policy.sample import PolicySampler
        from .baselines import CombinedProposer, GrammarProposer
        if name not in POLICY_ARMS:
            raise ValueError(f"unknown policy arm {name!r} (choose from {', '.join(POLICY_ARMS)})")
        where, what = _MODES[name]
        sampler = PolicySampler(self.model, self.tokenizer, self.device, k=self.k, eps=self.eps, where=where,
                                what=what, temperature=self.temperature,
                                content_temperature=self.content_temperature, library=library, seed=seed)
        p = PolicyProposer(sampler, name)
        if max_tokens is not None:
            p.max_tokens = min(p.max_tokens, max_tokens)
        if name == "policy+grammar":
            return CombinedProposer(p, GrammarProposer(self.k, seed=seed + 1, library=library,
                                                       max_tokens=p.max_tokens), name=name)
        return p

    # the Proposer protocol, so a PolicyArms can stand where the solver keeps its model proposer (and
    # `dream` searches with it): the `policy` arm, one proposer whose random stream goes on across calls
    def reset(self) -> None:
        """Nothing is kept between targets."""

    def __call__(self, images_a, images_b, programs_a):
        if self._default is None:
            self._default = self.proposer("policy")
        return self._default(images_a, images_b, programs_a)


# ---- statements borrowed from the database's neighbours of the target -----------------------------------

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
    from logo.canonical import LOOP_VARS
    from logo.mutate import rename_vars
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
