"""Training pairs/s that `model.edit.pairs.PairSampler` produces on one CPU core, next to the rate at which
the model consumes them, in the same run.

    .venv/bin/python bench/pairs.py [--db PATH] [--batch-size 1024] [--seconds 5] [--device cpu|cuda]

Three sampler figures, all on one core (torch and numpy held to one thread):
  batch_pairs_per_s      `sampler.batch(n)`: drawing n stored pairs of every kind (`model.edit.pairs.KINDS`,
                         the mutation ring included) by weight and gathering them into tensors;
  mutation_pairs_per_s   making new mutation pairs (mutate, parse, edit script, render, check), the
                         work `train` moves to a background thread on CUDA;
  sustained_pairs_per_s  what `train` sees per core: batches plus a refresh (new entries, their pairs
                         and `--mutations` fresh mutation pairs) every `--refresh-every` steps.
The model figure is `train`'s training step (`model.step.train_step` with its optimizer: forward,
backward, clipping, AdamW) of the chosen preset on one fixed batch: samples/s on the device. Without
--db the source is random programs plus the DreamCoder tasks.
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")          # one core: numpy / BLAS too
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from model.device import autocast_factory  # noqa: E402
from model.edit.net import EditModel, loss_and_metrics, preset  # noqa: E402
from model.edit.pairs import PairSampler  # noqa: E402
from model.step import CLIP, make_optimizer, train_step  # noqa: E402
from model.tokenizer import Tokenizer  # noqa: E402


def make_source(db: str | None, programs: int):
    if db:
        from data.db import Database
        return Database(db, create=False)
    import data
    from data.generate import random_programs
    from data.memory import MemorySource
    progs = [t.program for t in data.dreamcoder_tasks()] + random_programs(programs, seed=0, p_call=0,
                                                                          max_tokens=48)
    return MemorySource(progs, image_size=32)


def rate(fn, seconds: float) -> float:
    """Calls of `fn` per second over about `seconds` (after one warm-up call)."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db")
    p.add_argument("--programs", type=int, default=3000, help="random programs when there is no --db")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    p.add_argument("--mutations", type=int, default=1024, help="mutation pairs made per refresh (train's default)")
    p.add_argument("--refresh-every", type=int, default=200, help="steps between refreshes (train's default)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="for the model figure")
    p.add_argument("--preset", default=None, help="model for the model figure (default: tiny on CPU, default on CUDA)")
    p.add_argument("--model-batch", type=int, default=0, help="batch of the model figure (0: 32 on CPU, 1024 on CUDA)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    dev = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"

    t0 = time.perf_counter()
    tok = Tokenizer()
    sampler = PairSampler(make_source(args.db, args.programs), tok, seed=0, mutations_per_refresh=args.mutations)
    while sampler.refresh():
        pass
    setup_s = time.perf_counter() - t0
    bs = args.batch_size

    batch_rate = rate(lambda: sampler.batch(bs), args.seconds) * bs
    t = time.perf_counter()
    made = len(sampler.prepare_mutations(args.mutations))
    mut_s = time.perf_counter() - t
    refresh_s = min(timed(sampler.refresh) for _ in range(3))
    sustained = bs * args.refresh_every / (bs * args.refresh_every / batch_rate + refresh_s)

    # the consumer: one training step of the model on a fixed batch, same run
    name = args.preset or ("default" if dev == "cuda" else "tiny")
    mbs = args.model_batch or (1024 if dev == "cuda" else 32)
    torch.manual_seed(0)
    model = EditModel(preset(name), len(tok)).to(dev)
    opt = make_optimizer(model, dev)
    fixed = sampler.batch(mbs, device=dev)
    fixed.pop("b_entry")
    autocast = autocast_factory(dev, dev == "cuda")
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)

    def step():
        train_step(model, opt, fixed, autocast, CLIP, loss_fn=loss_and_metrics)
        sync()

    model_rate = rate(step, args.seconds) * mbs
    r = {"batch_size": bs, "batch_pairs_per_s": round(batch_rate),
         "mutation_pairs_per_s": round(made / mut_s), "mutations_made": made,
         "refresh_s": round(refresh_s, 3), "refresh_every": args.refresh_every,
         "sustained_pairs_per_s": round(sustained),
         "model": name, "model_device": dev, "model_batch": mbs, "model_threads": torch.get_num_threads(),
         "model_samples_per_s": round(model_rate, 1),
         "cores_to_feed_model": round(model_rate / sustained, 3),
         "entries": len(sampler.entry_ids), "pairs": sampler.counts("train"), "setup_s": round(setup_s, 1)}
    print(json.dumps(r), flush=True)
    sampler.close()
    return r


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
