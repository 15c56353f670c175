"""The search finds the known best abstraction, with Stitch's utility, on small corpora."""
import json
from pathlib import Path

import logo
import library
from library import sexpr

ROOT = Path(__file__).resolve().parents[1]


def test_known_best_curried_abstraction():
    # (foo (bar baz)) saves 202 per use (3 uses) and costs 302: utility 304, one more than (foo (bar baz) #0)
    res = library.compress_programs(["(foo (bar baz) 1)", "(foo (bar baz) 2)", "(foo (bar baz) 3)"], 1, 3)
    (a,) = res.abstractions
    assert (a.body, a.arity, a.utility) == ("(foo (bar baz))", 0, 304)
    assert res.rewritten == ["(fn_0 1)", "(fn_0 2)", "(fn_0 3)"]
    assert (res.cost_before, res.cost_after) == (3 * 403, 3 * 201)


def test_known_best_reuses_a_parameter():
    progs = [f"(f (g {x} {x}) (h {x}) {y})" for x, y in (("a", "p"), ("b", "q"), ("c", "r"), ("d", "s"))]
    res = library.compress_programs(progs, 1, 3)
    (a,) = res.abstractions
    assert a.body in ("(f (g #0 #0) (h #0))",)
    assert res.rewritten == ["(fn_0 a p)", "(fn_0 b q)", "(fn_0 c r)", "(fn_0 d s)"]


def test_tasks_count_only_the_cheapest_program():
    progs = ["(f (g a b c))", "(x y)", "(f (g a b d))", "(z w)"]
    # every task holds a cheap program: nothing to gain
    res = library.compress_programs(progs, 1, 2, tasks=["t1", "t1", "t2", "t2"])
    assert res.abstractions == [] and res.cost_before == res.cost_after == sexpr.cost("(x y)") + sexpr.cost("(z w)")
    # every program its own task: (f (g a b #0)) saves 2 * (504 - 201) and costs 404
    res = library.compress_programs(progs, 1, 2)
    (a,) = res.abstractions
    assert (a.body, a.arity, a.utility) == ("(f (g a b #0))", 1, 202)
    assert res.rewritten == ["(fn_0 c)", "(x y)", "(fn_0 d)", "(z w)"]


def test_same_utilities_as_stitch_on_its_logo_benchmark():
    # stitch's golden output for this file (iterations 10, arity 3): 71510 -> 65022 -> 61454 -> 57402 ...
    data = json.loads((ROOT / "bench/corpora/logo_iteration_1.json").read_text())
    progs, tasks, _ = sexpr.from_dreamcoder_json(data)
    res = library.compress_programs(progs, 3, 3, tasks)
    assert res.cost_before == 71510
    assert [s.cost_after for s in res.abstractions] == [65022, 61454, 57402]
    assert res.abstractions[0].body == \
        "(lam (logo_forLoop #0 (lam (lam (logo_FWRT (logo_MULL logo_UL #1) (logo_DIVA logo_UA #0) $0))) $0))"


def test_logo_known_best_square():
    progs = [f"(loop i 4 (move (* ul {k}) (/ ua 4)))" for k in range(2, 7)] + \
            ["(move ul (/ ua 3)) (move 0 eps_a)", "(embed (move eps_l 0))"]
    res = library.compress(progs, iterations=1, max_arity=3)
    (d,) = res.defs
    assert d == logo.parse("(define (fn_0 a) (loop i 4 (move (* ul a) (/ ua 4))))").defs[0]
    assert [logo.to_text(p) for p in res.rewritten[:5]] == [f"(fn_0 {k})" for k in range(2, 7)]
    assert res.rewritten[5:] == [logo.parse(p) for p in progs[5:]]


def test_logo_sequence_abstraction_keeps_the_rest_of_the_body():
    progs = [f"(move ul (/ ua 4)) (move ul (/ ua 4)) (move {x} 0)" for x in ("0", "ul", "eps_l", "2")] + \
            ["(embed (move ul (/ ua 4)) (move ul (/ ua 4))) (move 3 eps_a)"]
    res = library.compress(progs, iterations=1, max_arity=3)
    (d,) = res.defs
    assert logo.to_text(d) == "(define (fn_0) (move ul (/ ua 4)) (move ul (/ ua 4)))"
    assert logo.to_text(res.rewritten[0]) == "(fn_0) (move 0 0)"
    assert logo.to_text(res.rewritten[4]) == "(embed (fn_0)) (move 3 eps_a)"


def check_expected_costs(costs_before, steps):
    """Stitch's soundness check: the utility the search computed is what rewriting achieves."""
    prev = costs_before
    for s in steps:
        assert prev - s.cost_after == s.utility + s.body_cost, (s.name, s.body)
        prev = s.cost_after


def test_utilities_match_the_rewritten_costs():
    data = json.loads((ROOT / "bench/corpora/logo_iteration_1.json").read_text())
    progs, tasks, _ = sexpr.from_dreamcoder_json(data)
    res = library.compress_programs(progs, 10, 3, tasks)
    check_expected_costs(res.cost_before, res.abstractions)
    assert res.cost_after == 44435


def test_overlapping_and_repeated_argument_uses_are_counted_exactly():
    # (f X X) where X itself contains (f Y Y): nested uses inside a repeated argument, and chains of
    # overlapping (g (g (g a))) matches; the utility must equal the real saving
    progs = ["(f (f (h a b) (h a b)) (f (h a b) (h a b)))", "(f (f (h c d) (h c d)) (f (h c d) (h c d)))",
             "(g (g (g (g (g k)))))", "(g (g (g (g m))))", "(f (g (g (g n))) (g (g (g n))))"]
    for arity in (1, 2, 3):
        res = library.compress_programs(progs, 4, arity)
        assert res.abstractions
        check_expected_costs(res.cost_before, res.abstractions)


def test_incremental_corpus_update_equals_a_fresh_one(monkeypatch):
    from library import core
    from library.core import Corpus, SearchConfig, Store, best_abstraction
    from library.rewrite import rewrite_roots
    monkeypatch.setattr(core, "REBUILD_DIVISOR", 0)      # always the incremental path
    data = json.loads((ROOT / "bench/corpora/logo_iteration_1.json").read_text())
    progs, tasks, _ = sexpr.from_dreamcoder_json(data)
    st = Store()
    roots = [sexpr.parse(st, p) for p in progs[:200]]
    tids = [int(t == tasks[0]) + 2 * (i % 7) for i, t in enumerate(tasks[:200])]   # tasks of several programs
    corpus = Corpus(st, roots, tids)
    for step in range(3):
        found = best_abstraction(corpus, SearchConfig(max_arity=2))
        new_roots = rewrite_roots(corpus, found, f"fn_{step}")
        assert new_roots != corpus.roots
        fresh = Corpus(st, new_roots, tids)
        corpus = corpus.updated(new_roots)
        assert (corpus.nodes, corpus.w, corpus.taskmask, corpus.occ, corpus.task_cost) == \
            (fresh.nodes, fresh.w, fresh.taskmask, fresh.occ, fresh.task_cost)


def test_a_search_mode_decides_what_may_be_a_parameter():
    # the generic core asks its SearchMode; one that allows no parameters leaves only the closed subtree
    from library.core import Corpus, SearchConfig, SearchMode, Store, best_abstraction
    from library.rewrite import pattern_body

    class NoParameters(SearchMode):
        def parameter_values(self, st, nodes, depth):
            return None

    progs = ["(f (g a a) (h a) p)", "(f (g a a) (h a) q)", "(f (g b b) (h b) r)"]
    found = []
    for mode in (SearchMode(), NoParameters()):
        st = Store()
        corpus = Corpus(st, [sexpr.parse(st, p) for p in progs], [0, 1, 2])
        f = best_abstraction(corpus, SearchConfig(max_arity=3, mode=mode))
        found.append((sexpr.show(st, pattern_body(st, f)), f.arity, f.utility))
    assert found == [("(f (g #0 #0) (h #0))", 1, 907), ("(f (g a a) (h a))", 0, 405)]
