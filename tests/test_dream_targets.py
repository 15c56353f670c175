"""Dream targets: the weighted mix, and evaluation data (MNIST held-out, DreamCoder test) never drawn."""
import numpy as np
import pytest

import logo
from data import dreamcoder_tasks, mnist
from data.db import Database
from dream.search.targets import TargetSampler, mnist_targets, parse_weights


def test_parse_weights():
    assert parse_weights("mnist=1,tasks=2,db=0") == {"mnist": 1.0, "tasks": 2.0, "db": 0.0}
    assert parse_weights(None) == {"mnist": 1.0, "tasks": 1.0, "db": 1.0}
    for bad in ("pictures=1", "mnist=x", "mnist=-1", "mnist=0,tasks=0"):
        with pytest.raises(ValueError):
            parse_weights(bad)


def test_dream_never_draws_evaluation_data(tmp_path):
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert_many(["(move ul 0)", "(loop i 4 (move ul (/ ua 4)))", "(loop i 5 (move 2 (/ ua 5)))"])
    s = TargetSampler({"mnist": 1, "tasks": 1, "db": 1}, db, 32, seed=0)
    train_names = {t.name for t in dreamcoder_tasks("train")}
    test_names = {t.name for t in dreamcoder_tasks("test")} - train_names
    train_digits = {d.tobytes() for d in mnist(split="train")}
    held_digits = {d.tobytes() for d in mnist(split="heldout")}
    kinds = {"mnist": 0, "tasks": 0, "db": 0}
    for _ in range(150):
        t = s.next()
        kinds[t.kind] += 1
        assert t.image.shape == (32, 32) and t.image28.shape == (28, 28)
        if t.kind == "tasks":
            assert t.name in train_names and t.name not in test_names and t.extra["split"] == "train"
        elif t.kind == "mnist":
            assert t.image28.tobytes() in train_digits and t.image28.tobytes() not in held_digits
        else:
            e = db.get(t.entry_id)
            assert np.array_equal(t.image, e.image) and t.known_program == e.head
            assert np.array_equal(t.image28, logo.render(e.head, 28))
    assert min(kinds.values()) > 20, kinds          # all three kinds, roughly by weight
    only_tasks = TargetSampler({"tasks": 1}, None, 32, seed=1)
    assert {only_tasks.next().kind for _ in range(10)} == {"tasks"}
    # an empty database: db targets drop out
    empty = TargetSampler({"db": 1, "tasks": 1}, Database(tmp_path / "e.sqlite", image_size=32), 32, seed=2)
    assert {empty.next().kind for _ in range(10)} == {"tasks"}


def test_mnist_heldout_targets_spread_over_classes():
    from data.mnist import bundled_labels, split_indices
    ts = mnist_targets("heldout", 32, limit=20)
    assert len(ts) == 20
    idx = [int(t.name.rsplit("-", 1)[1]) for t in ts]
    labels = bundled_labels()[split_indices(5000, "heldout")][idx]
    assert set(labels.tolist()) == set(range(10))
    assert [t.extra["label"] for t in ts] == labels.tolist()      # each digit carries its own label


def test_the_laps_training_tasks_are_bundled_and_drawn():
    from data import laps_tasks
    tasks = laps_tasks()
    assert len(tasks) == 200 and {t.split for t in tasks} == {"train"}
    assert all(t.image.shape == (28, 28) and t.image.max() > 0 for t in tasks)   # every program draws ink
    assert tasks[0].name == "a small triangle"
