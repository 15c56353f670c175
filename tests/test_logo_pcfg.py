"""logo.pcfg: a probabilistic grammar over programs (normalised contexts, fitting, files, errors)."""
import json
import math

import pytest

import logo
from logo.pcfg import MAX_VAR_INDEX, ROLES, Grammar, GrammarError

SQUARE = "(loop i 4 (move ul (/ ua 4)))"
CORPUS = [SQUARE, "(loop i 3 (move (* ul 2) (/ ua 3)))", "(move ul 0) (penup (move ul 0)) (move ul 0)",
          "(loop j 5 (embed (loop i inf (move (* eps_l j) eps_a))) (move 0 (/ ua 5)))"]
LIBRARY = logo.parse_library("(define (poly n l) (loop i n (move l (/ ua n))))")


def test_every_context_normalises():
    g = Grammar.fit(CORPUS * 3 + ["(poly 5 ul)", "(loop i 2 (poly (+ i 3) (/ ul 2)))"], LIBRARY)
    for ctx in g.statement_contexts():
        block, prev = ctx.split("|")
        assert math.isclose(sum(math.exp(v) for v in g.stmt_logp(block, prev).values()), 1.0, abs_tol=1e-9)
    for ctx in g.expression_contexts():
        slot, parent = ctx.split("|")
        for has_vars in (False, True):
            lp = g.expr_logp(slot, parent, has_vars)
            assert ("var" in lp) == has_vars
            assert math.isclose(sum(math.exp(v) for v in lp.values()), 1.0, abs_tol=1e-9)
    for role in ROLES:
        for n in range(1, MAX_VAR_INDEX + 3):
            assert math.isclose(sum(math.exp(g.var_logp(role, i, n)) for i in range(n)), 1.0, abs_tol=1e-9)


def test_uniform_probability_is_the_product_of_the_choices():
    g = Grammar.uniform()
    # move in (top, start) 1/5; ul among 19 productions (no variable in scope); 0 likewise; stop 1/5
    want = math.log(1 / 5) + 2 * math.log(1 / 19) + math.log(1 / 5)
    assert math.isclose(g.logp("(move ul 0)"), want)
    assert math.isclose(g.description_length("(move ul 0)"), -want / math.log(2))
    # inside a loop the variable is possible: 20 productions, and i is the only one in scope
    inner = g.logp("(loop i 2 (move i 0))")
    assert math.isclose(inner, math.log(1 / 5) + math.log(1 / 19) + math.log(1 / 5) + math.log(1 / 20)
                        + math.log(1 / 20) + math.log(1 / 5) + math.log(1 / 5))


def test_fitting_raises_the_corpus_likelihood():
    fitted = Grammar.fit(CORPUS)
    uniform = Grammar.uniform()
    assert sum(fitted.logp(p) for p in CORPUS) > sum(uniform.logp(p) for p in CORPUS) + 20
    # and a program of the corpus gets shorter than one the corpus never uses
    assert fitted.description_length(SQUARE) < uniform.description_length(SQUARE)
    assert fitted.description_length(SQUARE) < fitted.description_length("(penup (penup (move 7 9)))")
    assert fitted.meta["programs"] == len(CORPUS)


def test_variables_by_de_bruijn_index():
    g = Grammar.fit(["(loop i 3 (loop j 3 (move (* ul j) (/ ua 4))))"] * 5)
    inner = g.logp("(loop i 3 (loop j 3 (move (* ul j) (/ ua 4))))")
    outer = g.logp("(loop i 3 (loop j 3 (move (* ul i) (/ ua 4))))")
    assert inner > outer                           # the corpus reads the innermost loop's index
    renamed = g.logp("(loop a 3 (loop b 3 (move (* ul b) (/ ua 4))))")
    assert math.isclose(inner, renamed)


def test_library_procedures_are_productions():
    g = Grammar.fit(["(poly 5 ul)"] * 4 + CORPUS, LIBRARY)
    assert "call:poly" in g.stmt_logp("top", "start")
    assert g.logp("(poly 5 ul)") > g.logp("(poly 7 (* eps_l 3))")
    with pytest.raises(GrammarError, match="poly"):
        Grammar.fit(CORPUS).logp("(poly 5 ul)")       # no such production without the library
    skipped = Grammar.fit(CORPUS + ["(poly 5 ul)", "(move ul"], ())
    assert skipped.meta["skipped"] == 2 and skipped.meta["programs"] == len(CORPUS)


def test_save_and_load(tmp_path):
    g = Grammar.fit(CORPUS + ["(poly 3 ul)"], LIBRARY, pseudocount=0.5, source="test")
    path = g.save(tmp_path / "g.json")
    h = Grammar.load(path)
    assert h.procedures == g.procedures and h.meta["source"] == "test"
    for p in CORPUS + ["(poly 3 ul)"]:
        assert math.isclose(h.logp(p), g.logp(p), abs_tol=1e-4)


def test_bad_corpora_and_files_give_clear_errors(tmp_path):
    with pytest.raises(GrammarError, match="empty corpus"):
        Grammar.fit([])
    with pytest.raises(GrammarError, match="none of the 2"):
        Grammar.fit(["(move ul", "(nope 3)"])
    with pytest.raises(GrammarError, match="pseudocount"):
        Grammar.fit(CORPUS, pseudocount=0)
    with pytest.raises(GrammarError, match="does not exist"):
        Grammar.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(GrammarError, match="bad.json: cannot read"):
        Grammar.load(bad)
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(GrammarError, match="not a logo-synth grammar"):
        Grammar.load(bad)
    obj = Grammar.uniform().to_json()
    del obj["statements"]["top|start"]
    bad.write_text(json.dumps(obj))
    with pytest.raises(GrammarError, match="top\\|start"):
        Grammar.load(bad)
    obj = Grammar.uniform().to_json()
    obj["expressions"]["length.top|"]["const:ul"] = "heavy"
    bad.write_text(json.dumps(obj))
    with pytest.raises(GrammarError, match="not a number"):
        Grammar.load(bad)
    obj = Grammar.uniform().to_json()
    obj["version"] = 99
    bad.write_text(json.dumps(obj))
    with pytest.raises(GrammarError, match="version"):
        Grammar.load(bad)
