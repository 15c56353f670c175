"""The network statement source of digit construction (`model.statement`, the `construct-net` arm) and the
digit library that shortens constructions (`data/digit_library.logo`, `construct.with_library`)."""
import numpy as np
import pytest
import torch

import logo
from dream.search import construct as C
from dream.search.score import iou
from dream.search.settings import SearchSettings
from dream.search.solver import Solver
from dream.search.targets import Target
from model.statement import train as T
from model.statement.net import StatementNet

SEVEN = "(move 4 (* 5 (/ ua 8))) (move 5 0)"
ELL = "(move 3 (/ ua 4)) (move 4 0)"


def _construction(text: str):
    img = logo.render(text, size=28)
    got = C.construct(img, budget_s=1.0)
    return img, got


def _examples(texts) -> dict:
    cols = {k: [] for k in ("target", "drawn", "next", "rest", "pos", "heading", "digit")}
    for d, text in enumerate(texts):
        img, got = _construction(text)
        for e in C.statement_examples(got.prims, got.start, img):
            for k in ("target", "drawn", "next", "rest", "heading"):
                cols[k].append(e[k])
            cols["pos"].append(e["pos"] if e["pos"] is not None else (np.nan, np.nan))
            cols["digit"].append(d)
    return cols


def test_statement_examples_replay_the_construction():
    img, got = _construction(SEVEN)
    assert got.prims and got.iou >= 0.85
    ex = C.statement_examples(got.prims, got.start, img)
    pen_down = [p for p in got.prims if p.kind != "jump"]
    assert len(ex) == len(got.prims) and pen_down
    assert ex[0]["pos"] is None and not ex[0]["drawn"].any()
    assert np.array_equal(ex[0]["rest"], C.draw(got.prims, got.start))          # all it will draw
    for a, b in zip(ex, ex[1:]):
        assert not (a["next"] & ~a["rest"]).any() and a["next"].any()         # the next ink is still to come
        assert b["pos"] is not None
        assert (b["drawn"] >= a["drawn"]).all()                                # the canvas only grows


def test_examples_round_trip_and_training_lowers_the_loss(tmp_path):
    path = tmp_path / "ex.npz"
    T.save_examples(path, _examples([SEVEN, ELL]))
    x, y, digit = T.load_examples(path)
    assert x.shape[1:] == (6, 28, 28) and y.shape[1:] == (2, 28, 28) and len(x) == len(digit) >= 2
    assert x[0, 3].max() == 0 and x[1, 3].max() > 0.5            # no turtle before the first statement
    torch.manual_seed(0)
    untrained = StatementNet().eval()
    net = T.train(x, y, epochs=40, batch=8)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    with torch.no_grad():
        assert T.loss_of(net, xt, yt).item() < 0.7 * T.loss_of(untrained, xt, yt).item()


def test_weights_are_cached_and_a_damaged_cache_is_trained_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "ex.npz"
    T.save_examples(path, _examples([ELL]))
    trained = []
    real_train = T.train
    monkeypatch.setattr(T, "train", lambda x, y, **kw: trained.append(1) or real_train(x, y, epochs=2))
    T.load_or_train(path)
    assert trained == [1] and T.cache_path(path).is_file()
    T.load_or_train(path)                                # read back, not trained again
    assert trained == [1]
    T.cache_path(path).write_bytes(b"not a torch file")
    T.load_or_train(path)
    assert trained == [1, 1]


def test_the_bundled_weights_belong_to_the_bundled_examples():
    """Whoever regenerates data/digit_statements.npz regenerates the weights (`python -m
    model.statement.train --write`); else every user would train on first use."""
    assert T.bundled_path().is_file()
    assert isinstance(T.load_weights(T.bundled_path()), StatementNet)


def _digit(i: int = 7) -> Target:
    from data.mnist import mnist
    img = mnist(None, "heldout", 28)[i]
    return Target(f"mnist-heldout-{i}", "mnist", img, img)


def test_construct_net_arm_draws_a_digit_from_the_networks_statements(monkeypatch):
    used = []
    real = C.Constructor.net_value
    monkeypatch.setattr(C.Constructor, "net_value", lambda self, s: used.append(1) or real(self, s))
    s = Solver.open(["construct-net"], settings=SearchSettings(budget_s=1.5))
    try:
        row = s.solve_one("construct-net", _digit(), 0)
    finally:
        s.close()
    assert "error" not in row and row["arm"] == "construct-net"
    assert used and row["iou"] > 0.4


def test_construction_is_rewritten_with_the_digit_library():
    from library.api import load_library
    lib = tuple(load_library(C.DIGIT_LIBRARY))
    assert {d.name for d in lib} and all(d.name.startswith("digit_") for d in lib)
    s = Solver.open(["construct"], settings=SearchSettings(budget_s=1.5))
    try:
        row = s.variant(library=lib).solve_one("construct", _digit(), 0)
    finally:
        s.close()
    assert "error" not in row and row["calls_library"]
    assert row["tokens"] < logo.tokens.n_tokens(row["constructed"])
    drawn = logo.render(row["program"], size=28, library=lib)
    assert round(float(iou(drawn, _digit().image28)), 4) == round(row["iou"], 4)
    plain = C.with_library(row["constructed"], lib)
    assert plain is None or logo.tokens.n_tokens(plain) < logo.tokens.n_tokens(row["constructed"])


def test_with_library_leaves_a_program_it_cannot_shorten():
    assert C.with_library("(move 1 0)", ()) is None
    lib = logo.parse_library("(define (arc a b) (loop i b (move a eps_a)))")
    got = C.with_library("(loop i 9 (move (/ 2 5) eps_a)) (move 3 0)", lib)
    assert got == "(arc (/ 2 5) 9) (move 3 0)"
    assert np.array_equal(logo.render(got, library=lib), logo.render("(loop i 9 (move (/ 2 5) eps_a)) (move 3 0)"))
