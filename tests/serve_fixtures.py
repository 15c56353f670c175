"""A small database for the `logo db serve` tests (HTTP and browser): random programs, equivalents, a
library procedure, dream entries added after a known time, and two DreamCoder tasks."""
from __future__ import annotations

import time

import logo

LIBRARY = "(define (sq s) (loop i 4 (move s (/ ua 4))))"
SQUARE = "(loop i 4 (move ul (/ ua 4)))"
TASKS = ("5-gon 1l", "7-gon 1l")
DREAM = ("(loop i 9 (move (/ ul 2) (/ ua 9))) (move (* ul 3) (/ ua 3))", "(move ul (/ ua 4)) (move (* ul 2) 0)")


def _new(result) -> int:
    assert result.status == "new", result          # the fixture's entries of each source are its own
    return result.entry_id


def build_db(path) -> dict:
    """Make the database; returns what the tests need to know about it (ids, the time between batches)."""
    from data import dreamcoder_tasks
    from data.db import Database
    from data.generate import random_programs
    with Database(path) as db:
        db.set_library(LIBRARY)
        by_name = {t.name: t for t in dreamcoder_tasks("train")}
        tasks = {name: _new(db.insert(logo.to_text(by_name[name].program), source="task")) for name in TASKS}
        db.insert_many(random_programs(250, seed=3, max_tokens=30), source="random")
        square = db.insert(SQUARE, source="random").entry_id
        db.insert("(sq ul)", source="library")                      # an equivalent of the square
        db.insert("(move (* ul 2) 0)", source="random")
        db.insert("(move ul 0) (move ul 0)", source="random")      # an equivalent of the line
        time.sleep(0.05)
        middle = time.time()
        time.sleep(0.05)
        dream = [_new(db.insert(p, source="dream")) for p in DREAM]
        n = len(db)
    return {"square": square, "middle": middle, "dream": dream, "tasks": tasks, "entries": n}


def tiny_checkpoint(directory) -> str:
    """A tiny untrained model saved as a checkpoint whose tokenizer knows the library's names."""
    from model import checkpoint
    from model.edit.net import EditModel, preset
    from model.tokenizer import Tokenizer
    tok = Tokenizer()
    tok.add_library(logo.parse_library(LIBRARY))
    config = preset("tiny", image_size=32, max_tokens=48, max_edits=24, d_model=32, n_heads=2, img_layers=1,
                    prog_layers=1, dec_layers=1, ffn_mult=2)
    checkpoint.save(directory, EditModel(config, len(tok)), tok, step=0)
    return str(directory)


def loaded(app, timeout: float = 120.0):
    """`app` once its nearest-entries index has loaded (pages answer 503 "still loading" before)."""
    app.extensions["logo_serve"].near.wait_ready(timeout)
    return app
