"""Adversarial inputs for the DSL's error contract: every input either works or raises a `LogoError`,
and none takes long.  One generator, driven by a `random.Random`, is shared by the bounded CI test
(`tests/test_logo_fuzz.py`, via hypothesis) and the long run (`bench/fuzz.py`).

Kinds of input: random character soup, random token soup, token-level mutations (deletions,
insertions, swaps, duplications) of real task programs in both our syntax and DreamCoder's, chains
of grammatical mutations of task programs (`logo.mutate`, so the mutator's own output is fuzzed too: it
must print text that parses back to the same tree), chains of procedures with large fan-out and depth,
huge integer literals, deep nesting and arithmetic that overflows or divides by zero.
"""
from __future__ import annotations

import random
import re
import time
from functools import lru_cache

from .errors import LogoError

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
KINDS = ("chars", "tokens", "mutated", "mutated_dreamcoder", "grammatical", "chain", "literal", "nesting",
         "arithmetic")
_TOKENS = ("(", ")", "move", "loop", "embed", "penup", "define", "i", "j", "f", "g", "x", "ul", "ua", "eps_l",
           "eps_a", "inf", "+", "-", "*", "/", "0", "1", "2", "9", "10", "007", "1a", "1l", "0d", "/a", "*l",
           "for", "p", "epsilonAngle", "infinity", ";", "\n", "²", "é", "\x00", "-1", "1e9", "nan")
_CHARS = "()  \n\t;0123456789abcdefghijklmnopqrstuvwxyz_+-*/.é²\x00\ud800"


@lru_cache(maxsize=1)
def task_sources() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(our texts, DreamCoder source texts) of the bundled DreamCoder tasks."""
    import json
    from importlib import resources

    from .dreamcoder import from_dreamcoder
    from .syntax import to_text
    raw = json.loads(resources.files("data").joinpath("dreamcoder_logo_tasks.json").read_text())
    dc = tuple(t["source"] for t in raw)
    return tuple(to_text(from_dreamcoder(s)) for s in dc), dc


def _mutate(r: random.Random, text: str) -> str:
    toks = _TOKEN.findall(text)
    for _ in range(1 + int(r.random() ** 2 * 6)):
        k = r.randrange(5)
        i = r.randrange(len(toks) + 1)
        if k == 0 and toks:                                  # delete
            del toks[min(i, len(toks) - 1)]
        elif k == 1:                                         # insert a real or odd token
            toks.insert(i, r.choice(_TOKENS) if r.random() < 0.7 else r.choice(toks or ["("]))
        elif k == 2 and len(toks) > 1:                       # swap two tokens
            a, b = r.randrange(len(toks)), r.randrange(len(toks))
            toks[a], toks[b] = toks[b], toks[a]
        elif k == 3 and toks:                                # duplicate a span
            a = r.randrange(len(toks))
            b = min(len(toks), a + r.randrange(1, 12))
            toks[a:a] = toks[a:b] * r.randrange(1, 4)
        elif toks:                                           # replace a token
            toks[min(i, len(toks) - 1)] = r.choice(_TOKENS)
    return " ".join(toks)


#: procedures a grammatically mutated program may define and call
_PROCEDURES = ("(define (f a) (loop i a (move ul (/ ua a))))", "(define (g a b) (move a b) (embed (move b a)))")


def _mutate_grammatically(r: random.Random, text: str) -> str:
    """1..9 random grammatical mutations (`logo.mutate`) of a program, printed as they are (not
    canonicalised); raises AssertionError if the mutator made a tree that does not print and parse back."""
    from .mutate import RandomContent, Sites
    from .syntax import parse, to_text
    if r.random() < 0.3:
        text = r.choice(_PROCEDURES) + " " + text
    p = parse(text)
    content = RandomContent(r, p.defs)
    for _ in range(1 + int(r.random() ** 2 * 9)):
        q = Sites.of(p).mutate(r, content=content)
        if q is not None:
            p = q
    out = to_text(p)
    if parse(out) != p:
        raise AssertionError(f"a grammatical mutation does not parse back: {out[:200]!r}")
    return out


def chain(fan: int, depth: int, leaf: str = "", n_args: int = 0) -> str:
    """Procedures f0..f{depth}, each calling the previous one `fan` times; the body calls the last."""
    params = " ".join(f"x{a}" for a in range(n_args))
    args = " ".join("ul" for _ in range(n_args))
    head = lambda k: f"(define (f{k}{' ' + params if params else ''})"
    call = lambda k: f"(f{k}{' ' + args if args else ''})"
    defs = [f"{head(0)} {leaf})"] + [f"{head(k)} " + " ".join([call(k - 1)] * fan) + ")"
                                     for k in range(1, depth + 1)]
    return " ".join(defs) + " " + call(depth)


def fuzz_input(r: random.Random, kind: str | None = None) -> tuple[str, str]:
    """(kind, text) of one adversarial input."""
    kind = kind or r.choice(KINDS)
    ours, dc = task_sources()
    if kind == "chars":
        text = "".join(r.choice(_CHARS) for _ in range(r.randrange(60)))
    elif kind == "tokens":
        text = " ".join(r.choice(_TOKENS) for _ in range(r.randrange(40)))
    elif kind == "mutated":
        text = _mutate(r, r.choice(ours))
    elif kind == "mutated_dreamcoder":
        text = _mutate(r, r.choice(dc))
    elif kind == "grammatical":
        text = _mutate_grammatically(r, r.choice(ours))
    elif kind == "chain":
        leaf = r.choice(["", "(move 0 0)", "(embed)", "(penup)", "(move ul ua)", "(loop i 9)",
                         "(loop i 9 (move eps_l eps_a))"])
        text = chain(r.randrange(1, 12), r.randrange(1, 30), leaf, r.randrange(3))
        if r.random() < 0.3:
            text = text.replace("(define (f0", "(define (f0 y", 1)      # an arity error somewhere
    elif kind == "literal":
        digits = (r.choice(["1", "0", "9", "0" * r.randrange(1, 600) + "7"]) * r.randrange(1, 6000))[:250_000]
        text = r.choice(["(move {} 0)", "(loop i {} (move ul 0))", "((move 1l (/a 1a {})))", "{}",
                         "(define (f x) (move x 0)) (f {})"]).format(digits)
    elif kind == "nesting":
        n = r.randrange(1, 3000)
        text = r.choice(["(" * n + ")" * n, "(embed " * n + ")" * n, "(move " + "(+ 1 " * n + "1" + ")" * n + " 0)",
                         "(loop i 2 " * n + "(move ul 0)" + ")" * n, "((embed " * n + "))" * n])
    else:
        big = "(* 9 " * r.randrange(1, 40) + "9" + ")" * 0
        big = big + ")" * big.count("(")
        text = r.choice([f"(move {big} 0)", f"(loop i {big} (move ul 0))", "(move (/ ul 0) 0)",
                         "(move (/ ul (- ul ul)) 0)", f"(move ul {big})", f"(move (/ 1 {big}) ua)",
                         "(loop i 999 (loop j 999 (move 0 0)))", "(loop i 1000 (loop j 1000 (embed)))",
                         "(loop i (- 0 9) (move ul 0))"])
    return kind, text


def exercise(text: str, size: int = 16) -> None:
    """Parse (both parsers and DreamCoder's reader), run and render `text`; LogoErrors are expected."""
    import logo
    from .batch import render_checked
    from .syntax import parse_with_lark
    for fn in (logo.parse, parse_with_lark, logo.from_dreamcoder, logo.run,
               lambda t: logo.render(t, size=size), lambda t: render_checked([t], size=size)):
        try:
            fn(text)
        except LogoError:
            pass


def check(text: str, time_bound: float = 2.0) -> tuple[BaseException | None, float]:
    """Exercise `text`; (the non-LogoError exception it raised or None, seconds taken)."""
    t0 = time.perf_counter()
    try:
        exercise(text)
        err = None
    except Exception as e:  # noqa: BLE001 - the point is to catch anything that is not a LogoError
        err = e
    return err, time.perf_counter() - t0
