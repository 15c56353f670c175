"""Compile an AST to a flat stack-machine code that the numba VM (`vm.py`) runs.

Procedures are inlined at compile time (each call site gets fresh variable slots), so the VM needs
no call stack; inlining depth and code size are bounded, which also stops runaway recursion.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .ast import CONSTANTS, BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Program, Var
from .errors import ArityError, CallDepthError, ProgramSizeError, UnboundNameError

# opcodes: (op, a, b) rows of an int32 array
HALT, CONST, VAR, SETVAR, ADD, SUB, MUL, DIV, MOVE, LOOP, ENDLOOP, SAVE, RESTORE, PENUP, PENPOP = range(15)
BINOPS = {"+": ADD, "-": SUB, "*": MUL, "/": DIV}

MAX_CODE = 20_000      # instructions after inlining
MAX_CALL_DEPTH = 16    # nested procedure calls
MAX_SLOTS = 4_096      # variable slots after inlining
MAX_STACK = 64         # VM value stack; expressions are nested at most this deep
MAX_FRAMES = 64        # nested loops / embeds / pen-ups


@dataclass(frozen=True)
class Code:
    """Compiled program: instructions, constant pool and the number of variable slots."""
    ops: np.ndarray      # (n, 3) int32
    consts: np.ndarray   # (k,) float64
    n_slots: int


Library = Mapping[str, Define]


def as_library(library: Sequence[Define] | Mapping[str, Define] | None) -> dict[str, Define]:
    if library is None:
        return {}
    if isinstance(library, Mapping):
        return dict(library)
    return {d.name: d for d in library}


class _Compiler:
    def __init__(self, procs: dict[str, Define]):
        self.procs = procs
        self.ops: list[tuple[int, int, int]] = []
        self.consts: dict[float, int] = {}
        self.n_slots = 0

    def emit(self, op: int, a: int = 0, b: int = 0) -> int:
        if len(self.ops) >= MAX_CODE:
            raise ProgramSizeError(f"program compiles to more than {MAX_CODE} instructions "
                                   "(procedure calls are inlined)")
        self.ops.append((op, a, b))
        return len(self.ops) - 1

    def new_slot(self) -> int:
        if self.n_slots >= MAX_SLOTS:
            raise ProgramSizeError(f"program needs more than {MAX_SLOTS} variables after inlining")
        self.n_slots += 1
        return self.n_slots - 1

    def expr(self, e, env: dict[str, int], depth: int = 1) -> None:
        if depth > MAX_STACK // 2:
            raise ProgramSizeError(f"expression nests deeper than {MAX_STACK // 2}")
        if isinstance(e, Num):
            self.emit(CONST, self.const(float(e.value)))
        elif isinstance(e, Const):
            self.emit(CONST, self.const(CONSTANTS[e.name]))
        elif isinstance(e, Var):
            if e.name not in env:
                raise UnboundNameError(f"variable '{e.name}' is not bound here (loop indices and "
                                       "procedure parameters are the only variables)")
            self.emit(VAR, env[e.name])
        elif isinstance(e, BinOp):
            self.expr(e.left, env, depth + 1)
            self.expr(e.right, env, depth + 1)
            self.emit(BINOPS[e.op])
        else:
            raise TypeError(f"not an expression: {e!r}")

    def const(self, v: float) -> int:
        return self.consts.setdefault(v, len(self.consts))

    def body(self, stmts, env, frames: int, calls: int) -> None:
        for s in stmts:
            self.stmt(s, env, frames, calls)

    def stmt(self, s, env: dict[str, int], frames: int, calls: int) -> None:
        if isinstance(s, Move):
            self.expr(s.length, env)
            self.expr(s.angle, env)
            self.emit(MOVE)
            return
        if isinstance(s, (Loop, Embed, PenUp)) and frames >= MAX_FRAMES:
            raise ProgramSizeError(f"loops, embeds and pen-ups nest deeper than {MAX_FRAMES}")
        if isinstance(s, Loop):
            self.expr(s.count, env)
            slot = self.new_slot()
            start = self.emit(LOOP, slot, 0)
            self.body(s.body, {**env, s.var: slot}, frames + 1, calls)
            self.emit(ENDLOOP, start + 1)
            self.ops[start] = (LOOP, slot, len(self.ops))
        elif isinstance(s, Embed):
            self.emit(SAVE)
            self.body(s.body, env, frames + 1, calls)
            self.emit(RESTORE)
        elif isinstance(s, PenUp):
            self.emit(PENUP)
            self.body(s.body, env, frames + 1, calls)
            self.emit(PENPOP)
        elif isinstance(s, Call):
            proc = self.procs.get(s.name)
            if proc is None:
                raise UnboundNameError(f"procedure '{s.name}' is not defined (neither in the program "
                                       "nor in the library)")
            if len(s.args) != len(proc.params):
                raise ArityError(f"procedure '{s.name}' takes {len(proc.params)} argument(s), "
                                 f"got {len(s.args)}")
            if calls >= MAX_CALL_DEPTH:
                raise CallDepthError(f"procedure calls nest deeper than {MAX_CALL_DEPTH} "
                                     f"(does '{s.name}' call itself?)")
            inner = {}
            for param, arg in zip(proc.params, s.args):
                self.expr(arg, env)
                slot = self.new_slot()
                self.emit(SETVAR, slot)
                inner[param] = slot
            self.body(proc.body, inner, frames, calls + 1)
        else:
            raise TypeError(f"not a statement: {s!r}")


def compile_program(program: Program, library: Sequence[Define] | Mapping[str, Define] | None = None) -> Code:
    """Compile `program`; its own definitions shadow the library's."""
    procs = as_library(library)
    procs.update({d.name: d for d in program.defs})
    c = _Compiler(procs)
    c.body(program.body, {}, 0, 0)
    c.emit(HALT)
    consts = np.zeros(max(1, len(c.consts)), np.float64)
    for v, i in c.consts.items():
        consts[i] = v
    return Code(np.asarray(c.ops, np.int32).reshape(-1, 3), consts, c.n_slots)
