"""The policy arms of the search: a trained edit policy (`train --model policy`) as a `dream.search.frontier.Proposer`.

`PolicyProposer` runs the policy network once per search node and returns K grammatical edits of each
node as program trees (`model.policy.sample.PolicySampler`; the search canonicalises trees itself).
The arms (`dream.search.arms.POLICY_ARMS`, built by `PolicyArms.proposer(name, ...)`; they share the loaded network):

| arm | where (which slot) | what (which edit, its content) |
| --- | --- | --- |
| `policy` | learned | learned (whole statements and expressions from the grammar-masked decoder) |
| `policy-where` | learned | uniform (the random mutator's kinds and content) |
| `policy-what` | uniform | learned |
| `policy+grammar` | `policy`'s K and as many uniform grammatical mutations |

Every arm also mixes in a share `eps` of uniform grammatical mutations per node (`--policy-eps`), and
fills edits that repeat one already made with them, so no node gets fewer than K candidates.
`grammar` (`dream.search.baselines`) is uniform where and what: the baseline all of them must beat.

The model-free arm that borrows statements from the target's database neighbours, `retrieval`, is
`dream.search.retrieval`: the learned pool's baseline.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .settings import SearchSettings

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

    def __init__(self, model, tokenizer, device: str = "cpu", k: int = SearchSettings.policy_k,
                 eps: float = SearchSettings.policy_eps,
                 temperature: float = 1.0, content_temperature: float = 1.0):
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.k, self.eps = k, eps
        self.temperature, self.content_temperature = temperature, content_temperature
        self.max_tokens: int = model.config.max_tokens
        self._default = None

    def proposer(self, name: str, seed: int = 0, library=None, max_tokens: int | None = None):
        from model.policy.sample import PolicySampler
        from .baselines import CombinedProposer, GrammarProposer
        if name not in _MODES:
            raise ValueError(f"unknown policy arm {name!r} (choose from {', '.join(_MODES)})")
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
