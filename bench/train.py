"""Training throughput of the edit model: end-to-end samples/s (pair sampling included) against the
model alone (one fixed batch, forward + backward + optimizer step), in the same run.

    .venv/bin/python bench/train.py [--db PATH] [--presets tiny,default] [--batch-size 64] [--seconds 15]

Uses CUDA when present (bf16 autocast; --compile for torch.compile), else the CPU. Without --db it builds
an in-memory source of random programs plus the DreamCoder tasks. Prints one JSON line per preset.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from data.memory import MemorySource  # noqa: E402
from model.pairs import PairSampler  # noqa: E402
from model.network import EditModel, loss_and_metrics, preset  # noqa: E402
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db")
    p.add_argument("--programs", type=int, default=1500)
    p.add_argument("--presets", default="tiny,default")
    p.add_argument("--batch-size", type=int, default=0, help="0: 64 on CPU, 512 on CUDA")
    p.add_argument("--seconds", type=float, default=12.0, help="per measurement")
    p.add_argument("--rounds", type=int, default=4, help="alternations of the two measurements")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: cores - 1, at least 1)")
    p.add_argument("--refresh-every", type=int, default=200)
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if not cuda:
        torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 2) - 1))
    bs = args.batch_size or (512 if cuda else 64)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else nullcontext

    t0 = time.perf_counter()
    source = make_source(args)
    tok = Tokenizer()
    sampler = PairSampler(source, tok, seed=0, mutations_per_refresh=1024)
    while sampler.refresh():
        pass
    if cuda:
        sampler.start_background()
    setup_s = time.perf_counter() - t0
    # the data pipeline alone
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2.0:
        sampler.batch(bs, device=device)
        n += 1
    data_only = n * bs / (time.perf_counter() - t0)

    results = []
    for name in args.presets.split(","):
        torch.manual_seed(0)
        model = EditModel(preset(name), len(tok)).to(device)
        run = torch.compile(model) if args.compile else model
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        fixed = [sampler.batch(bs, device=device) for _ in range(8)]   # representative lengths
        for b in fixed:
            b.pop("b_entry")

        def train_step(batch):
            run.train()
            with autocast():
                loss, _ = loss_and_metrics(run, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        count = {"step": 0, "refresh_s": 0.0, "refreshes": 0}

        def model_only():
            train_step(fixed[count["step"] % len(fixed)])
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
            train_step(b)

        # alternate the two in rounds, so that load from other processes hits both alike
        n_m = n_e = 0
        t_m = t_e = 0.0
        for _ in range(args.rounds):
            n, t = timed_steps(model_only, args.seconds / args.rounds, sync)
            n_m, t_m = n_m + n, t_m + t
            n, t = timed_steps(end_to_end, args.seconds / args.rounds, sync)
            n_e, t_e = n_e + n, t_e + t
        # a refresh (new entries + mutation pairs) every refresh_every steps; measure its cost directly
        # so that runs too short to reach one still count it
        tr = time.perf_counter()
        for _ in range(3):
            sampler.refresh()
        refresh_s = (time.perf_counter() - tr) / 3
        t_e_amortized = t_e - count["refresh_s"] + refresh_s * n_e / args.refresh_every
        r = {"preset": name, "params_M": round(model.n_params() / 1e6, 2), "device": str(device),
             "threads": torch.get_num_threads() if not cuda else None, "batch_size": bs,
             "model_only_samples_per_s": round(n_m * bs / t_m, 1),
             "end_to_end_samples_per_s": round(n_e * bs / t_e, 1),
             "end_to_end_with_refresh_samples_per_s": round(n_e * bs / t_e_amortized, 1),
             "ratio": round((n_e / t_e_amortized) / (n_m / t_m), 3),
             "refresh_s": round(refresh_s, 3), "refresh_every": args.refresh_every,
             "data_only_samples_per_s": round(data_only), "setup_s": round(setup_s, 1),
             "entries": len(sampler.entry_ids), "pairs": sampler.counts("train"), "compile": args.compile}
        print(json.dumps(r), flush=True)
        results.append(r)
    sampler.close()
    return results


if __name__ == "__main__":
    main()
