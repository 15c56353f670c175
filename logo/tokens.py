"""Logo text as tokens: the one definition shared by the DSL, the database, the model, search and compressor.

A token is "(", ")" or a maximal run of characters that are neither whitespace nor parentheses; the
length of a program is its number of tokens, parentheses included:

    >>> tokenize("(move ul (/ ua 4))")
    ['(', 'move', 'ul', '(', '/', 'ua', '4', ')', ')']
    >>> n_tokens("(move ul (/ ua 4))")
    9

Comments are not special here (callers tokenize canonical text, which has none).
"""
from __future__ import annotations

import re

from .ast import CONSTANTS, OPERATORS

TOKEN_RE = re.compile(r"\(|\)|[^\s()]+")

#: The default program length (tokens) the edit model reads, the search expands and the mutator writes.
#: A trained model's own limit is `ModelConfig.max_tokens` in its checkpoint; this is the default for it
#: and the limit of every arm that has no model.
CONTEXT_TOKENS = 96

#: The number and operator tokens, the one table of the token-level arms (`model.mutations`, `dream.baselines`):
#: the digits 0..9, the named constants of `logo.ast.CONSTANTS` in their order, and the operators.
DIGIT_TOKENS = tuple(str(d) for d in range(10))
CONSTANT_TOKENS = tuple(CONSTANTS)
NUMERIC_TOKENS = DIGIT_TOKENS + CONSTANT_TOKENS
OPERATOR_TOKENS = tuple(OPERATORS)


def tokenize(text: str) -> list[str]:
    """The tokens of `text`, in order (no parsing, no canonicalisation)."""
    return TOKEN_RE.findall(text)


def n_tokens(text: str) -> int:
    """Program length: `len(tokenize(text))`, computed without building the list (it is on hot paths)."""
    return len(text.replace("(", " ").replace(")", " ").split()) + text.count("(") + text.count(")")
