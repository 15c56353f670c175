"""The shared token definition, library parsing and solve size (logo.tokens, logo.library)."""
import random

import pytest

import logo
from logo.tokens import TOKEN_RE, n_tokens, tokenize


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
    import dream.search
    import model.tokenizer
    assert data.generate.n_tokens is n_tokens and dream.search.n_tokens is n_tokens
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


def test_solve_size():
    from dream.targets import Target  # noqa: F401  (the dream package uses the constant)
    assert logo.SOLVE_SIZE == 28
