"""Canonical programs and their token sequences.

A program's tokens are its canonical text (`logo.to_text(canonical(p))`) split into `(`, `)`,
keywords, operators, constants, digits and names, so `" ".join(tokens)` parses back with `logo.parse`.

`canonical(p)` (defined in `logo.canonical`, re-exported here) makes equal programs tokenize equally:
loop variables renamed by depth (`LOOP_VARS`), parameters `p0`, `p1`, ..., commutative operands ordered.
The result draws the same picture as `p`.

    >>> Tokenizer().tokens("(loop x 4 (move (* 2 ul) (/ ua 4)))")
    ['(', 'loop', 'i', '4', '(', 'move', '(', '*', '2', 'ul', ')', '(', '/', 'ua', '4', ')', ')', ')']
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Sequence

import logo
from logo.ast import Program
from logo.canonical import canonical  # noqa: F401  (re-exported; its home is logo)
from logo.forms import LOOP_VARS, PARAMS
from logo.tokens import CONSTANT_TOKENS, DIGIT_TOKENS, KEYWORD_TOKENS, OPERATOR_TOKENS, tokenize

PAD, UNK, BOS, END = "<pad>", "<unk>", "<bos>", "<end>"
SPECIALS = (PAD, UNK, BOS, END)
BASE_TOKENS = (SPECIALS + ("(", ")") + KEYWORD_TOKENS + CONSTANT_TOKENS + OPERATOR_TOKENS + DIGIT_TOKENS
               + LOOP_VARS + PARAMS)


@lru_cache(maxsize=200_000)
def _canonical_tokens(text: str) -> tuple[str, ...]:
    return tuple(tokenize(logo.to_text(canonical(logo.parse(text)))))


def split(text: str) -> list[str]:
    """Split text into tokens without parsing or canonicalising."""
    return tokenize(text)


def canonical_text(program) -> str:
    """`logo.to_text(canonical(program))`."""
    return " ".join(program_tokens(program)).replace("( ", "(").replace(" )", ")")


def program_tokens(program) -> list[str]:
    """Canonical tokens of a Program or program text (cached on the text)."""
    text = program if isinstance(program, str) else logo.to_text(program)
    return list(_canonical_tokens(text))


def join(tokens: Sequence[str]) -> str:
    """Tokens back to parseable program text."""
    return " ".join(tokens)


# ---- the vocabulary ------------------------------------------------------------------------------

class Tokenizer:
    """Token <-> id. Grows when the library adds procedure names (`add`); stored in checkpoints."""

    def __init__(self, vocab: Iterable[str] | None = None):
        self.vocab: list[str] = list(BASE_TOKENS if vocab is None else vocab)
        if tuple(self.vocab[:len(SPECIALS)]) != SPECIALS:
            raise ValueError("a vocabulary starts with the special tokens " + ", ".join(SPECIALS))
        self.index = {t: i for i, t in enumerate(self.vocab)}
        if len(self.index) != len(self.vocab):
            raise ValueError("vocabulary has repeated tokens")

    pad_id, unk_id, bos_id, end_id = 0, 1, 2, 3

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def add(self, tokens: Iterable[str]) -> list[str]:
        """Add new tokens (e.g. library procedure names); returns those that were new."""
        new = []
        for t in tokens:
            if t not in self.index:
                self.index[t] = len(self.vocab)
                self.vocab.append(t)
                new.append(t)
        return new

    def add_library(self, library) -> list[str]:
        """Add the names of a library's procedures (Logo text, a sequence of Define or a dict)."""
        if isinstance(library, str):
            library = logo.parse_library(library)
        names = library.keys() if isinstance(library, dict) else [d.name for d in library]
        return self.add(sorted(names))

    def tokens(self, program) -> list[str]:
        """Canonical tokens of a program (text or `logo.Program`); `" ".join(...)` parses back."""
        return program_tokens(program)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        if isinstance(tokens, (str, Program)):
            tokens = self.tokens(tokens)
        get = self.index.get
        return [get(t, 1) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.vocab[int(i)] for i in ids]

    def to_dict(self) -> dict:
        return {"vocab": list(self.vocab)}

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        return cls(d["vocab"])

    def __repr__(self) -> str:
        return f"Tokenizer({len(self)} tokens)"


def paren_depth(tokens: Sequence[str]) -> list[int]:
    """Nesting depth of each token (a closing parenthesis has the depth of its opener)."""
    out, d = [], 0
    for t in tokens:
        if t == ")":
            d -= 1
        out.append(max(d, 0))
        if t == "(":
            d += 1
    return out
