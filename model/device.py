"""Fitting a `train` run to its machine: the device and the DDP ranks, the model size and batch that
suit the device when none is given, and the bf16 autocast the steps run under."""
from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass

import torch


# What `train` picks when --preset / --batch-size are not given: the large model for CUDA; on the CPU
# one whose step takes well under a second (tiny at batch 32: about 0.4 s on one core), so that a
# first run shows progress at once rather than looking hung (default at 128: ~10 s a step).
DEVICE_DEFAULTS = {"cuda": ("default", 128), "cpu": ("tiny", 32)}


@dataclass(frozen=True)
class Runtime:
    """This process's place in the run: device kind ("cpu" / "cuda"), torch device, DDP rank."""
    dev_kind: str
    device: torch.device
    rank: int = 0
    local_rank: int = 0
    distributed: bool = False

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs, evaluates and saves."""
        return self.rank == 0


def start_runtime(device: str, threads: int) -> Runtime:
    """Pick the device (`device`: auto, cpu or cuda), join the DDP process group when started by
    torchrun (WORLD_SIZE > 1), and set torch's threads (`threads`; 0: cores - 1) on the CPU."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev_kind = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    if dev_kind == "cuda" and not torch.cuda.is_available():
        raise SystemExit("train: --device cuda but CUDA is not available")
    if distributed:
        torch.distributed.init_process_group("nccl" if dev_kind == "cuda" else "gloo")
    dev = torch.device(f"cuda:{local_rank}" if dev_kind == "cuda" else "cpu")
    if dev_kind == "cuda":
        torch.cuda.set_device(dev)
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        torch.set_num_threads(threads or max(1, (os.cpu_count() or 2) - 1))
    return Runtime(dev_kind, dev, rank, local_rank, distributed)


def resolve_size(dev_kind: str, preset_name: str | None, batch_size: int | None) -> tuple[str, int, str]:
    """(preset, batch size, why) for the device kind ("cpu" / "cuda"): the given values, else the device's
    defaults; `why` says which came from where, for the first printed line."""
    d_preset, d_batch = DEVICE_DEFAULTS[dev_kind]
    device_name = "CUDA" if dev_kind == "cuda" else "CPU"
    given = [name for name, v in (("--preset", preset_name), ("--batch-size", batch_size)) if v is not None]
    if not given:
        why = f"{device_name} default; --preset/--batch-size override"
    elif len(given) == 2:
        why = "as given"
    else:
        why = f"{given[0]} as given, the rest the {device_name} default"
    return preset_name or d_preset, batch_size or d_batch, why


def size_overrides(args, keys: tuple[str, ...] = ("max_tokens", "vocab_capacity")) -> dict:
    """The size flags train was given (--d-model, --layers, --heads and `keys`), as config overrides: the
    edit model and the policy read the same flags."""
    over = {}
    if args.d_model:
        over["d_model"] = args.d_model
    if args.layers:
        over.update(img_layers=args.layers, prog_layers=args.layers, dec_layers=args.layers)
    if args.heads:
        over["n_heads"] = args.heads
    for k in keys:
        if getattr(args, k, None) is not None:
            over[k] = getattr(args, k)
    return over


def autocast_factory(dev_kind: str, bf16: bool):
    """A function returning the context that training and evaluation steps run under: bf16 autocast on
    `dev_kind` ("cpu" / "cuda") when `bf16`, else a no-op."""
    if not bf16:
        return nullcontext
    return lambda: torch.autocast(dev_kind, dtype=torch.bfloat16)
