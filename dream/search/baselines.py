"""Proposers without a model, to measure what the model adds: the search's arms.

Every proposer is a `dream.search.frontier.Proposer`, as `ModelProposer` is: `__call__(images_a, images_b,
programs_a) -> list[list[Program | str]]` (candidate programs per node, texts or trees; the search
canonicalises, runs and scores them), `max_tokens` (nodes longer than that are scored but not expanded, as with the model; the model's
context `logo.tokens.CONTEXT_TOKENS` unless told otherwise) and `reset()` (forget per-target state).

- `NoneProposer`: proposes nothing, so the search returns the best start program (the empty program
  or a database neighbour) as it was.
- `RandomProposer(n)`: n random token mutations per node (`model.mutations.mutate_tokens`, 1..3 edits):
  the baseline the issue compares the model with.
- `EnumProposer(cap)`: every program one numeric-token (or operator) substitution away, in a fixed
  order, `cap` per expansion; a node expanded again continues where it stopped, so the whole
  neighbourhood is tried over the re-expansions.
- `GrammarProposer(n)`: n random grammatical mutations (`logo.mutate`: statements and
  sub-expressions inserted, deleted, replaced, wrapped, unwrapped), returned as trees (no printing).
- `CombinedProposer(a, b, ...)`: the candidates of several proposers together: model+enum, and
  model+grammar (the model's scripts and as many grammatical mutations per node; it must beat
  grammar alone, the strongest arm without a model, for the model to count).

`make_proposer(name, ...)` builds one by name; the `MODEL_ARMS` need a `model_proposer` (a checkpoint).
The policy arms (`dream.search.policy.POLICY_ARMS`: `policy`, its ablations and `policy+grammar`) need a policy
checkpoint (`train --model policy`), whose `dream.search.policy.PolicyArms` stands in for the model proposer;
with one, the `model` arms are the policy's. `model` decodes its edit scripts under the grammar's masks
(`model.edit_grammar`: every program parses); `model-unmasked` is the same checkpoint decoding freely, its
baseline. `retrieval` (`dream.search.policy.RetrievalProposer`) needs no
model: `grammar`'s mutations whose new statements are, half of the time, borrowed from the database
programs nearest to the target (the solver attaches its database); it is the policy pool's baseline.

One arm is not a proposer: `topdown` (`TOPDOWN_ARMS`) enumerates programs from the root in decreasing
probability under a fitted grammar (`dream.search.topdown.enumerate_for_target`) instead of editing start
programs; `dream.search.solver.Solver` runs it with the same targets and budget as the others.
"""
from __future__ import annotations

import random
import zlib
from typing import Sequence

from logo.tokens import CONSTANT_TOKENS, CONTEXT_TOKENS, DIGIT_TOKENS, NUMERIC_TOKENS, OPERATOR_TOKENS


POLICY_ARMS = ("policy", "policy-where", "policy-what", "policy+grammar")     # dream.search.policy
MODEL_ARMS = ("model", "model-unmasked", "model+enum", "model+grammar") + POLICY_ARMS
RECOGNITION_ARMS = ("recognition",)       # dream.search.recognition: enumeration under the predicted grammar
TOPDOWN_ARMS = ("topdown",) + RECOGNITION_ARMS
ARMS = ("model", "model-unmasked", "random", "none", "enum", "grammar", "model+enum", "model+grammar",
        "retrieval") \
    + POLICY_ARMS \
    + TOPDOWN_ARMS
#: the arms that are `dream.search.frontier.Proposer`s (edit the search's nodes)
SEARCH_ARMS = tuple(a for a in ARMS if a not in TOPDOWN_ARMS)


def _tokens(text: str) -> list[str]:
    from model.tokenizer import program_tokens
    return program_tokens(text) if text and text.strip() else []


def _seed(text: str, salt: int) -> int:
    return zlib.crc32(text.encode()) ^ salt


class NoneProposer:
    """Start programs only: no candidates."""
    name = "none"

    def __init__(self, max_tokens: int = CONTEXT_TOKENS):
        self.max_tokens = max_tokens

    def reset(self) -> None:
        """Nothing is kept between targets."""

    def __call__(self, images_a, images_b, programs_a: Sequence[str]) -> list[list[str]]:
        return [[] for _ in programs_a]


class RandomProposer:
    """`n` random token mutations (1..`max_edits` edits each) per node."""
    name = "random"

    def __init__(self, n: int = 16, max_edits: int = 3, seed: int = 0, max_tokens: int = CONTEXT_TOKENS):
        if n < 1 or max_edits < 1:
            raise ValueError("RandomProposer needs n >= 1 and max_edits >= 1")
        self.n, self.max_edits, self.max_tokens = n, max_edits, max_tokens
        self.rng = random.Random(seed)

    def reset(self) -> None:
        """Nothing is kept about a target; the random stream goes on (seed a new proposer to repeat it)."""

    def __call__(self, images_a, images_b, programs_a: Sequence[str]) -> list[list[str]]:
        from model.mutations import mutate_tokens
        out = []
        for text in programs_a:
            toks = _tokens(text)
            out.append([" ".join(mutate_tokens(toks, self.rng, self.rng.randint(1, self.max_edits)))
                        for _ in range(self.n)])
        return out


def neighbourhood(tokens: Sequence[str]) -> list[str]:
    """Every program one numeric-token or operator substitution away (nearest values first)."""
    out = []
    for i, t in enumerate(tokens):
        if t in DIGIT_TOKENS:
            v = int(t)
            order = sorted((d for d in range(10) if d != v), key=lambda d: (abs(d - v), d))
            alts = [str(d) for d in order] + [c for c in CONSTANT_TOKENS]
        elif t in NUMERIC_TOKENS:
            alts = [c for c in NUMERIC_TOKENS if c != t]
        elif t in OPERATOR_TOKENS:
            alts = [o for o in OPERATOR_TOKENS if o != t]
        else:
            continue
        for a in alts:
            out.append((abs(int(a) - int(t)) if a in DIGIT_TOKENS and t in DIGIT_TOKENS else 10, i, a))
    out.sort(key=lambda x: (x[0], x[1]))    # small changes everywhere before large ones anywhere
    texts = []
    for _, i, a in out:
        texts.append(" ".join(list(tokens[:i]) + [a] + list(tokens[i + 1:])))
    return texts


class EnumProposer:
    """The exhaustive single-substitution neighbourhood, `cap` candidates per expansion."""
    name = "enum"

    def __init__(self, cap: int = 64, max_tokens: int = CONTEXT_TOKENS):
        if cap < 1:
            raise ValueError("EnumProposer needs cap >= 1")
        self.cap, self.max_tokens = cap, max_tokens
        self._offset: dict[str, int] = {}     # program -> how much of its neighbourhood was proposed

    def reset(self) -> None:
        """Start every program's neighbourhood from the beginning again."""
        self._offset.clear()

    def __call__(self, images_a, images_b, programs_a: Sequence[str]) -> list[list[str]]:
        out = []
        for text in programs_a:
            hood = neighbourhood(_tokens(text))
            k = self._offset.get(text, 0)
            out.append(hood[k:k + self.cap])
            self._offset[text] = k + self.cap
        return out


class GrammarProposer:
    """`n` random grammatical mutations per node (`logo.mutate`), as program trees: the node's sites are
    computed once per expansion and every draw is one edited tree, which the search canonicalises, dedupes
    and compiles without printing it. A draw that does not apply, or gives a program longer than
    `max_tokens` (which could not be expanded), is drawn again (up to `TRIES` draws per candidate)."""
    name = "grammar"

    #: draws per candidate before giving up on a node (a drawn kind may not apply to it)
    TRIES = 8

    def __init__(self, n: int = 16, seed: int = 0, library=None, max_tokens: int = CONTEXT_TOKENS):
        if n < 1:
            raise ValueError("GrammarProposer needs n >= 1")
        from logo.mutate import RandomContent
        self.n, self.library, self.max_tokens = n, library, max_tokens
        self.rng = random.Random(seed)
        self.content = RandomContent(self.rng, library)

    def reset(self) -> None:
        """Nothing is kept about a target; the random stream goes on (seed a new proposer to repeat it)."""

    def __call__(self, images_a, images_b, programs_a: Sequence[str]) -> list[list]:
        from logo.ast import Program
        from logo.canonical import canonical
        from logo.mutate import Sites
        from logo.syntax import count_tokens
        rng, content = self.rng, self.content
        out = []
        for text in programs_a:
            if not text:
                out.append([Program((), (content.stmt(0, ()),)) for _ in range(self.n)])
                continue
            sites = Sites.of(canonical(text), is_canonical=True)      # once per node, then n draws
            got = []
            for _ in range(self.n * self.TRIES):
                try:
                    q = sites.mutate(rng, content=content)
                except IndexError:          # a drawn position the program does not have
                    q = None
                if q is not None and count_tokens(q) <= self.max_tokens:
                    got.append(q)
                    if len(got) == self.n:
                        break
            out.append(got)
        return out


class CombinedProposer:
    """The candidates of several proposers, concatenated per node."""

    def __init__(self, *proposers, name: str = "combined"):
        if not proposers:
            raise ValueError("CombinedProposer needs at least one proposer")
        self.proposers = proposers
        self.name = name
        self.max_tokens = min(p.max_tokens for p in proposers)

    def reset(self) -> None:
        for p in self.proposers:
            p.reset()

    def __call__(self, images_a, images_b, programs_a: Sequence[str]) -> list[list]:
        out = [[] for _ in programs_a]
        for p in self.proposers:
            for k, cands in enumerate(p(images_a, images_b, programs_a)):
                out[k].extend(cands)
        return out


def make_proposer(name: str, model_proposer=None, n: int = 16, cap: int = 64, seed: int = 0, library=None,
                  max_tokens: int = CONTEXT_TOKENS):
    """An arm by name (see `ARMS`); the `MODEL_ARMS` need `model_proposer`."""
    if name == "none":
        return NoneProposer(max_tokens)
    if name == "random":
        return RandomProposer(n, seed=seed, max_tokens=max_tokens)
    if name == "enum":
        return EnumProposer(cap, max_tokens)
    if name == "grammar":
        return GrammarProposer(n, seed=seed, library=library, max_tokens=max_tokens)
    if name == "retrieval":                                   # dream.search.policy: statements of the target's neighbours
        from .policy import RetrievalProposer
        return RetrievalProposer(n, seed=seed, library=library, max_tokens=max_tokens)
    if name in TOPDOWN_ARMS:
        raise ValueError(f"arm {name!r} enumerates programs instead of proposing edits: "
                         "dream.search.solver.Solver runs it (dream.search.topdown)")
    if name in MODEL_ARMS:
        if model_proposer is None:
            raise ValueError(f"arm {name!r} needs a checkpoint (--ckpt)")
        if hasattr(model_proposer, "proposer"):              # a policy checkpoint (dream.search.policy.PolicyArms)
            if name == "model-unmasked":
                raise ValueError("arm 'model-unmasked' needs an edit model's checkpoint (train --model edit), "
                                 "not a policy's")
            policy = {"model": "policy", "model+grammar": "policy+grammar"}.get(name, name)
            if policy in POLICY_ARMS:
                return model_proposer.proposer(policy, seed=seed, library=library, max_tokens=max_tokens)
            return CombinedProposer(model_proposer.proposer("policy", seed=seed, library=library, max_tokens=max_tokens),
                                    EnumProposer(cap, max_tokens), name=name)
        if name in POLICY_ARMS:
            raise ValueError(f"arm {name!r} needs a policy checkpoint (train --model policy), not an edit model's")
        if name == "model":
            return model_proposer
        if name == "model-unmasked":             # the edit decoder without its grammar masks (the baseline)
            return model_proposer.free()
        if name == "model+enum":
            return CombinedProposer(model_proposer, EnumProposer(cap, max_tokens), name=name)
        return CombinedProposer(model_proposer, GrammarProposer(n, seed=seed, library=library, max_tokens=max_tokens),
                                name=name)
    raise ValueError(f"unknown proposer {name!r} (choose from {', '.join(ARMS)})")


def candidates_per_expansion(samples: int, temperatures: Sequence[float], beam: int) -> int:
    """How many scripts the model proposes per node: the random arms get as many."""
    return sum(samples if t > 0 else 1 for t in temperatures) + max(beam, 0)
