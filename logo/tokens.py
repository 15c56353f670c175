"""Logo text as tokens: the one definition shared by the DSL, the database, the model, search and compressor.

A token is "(", ")" or a maximal run of characters that are neither whitespace nor parentheses; the
length of a program is its number of tokens, parentheses included:

    >>> tokenize("(move ul (/ ua 4))")
    ['(', 'move', 'ul', '(', '/', 'ua', '4', ')', ')']
    >>> n_tokens("(move ul (/ ua 4))")
    9

Comments are not special here (callers tokenize canonical text, which has none).

`read_sexpr` reads such tokens as one s-expression: the one reader behind DreamCoder's LOGO syntax
(`logo.dreamcoder`) and the compressor's λ-calculus programs (`library.sexpr`).
"""
from __future__ import annotations

import re
from typing import Any, Callable

from .errors import LogoSyntaxError, ProgramSizeError

from .forms import CONSTANTS, DEFINE, DIGITS, OPERATORS, STATEMENT_FORMS

TOKEN_RE = re.compile(r"\(|\)|[^\s()]+")

#: The default program length (tokens) the edit model reads, the search expands and the mutator writes.
#: A trained model's own limit is `ModelConfig.max_tokens` in its checkpoint; this is the default for it
#: and the limit of every arm that has no model.
CONTEXT_TOKENS = 96

#: The number, operator and keyword tokens, the one table of the token-level arms (`model.edit.mutations`,
#: `dream.search.baselines`) and the tokenizer (`model.tokenizer`): the digits 0..9, the named constants of
#: `logo.forms.CONSTANTS` in their order, the operators, and the keywords (statement forms, then define).
DIGIT_TOKENS = tuple(str(d) for d in DIGITS)
CONSTANT_TOKENS = tuple(CONSTANTS)
NUMERIC_TOKENS = DIGIT_TOKENS + CONSTANT_TOKENS
OPERATOR_TOKENS = tuple(OPERATORS)
KEYWORD_TOKENS = tuple(STATEMENT_FORMS) + (DEFINE,)


def tokenize(text: str) -> list[str]:
    """The tokens of `text`, in order (no parsing, no canonicalisation)."""
    return TOKEN_RE.findall(text)


def n_tokens(text: str) -> int:
    """Program length: `len(tokenize(text))`, computed without building the list (it is on hot paths)."""
    return len(text.replace("(", " ").replace(")", " ").split()) + text.count("(") + text.count(")")


def read_sexpr(text: str, atom: Callable[[str], Any] | None = None, node: Callable[[list], Any] | None = None,
               max_nesting: int | None = None):
    """Read `text` as exactly one s-expression over `TOKEN_RE`'s tokens.

    Without `atom`/`node` the result is nested lists of atom strings; with them, `atom(token)` builds each
    atom and `node(items)` each closed list, bottom-up and in text order (no recursion, so deep text
    cannot exhaust the stack). Raises `LogoSyntaxError` for unbalanced parentheses or not exactly one
    expression, `ProgramSizeError` when parentheses nest deeper than `max_nesting` (None: no limit).
    """
    stack: list[list] = [[]]
    for m in TOKEN_RE.finditer(text):
        tok = m.group()
        if tok == "(":
            if max_nesting is not None and len(stack) > max_nesting:
                raise ProgramSizeError(f"parentheses nest deeper than {max_nesting}")
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise LogoSyntaxError(f"unbalanced ')' at offset {m.start()}")
            items = stack.pop()
            stack[-1].append(items if node is None else node(items))
        else:
            stack[-1].append(tok if atom is None else atom(tok))
    if len(stack) != 1:
        raise LogoSyntaxError("unbalanced '(': missing ')' at end of input")
    if len(stack[0]) != 1:
        raise LogoSyntaxError(f"expected one s-expression, found {len(stack[0])}")
    return stack[0][0]
