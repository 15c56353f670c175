"""Position-independent bytecode fragments: compile each enumerated statement once, reuse it everywhere.

`logo.bytecode` compiles a whole program at a time (a walk over its AST). An enumerator builds millions of
programs out of far fewer statements, so here every statement is compiled once, to a *fragment* whose
jump targets are relative to its own start and whose variable slots are fixed by loop depth (the loop at
depth d keeps its index in slot d, so a fragment means the same wherever it is placed at that depth);
constants come from one fixed pool (every literal of the DSL is a digit or a named constant). A program's
code is its statements' fragments laid end to end, with the jump fields moved by where each one lands.
The result runs on the same numba VM (`logo.vm`) as `logo.render_checked`, so drawings are identical.

A fragment is a tuple `(code, jumps, n_slots, lowest)`: the flat (op, a, b) ints, the flat positions
of its jump fields, the slots it needs, and the lowest slot it reads (a statement at depth d is *closed*,
free of outer loop variables, when lowest >= d).
"""
from __future__ import annotations

import numpy as np

from .ast import CONSTANTS, BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Var
from .bytecode import (BINOPS, CONST, ENDLOOP, HALT, LOOP, MAX_CALL_DEPTH, MAX_CODE, MAX_FRAMES, MAX_SLOTS,
                       MAX_STACK, MOVE, PENPOP, PENUP, RESTORE, SAVE, SETVAR, VAR, CodeBatch)
from .errors import ArityError, CallDepthError, ProgramSizeError, UnboundNameError

POOL = tuple(float(d) for d in range(10)) + tuple(sorted({v for v in CONSTANTS.values() if v not in range(10)}))
_INDEX = {v: i for i, v in enumerate(POOL)}
NO_VAR = 1 << 30                  # `lowest` of a fragment that reads no variable
_POOL_ARRAY = np.asarray(POOL, np.float64)

Fragment = tuple  # (code: tuple[int, ...], jumps: tuple[int, ...], n_slots: int, lowest: int)


def const_code(value: float) -> tuple:
    return (CONST, _INDEX[float(value)], 0)


# ---- expressions -----------------------------------------------------------------------------------

def num_code(e: Num) -> tuple:
    return (CONST, _INDEX[float(e.value)], 0)


def named_code(e: Const) -> tuple:
    return (CONST, _INDEX[CONSTANTS[e.name]], 0)


def var_code(slot: int) -> tuple:
    return (VAR, slot, 0)


def binop_code(op: str, left: tuple, right: tuple) -> tuple:
    return left + right + (BINOPS[op], 0, 0)


def expr_code(e, env: dict[str, int]) -> tuple[tuple, int]:
    """(code, lowest slot read) of any expression with variables bound as in `env`."""
    t = type(e)
    if t is Num:
        return num_code(e), NO_VAR
    if t is Const:
        return named_code(e), NO_VAR
    if t is Var:
        slot = env.get(e.name)
        if slot is None:
            raise UnboundNameError(f"variable '{e.name}' is not bound here")
        return var_code(slot), slot
    if t is BinOp:
        lc, ll = expr_code(e.left, env)
        rc, rl = expr_code(e.right, env)
        return binop_code(e.op, lc, rc), min(ll, rl)
    raise TypeError(f"not an expression: {e!r}")


# ---- statements from parts -------------------------------------------------------------------------

def move_frag(length: tuple, angle: tuple, lowest: int) -> Fragment:
    return (length + angle + (MOVE, 0, 0), (), 0, lowest)


def _place(frags, code: list, jumps: list) -> tuple[int, int]:
    """Append `frags` to `code` (the flat code of the fragment being built, from its start), moving their
    jump fields by the row where each lands; returns (n_slots, lowest)."""
    slots = 0
    lowest = NO_VAR
    for c, j, s, lo in frags:
        start = len(code)
        row = start // 3
        code.extend(c)
        for p in j:
            code[start + p] += row
            jumps.append(start + p)
        if s > slots:
            slots = s
        if lo < lowest:
            lowest = lo
    return slots, lowest


def block_code(frags) -> tuple[list, list, int, int]:
    """The statements of one block laid end to end (relative to the block's start)."""
    code: list = []
    jumps: list = []
    slots, lowest = _place(frags, code, jumps)
    return code, jumps, slots, lowest


def loop_frag(depth: int, count: tuple, count_lowest: int, body) -> Fragment:
    """(loop VAR COUNT body...) at loop depth `depth` (its index lives in slot `depth`)."""
    head = len(count)
    row = head // 3 + 1                      # the body's first row
    if len(body) == 1 and not body[0][1]:    # the common case: one statement without jumps
        c, _, slots, lowest = body[0]
        end = row + len(c) // 3 + 1
        code = count + (LOOP, depth, end) + c + (ENDLOOP, row, 0)
        return (code, (head + 2, head + 3 + len(c) + 1), max(slots, depth + 1),
                lowest if lowest < count_lowest else count_lowest)
    code = list(count)
    code += (LOOP, depth, 0)
    jumps = [head + 2]
    slots, lowest = _place(body, code, jumps)
    jumps.append(len(code) + 1)
    code += (ENDLOOP, row, 0)
    code[head + 2] = len(code) // 3
    return (tuple(code), tuple(jumps), max(slots, depth + 1), min(lowest, count_lowest))


def wrap_frag(kind: str, body) -> Fragment:
    """(embed body...) or (penup body...)."""
    code: list = []
    jumps: list = []
    open_, close = (SAVE, RESTORE) if kind == "embed" else (PENUP, PENPOP)
    code.append(open_)
    code += (0, 0)
    slots, lowest = _place(body, code, jumps)
    code += (close, 0, 0)
    return (tuple(code), tuple(jumps), slots, lowest)


# ---- any statement (procedure calls, tests) --------------------------------------------------------

class _Generic:
    """Compiles arbitrary statements (procedure bodies inlined, as `logo.bytecode`) to fragments."""

    def __init__(self, library: dict[str, Define]):
        self.library = library
        self.inlined = 0

    def stmt(self, s, env: dict[str, int], next_slot: int, frames: int, calls: int) -> Fragment:
        t = type(s)
        if t is Move:
            lc, ll = expr_code(s.length, env)
            ac, al = expr_code(s.angle, env)
            return move_frag(lc, ac, min(ll, al))
        if t is Call:
            return self.call(s, env, next_slot, frames, calls)
        if frames >= MAX_FRAMES:
            raise ProgramSizeError(f"loops, embeds and pen-ups nest deeper than {MAX_FRAMES}")
        if t is Loop:
            cc, cl = expr_code(s.count, env)
            inner = {**env, s.var: next_slot}
            body = [self.stmt(x, inner, next_slot + 1, frames + 1, calls) for x in s.body]
            return loop_frag(next_slot, cc, cl, body)
        if t is Embed or t is PenUp:
            body = [self.stmt(x, env, next_slot, frames + 1, calls) for x in s.body]
            return wrap_frag("embed" if t is Embed else "penup", body)
        raise TypeError(f"not a statement: {s!r}")

    def call(self, s: Call, env, next_slot: int, frames: int, calls: int) -> Fragment:
        proc = self.library.get(s.name)
        if proc is None:
            raise UnboundNameError(f"procedure '{s.name}' is not defined")
        if len(s.args) != len(proc.params):
            raise ArityError(f"procedure '{s.name}' takes {len(proc.params)} argument(s), got {len(s.args)}")
        if calls >= MAX_CALL_DEPTH:
            raise CallDepthError(f"procedure calls nest deeper than {MAX_CALL_DEPTH}")
        self.inlined += 1
        if self.inlined > 20_000:
            raise ProgramSizeError("too many procedure calls after inlining")
        code: list = []
        lowest = NO_VAR
        inner = {}
        for i, (param, arg) in enumerate(zip(proc.params, s.args)):
            ac, al = expr_code(arg, env)
            code += ac
            code += (SETVAR, next_slot + i, 0)
            inner[param] = next_slot + i
            lowest = min(lowest, al)
        base = next_slot + len(proc.params)
        body = [self.stmt(x, inner, base, frames, calls + 1) for x in proc.body]
        jumps: list = []
        slots, _ = _place(body, code, jumps)     # the body reads only its own slots
        if len(code) // 3 > MAX_CODE:
            raise ProgramSizeError(f"statement compiles to more than {MAX_CODE} instructions")
        return (tuple(code), tuple(jumps), max(slots, base), lowest)


def statement_frag(s, depth_names: tuple[str, ...], library: dict[str, Define] | None = None) -> Fragment:
    """The fragment of any statement whose free variables are the loop variables `depth_names` (outermost
    first: name k lives in slot k). Raises a `LogoError` when it cannot be compiled."""
    env = {name: k for k, name in enumerate(depth_names)}
    return _Generic(library or {}).stmt(s, env, len(depth_names), len(depth_names), 0)


# ---- programs --------------------------------------------------------------------------------------

def assemble(programs) -> tuple[CodeBatch, np.ndarray]:
    """A `CodeBatch` (for `logo.batch.run_compiled`) of programs given as sequences of top-level fragments,
    and an (n,) bool array of those within the compiler's limits (code size, slots, expression depth is
    bounded by construction); the others get a lone HALT and must be treated as errors."""
    code: list = []
    op_start = [0]
    n_slots = []
    ok = []
    for frags in programs:
        start = len(code)
        row0 = start // 3
        slots = 0
        for c, j, s, _ in frags:
            at = len(code)
            row = at // 3 - row0
            code.extend(c)
            if j:
                for p in j:
                    code[at + p] += row
            if s > slots:
                slots = s
        code += (HALT, 0, 0)
        if (len(code) - start) // 3 > MAX_CODE + 1 or slots > MAX_SLOTS:
            del code[start:]
            code += (HALT, 0, 0)
            ok.append(False)
            slots = 0
        else:
            ok.append(True)
        op_start.append(len(code) // 3)
        n_slots.append(slots)
    n = len(n_slots)
    batch = CodeBatch(np.asarray(code, np.int32).reshape(-1, 3), np.tile(_POOL_ARRAY, max(n, 1)),
                      np.asarray(op_start, np.int64), np.arange(n + 1, dtype=np.int64) * len(POOL),
                      np.asarray(n_slots, np.int64), [None] * n)
    return batch, np.asarray(ok, bool)


__all__ = ["POOL", "NO_VAR", "assemble", "binop_code", "block_code", "const_code", "expr_code", "loop_frag",
           "move_frag", "named_code", "num_code", "statement_frag", "var_code", "wrap_frag", "MAX_STACK"]
