"""The search's arms by name: one registry line per arm (`REGISTRY`), what it needs and whether users see it.

An arm is what proposes a search's steps (a `dream.search.frontier.Proposer`, made from `Parts` by its `make`),
or, with no `make`, what replaces the search (`topdown`: programs enumerated from the root, run by
`dream.search.solver.Solver.enumerate_one`). `needs` says which checkpoint it needs: "" none, "checkpoint" any
(an edit model's or a policy's: the `model` arms are the policy's on a policy checkpoint), "edit" or "policy".

Users choose among `USER_ARMS` (`--proposer` of `logo solve`, the web page's Solve): `auto` (the default,
`resolve_auto`: MNIST digits `construct`; with a checkpoint its family arm, `model`, `policy` or `recognition`;
without one the best model-free search measured, `topdown`; every edit arm also starts from the enumerated programs
nearest the target, `SearchSettings.enumerated_starts`), `topdown`, `grammar`, `none`, `construct` and the
checkpoint families. The other arms
are ablations and baselines: the bench scripts (`bench/solve.py --arms ...`) and the tests reach them by name.
To add an arm, add its line to `REGISTRY` (with `user=True` if users should see it).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Callable

from .baselines import CombinedProposer, EnumProposer, GrammarProposer, NoneProposer, RandomProposer

AUTO = "auto"


@dataclass(frozen=True)
class Parts:
    """What an arm's proposer is made of: the checkpoint's proposer (`ModelProposer`, or `PolicyArms` for a
    policy checkpoint; None without a checkpoint), candidates per node (`n`, as many as the model proposes),
    the `enum` arm's cap, the seed, the library and the longest program a node may have to be expanded."""
    model: object
    n: int
    cap: int
    seed: int
    library: tuple | None
    max_tokens: int

    def grammar(self) -> GrammarProposer:
        return GrammarProposer(self.n, seed=self.seed, library=self.library, max_tokens=self.max_tokens)

    def enum(self) -> EnumProposer:
        return EnumProposer(self.cap, self.max_tokens)

    def policy(self, name: str):
        return self.model.proposer(name, seed=self.seed, library=self.library, max_tokens=self.max_tokens)

    @property
    def is_policy(self) -> bool:
        return hasattr(self.model, "proposer")           # dream.search.policy.PolicyArms


@dataclass(frozen=True)
class Arm:
    name: str
    help: str
    make: Callable[[Parts], object] | None = None    # None: not a proposer (`runs` says what replaces the search)
    needs: str = ""                                    # "", "checkpoint", "edit" or "policy"
    user: bool = False                                 # offered to users; else an ablation (bench/, tests)
    runs: str = "search"                               # "search" (edits), "enumerate" or "construct"


def _retrieval(p: Parts):
    from .retrieval import RetrievalProposer
    return RetrievalProposer(p.n, seed=p.seed, library=p.library, max_tokens=p.max_tokens)


def _model(p: Parts):
    return p.policy("policy") if p.is_policy else p.model


def _model_plus(other: str):
    def make(p: Parts):
        if p.is_policy and other == "grammar":
            return p.policy("policy+grammar")
        return CombinedProposer(_model(p), p.enum() if other == "enum" else p.grammar(), name=f"model+{other}")
    return make


REGISTRY: tuple[Arm, ...] = (
    Arm("topdown", "no edits: programs enumerated from the root in decreasing probability under a grammar "
        "fitted on the solved programs (else the DreamCoder training programs)", user=True, runs="enumerate"),
    Arm("grammar", "random grammatical mutations (statements and expressions inserted, deleted, replaced, "
        "wrapped)", lambda p: p.grammar(), user=True),
    Arm("none", "no edits: the best start program as it is", lambda p: NoneProposer(p.max_tokens), user=True),
    Arm("model", "the checkpoint's edits (an edit model's scripts decoded under the grammar; a policy's "
        "edits)", _model, "checkpoint", user=True),
    Arm("policy", "the policy checkpoint's edits, K per node from one forward pass", lambda p: p.policy("policy"),
        "policy", user=True),
    Arm("construct", "for digits and other pictures: a program built stroke by stroke from the ink still "
        "missing, then shortened by the grammar arm's search (dream.search.construct)", user=True,
        runs="construct"),
    Arm("construct-net", "construct with the network's statements: a net trained on constructions of training "
        "digits marks where the next statement's ink goes (model.statement); an ablation until it beats construct",
        runs="construct"),
    Arm("recognition", "programs enumerated under the grammar a recognition checkpoint writes for each target "
        "(train --model recognition; dream.search.recognition)", user=True, runs="enumerate"),
    # ablations and baselines
    Arm("random", "random token mutations", lambda p: RandomProposer(p.n, seed=p.seed, max_tokens=p.max_tokens)),
    Arm("enum", "every single numeric/operator substitution, --enum-cap per expansion", lambda p: p.enum()),
    Arm("retrieval", "grammatical mutations borrowing statements from the target's database neighbours",
        _retrieval),
    Arm("model-unmasked", "the edit model decoding freely (no grammar masks)", lambda p: p.model.free(), "edit"),
    Arm("model+enum", "the model's edits and the enum arm's", _model_plus("enum"), "checkpoint"),
    Arm("model+grammar", "the model's edits and as many grammatical mutations", _model_plus("grammar"),
        "checkpoint"),
    Arm("policy-where", "the policy's sites, uniform edits", lambda p: p.policy("policy-where"), "policy"),
    Arm("policy-what", "uniform sites, the policy's edits", lambda p: p.policy("policy-what"), "policy"),
    Arm("policy+grammar", "the policy's edits and as many grammatical mutations",
        lambda p: p.policy("policy+grammar"), "policy"),
)
BY_NAME = {a.name: a for a in REGISTRY}
ARMS = tuple(BY_NAME)
#: what `--proposer` offers users, `auto` first
USER_ARMS = (AUTO,) + tuple(a.name for a in REGISTRY if a.user)
#: the arms that need a checkpoint, and those that need a policy's
MODEL_ARMS = tuple(a.name for a in REGISTRY if a.needs)
POLICY_ARMS = tuple(a.name for a in REGISTRY if a.needs == "policy")
#: the arms that enumerate instead of editing, and those that are `dream.search.frontier.Proposer`s
TOPDOWN_ARMS = tuple(a.name for a in REGISTRY if a.runs == "enumerate")
#: the arm that enumerates under a recognition checkpoint's per-target grammar (`dream.search.recognition`)
RECOGNITION_ARMS = ("recognition",)
CONSTRUCT_ARMS = tuple(a.name for a in REGISTRY if a.runs == "construct")
SEARCH_ARMS = tuple(a.name for a in REGISTRY if a.runs == "search")


def resolve_auto(kind: str | None, target_kind: str | None = None) -> str:
    """What `auto` searches with: MNIST digits (`target_kind` "mnist") by `construct` (held-out digits, 3 s:
    mean IoU 0.83 against 0.66 for grammar, docs/results), else a checkpoint's family arm (`kind` "edit",
    "policy" or "recognition": DreamCoder test 80 at 5 s, recognition 63 against topdown 50; an edit checkpoint's
    arm refines enumerated starts), else `topdown`, the best model-free search measured (DreamCoder test 80 at
    3 s, one run: topdown 43, grammar from enumerated starts 38)."""
    if target_kind == "mnist":
        return "construct"
    return {"edit": "model", "policy": "policy", "recognition": "recognition"}.get(kind or "", "topdown")


def needs_checkpoint(arm: str) -> bool:
    """Whether an arm (not `auto`) searches with a network: the model arms and `recognition`."""
    return arm in MODEL_ARMS or arm in RECOGNITION_ARMS


def unknown(names) -> list[str]:
    """The names that are not arms (`auto` is one)."""
    return [n for n in names if n != AUTO and n not in BY_NAME]


def checkpoint_problem(arm: str, kind: str | None) -> str | None:
    """Why `arm` cannot search with a checkpoint of `kind` ("edit", "policy"; None: no checkpoint), or None."""
    needs = BY_NAME[arm].needs
    if not needs:
        return None
    if kind is None:
        return f"the proposer {arm} needs --ckpt (a checkpoint directory)"
    if needs == "policy" and kind != "policy":
        return f"the proposer {arm} needs a policy checkpoint (train --model policy), not an edit model's"
    if needs == "edit" and kind != "edit":
        return f"the proposer {arm} needs an edit model's checkpoint (train --model edit), not a policy's"
    return None


def make_proposer(name: str, parts: Parts):
    """A fresh proposer of arm `name` made of `parts`; ValueError naming the problem (an unknown arm, one that
    is not a proposer, a checkpoint it cannot use)."""
    arm = BY_NAME.get(name)
    if arm is None:
        raise ValueError(f"unknown proposer {name!r} (choose from {', '.join(ARMS)})")
    if arm.runs == "enumerate":
        raise ValueError(f"arm {name!r} enumerates programs instead of proposing edits: "
                         "dream.search.solver.Solver runs it (dream.search.topdown)")
    if arm.runs == "construct":
        raise ValueError(f"arm {name!r} constructs programs statement by statement instead of proposing edits: "
                         "dream.search.solver.Solver runs it (dream.search.construct)")
    problem = checkpoint_problem(name, None if parts.model is None else ("policy" if parts.is_policy else "edit"))
    if problem:
        raise ValueError(problem)
    return arm.make(parts)


def describe(names=USER_ARMS) -> str:
    """`name: help` lines of these arms (`auto`'s too), for a command's --help."""
    lines = []
    for n in names:
        if n == AUTO:
            lines.append(f"  {AUTO}: the default: with --ckpt the checkpoint's family ({resolve_auto('edit')}, "
                         f"{resolve_auto('policy')} or {resolve_auto('recognition')}), without one {resolve_auto(None)} "
                         "(the best model-free search measured); MNIST digits construct; every edit arm also starts "
                         "from the enumerated programs nearest the target")
        else:
            lines.append(f"  {n}: {BY_NAME[n].help}" + (" (needs --ckpt)" if BY_NAME[n].needs else ""))
    return "\n".join(textwrap.fill(line, 110, subsequent_indent="      ") for line in lines)
