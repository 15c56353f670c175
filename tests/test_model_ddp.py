"""Two-process DDP training on CPU (gloo): both ranks stop at the same step under --max-seconds,
one checkpoint is written (loadable with weights_only=True) and the run resumes from it."""
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model import checkpoint

ARGS = ["--random-programs", "40", "--image-size", "32", "--preset", "tiny", "--d-model", "32", "--layers", "1",
        "--heads", "2", "--max-edits", "40", "--batch-size", "8", "--eval-pairs", "4", "--threads", "1", "--quiet",
        "--mutations", "32", "--warmup", "2", "--device", "cpu", "--eval-every", "100000", "--ckpt-every",
        "100000", "--log-every", "1", "--max-seconds", "15"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_two_ranks(out: Path, delay_rank1: float) -> list[str]:
    """Start ranks 0 and 1 as torchrun would (rank 1 `delay_rank1` s later, so the clocks differ)."""
    port = free_port()
    root = Path(__file__).resolve().parents[1]
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
        # import first (the optimizer's first step pulls in torch._dynamo), so that --max-seconds,
        # counted from `main`, is spent training rather than importing on a busy machine
        cmd = [sys.executable, "-c", "import sys, time, torch._dynamo; from model.train import main; "
               f"time.sleep({delay_rank1 * rank}); sys.exit(main(sys.argv[1:]))", "--out", str(out), *ARGS]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for p in procs:
            text, _ = p.communicate(timeout=150)
            assert p.returncode == 0, text
            outputs.append(text)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return outputs


def stopped_steps(outputs: list[str]) -> list[int]:
    return [int(re.search(r"stopped at step (\d+)", text).group(1)) for text in outputs]


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without torch.distributed")
def test_ddp_ranks_stop_together_checkpoint_and_resume(tmp_path):
    out = tmp_path / "ckpt"
    first = run_two_ranks(out, delay_rank1=2.0)
    steps = stopped_steps(first)
    assert steps[0] == steps[1] > 0, first
    ckpts = sorted(out.glob("ckpt_*.pt"))
    assert [p.name for p in ckpts] == [f"ckpt_{steps[0]:08d}.pt"]
    state = torch.load(ckpts[0], weights_only=True)
    assert state["step"] == steps[0] and state["optimizer"]["state"]
    again = stopped_steps(run_two_ranks(out, delay_rank1=0.0))
    assert again[0] == again[1] > steps[0]
    model, tok, meta = checkpoint.load_latest(out)
    assert meta["step"] == again[0]
