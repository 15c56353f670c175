"""Binding safety: a procedure never captures a loop variable bound outside it, in both modes."""
import numpy as np

import logo
import library
from library import sexpr
from library.core import APP, LAM, PRIM, Store
from logo.ast import BinOp, Call, Embed, Loop, Move, PenUp, Var


def free_vars_of_define(d):
    free = set()

    def expr(e, bound):
        if isinstance(e, Var) and e.name not in bound:
            free.add(e.name)
        elif isinstance(e, BinOp):
            expr(e.left, bound)
            expr(e.right, bound)

    def body(stmts, bound):
        for s in stmts:
            if isinstance(s, Move):
                expr(s.length, bound)
                expr(s.angle, bound)
            elif isinstance(s, Loop):
                expr(s.count, bound)
                body(s.body, bound | {s.var})
            elif isinstance(s, (Embed, PenUp)):
                body(s.body, bound)
            elif isinstance(s, Call):
                for a in s.args:
                    expr(a, bound)
    body(d.body, set(d.params))
    return free


def test_outer_loop_variable_becomes_a_parameter():
    # the repeated inner run mentions the outer loop's i: it may only be abstracted with i passed in
    firsts = ["(move ul 0)", "(embed (move 0 ua))", "(penup (move eps_l 0))", "(move 2 eps_a)"]
    progs = [f"(loop i {n} {s} (move (* i eps_l) (/ ua 4)) (move (+ i ul) (/ ua 5)) (move ul (/ ua (+ i 1))))"
             for n in (3, 4, 5, 6) for s in firsts]
    res = library.compress(progs, iterations=1, max_arity=1)
    assert res.defs
    for d in res.defs:
        assert free_vars_of_define(d) == set(), logo.to_text(d)
    # some call passes the loop variable in
    texts = " ".join(logo.to_text(p) for p in res.rewritten)
    assert any(isinstance(a, Var) for p in res.rewritten for n in logo.walk(p) if isinstance(n, Call)
               for a in logo.walk(n) if a is not n), texts
    a = logo.render_batch(progs, size=28)
    b = logo.render_batch(res.rewritten, size=28, library=res.library)
    assert np.array_equal(a, b)


def test_argument_may_not_mention_a_variable_bound_inside():
    # (loop j 4 (move (* j X) ...)): X varies, but the argument (* j X) mentions the inner j, so the
    # abstraction must keep (* j #) in its body and pass only X
    progs = [f"(loop j 4 (move (* j {x}) (/ ua 4)) (move ul (/ ua 3)))" for x in ("ul", "eps_l", "2", "3", "4")]
    res = library.compress(progs, iterations=1, max_arity=2)
    (d,) = res.defs
    assert free_vars_of_define(d) == set()
    assert logo.to_text(d) == "(define (fn_0 a) (loop i 4 (move (* i a) (/ ua 4)) (move ul (/ ua 3))))"
    assert all(logo.to_text(p).startswith("(fn_0 ") for p in res.rewritten)


def inline_all(st: Store, n: int, defs: dict) -> int:
    """Expand calls to learned abstractions (beta reduction with de Bruijn shifting)."""
    k = st.kind[n]
    if k == APP or k == PRIM:
        h, args = st.spine(n)
        name = st.symbols[st.a[h]] if st.kind[h] == PRIM else None
        args = [inline_all(st, a, defs) for a in args]
        if name in defs and len(args) >= defs[name][1]:
            body, arity = defs[name]
            out = st.subst_ivars(body, args[:arity])
            # the body may end in a curried call that the remaining arguments complete
            return inline_all(st, st.apps(out, *args[arity:]), defs)
        if k == PRIM:
            return n
        return st.apps(inline_all(st, h, defs), *args)
    if k == LAM:
        return st.lam(inline_all(st, st.a[n], defs))
    return n


def check_generic(programs, iterations, max_arity, tasks=None):
    res = library.compress_programs(programs, iterations=iterations, max_arity=max_arity, tasks=tasks)
    st = Store()
    defs = {}
    for s in res.abstractions:
        body = sexpr.parse(st, s.body)
        # no free $ variables in a body
        assert st.fv[body] == 0, s.body
        defs[s.name] = (body, s.arity)
    for orig, new in zip(programs, res.rewritten):
        assert inline_all(st, sexpr.parse(st, new), defs) == sexpr.parse(st, orig), (orig, new)
    return res


def test_generic_rewrites_inline_back_to_the_originals():
    import json
    from pathlib import Path
    data = json.loads((Path(__file__).resolve().parents[1] / "bench/corpora/logo_iteration_1.json").read_text())
    progs, tasks, _ = sexpr.from_dreamcoder_json(data)
    res = check_generic(progs[:150], 4, 3, tasks[:150])
    assert len(res.abstractions) == 4 and res.cost_after < res.cost_before


def test_generic_no_capture_of_bound_variables():
    # the varying part sits under the pattern's lambda and mentions its variable in some programs
    progs = ["(lam (foo (bar $0) (baz $0)))", "(lam (foo (bar $0) (qux $0)))", "(lam (foo (bar $0) $0))",
             "(lam (foo (bar $0) (baz 1)))", "(lam (lam (foo (bar $0) $1)))", "(lam (lam (foo (bar $1) $0)))"]
    res = check_generic(progs, 3, 2)
    assert res.abstractions
