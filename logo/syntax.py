"""Parse program text into the AST (lark, LALR) and print it back canonically.

`to_text(parse(t))` is the canonical form of `t`, and `parse(to_text(p)) == p` for every AST `p`.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import lark

from .ast import BinOp, Call, Const, Define, Embed, Expr, Loop, Move, Num, PenUp, Program, Stmt, Var
from .errors import LogoSyntaxError, ProgramSizeError
from .forms import CONSTANTS, DEFINE, DIGITS, KEYWORDS, OPERATORS, STATEMENT_FORMS

MAX_TEXT_CHARS = 200_000
MAX_NESTING = 100


class _ToAst(lark.Transformer):
    """Grammar rules -> AST nodes (one method per rule alias, as in lark's own examples)."""

    def start(self, items):
        defs = tuple(i for i in items if isinstance(i, Define))
        body = tuple(i for i in items if not isinstance(i, Define))
        return Program(defs, body)

    def define(self, items):
        name, *rest = items
        params = tuple(str(t) for t in rest if isinstance(t, lark.Token))
        body = tuple(t for t in rest if not isinstance(t, lark.Token))
        _check_name(name)
        for p in params:
            _check_name(p)
        if len(set(params)) != len(params):
            raise LogoSyntaxError(f"procedure {name} repeats a parameter name", name.line, name.column)
        return Define(str(name), params, body)

    def move(self, items):
        return Move(items[0], items[1])

    def loop(self, items):
        var, count, *body = items
        _check_name(var)
        return Loop(str(var), count, tuple(body))

    def embed(self, items):
        return Embed(tuple(items))

    def penup(self, items):
        return PenUp(tuple(items))

    def call(self, items):
        name, *args = items
        _check_name(name)
        return Call(str(name), tuple(args))

    def num(self, items):
        tok = items[0]
        return Num(literal_value(str(tok), tok.line, tok.column))

    def const(self, items):
        return Const(str(items[0]))

    def var(self, items):
        _check_name(items[0])
        return Var(str(items[0]))

    def binop(self, items):
        return BinOp(str(items[0]), items[1], items[2])


def literal_value(tok: str, line: int | None = None, column: int | None = None) -> int:
    """The value of an integer literal 0..9 (leading zeros allowed); anything else is a `LogoSyntaxError`.

    Checks the digits before converting, so a literal of thousands of digits is an ordinary syntax
    error rather than Python's int-conversion limit (`ValueError`).
    """
    digits = tok.lstrip("0") or "0"
    if not (tok.isascii() and tok.isdigit()):
        raise LogoSyntaxError(f"{_clip(tok)!r} is not an integer literal", line, column)
    if len(digits) > 1:
        raise LogoSyntaxError(f"integer literal {_clip(tok)} is out of range: literals are 0..9, "
                              "build larger numbers with arithmetic", line, column)
    return int(digits)


def _clip(tok: str, width: int = 40) -> str:
    return tok if len(tok) <= width else f"{tok[:width]}... ({len(tok)} characters)"


def _check_name(tok) -> None:
    if str(tok) in KEYWORDS:
        raise LogoSyntaxError(f"'{tok}' is a keyword and cannot be used as a name",
                              getattr(tok, "line", None), getattr(tok, "column", None))


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr")


def _check_nesting(text: str) -> None:
    depth = 0
    for line_no, line in enumerate(text.split("\n"), 1):
        for col, ch in enumerate(line, 1):
            if ch == "(":
                depth += 1
                if depth > MAX_NESTING:
                    raise ProgramSizeError(f"line {line_no}, column {col}: parentheses nest deeper "
                                           f"than {MAX_NESTING}")
            elif ch == ")":
                depth -= 1
            elif ch == ";":
                break


def parse(text: str) -> Program:
    """Parse program text; raises `LogoSyntaxError` naming line, column and what was expected.

    Well-formed text takes a fast hand-written path (`_fast_parse`, about 20x quicker than lark, which
    matters when the search parses thousands of candidates); anything it does not accept goes to the
    lark parser, which is the reference for the grammar and gives the error messages.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() takes program text, not {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ProgramSizeError(f"program text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    program = _fast_parse(text)
    if program is not None:
        return program
    return parse_with_lark(text)


def parse_with_lark(text: str) -> Program:
    """The reference parser (lark LALR on grammar.lark)."""
    if len(text) > MAX_TEXT_CHARS:
        raise ProgramSizeError(f"program text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    _check_nesting(text)
    try:
        tree = _parser().parse(text)
        return _ToAst().transform(tree)
    except lark.exceptions.VisitError as e:
        if isinstance(e.orig_exc, LogoSyntaxError):
            raise e.orig_exc from None
        raise
    except lark.exceptions.UnexpectedToken as e:
        expected = tuple(sorted(_pretty_terminal(t) for t in e.expected))
        got = "end of input" if e.token.type == "$END" else repr(str(e.token))
        raise LogoSyntaxError(f"unexpected {got}; expected one of: {', '.join(expected)}",
                              e.line if e.line != -1 else None, e.column if e.column != -1 else None,
                              expected) from None
    except lark.exceptions.UnexpectedCharacters as e:
        expected = tuple(sorted(_pretty_terminal(t) for t in (e.allowed or ())))
        msg = f"unexpected character {text[e.pos_in_stream]!r}"
        if expected:
            msg += f"; expected one of: {', '.join(expected)}"
        raise LogoSyntaxError(msg, e.line, e.column, expected) from None
    except lark.exceptions.UnexpectedEOF as e:
        expected = tuple(sorted(_pretty_terminal(t) for t in e.expected))
        raise LogoSyntaxError(f"unexpected end of input; expected one of: {', '.join(expected)}",
                              None, None, expected) from None


_TERMINAL_NAMES = {"LPAR": "'('", "RPAR": "')'", "NAME": "a name", "INT": f"an integer {DIGITS[0]}..{DIGITS[-1]}",
                   "CONST": f"a constant ({' '.join(CONSTANTS)})", "OP": f"an operator ({' '.join(OPERATORS)})",
                   **{word.upper(): f"'{word}'" for word in (*STATEMENT_FORMS, DEFINE)}, "$END": "end of input"}


def _pretty_terminal(name: str) -> str:
    return _TERMINAL_NAMES.get(name, name)


# ---- fast path -------------------------------------------------------------------------------

_ATOM = re.compile(r"\(|\)|;[^\n]*|[^\s();]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _Reject(Exception):
    """The fast path declines; the lark parser decides."""


#: leaves are immutable values: the fast path shares one object per digit, constant and (common) name, which
#: spares a constructor call per leaf (the search parses every candidate text)
_NUMS = tuple(Num(d) for d in DIGITS)
_OPERATORS = frozenset(OPERATORS)
_CONSTS = {c: Const(c) for c in CONSTANTS}
_VARS: dict[str, Var] = {}
_MAX_SHARED_VARS = 256


def _var(name: str) -> Var:
    v = _VARS.get(name)
    if v is None:
        v = Var(name)
        if len(_VARS) < _MAX_SHARED_VARS:
            _VARS[name] = v
    return v


def _fast_parse(text: str) -> Program | None:
    """Recursive descent over whitespace-separated atoms; None when in any doubt."""
    toks = [t for t in _ATOM.findall(text) if t[0] != ";"]
    n = len(toks)
    pos = 0

    def expr(depth: int):
        nonlocal pos
        if pos >= n or depth > MAX_NESTING:
            raise _Reject
        t = toks[pos]
        pos += 1
        if t == "(":
            if pos + 3 >= n + 1 or toks[pos] not in _OPERATORS:
                raise _Reject
            op = toks[pos]
            pos += 1
            left = expr(depth + 1)
            right = expr(depth + 1)
            if pos >= n or toks[pos] != ")":
                raise _Reject
            pos += 1
            return BinOp(op, left, right)
        if t.isdigit() and t.isascii():
            digits = t.lstrip("0") or "0"
            if len(digits) > 1:
                raise _Reject
            return _NUMS[int(digits)]
        c = _CONSTS.get(t)
        if c is not None:
            return c
        if _NAME.match(t) and t not in KEYWORDS:
            return _var(t)
        raise _Reject

    def name() -> str:
        nonlocal pos
        if pos >= n or not _NAME.match(toks[pos]) or toks[pos] in KEYWORDS:
            raise _Reject
        pos += 1
        return toks[pos - 1]

    def body(depth: int) -> tuple:
        nonlocal pos
        out = []
        while pos < n and toks[pos] == "(":
            out.append(stmt(depth))
        if pos >= n or toks[pos] != ")":
            raise _Reject
        pos += 1
        return tuple(out)

    def stmt(depth: int):
        nonlocal pos
        if depth > MAX_NESTING or pos + 1 >= n or toks[pos] != "(":
            raise _Reject
        head = toks[pos + 1]
        pos += 2
        if head == "move":
            length = expr(depth + 1)
            angle = expr(depth + 1)
            if pos >= n or toks[pos] != ")":
                raise _Reject
            pos += 1
            return Move(length, angle)
        if head == "loop":
            var = name()
            count = expr(depth + 1)
            return Loop(var, count, body(depth + 1))
        if head == "embed":
            return Embed(body(depth + 1))
        if head == "penup":
            return PenUp(body(depth + 1))
        pos -= 1
        callee = name()
        args = []
        while pos < n and toks[pos] != ")":
            args.append(expr(depth + 1))
        if pos >= n:
            raise _Reject
        pos += 1
        return Call(callee, tuple(args))

    try:
        defs = []
        while pos + 1 < n and toks[pos] == "(" and toks[pos + 1] == "define":
            pos += 2
            if pos >= n or toks[pos] != "(":
                raise _Reject
            pos += 1
            proc = name()
            params = []
            while pos < n and toks[pos] != ")":
                params.append(name())
            pos += 1
            if len(set(params)) != len(params):
                raise _Reject
            defs.append(Define(proc, tuple(params), body(1)))
        stmts = []
        while pos < n:
            stmts.append(stmt(0))
        return Program(tuple(defs), tuple(stmts))
    except (_Reject, RecursionError):
        return None
    finally:            # the nested functions refer to each other: break the cycle so no garbage collector is needed
        expr = name = body = stmt = None  # noqa: F841


# ---- printing ----------------------------------------------------------------------------------

def expr_text(e: Expr) -> str:
    if isinstance(e, Num):
        return str(e.value)
    if isinstance(e, (Const, Var)):
        return e.name
    if isinstance(e, BinOp):
        return f"({e.op} {expr_text(e.left)} {expr_text(e.right)})"
    raise TypeError(f"not an expression: {e!r}")


def _body_text(body) -> str:
    return "".join(" " + stmt_text(s) for s in body)


def stmt_text(s: Stmt) -> str:
    if isinstance(s, Move):
        return f"(move {expr_text(s.length)} {expr_text(s.angle)})"
    if isinstance(s, Loop):
        return f"(loop {s.var} {expr_text(s.count)}{_body_text(s.body)})"
    if isinstance(s, Embed):
        return f"(embed{_body_text(s.body)})"
    if isinstance(s, PenUp):
        return f"(penup{_body_text(s.body)})"
    if isinstance(s, Call):
        return f"({s.name}{''.join(' ' + expr_text(a) for a in s.args)})"
    raise TypeError(f"not a statement: {s!r}")


def define_text(d: Define) -> str:
    return f"(define ({' '.join((d.name, *d.params))}){_body_text(d.body)})"


def to_text(node) -> str:
    """Canonical one-line text of a program (or of any statement, expression or definition)."""
    if isinstance(node, Program):
        return " ".join([*(define_text(d) for d in node.defs), *(stmt_text(s) for s in node.body)])
    if isinstance(node, Define):
        return define_text(node)
    if isinstance(node, (Move, Loop, Embed, PenUp, Call)):
        return stmt_text(node)
    return expr_text(node)


# ---- size without printing -----------------------------------------------------------------------

def _expr_tokens(e, depth: int, max_nesting: int) -> int:
    if type(e) is not BinOp:
        return 1
    if depth >= max_nesting:
        raise ProgramSizeError(f"parentheses nest deeper than {max_nesting}")
    return 3 + _expr_tokens(e.left, depth + 1, max_nesting) + _expr_tokens(e.right, depth + 1, max_nesting)


def _body_tokens(body, depth: int, max_nesting: int) -> int:
    total = 0
    for s in body:
        total += _stmt_tokens(s, depth, max_nesting)
    return total


def _stmt_tokens(s, depth: int, max_nesting: int) -> int:
    if depth >= max_nesting:
        raise ProgramSizeError(f"parentheses nest deeper than {max_nesting}")
    t = type(s)
    d = depth + 1
    if t is Move:                                                       # ( move length angle )
        return 3 + _expr_tokens(s.length, d, max_nesting) + _expr_tokens(s.angle, d, max_nesting)
    if t is Loop:                                                       # ( loop var count body )
        return 4 + _expr_tokens(s.count, d, max_nesting) + _body_tokens(s.body, d, max_nesting)
    if t is Embed or t is PenUp:                                        # ( embed body )
        return 3 + _body_tokens(s.body, d, max_nesting)
    if t is Call:                                                       # ( name args )
        total = 3
        for a in s.args:
            total += _expr_tokens(a, d, max_nesting)
        return total
    raise TypeError(f"not a statement: {s!r}")


def count_tokens(node, max_nesting: int = MAX_NESTING) -> int:
    """`n_tokens(to_text(node))` without printing (the search counts every candidate tree); raises
    `ProgramSizeError` when the text's parentheses would nest deeper than `max_nesting`, which `parse`
    refuses, so a counted tree's text always parses back."""
    t = type(node)
    if t is Program:                                                    # ( define ( name params ) body )
        total = _body_tokens(node.body, 0, max_nesting)
        for d in node.defs:
            total += 6 + len(d.params) + _body_tokens(d.body, 1, max_nesting)
        return total
    if t is Define:
        return 6 + len(node.params) + _body_tokens(node.body, 1, max_nesting)
    if t in (Move, Loop, Embed, PenUp, Call):
        return _stmt_tokens(node, 0, max_nesting)
    if t in (Num, Const, Var, BinOp):
        return _expr_tokens(node, 0, max_nesting)
    raise TypeError(f"not a program node: {node!r}")
