"""The shared token definition and s-expression reader, library parsing and solve size (logo.tokens,
logo.library)."""
import random

import numpy as np
import pytest

import logo
from logo.tokens import TOKEN_RE, n_tokens, read_sexpr, tokenize


def test_tokenize_counts_parentheses():
    assert tokenize("(loop i 4 (move ul (/ ua 4)))") == ["(", "loop", "i", "4", "(", "move", "ul", "(", "/", "ua",
                                                         "4", ")", ")", ")"]
    assert n_tokens("(loop i 4 (move ul (/ ua 4)))") == 14
    assert n_tokens("") == 0 and tokenize("  \n") == []


def test_n_tokens_agrees_with_tokenize_on_arbitrary_text():
    rng = random.Random(0)
    chars = "() \t\n\x0b\x0c\x1c\x85\xa0\u2028\u3000ab1;.-"
    for _ in range(20000):
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 24)))
        assert n_tokens(text) == len(tokenize(text)) == len(TOKEN_RE.findall(text)), repr(text)


def test_one_definition_everywhere():
    import data.generate
    import dream.search.frontier
    import model.tokenizer
    assert data.generate.n_tokens is n_tokens and dream.search.frontier.n_tokens is n_tokens
    assert logo.n_tokens is n_tokens and logo.tokenize is tokenize and logo.TOKEN_RE is TOKEN_RE
    assert model.tokenizer.split("(move ul 0)") == ["(", "move", "ul", "0", ")"]


def test_parse_library():
    assert logo.parse_library(None) == () and logo.parse_library("") == () and logo.parse_library(" \n") == ()
    defs = logo.parse_library("(define (sq a) (loop i 4 (move a ua))) (define (l) (move ul 0))")
    assert isinstance(defs, tuple) and [d.name for d in defs] == ["sq", "l"]
    assert all(isinstance(d, logo.Define) for d in defs)
    with pytest.raises(ValueError, match="only"):
        logo.parse_library("(define (l) (move ul 0)) (move ul 0)")
    with pytest.raises(logo.LogoSyntaxError):
        logo.parse_library("(define (l) (move ul 0)")


def test_targets_are_judged_at_the_solve_size(tmp_path):
    """Whatever the model's image size, every target carries its drawing at SOLVE_SIZE (where "solved" is
    decided), and an image file is read at that size unless asked otherwise."""
    from data import dreamcoder_tasks
    from dream.search.targets import task_targets
    from logo.images import load_target_image
    from logo.pictures import save_png
    n = logo.SOLVE_SIZE
    targets = task_targets("test", 32)[:4]
    for t in targets:
        assert t.image.shape == (32, 32) and t.image28.shape == (n, n)
        assert np.array_equal(t.image28, logo.render(t.known_program, n))
    assert dreamcoder_tasks("test")[0].image.shape == (n, n)        # the task list's default size is it too
    save_png(targets[0].image, tmp_path / "t.png")
    assert load_target_image(tmp_path / "t.png").shape == (n, n)


def test_read_sexpr_nested_lists_and_builders():
    assert read_sexpr("(a (b c) d)") == ["a", ["b", "c"], "d"]
    assert read_sexpr("  x ") == "x"
    # builders run bottom-up in text order: each atom when read, each list when it closes
    calls = []
    got = read_sexpr("(f (g x) y)", atom=lambda t: calls.append(t) or t.upper(),
                     node=lambda items: calls.append(tuple(items)) or "+".join(items))
    assert got == "F+G+X+Y"
    assert calls == ["f", "g", "x", ("G", "X"), "y", ("F", "G+X", "Y")]


@pytest.mark.parametrize("text,error,match", [
    ("(a b", logo.LogoSyntaxError, r"missing '\)'"),
    ("a b)", logo.LogoSyntaxError, r"unbalanced '\)' at offset 3"),
    ("(a) (b)", logo.LogoSyntaxError, "found 2"),
    ("", logo.LogoSyntaxError, "found 0"),
])
def test_read_sexpr_errors(text, error, match):
    with pytest.raises(error, match=match):
        read_sexpr(text)


def test_read_sexpr_depth():
    deep = "(" * 5000 + "x" + ")" * 5000
    assert read_sexpr(deep, node=lambda items: items[0] if items else None) == "x"      # no recursion
    with pytest.raises(logo.ProgramSizeError, match="deeper than 100"):
        read_sexpr(deep, max_nesting=100)
    assert read_sexpr("(" * 100 + ")" * 100, max_nesting=100) is not None


def test_both_s_expression_formats_share_the_reader():
    """DreamCoder's LOGO syntax and the compressor's λ-terms report the reader's errors."""
    from library import sexpr
    from library.core import Store
    with pytest.raises(logo.LogoSyntaxError, match="missing"):
        logo.from_dreamcoder("((move 1l 0a)")
    with pytest.raises(ValueError, match=r"missing .* in '\(f \(g x\)'"):
        sexpr.parse(Store(), "(f (g x)")
    st = Store()
    assert sexpr.show(st, sexpr.parse(st, "(lam (f $0 (g #0)))")) == "(lam (f $0 (g #0)))"
