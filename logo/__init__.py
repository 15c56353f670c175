"""The Logo DSL: grammar, AST, printer, interpreter and rasterizer.

    >>> import logo
    >>> p = logo.parse("(loop i 4 (move ul (/ ua 4)))")
    >>> logo.render(p, size=28).shape
    (28, 28)
"""
from .ast import (BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Program, Var, program,
                  size as ast_size, walk)
from .errors import (ArityError, CallDepthError, LimitError, LogoError, LogoSyntaxError, LoopLimitError,
                     NumericRangeError, ProgramSizeError, SegmentLimitError, StepLimitError,
                     UnboundNameError)
from .syntax import parse, to_text
from .interp import contained, render, render_segments, run
from .batch import Verdict, render_batch, render_checked, render_checked_sizes
from .dreamcoder import from_dreamcoder
from .library import SOLVE_SIZE, parse_library
from .tokens import CONTEXT_TOKENS, TOKEN_RE, n_tokens, tokenize

__all__ = [
    "parse", "to_text", "run", "render", "render_batch", "render_checked", "render_checked_sizes", "Verdict", "render_segments", "contained", "from_dreamcoder",
    "LogoError", "LogoSyntaxError", "UnboundNameError", "ArityError", "LimitError", "StepLimitError",
    "SegmentLimitError", "LoopLimitError", "CallDepthError", "ProgramSizeError", "NumericRangeError",
    "Program", "Define", "Move", "Loop", "Embed", "PenUp", "Call", "Num", "Const", "Var", "BinOp",
    "program", "walk", "ast_size", "parse_library", "SOLVE_SIZE", "TOKEN_RE", "tokenize", "n_tokens", "CONTEXT_TOKENS",
]
