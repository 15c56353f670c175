"""The paths `train` takes at scale: device-dependent defaults, bf16 autocast, torch.compile, CUDA.

The CPU tests run in CI (bf16 autocast and torch.compile on the CPU exercise the same code as on a
GPU, only slower); the `gpu` tests run where CUDA is present (`pytest -m gpu`, `bench/gpu_check.sh`)
and skip cleanly elsewhere.
"""
import math
import shutil

import pytest
import torch

from model import checkpoint
from model.edit.net import EditModel, loss_and_metrics, preset
from model.step import make_optimizer, train_step
from model.device import DEVICE_DEFAULTS, autocast_factory, resolve_size
from model.edit.train import config_params
from model.train import main
from tinymodel import pair_batch
from model.tokenizer import Tokenizer

PAIRS = [("", "(move ul 0)"), ("(move ul 0)", "(move (* ul 2) 0)"), ("(move ul 0)", "(loop i 4 (move ul (/ ua 4)))"),
         ("(move ul (/ ua 4))", "(move ul 0)"), ("", "(loop i 3 (move ul (/ ua 3)))"),
         ("(loop i 4 (move (* ul 3) (/ ua 4)))", "(loop i 4 (move (* ul 2) (/ ua 4)))")]
TINY = dict(image_size=32, max_tokens=32, max_edits=24, d_model=32, n_heads=2, img_layers=1, prog_layers=1,
            dec_layers=1, ffn_mult=2)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run with a GPU: pytest -m gpu)")


def c_compiler() -> str | None:
    return shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def tiny_setup(device="cpu", seed=0):
    torch.manual_seed(seed)
    tok = Tokenizer()
    config = preset("tiny", **TINY)
    model = EditModel(config, len(tok)).to(device)
    batch = {k: v.to(device) for k, v in pair_batch(PAIRS, tok, config).items()}
    return model, batch


def losses(model, batch, steps: int, autocast, run=None) -> list[float]:
    """Train `steps` of `train`'s steps (its optimizer, fused AdamW on CUDA) on one fixed batch (so the
    loss must fall); the loss of each step."""
    run = model if run is None else run
    opt = make_optimizer(model, next(model.parameters()).device.type, lr=3e-3, weight_decay=0.0)
    return [float(train_step(run, opt, batch, autocast, loss_fn=loss_and_metrics)["loss"]) for _ in range(steps)]


def assert_learns(ls: list[float]) -> None:
    assert all(math.isfinite(x) for x in ls), ls
    assert ls[-1] < 0.7 * ls[0], ls


# ---- defaults that fit the device -----------------------------------------------------------------

def test_cpu_default_is_small_and_cuda_default_is_large():
    assert resolve_size("cpu", None, None)[:2] == ("tiny", 32)
    assert resolve_size("cuda", None, None)[:2] == ("default", 128)
    assert "CPU default" in resolve_size("cpu", None, None)[2]
    # the CPU pick is at least 5x smaller than the CUDA one
    assert config_params(preset(DEVICE_DEFAULTS["cpu"][0])) * 5 < config_params(preset(DEVICE_DEFAULTS["cuda"][0]))


def test_preset_and_batch_override_the_device_default():
    assert resolve_size("cpu", "default", None)[:2] == ("default", 32)
    assert resolve_size("cpu", None, 256)[:2] == ("tiny", 256)
    assert resolve_size("cuda", "tiny", 16) == ("tiny", 16, "as given")
    assert "--preset as given" in resolve_size("cpu", "small", None)[2]


def test_config_params_counts_the_real_model():
    config = preset("tiny", **TINY)
    assert config_params(config) == EditModel(config, len(Tokenizer())).n_params()


# ---- bf16 and compile on the CPU ------------------------------------------------------------------

def test_bf16_autocast_on_cpu_learns():
    model, batch = tiny_setup()
    autocast = autocast_factory("cpu", True)
    with autocast():
        logits = model.type_head(torch.zeros(2, model.config.d_model))
    assert logits.dtype == torch.bfloat16          # autocast is really on
    assert_learns(losses(model, batch, 20, autocast))


def test_train_with_bf16_on_cpu_runs_and_checkpoints(tmp_path, capsys):
    out = tmp_path / "ckpt"
    assert main(["--random-programs", "20", "--out", str(out), "--steps", "3", "--bf16", "--d-model", "32",
                 "--layers", "1", "--heads", "2", "--mutations", "16", "--eval-every", "1000", "--eval-pairs", "4",
                 "--threads", "1", "--quiet", "--device", "cpu"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("train: device cpu, the edit model, preset tiny (") and "batch 32 (CPU default" in first
    _, _, meta = checkpoint.load_latest(out)
    assert meta["step"] == 3


@pytest.mark.slow
@pytest.mark.skipif(c_compiler() is None, reason="torch.compile on the CPU needs a C compiler (none on PATH)")
def test_compiled_model_matches_eager_and_learns_on_cpu():
    torch._dynamo.reset()
    model, batch = tiny_setup()
    with torch.no_grad():
        eager_loss = float(loss_and_metrics(model, batch)[0])
    # static shapes (one fixed batch): the cheapest compile that still runs inductor's C++ code generation
    # for the forward and backward passes (about a minute on a busy 2-core CPU); the CUDA tests compile
    # with dynamic=True, as `train --compile` does
    compiled = torch.compile(model, dynamic=False)
    ls = losses(model, batch, 20, autocast_factory("cpu", False), run=compiled)
    assert ls[0] == pytest.approx(eager_loss, rel=1e-3)   # the compiled forward computes the same loss
    assert_learns(ls)


# ---- CUDA -------------------------------------------------------------------------------------------

@pytest.mark.gpu
@needs_cuda
def test_bf16_training_steps_on_cuda():
    model, batch = tiny_setup("cuda")
    assert_learns(losses(model, batch, 20, autocast_factory("cuda", True)))


@pytest.mark.gpu
@needs_cuda
def test_compiled_bf16_training_on_cuda():
    torch._dynamo.reset()
    model, batch = tiny_setup("cuda")
    compiled = torch.compile(model, dynamic=True)
    assert_learns(losses(model, batch, 20, autocast_factory("cuda", True), run=compiled))


@pytest.mark.gpu
@needs_cuda
def test_train_on_cuda_with_compile(tmp_path, capsys):
    out = tmp_path / "ckpt"
    assert main(["--random-programs", "200", "--out", str(out), "--steps", "20", "--compile", "--batch-size", "64",
                 "--mutations", "64", "--eval-every", "10", "--eval-pairs", "8", "--quiet", "--device", "cuda"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("train: device cuda, preset default (")
    _, _, meta = checkpoint.load_latest(out)
    assert meta["step"] == 20
