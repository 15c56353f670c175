"""Who uses each procedure, what it saves, and which procedures retire.

A call's saving in tokens is what writing the procedure's body out in place would cost minus the call:
the body's tokens with every parameter replaced by its argument's tokens, minus the call's own tokens.
(Counted by token arithmetic, so no inlining and no capture of loop variables is involved.) A target's
saving by a procedure is the sum over its solution's calls.

A procedure retires when no solution calls it (directly or through a procedure a solution calls). The
library file says which retired in its version note; the database keeps a retired procedure's definition
only while some database program still calls it, so every stored program still draws.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import logo
from logo.ast import Call, Define, Program, Var
from logo.tokens import n_tokens


@dataclass
class Uses:
    name: str
    targets: dict[str, int] = field(default_factory=dict)    # target -> tokens saved in its solution
    calls: int = 0
    args: dict[tuple, int] = field(default_factory=dict)      # closed argument texts -> calls that had them

    @property
    def typical_args(self) -> tuple[str, ...] | None:
        """The most frequent arguments (ties: the shortest, then in text order)."""
        if not self.args:
            return None
        return min(self.args, key=lambda a: (-self.args[a], sum(len(x) for x in a), a))

    @property
    def tokens_saved(self) -> int:
        return sum(self.targets.values())


def _calls(node) -> Iterable[Call]:
    return (n for n in logo.walk(node) if isinstance(n, Call))


def call_saving(d: Define, call: Call) -> int:
    """Tokens saved by `call` compared with writing `d`'s body out with the arguments in place."""
    body = sum(n_tokens(logo.to_text(Program((), (s,)))) for s in d.body)
    arg_tokens = [n_tokens(logo.to_text(a)) if not isinstance(a, (int, float)) else 1 for a in call.args]
    per_param = dict(zip(d.params, arg_tokens))
    for n in (x for s in d.body for x in logo.walk(s)):
        if isinstance(n, Var) and n.name in per_param:
            body += per_param[n.name] - 1
    return body - (3 + sum(arg_tokens))


def procedure_uses(library: Sequence[Define], programs: Sequence, targets: Sequence[str]) -> dict[str, Uses]:
    """Per procedure: the targets whose program calls it (directly) and the tokens each call saves."""
    defs = {d.name: d for d in library}
    out = {d.name: Uses(d.name) for d in library}
    for p, t in zip(programs, targets):
        prog = p if isinstance(p, Program) else logo.parse(p)
        for c in _calls(prog):
            if c.name in defs:
                u = out[c.name]
                u.calls += 1
                if not any(isinstance(x, Var) for a in c.args for x in logo.walk(a)):   # drawable alone
                    key = tuple(logo.to_text(a) for a in c.args)
                    u.args[key] = u.args.get(key, 0) + 1
                u.targets[t] = u.targets.get(t, 0) + call_saving(defs[c.name], c)
    return out


def used_closure(library: Sequence[Define], direct: Iterable[str]) -> set[str]:
    """The procedures called directly plus every procedure those call, transitively."""
    defs = {d.name: d for d in library}
    seen, todo = set(), [n for n in direct if n in defs]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo += [c.name for s in defs[n].body for c in _calls(s) if c.name in defs and c.name not in seen]
    return seen


def retire(library: Sequence[Define], uses: dict[str, Uses]) -> tuple[list[Define], list[Define]]:
    """(active, retired): a procedure stays active while a solution calls it, directly or indirectly."""
    keep = used_closure(library, [n for n, u in uses.items() if u.calls])
    return [d for d in library if d.name in keep], [d for d in library if d.name not in keep]


def called_names(texts: Iterable[str]) -> set[str]:
    """Names called anywhere in these program texts (cheap textual scan: `(name` tokens)."""
    out = set()
    for t in texts:
        toks = t.replace("(", " ( ").split()
        out.update(b for a, b in zip(toks, toks[1:]) if a == "(")
    return out


def procedure_notes(active: Sequence[Define], uses: dict[str, Uses], max_targets: int = 6) -> dict[str, str]:
    """A comment per procedure: its calls, the solutions that use it and the tokens it saves each."""
    out = {}
    for d in active:
        u = uses.get(d.name, Uses(d.name))
        top = sorted(u.targets.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{t} (-{s})" for t, s in top[:max_targets]) + (" ..." if len(top) > max_targets else "")
        out[d.name] = (f"{d.name}: {u.calls} calls in {len(u.targets)} solutions, {u.tokens_saved} tokens saved"
                       + (f"; {shown}" if shown else "; used only inside other procedures"))
    return out


def retired_note(retired: Sequence[Define]) -> str:
    return ("retired (no solution uses them): " + ", ".join(d.name for d in retired)) if retired else ""
