"""The DSL's mutator (logo.mutate): sites, edits, random draws, and the generator it draws content from."""
import random
from collections import Counter

import pytest

import logo
from logo.ast import Call, Embed, Loop, Move, Num, PenUp
from logo.canonical import canonical
from logo.generate import Generator, GeneratorSettings
from logo.mutate import (BLOCK_KINDS, MUTATIONS, Mutation, RandomContent, Sites, fresh_var, kind_weights, mutate,
                         substitute)
from logo.tokens import n_tokens, tokenize

PROGRAMS = [
    "(move ul 0)",
    "(loop i 4 (move ul (/ ua 4)))",
    "(move 0 (/ ua 8)) (loop i 3 (move ul (/ ua 3)))",
    "(embed (loop i 5 (move (* 2 ul) (/ ua 5)))) (penup (move ul 0)) (move ul (/ ua 4))",
    "(loop i 3 (loop j 4 (move (* i eps_l) (/ ua 4))) (move ul (/ ua 3)))",
    "(define (sq s) (loop i 4 (move s (/ ua 4)))) (sq (* 2 ul)) (loop i 3 (sq (/ ul (+ i 1))))",
]
LIBRARY = logo.parse("(define (sq s) (loop i 4 (move s (/ ua 4))))").defs


def parsed(text):
    return canonical(logo.parse(text))


def statements(p):
    return [n for n in logo.walk(p) if isinstance(n, (Move, Loop, Embed, PenUp, Call))]


def top_statements(p):
    """Statements of the program body and its blocks (not of procedure definitions)."""
    return [n for s in p.body for n in logo.walk(s) if isinstance(n, (Move, Loop, Embed, PenUp, Call))]


@pytest.mark.parametrize("kind", MUTATIONS)
def test_every_kind_drawn_many_times_makes_programs_that_parse_back_and_differ(kind):
    rng = random.Random(0)
    content = RandomContent(rng, LIBRARY)
    made = tried = 0
    for text in PROGRAMS:
        p = parsed(text)
        sites = Sites.of(p, is_canonical=True)
        for _ in range(40):
            tried += 1
            q = sites.mutate(rng, kind, content)
            if q is None:
                continue
            made += 1
            assert logo.parse(logo.to_text(q)) == q             # a tree that prints and parses back
            assert q.defs == p.defs                             # edits act on the body only
            t = sites.mutate_text(rng, kind, content)
            assert t is None or (t == logo.to_text(canonical(logo.parse(t))) and t != logo.to_text(p))
    assert made >= tried // 4, f"{kind} applied {made} of {tried} times"


def test_each_kind_does_what_its_name_says():
    rng = random.Random(1)
    content = RandomContent(rng)
    seen = Counter()
    for text in PROGRAMS:
        p = parsed(text)
        sites = Sites.of(p, is_canonical=True)
        n = len(top_statements(p))
        for kind in MUTATIONS:
            for _ in range(30):
                edit = sites.draw(rng, kind, content)
                if edit is None:
                    continue
                q = sites.apply(edit)
                seen[kind] += 1
                m = len(top_statements(q))
                if kind == "insert":
                    assert m > n and q != p
                elif kind == "delete":
                    assert m < n
                elif kind == "wrap":
                    assert m == n + 1
                elif kind == "unwrap":
                    assert m == n - 1
                elif kind in ("replace_expr", "loop_count"):
                    assert [type(s) for s in top_statements(q)] == [type(s) for s in top_statements(p)]
                    assert q != p
                    if kind == "loop_count":
                        assert sites.exprs[edit.site].role == "count"
    assert set(seen) == set(MUTATIONS)


def test_sites_once_draws_exactly_what_per_call_mutate_draws():
    """Computing the sites once and drawing many mutations gives the same mutations, in the same order,
    from the same random numbers, as `mutate` recomputing them for every draw."""
    for seed, text in enumerate(PROGRAMS):
        for kinds in (None, ("wrap", "unwrap", "replace_expr")):
            r1, r2 = random.Random(seed), random.Random(seed)
            per_call = [mutate(text, r1, kinds=kinds, library=LIBRARY, max_tokens=60) for _ in range(60)]
            sites = Sites.of(parsed(text), is_canonical=True)
            content = RandomContent(r2, LIBRARY)
            once = [sites.mutate_text(r2, content=content, kinds=kinds, max_tokens=60) for _ in range(60)]
            assert once == per_call
            assert r1.random() == r2.random()
            assert sum(t is not None for t in once) > 40


def test_seeded_mutations_are_those_of_earlier_versions():
    """The pair sampler's training data and the grammar arm's runs are reproducible across versions:
    these are what `model.edit.steps.mutate` drew before the mutator moved to logo/ (commit f3965a9)."""
    rng = random.Random(0)
    got = [mutate(PROGRAMS[4], rng) for _ in range(4)]
    assert got == [
        "(loop i 3 (loop j 3 (move (* i eps_l) (/ ua 4))) (move ul (/ ua 3)))",       # loop_count
        "(loop i 3 (loop j 4 (move (* i eps_l) (/ ua 4))))",                          # delete
        "(loop i 3 (loop j 4 (move (* i eps_l) (/ ua 4))) (embed (move ul (/ ua 3))))",   # wrap
        "(penup (loop i 3 (loop j 4 (move (* i eps_l) (/ ua 4))) (move ul (/ ua 3))))",   # wrap
    ]


def test_sites_are_in_print_order_and_point_at_their_tokens():
    for text in PROGRAMS:
        p = logo.parse(text)
        sites = Sites.of(p)
        toks = tokenize(logo.to_text(p))
        assert len(sites.expr_tokens) == len(sites.exprs) and len(sites.block_tokens) == len(sites.blocks)
        for e, at in zip(sites.exprs, sites.expr_tokens):
            sub = tokenize(logo.to_text(e.expr))
            assert toks[at:at + len(sub)] == sub
        assert sites.expr_tokens == sorted(sites.expr_tokens)
        for b, starts in zip(sites.blocks, sites.block_tokens):
            assert len(starts) == len(b.body) + 1
            for s, at in zip(b.body, starts):
                sub = tokenize(logo.to_text(s))
                assert toks[at:at + len(sub)] == sub
            assert (starts[-1] == len(toks)) if b.top else (toks[starts[-1]] == ")")
        assert sites.blocks[0].top and not any(b.top for b in sites.blocks[1:])


def test_roles_and_scopes_of_expression_sites():
    sites = Sites.of(logo.parse("(loop i 3 (move (* i ul) 0)) (sq ul 2)"))
    assert [(logo.to_text(e.expr), e.role, e.scope) for e in sites.exprs] == [
        ("3", "count", ()), ("(* i ul)", "length", ("i",)), ("i", "length", ("i",)), ("ul", "length", ("i",)),
        ("0", "angle", ("i",)), ("ul", "arg", ()), ("2", "arg", ())]


def test_every_position_of_every_kind_applies():
    rng = random.Random(2)
    content = RandomContent(rng)
    for text in PROGRAMS:
        p = parsed(text)
        sites = Sites.of(p, is_canonical=True)
        assert len(sites.positions("insert")) == sum(len(b.body) + 1 for b in sites.blocks)
        assert len(sites.positions("replace_expr")) == len(sites.exprs)
        for kind in MUTATIONS:
            for edit in sites.positions(kind):
                assert edit.kind == kind
                target = sites.blocks if kind in BLOCK_KINDS else sites.exprs
                assert 0 <= edit.site < len(target)
                if kind in ("insert", "replace_stmt"):
                    b = sites.blocks[edit.site]
                    edit = edit._replace(content=content.stmt(b.depth, b.scope))
                elif kind in ("replace_expr", "loop_count"):
                    e = sites.exprs[edit.site]
                    edit = edit._replace(content=content.expr(e.role, e.scope))
                elif kind == "wrap":
                    edit = edit._replace(content=Loop(sites.wrap_var(edit.site, edit.at, edit.end), Num(3), ()))
                q = sites.apply(edit)
                assert logo.parse(logo.to_text(q)) == q
                logo.render_checked([q], size=16)       # runs (or is rejected by a verdict), never raises


def test_draws_only_where_a_kind_applies():
    rng = random.Random(3)
    sites = Sites.of(logo.parse("(move ul 0)"))
    for kind in ("loop_count", "unwrap"):
        assert sites.positions(kind) == [] and sites.draw(rng, kind, RandomContent(rng)) is None
    assert logo.to_text(sites.apply(Mutation("delete", 0, 0))) == ""       # the program body may become empty
    inner = Sites.of(logo.parse("(loop i 4 (move ul 0))"))
    assert [e.site for e in inner.positions("delete")] == [0]           # an inner block keeps a statement
    deep = Sites.of(logo.parse("(loop i 2 (loop j 2 (move ul 0)))"))
    assert {deep.blocks[e.site].depth for e in deep.positions("wrap")} == {0, 1}   # no wrap below MAX_DEPTH


def test_edits_name_a_loop_variable_that_is_free_and_unwrap_substitutes_zero():
    sites = Sites.of(logo.parse("(loop i 2 (move i 0) (loop j 2 (move j i)))"))
    assert sites.wrap_var(1, 0, 2) == "k"                 # i in scope, j rebound inside
    assert fresh_var(("i", "j", "k", "l", "m", "n")) == "v6"
    un = sites.apply(Mutation("unwrap", 0, 0))
    assert logo.to_text(un) == "(move 0 0) (loop j 2 (move j 0))"
    assert substitute(logo.parse("(loop i 2 (move i 0))").body[0], "i", Num(0)) == logo.parse(
        "(loop i 2 (move i 0))").body[0]                  # not under a loop that rebinds the name
    with pytest.raises(ValueError, match="wrap"):
        sites.apply(Mutation("wrap", 0, 0, 1, content=Move(Num(1), Num(0))))
    with pytest.raises(ValueError, match="unknown mutation"):
        sites.draw(random.Random(0), "shuffle", RandomContent(random.Random(0)))


def test_random_content_uses_the_programs_loop_names_and_the_library():
    rng = random.Random(4)
    content = RandomContent(rng, LIBRARY)
    calls = 0
    for _ in range(300):
        s = content.stmt(1, ("i", "l"))                     # canonical names: the generator would say i, j
        names = {n.name for n in logo.walk(s) if isinstance(n, logo.Var)}
        bound = {n.var for n in logo.walk(s) if isinstance(n, Loop)}
        assert names <= {"i", "l"} | bound and bound <= {"j"}     # a new loop takes the first free name
        calls += isinstance(s, Call) and s.name == "sq" and len(s.args) == 1
        e = content.expr("length", ("i",))
        assert {n.name for n in logo.walk(e) if isinstance(n, logo.Var)} <= {"i"}
    assert calls > 30


def test_kind_weights_and_unknown_kinds():
    names, cum = kind_weights()
    assert names == MUTATIONS and cum[-1] == pytest.approx(1.0) and list(cum) == sorted(cum)
    assert kind_weights(["wrap", "unwrap"]) == (("wrap", "unwrap"), (0.1, pytest.approx(0.15)))
    with pytest.raises(ValueError, match="unknown mutation"):
        mutate("(move ul 0)", random.Random(0), kinds=["nope"])


def test_the_generator_is_the_databases_and_reproducible():
    from data.generate import Constraints, random_programs
    assert Constraints().generator_settings() == GeneratorSettings()      # one set of defaults
    a = Generator(random.Random(5), GeneratorSettings(max_depth=3), LIBRARY)
    b = Generator(random.Random(5), GeneratorSettings(max_depth=3), LIBRARY)
    pa, pb = [a.program() for _ in range(50)], [b.program() for _ in range(50)]
    assert pa == pb and all(logo.parse(logo.to_text(p)) == p for p in pa)
    g = Generator(random.Random(6))
    progs = [g.program() for _ in range(20)]
    assert [logo.to_text(p) for p in progs] == [logo.to_text(p) for p in random_programs(20, seed=6, max_tokens=10**6)]
    assert all(n_tokens(logo.to_text(p)) > 0 for p in progs)


def test_the_canonical_form_has_one_home():
    import model.tokenizer
    assert model.tokenizer.canonical is canonical
    assert logo.to_text(canonical("(loop x 2 (move (* ul 2) (+ x 1)))")) == "(loop i 2 (move (* 2 ul) (+ 1 i)))"


def test_the_grammar_arm_draws_per_node_what_sites_per_draw_give():
    """The arm computes a node's sites once and returns the edited trees (those it could expand again);
    recomputing the sites for every draw from the same random numbers gives the same trees."""
    from dream.search.baselines import GrammarProposer
    from logo.syntax import count_tokens
    texts = [logo.to_text(parsed(t)) for t in PROGRAMS]
    arm = GrammarProposer(n=8, seed=1, max_tokens=40)
    got = arm(None, None, texts)
    rng = random.Random(1)
    content = RandomContent(rng)
    want = []
    for x in texts:
        trees = []
        for _ in range(8 * GrammarProposer.TRIES):
            q = Sites.of(canonical(x), is_canonical=True).mutate(rng, content=content)
            if q is not None and n_tokens(logo.to_text(q)) <= 40:
                trees.append(q)
                if len(trees) == 8:
                    break
        want.append(trees)
    assert got == want and all(len(g) == 8 for g in got)
    for x, trees in zip(texts, got):                  # grammatical edits: trees whose text parses back
        assert all(logo.parse(logo.to_text(q)) == q and count_tokens(q) <= 40 for q in trees)
        assert sum(logo.to_text(canonical(q)) != x for q in trees) >= 6
