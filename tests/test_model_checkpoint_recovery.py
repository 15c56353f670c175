"""Checkpoint directories after a crash: stale temporary files are removed, and a damaged newest
checkpoint falls back to the previous good one with a warning (model.checkpoint)."""
import pytest
import torch

from model import checkpoint
from model.edit.net import EditModel, preset
from model.tokenizer import Tokenizer

torch.set_num_threads(1)


@pytest.fixture
def ckpt_dir(tmp_path):
    tok = Tokenizer()
    model = EditModel(preset("tiny", d_model=16, img_layers=1, prog_layers=1, dec_layers=1, n_heads=2), len(tok))
    for step in (1, 2, 3):
        checkpoint.save(tmp_path, model, tok, step, keep=0)
    return tmp_path


def test_stale_temp_files_are_removed_and_nothing_else(ckpt_dir):
    stale = [ckpt_dir / ".ckpt_00000004.pt.k2j3h4.tmp", ckpt_dir / ".latest.a8s7d6.tmp"]
    keep = [ckpt_dir / ".other.tmp", ckpt_dir / "notes.txt"]
    for p in stale + keep:
        p.write_bytes(b"x" * 100)
    assert sorted(checkpoint.remove_stale_temp_files(ckpt_dir)) == sorted(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)
    assert checkpoint.remove_stale_temp_files(ckpt_dir / "missing") == []


def test_damaged_newest_checkpoint_falls_back_with_a_warning(ckpt_dir):
    newest = ckpt_dir / "ckpt_00000003.pt"
    newest.write_bytes(newest.read_bytes()[:3000])          # truncated by a crash or a full disk
    warnings = []
    state = checkpoint.load_newest_good(ckpt_dir, warn=warnings.append)
    assert state["step"] == 2
    assert any("ckpt_00000003.pt" in w and "damaged" in w for w in warnings)
    assert any("ckpt_00000002.pt" in w for w in warnings)


def test_damaged_latest_pointer_uses_the_newest_file(ckpt_dir):
    (ckpt_dir / "latest").write_bytes(b"\xff\xfe\x00garbage")
    assert checkpoint.latest_path(ckpt_dir).name == "ckpt_00000003.pt"
    (ckpt_dir / "latest").write_text("../../etc/passwd\n")
    assert checkpoint.latest_path(ckpt_dir).name == "ckpt_00000003.pt"
    assert checkpoint.load_newest_good(ckpt_dir)["step"] == 3


def test_every_checkpoint_damaged_is_a_clear_error(ckpt_dir):
    for p in ckpt_dir.glob("ckpt_*.pt"):
        p.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint can be loaded"):
        checkpoint.load_newest_good(ckpt_dir)


def test_no_checkpoint_is_none(tmp_path):
    assert checkpoint.load_newest_good(tmp_path) is None
    assert checkpoint.load_newest_good(tmp_path / "missing") is None
