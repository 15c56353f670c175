"""Read DreamCoder's LOGO surface syntax (the `source` strings of its task list) into our AST.

Follows ellisk42/ec's `parseLogo`: the whole text is first read as one command; if its head is not a
command keyword it is read as a block of commands.  See README ("DreamCoder syntax") for the mapping.
"""
from __future__ import annotations


from .ast import BinOp, Const, Embed, Loop, Move, Num, PenUp, Program, Var
from .errors import LogoSyntaxError, ProgramSizeError
from .syntax import MAX_NESTING, MAX_TEXT_CHARS, literal_value
from .tokens import read_sexpr

_ATOMS = {
    "1a": Const("ua"), "0a": Num(0), "1d": Const("ul"), "1l": Const("ul"), "0d": Num(0), "0l": Num(0),
    "epsilonAngle": Const("eps_a"), "epsilonLength": Const("eps_l"), "epsilonDistance": Const("eps_l"),
    "infinity": Const("inf"), "inf": Const("inf"),
}
_OPS = {"*d": "*", "*l": "*", "*a": "*", "/d": "/", "/l": "/", "/a": "/", "+a": "+", "-a": "-"}
_COMMANDS = {"move", "loop", "for", "embed", "p"}


def _expr(x, bound: set[str]):
    if isinstance(x, str):
        if x in _ATOMS:
            return _ATOMS[x]
        if x.isdigit():
            return Num(literal_value(x))
        if x in bound:
            return Var(x)
        raise LogoSyntaxError(f"unknown atom {x!r} (not a constant, an integer or a bound loop variable)")
    if len(x) == 3 and isinstance(x[0], str) and x[0] in _OPS:
        return BinOp(_OPS[x[0]], _expr(x[1], bound), _expr(x[2], bound))
    raise LogoSyntaxError(f"not an expression: {_show(x)}")


def _command(x, bound: set[str]):
    if not (isinstance(x, list) and x and isinstance(x[0], str) and x[0] in _COMMANDS):
        raise LogoSyntaxError(f"not a command: {_show(x)}")
    head, args = x[0], x[1:]
    if head == "move":
        if len(args) != 2:
            raise LogoSyntaxError(f"move takes a length and an angle: {_show(x)}")
        return Move(_expr(args[0], bound), _expr(args[1], bound))
    if head in ("loop", "for"):
        if len(args) < 2 or not isinstance(args[0], str):
            raise LogoSyntaxError(f"{head} takes a variable, a count and a body: {_show(x)}")
        var = args[0]
        count = _expr(args[1], bound)
        return Loop(var, count, tuple(_command(c, bound | {var}) for c in args[2:]))
    body = tuple(_command(c, bound) for c in args)
    return Embed(body) if head == "embed" else PenUp(body)


def _show(x) -> str:
    if isinstance(x, str):
        return x
    return "(" + " ".join(_show(y) for y in x) + ")"


def from_dreamcoder(text: str) -> Program:
    """Parse a DreamCoder LOGO program (e.g. "((loop i 4 (move 1l (/a 1a 4))))") into a `Program`."""
    if len(text) > MAX_TEXT_CHARS:
        raise ProgramSizeError(f"program text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    sx = read_sexpr(text, max_nesting=MAX_NESTING)      # nested lists of atom strings
    if isinstance(sx, list) and sx and isinstance(sx[0], str) and sx[0] in _COMMANDS:
        return Program((), (_command(sx, set()),))
    if not isinstance(sx, list):
        raise LogoSyntaxError(f"not a program: {_show(sx)}")
    return Program((), tuple(_command(c, set()) for c in sx))
