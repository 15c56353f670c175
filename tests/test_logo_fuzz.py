"""Fuzz: every input either works or raises a LogoError, and finishes quickly (bounded for CI).

Inputs come from `logo.fuzzing` (random texts, mutated task programs in both syntaxes, procedure
chains, huge literals, deep nesting, overflowing arithmetic); `bench/fuzz.py` is the long run.
"""
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import logo
from logo.fuzzing import KINDS, chain, check, exercise, fuzz_input

TIME_BOUND = 2.0


@pytest.fixture(scope="module", autouse=True)
def _warm():
    exercise("(loop i 4 (move ul (/ ua 4)))")  # load the numba functions before timing anything


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS))
def test_only_logo_errors_and_no_hangs(seed, kind):
    _, text = fuzz_input(random.Random(seed), kind)
    err, seconds = check(text, TIME_BOUND)
    assert err is None, f"{type(err).__name__}: {err} on {text[:200]!r}"
    assert seconds < TIME_BOUND, f"{seconds:.1f} s on {text[:200]!r}"


@pytest.mark.parametrize("fan,depth,leaf", [(10, 15, ""), (10, 15, "(move 0 0)"), (2, 40, ""), (20, 16, "(embed)")])
def test_procedure_chains_are_rejected_quickly(fan, depth, leaf):
    text = chain(fan, depth, leaf)
    t0 = time.perf_counter()
    with pytest.raises(logo.LimitError):
        logo.run(text)
    from logo.reference import run_reference
    with pytest.raises(logo.LimitError):
        run_reference(logo.parse(text))
    assert time.perf_counter() - t0 < TIME_BOUND


@pytest.mark.parametrize("parse", [logo.parse, logo.syntax.parse_with_lark])
@pytest.mark.parametrize("literal", ["1" * 4301, "1" + "0" * 5000, "9" * 10_000])
def test_huge_literals_are_syntax_errors(parse, literal):
    with pytest.raises(logo.LogoSyntaxError, match="out of range"):
        parse(f"(move {literal} 0)")
    with pytest.raises(logo.LogoSyntaxError, match="out of range"):
        logo.from_dreamcoder(f"((move 1l (/a 1a {literal})))")


@pytest.mark.parametrize("parse", [logo.parse, logo.syntax.parse_with_lark, logo.from_dreamcoder])
def test_leading_zeros_are_still_small_literals(parse):
    text = f"(move 1l {'0' * 5000}7)" if parse is logo.from_dreamcoder else f"(move {'0' * 5000}7 0)"
    assert logo.Num(7) in logo.walk(parse(text))


def test_non_ascii_digits_are_syntax_errors():
    with pytest.raises(logo.LogoSyntaxError):
        logo.from_dreamcoder("((move 1l ²))")
    with pytest.raises(logo.LogoSyntaxError):
        logo.parse("(move ² 0)")


@pytest.mark.parametrize("text,error", [
    ("(move (/ ul 0) 0)", logo.NumericRangeError),
    ("(move " + "(* 9 " * 8 + "9" + ")" * 8 + " 0)", logo.NumericRangeError),
    ("(loop i (* 9 (* 9 (* 9 9))) (move ul 0))", logo.LoopLimitError),
    ("(loop i 9 (loop j 9 (loop k 9 (loop m 9 (move eps_l 0)))))", logo.LimitError),
    ("(define (f) (f)) (f)", logo.CallDepthError),
    ("(move i 0)", logo.UnboundNameError),
])
def test_reference_interpreter_raises_logo_errors_like_the_vm(text, error):
    from logo.reference import run_reference
    with pytest.raises(error):
        logo.run(text)
    with pytest.raises(error):
        run_reference(logo.parse(text))
