"""Token edit scripts: what the model emits to turn program A into program B.

An `Edit(op, pos, token)` has op "insert", "delete" or "substitute"; `pos` indexes A's tokens as they
were *before* any edit (0..len(A); an insert at `pos` goes before A[pos], an insert at len(A) appends),
and `token` is the new token (None for a delete).  A well-formed script lists edits in order of `pos`;
at one position the inserts come first (in the order they appear in the result), then at most one
delete or substitute of A[pos].  Applying it is one left-to-right pass:

    >>> a = "( move ul 0 )".split()
    >>> s = edit_script(a, "( move ( * ul 2 ) 0 )".split())
    >>> s
    [Edit(op='insert', pos=2, token='('), Edit(op='insert', pos=2, token='*'), Edit(op='insert', pos=3, token='2'), Edit(op='insert', pos=3, token=')')]
    >>> " ".join(apply_edits(a, s))
    '( move ( * ul 2 ) 0 )'

`edit_script` is a minimal (Levenshtein) script with a fixed tie-break, so equal pairs give equal
targets.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

from logo.tokens import KEYWORD_TOKENS, OPERATOR_TOKENS

INSERT, DELETE, SUBSTITUTE = "insert", "delete", "substitute"
OPS = (INSERT, DELETE, SUBSTITUTE)


class Edit(NamedTuple):
    op: str
    pos: int
    token: str | None = None


class EditError(ValueError):
    """An edit script that is not well-formed for the program it is applied to."""


def check_script(n: int, edits: Sequence[Edit]) -> None:
    """Raise `EditError` unless `edits` is a well-formed script for a program of `n` tokens."""
    min_pos = 0
    for e in edits:
        if e.op not in OPS:
            raise EditError(f"unknown edit operation {e.op!r}")
        if e.pos < min_pos:
            raise EditError(f"edit {e} is out of order (positions must not decrease, and nothing "
                            "may follow a delete/substitute at the same position)")
        if e.op == INSERT:
            if e.pos > n:
                raise EditError(f"insert position {e.pos} is past the end ({n} tokens)")
            if e.token is None:
                raise EditError("an insert needs a token")
            min_pos = e.pos
        else:
            if e.pos >= n:
                raise EditError(f"{e.op} position {e.pos} is past the last token ({n} tokens)")
            if e.op == SUBSTITUTE and e.token is None:
                raise EditError("a substitute needs a token")
            min_pos = e.pos + 1


def apply_edits(a_tokens: Sequence[str], edits: Sequence[Edit]) -> list[str]:
    """Apply a well-formed script (see module doc) to A's tokens; raises `EditError` otherwise."""
    check_script(len(a_tokens), edits)
    out: list[str] = []
    i = 0
    for e in edits:
        out.extend(a_tokens[i:e.pos])
        i = max(i, e.pos)
        if e.op == INSERT:
            out.append(e.token)
        elif e.op == SUBSTITUTE:
            out.append(e.token)
            i = e.pos + 1
        else:
            i = e.pos + 1
    out.extend(a_tokens[i:])
    return out


def distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


_KEYWORDS = frozenset(KEYWORD_TOKENS)
_OPERATORS = frozenset(OPERATOR_TOKENS)


def token_class(t: str) -> int:
    """Coarse syntactic class, for tie-breaking: 0 "(", 1 ")", 2 keyword, 3 operator, 4 operand/name."""
    if t == "(":
        return 0
    if t == ")":
        return 1
    if t in _KEYWORDS:
        return 2
    if t in _OPERATORS:
        return 3
    return 4


_BIG = 1 << 20     # one edit; the secondary cost (odd substitutions) stays far below it


def edit_script(a_tokens: Sequence[str], b_tokens: Sequence[str]) -> list[Edit]:
    """A minimal well-formed script turning A into B (`apply_edits(a, edit_script(a, b)) == list(b)`).

    Among the minimal scripts it prefers the fewest substitutions across syntactic classes (a
    parenthesis for an operand, an operator for a keyword, ...), so edits follow the program's
    structure; remaining ties (walking back from the ends): keep a match, else substitute, else delete,
    else insert, so edits sit as late as possible.
    """
    a, b = list(a_tokens), list(b_tokens)
    # strip the common prefix and suffix: most pairs differ in a small window
    p = 0
    while p < len(a) and p < len(b) and a[p] == b[p]:
        p += 1
    s = 0
    while s < len(a) - p and s < len(b) - p and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    ca, cb = a[p:len(a) - s], b[p:len(b) - s]
    n, m = len(ca), len(cb)
    if n == 0:
        return [Edit(INSERT, p, t) for t in cb]
    if m == 0:
        return [Edit(DELETE, p + i) for i in range(n)]
    ka, kb = [token_class(t) for t in ca], [token_class(t) for t in cb]
    big = _BIG
    d = [[j * big for j in range(m + 1)]]
    for i in range(1, n + 1):
        row = [i * big] + [0] * m
        prev = d[-1]
        x, kx = ca[i - 1], ka[i - 1]
        for j in range(1, m + 1):
            diag = prev[j - 1] if x == cb[j - 1] else prev[j - 1] + big + (kx != kb[j - 1])
            row[j] = min(prev[j] + big, row[j - 1] + big, diag)
        d.append(row)
    edits: list[Edit] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and ca[i - 1] == cb[j - 1] and d[i][j] == d[i - 1][j - 1]:
            i, j = i - 1, j - 1
        elif i > 0 and j > 0 and ca[i - 1] != cb[j - 1] and d[i][j] == d[i - 1][j - 1] + big + (ka[i - 1] != kb[j - 1]):
            edits.append(Edit(SUBSTITUTE, p + i - 1, cb[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and d[i][j] == d[i - 1][j] + big:
            edits.append(Edit(DELETE, p + i - 1))
            i -= 1
        else:
            edits.append(Edit(INSERT, p + i, cb[j - 1]))
            j -= 1
    edits.reverse()
    return edits
