"""A procedure library as text (only `(define ...)` forms) -> its definitions, and the solve size.

    >>> [d.name for d in parse_library("(define (sq a) (loop i 4 (move a ua)))")]
    ['sq']
    >>> parse_library(None), parse_library("  ")
    ((), ())
"""
from __future__ import annotations

from .ast import Define
from .syntax import parse

SOLVE_SIZE = 28
"""The image size (pixels) at which a program is judged to solve a target (DreamCoder's criterion)."""


def parse_library(text: str | None) -> tuple[Define, ...]:
    """The definitions of a library text; empty or None -> ().

    Raises `logo.LogoSyntaxError` for text that does not parse and ValueError when it holds statements
    besides definitions (a library only defines procedures)."""
    if not text or not text.strip():
        return ()
    prog = parse(text)
    if prog.body:
        raise ValueError("a library holds only (define ...) forms")
    return tuple(prog.defs)
