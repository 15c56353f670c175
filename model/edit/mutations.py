"""Random small token mutations of a program (the "mutation" training pairs: A = mutate(B)).

The changes are the kind a search makes: change a number or operator, wrap a leaf in arithmetic,
insert a move, delete a move. The result may not parse; callers check.
"""
from __future__ import annotations

import random
from typing import Sequence

from logo.forms import STATEMENT_FORMS
from logo.tokens import DIGIT_TOKENS, NUMERIC_TOKENS, OPERATOR_TOKENS

_LEAVES = frozenset(NUMERIC_TOKENS + OPERATOR_TOKENS)     # a set: this runs for every token of every mutation


def mutate_tokens(tokens: Sequence[str], rng: random.Random, n_edits: int) -> list[str]:
    """Up to `n_edits` small random token changes (the result may not parse; callers check)."""
    t = list(tokens)
    for _ in range(n_edits):
        r = rng.random()
        leaves = [i for i, x in enumerate(t) if x in _LEAVES]
        if r < 0.5 and leaves:
            i = rng.choice(leaves)
            t[i] = rng.choice(OPERATOR_TOKENS if t[i] in OPERATOR_TOKENS else NUMERIC_TOKENS)
        elif r < 0.65 and leaves:                       # wrap a leaf: x -> (op x d)
            i = rng.choice([i for i in leaves if t[i] not in OPERATOR_TOKENS] or leaves)
            if t[i] in OPERATOR_TOKENS:
                continue
            t[i:i + 1] = ["(", rng.choice(OPERATOR_TOKENS), t[i], rng.choice(DIGIT_TOKENS), ")"]
        elif r < 0.8:                                    # insert a move at a statement boundary
            starts = [i for i in range(len(t)) if t[i] == "(" and i + 1 < len(t)
                      and t[i + 1] in STATEMENT_FORMS] + [len(t)]
            i = rng.choice(starts)
            t[i:i] = ["(", "move", rng.choice(NUMERIC_TOKENS[:6] + ("ul",)),
                      rng.choice(NUMERIC_TOKENS[:4] + ("ua", "0")), ")"]
        else:                                           # delete a statement
            starts = [i for i in range(len(t)) if t[i] == "(" and i + 1 < len(t) and t[i + 1] == "move"]
            if not starts:
                continue
            i = rng.choice(starts)
            j = t.index(")", i)
            if "(" in t[i + 1:j]:                        # move with compound args: find the match
                d, j = 0, i
                while True:
                    d += t[j] == "("
                    d -= t[j] == ")"
                    if d == 0:
                        break
                    j += 1
            del t[i:j + 1]
    return t
