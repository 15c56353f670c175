"""The learning-rate schedule across resumed runs (`model.schedule`): a run stopped and resumed follows
the same cosine as one uninterrupted run, unless --warm-restart starts a new one."""
import math

import pytest

from model.schedule import Cosine, choose_cosine, lr_factor

WARMUP, MIN = 10, 0.05


def factor(c: Cosine, step: int, trained_s: float) -> float:
    return lr_factor(step, c.progress(step, trained_s), WARMUP, MIN)


def test_learning_rate_shape():
    assert lr_factor(0, 0.0, 10, 0.1) == pytest.approx(0.1)       # warm-up
    assert lr_factor(9, 0.0, 10, 0.1) == pytest.approx(1.0)
    assert lr_factor(50, 0.5, 10, 0.1) == pytest.approx(0.55)     # half way down the cosine
    assert lr_factor(99, 1.0, 10, 0.1) == pytest.approx(0.1)
    assert lr_factor(99, 3.0, 10, 0.1) == pytest.approx(0.1)      # past the horizon: the floor


def test_a_new_run_decays_over_its_own_budget():
    c = choose_cosine(None, 0, 0.0, budget_steps=200, budget_s=0.0)
    assert c == Cosine(0, 0.0, 200, 0.0) and c.progress(50, 1e6) == 0.25
    c = choose_cosine(None, 0, 0.0, budget_steps=0, budget_s=90.0)
    assert c.progress(10**6, 45.0) == 0.5
    assert choose_cosine(None, 0, 0.0, 0, 0.0).progress(10**6, 10**6) == 0.0    # no limit: no decay
    # both: whichever is further along
    assert Cosine(0, 0.0, 100, 100.0).progress(30, 60.0) == pytest.approx(0.6)


def test_time_budget_resumed_in_rounds_follows_one_uninterrupted_cosine():
    """`logo run`'s case: three rounds of 100 training seconds under --schedule-seconds 300, each round
    a new `train` process resumed from the checkpoint the previous one saved (meta "schedule")."""
    rate = 5.0                                            # steps a second
    whole = choose_cosine(None, 0, 0.0, budget_steps=0, budget_s=300.0)
    saved, step, trained = None, 0, 0.0
    for _ in range(3):
        c = choose_cosine(saved, step, trained, budget_steps=0, budget_s=100.0, seconds=300.0)
        for _ in range(500):
            step, trained = step + 1, trained + 1 / rate
            assert factor(c, step, trained) == pytest.approx(factor(whole, step, trained))
        saved = Cosine.from_dict(c.to_dict())            # through the checkpoint
    assert factor(c, step, trained) == pytest.approx(MIN)   # decayed once, at the end
    # without a horizon flag a resumed run keeps its checkpoint's
    assert choose_cosine(saved, step, trained, budget_steps=0, budget_s=100.0) == saved


def test_warm_restart_starts_a_new_cosine_at_the_resumed_point():
    saved = Cosine(0, 0.0, 0, 300.0)
    c = choose_cosine(saved, 500, 100.0, budget_steps=0, budget_s=100.0, warm_restart=True)
    assert c == Cosine(500, 100.0, 0, 100.0)
    assert factor(c, 501, 100.0) == pytest.approx(1.0)           # back at the peak
    assert factor(c, 750, 150.0) == pytest.approx(MIN + (1 - MIN) * 0.5)
    # continuing instead: a third of the way down the 300 s cosine
    assert factor(saved, 501, 100.0) == pytest.approx(MIN + (1 - MIN) * 0.5 * (1 + math.cos(math.pi / 3)))
    # a checkpoint that records no cosine (from before) also starts a new one
    assert choose_cosine(None, 500, 100.0, budget_steps=40, budget_s=0.0) == Cosine(500, 100.0, 40, 0.0)


def test_horizon_flags_override_the_checkpoint():
    saved = Cosine(0, 0.0, 100, 0.0)
    assert choose_cosine(saved, 80, 8.0, 0, 0.0, steps=400) == Cosine(0, 0.0, 400, 0.0)
    assert choose_cosine(saved, 80, 8.0, 0, 0.0, seconds=60.0) == Cosine(0, 0.0, 100, 60.0)


@pytest.mark.parametrize("record", [None, {}, {"start_step": 0}, "x", [1, 2],
                                    {"start_step": -1, "start_s": 0, "steps": 1, "seconds": 0},
                                    {"start_step": 0, "start_s": float("nan"), "steps": 1, "seconds": 0},
                                    {"start_step": 0, "start_s": 0, "steps": 1, "seconds": "inf"}])
def test_a_damaged_record_is_no_record(record):
    assert Cosine.from_dict(record) is None


def test_record_round_trip():
    c = Cosine(12, 3.5, 100, 60.0)
    assert Cosine.from_dict(c.to_dict()) == c
