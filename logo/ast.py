"""The Logo AST: small frozen dataclasses, hashable so programs can be set members and dict keys.

Expressions are untyped numbers (lengths, angles and integers share one float type); the interpreter
checks integrality where a count is needed.  Statements draw.  A `Program` is a tuple of procedure
definitions followed by a body of statements.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .forms import COMMUTATIVE, CONSTANTS, KEYWORDS, OPERATORS  # noqa: F401  (re-exported: the DSL's tables)

# ---- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    """An integer literal 0..9."""
    value: int


@dataclass(frozen=True, slots=True)
class Const:
    """A named constant from `CONSTANTS` (`logo.forms`)."""
    name: str


@dataclass(frozen=True, slots=True)
class Var:
    """A loop index or procedure parameter."""
    name: str


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str
    left: "Expr"
    right: "Expr"


Expr = Union[Num, Const, Var, BinOp]

# ---- statements --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    """Go forward `length` units, then turn left by `angle` turns."""
    length: Expr
    angle: Expr


@dataclass(frozen=True, slots=True)
class Loop:
    """Run `body` `count` times with `var` bound to 0, 1, ..., count-1."""
    var: str
    count: Expr
    body: tuple["Stmt", ...]


@dataclass(frozen=True, slots=True)
class Embed:
    """Save the whole turtle state, run `body`, restore the state (DreamCoder's `embed`)."""
    body: tuple["Stmt", ...]


@dataclass(frozen=True, slots=True)
class PenUp:
    """Lift the pen around `body`; position and heading changes are kept (DreamCoder's `p`)."""
    body: tuple["Stmt", ...]


@dataclass(frozen=True, slots=True)
class Call:
    """Call the user procedure `name` with numeric arguments."""
    name: str
    args: tuple[Expr, ...]


Stmt = Union[Move, Loop, Embed, PenUp, Call]


@dataclass(frozen=True, slots=True)
class Define:
    """A user procedure: `(define (name params...) body...)`."""
    name: str
    params: tuple[str, ...]
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class Program:
    defs: tuple[Define, ...]
    body: tuple[Stmt, ...]


Node = Union[Expr, Stmt, Define, Program]

#: The AST class of each statement form (`logo.forms.STATEMENT_FORMS`; its fields are the form's slots) and
#: of a procedure call (`logo.forms.CALL`).
STATEMENT_CLASSES: dict[str, type] = {"move": Move, "loop": Loop, "embed": Embed, "penup": PenUp, "call": Call}
#: The form of each statement class.
FORM_OF: dict[type, str] = {cls: form for form, cls in STATEMENT_CLASSES.items()}


def program(*body: Stmt, defs: tuple[Define, ...] = ()) -> Program:
    """Convenience constructor: `program(Move(...), Loop(...))`."""
    return Program(tuple(defs), tuple(body))


def children(node: Node) -> tuple:
    """The direct sub-nodes of `node`, in print order."""
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, Move):
        return (node.length, node.angle)
    if isinstance(node, Loop):
        return (node.count, *node.body)
    if isinstance(node, (Embed, PenUp)):
        return node.body
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Define):
        return node.body
    if isinstance(node, Program):
        return (*node.defs, *node.body)
    return ()


def walk(node: Node):
    """Pre-order traversal of every node under (and including) `node`."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def size(node: Node) -> int:
    """Number of AST nodes: a length measure independent of the surface syntax."""
    return sum(1 for _ in walk(node))
