"""The DSL's grammar as data: the one table of what a Logo program is made of.

Every part that reads or writes programs by their grammar takes its facts from here: the parser's tables
(`logo.syntax`; `logo/grammar.lark` stays the reference parser, and `tests/test_logo_forms.py` checks that
it says the same), the AST (`logo.ast`: a statement class's fields are its form's slots), the mutator
(`logo.mutate`, `logo.generate`), the probabilistic grammar (`logo.pcfg`), the enumerator and the two
grammar-masked decoders (`model.grammar`, `model.edit.grammar`).

- **Statement forms**: `(KEYWORD slot ...)` for each keyword of `STATEMENT_FORMS`, and a call of a library
  procedure, `(NAME arg ...)` (form `CALL`, as many arguments as the procedure has parameters). A slot is
  an expression of a *role* (`ROLES`), `VAR` (the loop variable a loop binds; its body sees it) or `BODY`
  (a block of statements, never empty in programs the generators write).
- **Expressions**: an integer literal (`DIGITS`), a named constant (`CONSTANTS`), a variable in scope,
  or `(OP left right)` for an operator of `OPERATORS`. The constants an expression of a role uses are
  `ROLE_CONSTANTS` (every DreamCoder task and every generated program keeps to them; a call's arguments
  may use any).
- **Names**: `KEYWORDS` cannot name anything; loop variables are named by nesting depth in canonical form
  (`LOOP_VARS`, `loop_var`), procedure parameters by position (`PARAMS`).

    >>> STATEMENT_FORMS["loop"], BLOCK_FORMS, ROLE_CONSTANTS["angle"]
    (('var', 'count', 'body'), ('loop', 'embed', 'penup'), ('ua', 'eps_a'))
"""
from __future__ import annotations

#: Named constants and their values (DreamCoder's `1l`, `1a`, `epsilonLength`, `epsilonAngle`, `infinity`).
CONSTANTS: dict[str, float] = {
    "ul": 1.0,       # one unit of length
    "ua": 1.0,       # one full turn (angles are in turns)
    "eps_l": 0.05,   # epsilon length
    "eps_a": 0.025,  # epsilon angle, 1/40 turn
    "inf": 20.0,     # DreamCoder's "infinity": 20 steps
}

#: Integer literals: one digit each (larger numbers are built with arithmetic).
DIGITS = tuple(range(10))

#: Binary operators; `+` and `*` are commutative.
OPERATORS = ("+", "-", "*", "/")
COMMUTATIVE = frozenset({"+", "*"})

#: The roles of expression slots: a move's length and angle, a loop's count, a procedure call's argument.
ROLES = ("length", "angle", "count", "arg")
#: The slot of a loop that names its variable, and the slot of a block's statements.
VAR, BODY = "var", "body"

#: The statement forms with a keyword and their slots, in print order; each slot's name is the field of the
#: form's AST class (`logo.ast.Move.length`, `Loop.var`, `Loop.body`, ...).
STATEMENT_FORMS: dict[str, tuple[str, ...]] = {
    "move": ("length", "angle"),
    "loop": (VAR, "count", BODY),
    "embed": (BODY,),
    "penup": (BODY,),
}
#: A call of a library procedure (no keyword: the procedure's name heads it); its slots are all "arg".
CALL = "call"
#: The role of every argument of a call.
ARG_ROLE = "arg"
#: The forms whose last slot is a block of statements.
BLOCK_FORMS = tuple(form for form, slots in STATEMENT_FORMS.items() if BODY in slots)
#: The roles of the keyword forms' expression slots (length, angle, count), in the order the forms name them.
STATEMENT_ROLES = tuple(slot for slots in STATEMENT_FORMS.values() for slot in slots if slot in ROLES)

#: The constants an expression of each role may use (`model.grammar` masks decoding with these).
ROLE_CONSTANTS: dict[str, tuple[str, ...]] = {
    "length": ("ul", "eps_l"),
    "angle": ("ua", "eps_a"),
    "count": ("inf",),
    "arg": tuple(CONSTANTS),
}

#: A procedure definition: `(define (NAME PARAM ...) stmt ...)` (only at the top of a program).
DEFINE = "define"
#: Words that cannot name a procedure, parameter or loop variable.
KEYWORDS = frozenset(STATEMENT_FORMS) | {DEFINE} | frozenset(CONSTANTS)

#: Canonical loop variable names, by nesting depth (`logo.canonical`).
LOOP_VARS = ("i", "j", "k", "l", "m", "n") + tuple(f"v{d}" for d in range(6, 16))
#: Canonical procedure parameter names, by position.
PARAMS = tuple(f"p{d}" for d in range(8))


def loop_var(depth: int) -> str:
    """The canonical name of a loop variable bound at nesting `depth`."""
    return LOOP_VARS[depth] if depth < len(LOOP_VARS) else f"v{depth}"
