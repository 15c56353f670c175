"""Compile an AST to a flat stack-machine code that the numba VM (`vm.py`) runs.

Procedures are inlined at compile time (each call site gets fresh variable slots), so the VM needs
no call stack.  Inlining is bounded three ways: call nesting depth, code size, and the number of
inlined calls (a call with no arguments emits no instruction, so code size alone would let a chain
of procedures that each call the next ten times run for ever).

One compiler serves single programs (`compile_program`) and batches (`compile_batch`): it appends
every program's instructions to one flat list, so a batch is packed for the numba VM without copies.
Dispatch is on the exact node type and limits are checked at call sites and once per program (a
program without calls compiles to code linear in its text, which the parser already bounds).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from .ast import CONSTANTS, BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Program, Var
from .errors import ArityError, CallDepthError, LogoError, ProgramSizeError, UnboundNameError

# opcodes: (op, a, b) rows of an int32 array
HALT, CONST, VAR, SETVAR, ADD, SUB, MUL, DIV, MOVE, LOOP, ENDLOOP, SAVE, RESTORE, PENUP, PENPOP = range(15)
BINOPS = {"+": ADD, "-": SUB, "*": MUL, "/": DIV}

MAX_CODE = 20_000          # instructions after inlining
MAX_INLINED_CALLS = 20_000  # procedure calls inlined (calls without arguments emit no instruction)
MAX_CALL_DEPTH = 16        # nested procedure calls
MAX_SLOTS = 4_096          # variable slots after inlining
MAX_STACK = 64             # VM value stack; expressions are nested at most this deep
MAX_FRAMES = 64            # nested loops / embeds / pen-ups


@dataclass(frozen=True)
class Code:
    """Compiled program: instructions, constant pool and the number of variable slots."""
    ops: np.ndarray      # (n, 3) int32
    consts: np.ndarray   # (k,) float64
    n_slots: int


@dataclass(frozen=True)
class CodeBatch:
    """Many compiled programs packed into flat arrays for one numba call.

    Program p's code is ops[op_start[p]:op_start[p+1]] (jump targets relative to its start) with
    constants consts[const_start[p]:const_start[p+1]]; errors[p] is the `LogoError` that stopped its
    compilation (its code is then a lone HALT) or None.
    """
    ops: np.ndarray          # (N, 3) int32
    consts: np.ndarray       # (K,) float64
    op_start: np.ndarray     # (n + 1,) int64
    const_start: np.ndarray  # (n + 1,) int64
    n_slots: np.ndarray      # (n,) int64
    errors: list

    def __len__(self) -> int:
        return len(self.n_slots)


Library = Mapping[str, Define]


def as_library(library: Sequence[Define] | Mapping[str, Define] | None) -> dict[str, Define]:
    if library is None:
        return {}
    if isinstance(library, Mapping):
        return dict(library)
    return {d.name: d for d in library}


class _Compiler:
    """Appends programs' code to one flat list of ints (op, a, b, op, a, b, ...)."""

    def __init__(self, library: dict[str, Define]):
        self.library = library
        self.ops: list[int] = []
        self.consts: list[float] = []
        self.op_start = [0]
        self.const_start = [0]
        self.n_slots: list[int] = []

    # -- one program --
    def add(self, program: Program) -> None:
        """Compile `program` onto the end of the batch; on a `LogoError` nothing is added."""
        ops = self.ops
        base = len(ops)
        self.base = base // 3
        self.pool: dict[float, int] = {}
        self.slots = 0
        self.calls = 0
        if program.defs:
            self.procs = dict(self.library)
            self.procs.update({d.name: d for d in program.defs})
        else:
            self.procs = self.library
        try:
            for s in program.body:
                self.stmt(s, {}, 0, 0)
            ops += (HALT, 0, 0)
            self.check_size()
        except BaseException:
            del ops[base:]
            raise
        pool = [0.0] * max(1, len(self.pool))
        for v, i in self.pool.items():
            pool[i] = v
        self.consts += pool
        self.op_start.append(len(ops) // 3)
        self.const_start.append(len(self.consts))
        self.n_slots.append(self.slots)

    def add_halt(self) -> None:
        """A program that does nothing (stands in for one that failed to compile)."""
        self.ops += (HALT, 0, 0)
        self.consts.append(0.0)
        self.op_start.append(len(self.ops) // 3)
        self.const_start.append(len(self.consts))
        self.n_slots.append(0)

    def check_size(self) -> None:
        if len(self.ops) // 3 - self.base > MAX_CODE:
            raise ProgramSizeError(f"program compiles to more than {MAX_CODE} instructions "
                                   "(procedure calls are inlined)")
        if self.slots > MAX_SLOTS:
            raise ProgramSizeError(f"program needs more than {MAX_SLOTS} variables after inlining")

    def const(self, v: float) -> int:
        return self.pool.setdefault(v, len(self.pool))

    def expr(self, e, env: dict[str, int], depth: int) -> None:
        t = type(e)
        if t is Num:
            self.ops += (CONST, self.const(float(e.value)), 0)
        elif t is Const:
            self.ops += (CONST, self.const(CONSTANTS[e.name]), 0)
        elif t is Var:
            slot = env.get(e.name)
            if slot is None:
                raise UnboundNameError(f"variable '{e.name}' is not bound here (loop indices and "
                                       "procedure parameters are the only variables)")
            self.ops += (VAR, slot, 0)
        elif t is BinOp:
            if depth >= MAX_STACK // 2:
                raise ProgramSizeError(f"expression nests deeper than {MAX_STACK // 2}")
            self.expr(e.left, env, depth + 1)
            self.expr(e.right, env, depth + 1)
            self.ops += (BINOPS[e.op], 0, 0)
        else:
            raise TypeError(f"not an expression: {e!r}")

    def stmt(self, s, env: dict[str, int], frames: int, calls: int) -> None:
        t = type(s)
        ops = self.ops
        if t is Move:
            self.expr(s.length, env, 1)
            self.expr(s.angle, env, 1)
            ops += (MOVE, 0, 0)
            return
        if t is Call:
            self.call(s, env, frames, calls)
            return
        if frames >= MAX_FRAMES:
            raise ProgramSizeError(f"loops, embeds and pen-ups nest deeper than {MAX_FRAMES}")
        if t is Loop:
            self.expr(s.count, env, 1)
            slot = self.slots
            self.slots += 1
            start = len(ops)
            ops += (LOOP, slot, 0)
            inner = {**env, s.var: slot}
            for x in s.body:
                self.stmt(x, inner, frames + 1, calls)
            ops += (ENDLOOP, start // 3 + 1 - self.base, 0)
            ops[start + 2] = len(ops) // 3 - self.base
        elif t is Embed or t is PenUp:
            ops += (SAVE if t is Embed else PENUP, 0, 0)
            for x in s.body:
                self.stmt(x, env, frames + 1, calls)
            ops += (RESTORE if t is Embed else PENPOP, 0, 0)
        else:
            raise TypeError(f"not a statement: {s!r}")

    def call(self, s: Call, env: dict[str, int], frames: int, calls: int) -> None:
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
        self.calls += 1
        if self.calls > MAX_INLINED_CALLS:
            raise ProgramSizeError(f"program makes more than {MAX_INLINED_CALLS} procedure calls after "
                                   "inlining (procedures call each other too often)")
        self.check_size()
        inner = {}
        for param, arg in zip(proc.params, s.args):
            self.expr(arg, env, 1)
            inner[param] = self.slots
            self.ops += (SETVAR, self.slots, 0)
            self.slots += 1
        for x in proc.body:
            self.stmt(x, inner, frames, calls + 1)

    # -- results --
    def batch(self, errors: list) -> CodeBatch:
        return CodeBatch(np.asarray(self.ops, np.int32).reshape(-1, 3), np.asarray(self.consts, np.float64),
                         np.asarray(self.op_start, np.int64), np.asarray(self.const_start, np.int64),
                         np.asarray(self.n_slots, np.int64), errors)


def compile_program(program: Program, library: Sequence[Define] | Mapping[str, Define] | None = None) -> Code:
    """Compile `program`; its own definitions shadow the library's. Raises a `LogoError`."""
    c = _Compiler(as_library(library))
    c.add(program)
    return Code(np.asarray(c.ops, np.int32).reshape(-1, 3), np.asarray(c.consts, np.float64), c.n_slots[0])


def compile_batch(programs: Iterable[Program | LogoError],
                  library: Sequence[Define] | Mapping[str, Define] | None = None) -> CodeBatch:
    """Compile many programs into one `CodeBatch`; a program that fails (or an error passed in its
    place, e.g. from parsing) is recorded in `errors` and gets a lone HALT."""
    c = _Compiler(as_library(library))
    errors: list = []
    for p in programs:
        if isinstance(p, LogoError):
            errors.append(p)
            c.add_halt()
            continue
        try:
            c.add(p)
            errors.append(None)
        except (LogoError, RecursionError) as e:
            errors.append(e if isinstance(e, LogoError) else
                          ProgramSizeError("program nests too deeply to compile"))
            c.add_halt()
    return c.batch(errors)
