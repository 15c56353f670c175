"""Training throughput of the edit model: end-to-end samples/s (pair sampling included) against the
model alone (one fixed batch, forward + backward + optimizer step), in the same run. Both run `train`'s
own step and optimizer (`model.step.train_step`, `make_optimizer`: grouped AdamW, fused on CUDA,
clipping at train's default --clip).

    .venv/bin/python bench/train.py [--db PATH] [--presets tiny,default] [--batch-sizes 64] [--seconds 12]
    .venv/bin/python bench/train.py --device cuda        # fp32 / bf16 / bf16+compile at batch 512..4096

--device auto (the default) uses CUDA when present, else the CPU. --modes lists the precisions to
measure, each optionally with "+compile" (torch.compile, dynamic shapes, lengths padded to multiples
of 16 as `train --compile` does); default fp32 on the CPU and fp32,bf16,bf16+compile on CUDA. Without
--db it builds an in-memory source of random programs plus the DreamCoder tasks. Prints one JSON line
per (preset, mode, batch size).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from data.memory import MemorySource  # noqa: E402
from model.edit.pairs import PairSampler  # noqa: E402
from model.device import autocast_factory  # noqa: E402
from model.edit.net import EditModel, loss_and_metrics, preset  # noqa: E402
from model.step import CLIP, make_optimizer, train_step  # noqa: E402
from model.tokenizer import Tokenizer  # noqa: E402


def make_source(args):
    if args.db:
        from data.db import Database
        return Database(args.db, create=False)
    import data
    from data.generate import random_programs
    progs = [t.program for t in data.dreamcoder_tasks()] + random_programs(args.programs, seed=0, p_call=0,
                                                                          max_tokens=48)
    return MemorySource(progs, image_size=32)


def timed_steps(step_fn, seconds: float, sync) -> tuple[int, float]:
    for _ in range(2):                       # warm-up (and compilation)
        step_fn()
    sync()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step_fn()
        n += 1
    sync()
    return n, time.perf_counter() - t0


def parse_modes(text: str) -> list[tuple[str, bool]]:
    """"fp32,bf16+compile" -> [("fp32", False), ("bf16", True)]."""
    out = []
    for m in text.split(","):
        prec, _, extra = m.strip().partition("+")
        if prec not in ("fp32", "bf16") or extra not in ("", "compile"):
            raise SystemExit(f"bench/train.py: unknown mode {m!r}; use fp32, bf16, fp32+compile or bf16+compile")
        out.append((prec, extra == "compile"))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db")
    p.add_argument("--programs", type=int, default=1500)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--presets", default=None, help="default: tiny,default on the CPU, default on CUDA")
    p.add_argument("--batch-sizes", "--batch-size", default=None,
                   help="comma-separated (default: 64 on the CPU, 512,1024,2048,4096 on CUDA)")
    p.add_argument("--modes", default=None, help="default: fp32 on the CPU, fp32,bf16,bf16+compile on CUDA")
    p.add_argument("--seconds", type=float, default=12.0, help="per measurement")
    p.add_argument("--rounds", type=int, default=4, help="alternations of the two measurements")
    p.add_argument("--compile", action="store_true", help="add +compile to every mode")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: cores - 1, at least 1)")
    p.add_argument("--refresh-every", type=int, default=200)
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench/train.py: --device cuda but CUDA is not available")
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 2) - 1))
    presets = (args.presets or ("default" if cuda else "tiny,default")).split(",")
    batch_sizes = [int(b) for b in (args.batch_sizes or ("512,1024,2048,4096" if cuda else "64")).split(",")]
    modes = parse_modes(args.modes or ("fp32,bf16,bf16+compile" if cuda else "fp32"))
    if args.compile:
        modes = [(prec, True) for prec, _ in modes]
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    t0 = time.perf_counter()
    source = make_source(args)
    tok = Tokenizer()
    sampler = PairSampler(source, tok, seed=0, mutations_per_refresh=1024)
    while sampler.refresh():
        pass
    if cuda:
        sampler.start_background()
    setup_s = time.perf_counter() - t0

    results = []
    for name in presets:
        for prec, compiled in modes:
            for bs in batch_sizes:
                r = measure(args, sampler, tok, device, name, prec, compiled, bs, sync)
                r["setup_s"] = round(setup_s, 1)
                print(json.dumps(r), flush=True)
                results.append(r)
    sampler.close()
    return results


def measure(args, sampler, tok, device, name, prec, compiled, bs, sync) -> dict:
    """End-to-end and model-only samples/s of one (preset, precision, compile, batch size), alternated."""
    cuda = device.type == "cuda"
    sampler.round_to = 16 if compiled else 1
    # the data pipeline alone
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2.0 or n < 3:
        sampler.batch(bs, device=device)
        n += 1
    sync()
    data_only = n * bs / (time.perf_counter() - t0)
    autocast = autocast_factory(device.type, prec == "bf16")
    torch.manual_seed(0)
    if compiled:
        torch._dynamo.reset()
    model = EditModel(preset(name), len(tok)).to(device)
    run = torch.compile(model, dynamic=True) if compiled else model
    opt = make_optimizer(model, device.type)
    fixed = [sampler.batch(bs, device=device) for _ in range(8)]   # representative lengths
    for b in fixed:
        b.pop("b_entry")

    def step(batch):
        train_step(run, opt, batch, autocast, CLIP, loss_fn=loss_and_metrics)

    count = {"step": 0, "refresh_s": 0.0, "refreshes": 0}

    def model_only():
        step(fixed[count["step"] % len(fixed)])
        count["step"] += 1

    def end_to_end():
        count["step"] += 1
        if count["step"] % args.refresh_every == 0:
            tr = time.perf_counter()
            sampler.refresh()
            count["refresh_s"] += time.perf_counter() - tr
            count["refreshes"] += 1
        b = sampler.batch(bs, device=device)
        b.pop("b_entry")
        step(b)

    tc = time.perf_counter()
    if compiled:              # compile for the lengths a run meets before timing anything
        for b in fixed:
            step(b)
        sync()
    compile_s = time.perf_counter() - tc
    # alternate the two in rounds, so that load from other processes hits both alike
    n_m = n_e = 0
    t_m = t_e = 0.0
    for _ in range(args.rounds):
        n, t = timed_steps(model_only, args.seconds / args.rounds, sync)
        n_m, t_m = n_m + n, t_m + t
        n, t = timed_steps(end_to_end, args.seconds / args.rounds, sync)
        n_e, t_e = n_e + n, t_e + t
    # a refresh (new entries + mutation pairs) every refresh_every steps; measure its cost directly
    # so that runs too short to reach one still count it (on CUDA the mutation pairs are made in a
    # background thread, so a refresh there is mostly a commit)
    tr = time.perf_counter()
    for _ in range(3):
        sampler.refresh()
    refresh_s = (time.perf_counter() - tr) / 3
    t_e_amortized = t_e - count["refresh_s"] + refresh_s * n_e / args.refresh_every
    mode = prec + ("+compile" if compiled else "")
    return {"preset": name, "mode": mode, "params_M": round(model.n_params() / 1e6, 2), "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if cuda else None,
            "threads": torch.get_num_threads() if not cuda else None, "batch_size": bs,
            "model_only_samples_per_s": round(n_m * bs / t_m, 1),
            "end_to_end_samples_per_s": round(n_e * bs / t_e, 1),
            "end_to_end_with_refresh_samples_per_s": round(n_e * bs / t_e_amortized, 1),
            "ratio": round((n_e / t_e_amortized) / (n_m / t_m), 3),
            "refresh_s": round(refresh_s, 3), "refresh_every": args.refresh_every,
            "data_only_samples_per_s": round(data_only), "compile_s": round(compile_s, 1),
            "entries": len(sampler.entry_ids), "pairs": sampler.counts("train")}


if __name__ == "__main__":
    main()
