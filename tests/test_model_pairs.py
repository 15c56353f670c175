"""The pair pool and the program sources the sampler reads."""
import numpy as np
import pytest

from data.db import Database
from data.memory import MemorySource
from data.source import ProgramSource
from model.edit.edits import apply_edits
from model.edit.encoding import decode_script
from model.edit.pairs import KINDS, PairPool
from model.examples import is_heldout
from model.tokenizer import Tokenizer, program_tokens


def test_database_and_memory_source_satisfy_the_protocol(tmp_path):
    mem = MemorySource(["(move 1 0)", "(move 2 0)"], image_size=32)
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert_many(["(move 1 0)", "(move 2 0)"])
    for src in (mem, db):
        assert isinstance(src, ProgramSource)
        assert len(src) == 2 and src.max_entry_id() == 2
        heads = src.heads()
        assert [h for _, h in heads] == ["(move 1 0)", "(move 2 0)"]
        assert src.images([e for e, _ in heads]).shape == (2, 32, 32)
        assert src.get(heads[0][0]).head == "(move 1 0)" and src.library_text() == ""
    db.close()
    assert not isinstance(object(), ProgramSource)


def test_add_pair_stores_the_encoded_script_and_the_target_image_row():
    tok = Tokenizer()
    pool = PairPool(tok, max_tokens=16, max_edits=8, heldout=0.5, capacity=1)
    a, b = program_tokens("(move 1 0)"), program_tokens("(move 2 0)")
    entry = next(e for e in range(1, 100) if not is_heldout(e, 0.5))
    assert pool.add_pair("edit", a, b, img_a=3, img_b=7, b_entry=entry)
    held = next(e for e in range(1, 100) if is_heldout(e, 0.5))
    assert pool.add_pair("denovo", [], b, img_a=0, img_b=9, b_entry=held)     # grows past capacity 1
    assert pool.n == 2 and pool.rows[("edit", "train")] == [0] and pool.rows[("denovo", "heldout")] == [1]
    r = pool.arrays
    assert (r["img_a"][0], r["img_b"][0], r["b_entry"][0]) == (3, 7, entry) and r["img_b"][1] == 9
    script = decode_script(tok, r["e_type"][0], r["e_tok"][0], r["e_pos"][0])
    assert apply_edits(a, script) == b
    assert tok.decode(r["a_ids"][0][:r["a_len"][0]]) == a
    # nothing to learn, too long, or an unknown kind
    assert not pool.add_pair("edit", a, a, 1, 1, entry)
    assert not pool.add_pair("edit", a * 5, b, 1, 1, entry)
    assert pool.n == 2 and set(k for k, _ in pool.rows) == set(KINDS)
    with pytest.raises(ValueError, match="kind"):
        pool.add_pair("no-such-kind", a, b, 1, 1, entry)
