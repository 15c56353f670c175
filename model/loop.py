"""The training loop of `train` (the command line is `model.train`): read the database into a pair
sampler, build or resume the model, then step until --steps / --max-seconds, logging, evaluating on
held-out pairs and checkpointing as it goes.

Pieces it uses, one job each: `model.device` (device, ranks, sizes), `model.step` (one optimisation
step), `model.schedule` (the learning rate across resumes), `model.checkpoint`.

Which network it trains, on which examples, evaluated and drawn how, is a recipe (`Recipe`, `recipes()`,
`train --model`): `model.edit.train.EDIT`, the edit model and its pairs, or `model.policy.train.POLICY`, the
edit policy and its tree-path examples. A resumed run trains the network its checkpoint holds.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Protocol

import torch

from data.memory import MemorySource
from logo.cli_errors import check_output_dir
from . import checkpoint
from .device import Runtime, autocast_factory, resolve_size, start_runtime
from .schedule import Cosine, choose_cosine, lr_factor
from .step import make_optimizer, train_step
from .tokenizer import Tokenizer
from .transformer import TokenModel, TokenModelConfig


def open_source(args):
    """The programs to train on: the --db database, or --random-programs in memory."""
    if args.db:
        from data.db import Database, DatabaseError
        if os.path.isfile(args.db) and os.path.getsize(args.db) == 0:
            raise DatabaseError(f"{args.db}: the file is empty, not a database (build one with `logo db build`)")
        return Database(args.db, create=False)
    if args.random_programs:
        from data.generate import random_programs
        import data
        progs = [t.program for t in data.dreamcoder_tasks()]
        progs += random_programs(args.random_programs, seed=args.seed, p_call=0)
        return MemorySource(progs, image_size=args.image_size)
    raise SystemExit("train: give --db PATH (or --random-programs N)")


def wait_for_pairs(sampler, args, t_start: float, main_proc: bool, clock=time.perf_counter) -> bool:
    """Read every entry; while there are no training pairs (an empty database), wait up to --wait for a
    writer, saying so each minute. False if there is still nothing to train on."""
    while sampler.refresh() > 0:
        pass
    where = args.db or "the programs"
    t_wait, last_note = time.perf_counter(), None
    while sum(sampler.counts("train").values()) == 0:
        now = time.perf_counter()
        waited = now - t_wait
        if main_proc and (last_note is None or now - last_note >= 60):
            print(f"train: {where}: no training pairs yet ({len(sampler.entry_ids)} entries); waiting for entries "
                  f"({waited:.0f} of --wait {args.wait:g} s)", file=sys.stderr, flush=True)
            last_note = now
        if args.max_seconds and clock() - t_start >= args.max_seconds or waited >= args.wait:
            print(f"train: {where}: no training pairs after waiting {waited:.0f} s "
                  f"({len(sampler.entry_ids)} entries); nothing to train on", file=sys.stderr)
            return False
        time.sleep(max(0.0, min(2.0, args.wait - waited)))
        sampler.refresh()
    return True


def check_vocab(tokenizer: Tokenizer, config: TokenModelConfig, grown: bool = False) -> None:
    if len(tokenizer) > config.vocab_capacity:
        if grown:
            raise SystemExit(f"train: the library grew the vocabulary to {len(tokenizer)} tokens, "
                             f"past the model's capacity {config.vocab_capacity}")
        raise SystemExit(f"train: the vocabulary has {len(tokenizer)} tokens, more than the model's capacity "
                         f"{config.vocab_capacity}; start a new --out with a larger --vocab-capacity")


class StopSignal:
    """Whether to stop, and how far along the learning-rate cosine the run is, decided by rank 0 and
    shared with every rank.

    Each rank has its own clock; if each stopped on its own --max-seconds, one could stop while
    another waits forever in the next gradient all-reduce (and their learning rates, which follow the
    run's progress, would drift apart). So rank 0 decides and broadcasts its decision every step.
    """

    def __init__(self, steps: int, max_seconds: float, t_start: float, progress, rt: Runtime, clock=time.perf_counter):
        self.steps, self.max_seconds, self.t_start = steps, max_seconds, t_start
        self.progress, self.rt, self.clock = progress, rt, clock

    def local(self, step: int) -> tuple[bool, float]:
        stop = (self.steps and step >= self.steps) or \
            (self.max_seconds and self.clock() - self.t_start >= self.max_seconds)
        return bool(stop), self.progress(step)

    def __call__(self, step: int) -> tuple[bool, float]:
        """(stop now, progress along the cosine), the same on every rank."""
        stop, frac = self.local(step)
        if not self.rt.distributed:
            return stop, frac
        flag = torch.tensor([float(stop), frac], dtype=torch.float64, device=self.rt.device)
        torch.distributed.broadcast(flag, 0)
        return bool(flag[0].item()), float(flag[1].item())


class Recipe(Protocol):
    """What differs between the networks `train` trains (`model.edit.train.EDIT`,
    `model.policy.train.POLICY`). `kind` is recorded in the checkpoint (`model.checkpoint`)."""
    kind: str
    metric_keys: tuple[str, ...]          # averaged into the `train` records; the first is the loss

    def config(self, args, resumed: dict | None): ...          # the configuration: resumed, else from the flags
    def with_image_size(self, config, size: int): ...
    def params(self, config) -> int: ...                        # parameters of a network of `config`
    def make_data(self, args, source, tokenizer, config, rank): ...   # the examples (refresh, batch, counts...)
    def build(self, config, n_tokens: int): ...                 # a new network
    def loss(self, model, batch): ...                           # (loss, metrics)
    def evaluator(self, data, args, source): ...                # held-out metrics: `.run(model, device, autocast)`
    def describe_eval(self, r: dict) -> str: ...
    def plot(self, jsonl, png) -> None: ...                     # OUT/training.png


def recipes() -> dict:
    """`train --model` choices -> recipe."""
    from .edit.train import EDIT
    from .policy.train import POLICY
    return {"edit": EDIT, "policy": POLICY}


def choose_recipe(args, state: dict | None):
    """The checkpoint's network when resuming (--model must agree if given), else --model (default edit)."""
    wanted = getattr(args, "model", None)
    if state is not None:
        have = state.get("kind", "edit")
        if wanted and wanted != have:
            raise SystemExit(f"train: {args.out} holds a checkpoint of the {have} model, not --model {wanted}; "
                             "use another --out to train a new one")
        wanted = have
    return recipes()[wanted or "edit"]


def build_model(config, tokenizer: Tokenizer, state: dict | None, args, rt: Runtime, recipe: Recipe):
    """(model, optimizer) on the device: new, or with the checkpoint's weights and Adam moments."""
    model = recipe.build(config, len(tokenizer))
    if state is not None:
        model.load_state_dict(state["model"])
        model.set_vocab_size(len(tokenizer))
    model.to(rt.device)
    opt = make_optimizer(model, rt.dev_kind, args.lr, args.weight_decay)
    if state is not None and state.get("optimizer"):
        try:
            opt.load_state_dict(checkpoint.regroup_optimizer_state(state["optimizer"], opt, model))
        except (ValueError, KeyError) as e:
            print(f"train: optimizer state not restored ({e})", file=sys.stderr)
    return model, opt


def wrap(model: TokenModel, args, rt: Runtime):
    """The model as the training steps call it: torch.compile'd (--compile), in DDP (torchrun)."""
    if args.compile:
        model = torch.compile(model, dynamic=True)
    if rt.distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[rt.local_rank] if rt.dev_kind == "cuda" else None)
    return model


def describe(c: Cosine) -> str:
    spans = [f"{c.steps} steps"] * bool(c.steps) + [f"{c.seconds:.0f} training seconds"] * bool(c.seconds)
    return f"cosine from step {c.start_step} over {' or '.join(spans) or 'no horizon (constant)'}"


def train(args) -> int:
    # --max-seconds counts from here (reading the database included), in wall seconds or, with --clock cpu,
    # in this process's CPU seconds (a fair measure on a shared machine; so are elapsed_s and the cosine's)
    clock = time.process_time if getattr(args, "clock", "wall") == "cpu" else time.perf_counter
    t_start = clock()
    rt = start_runtime(args.device, args.threads)
    torch.manual_seed(args.seed + rt.rank)
    out = Path(args.out)
    check_output_dir(out)                 # refused now, made once the database has been read
    source = open_source(args)

    # resume from the newest checkpoint that loads (a damaged newest one falls back, with a warning)
    checkpoint.remove_stale_temp_files(out)
    state = checkpoint.load_newest_good(out, "cpu", warn=lambda m: print(f"train: {m}", file=sys.stderr, flush=True))
    recipe = choose_recipe(args, state)
    args.preset, args.batch_size, why = resolve_size(rt.dev_kind, args.preset, args.batch_size)
    if rt.main:
        what = (f"the {recipe.kind} model of checkpoint step {state['step']}" if state is not None else
                f"the {recipe.kind} model, preset {args.preset} "
                f"({recipe.params(recipe.config(args, None)) / 1e6:.1f}M params)")
        print(f"train: device {rt.dev_kind}, {what}, batch {args.batch_size} ({why})", flush=True)
    tokenizer = Tokenizer(state["vocab"]) if state else Tokenizer()
    config = recipe.config(args, state["config"] if state else None)
    if getattr(source, "image_size", config.image_size) != config.image_size and state is None:
        config = recipe.with_image_size(config, source.image_size)
    sampler = recipe.make_data(args, source, tokenizer, config, rt.rank)
    t_load = time.perf_counter()
    if not wait_for_pairs(sampler, args, t_start, rt.main, clock):
        return 1
    out.mkdir(parents=True, exist_ok=True)    # (a damaged or empty database has left nothing behind)
    t_load = time.perf_counter() - t_load
    check_vocab(tokenizer, config)

    raw_model, opt = build_model(config, tokenizer, state, args, rt, recipe)   # the network and its optimizer
    model = wrap(raw_model, args, rt)                                   # compiled / DDP, for the steps
    resumed = state is not None
    step = int(state["step"]) if resumed else 0
    prev_elapsed = float(state["meta"].get("elapsed_s", 0.0)) if resumed else 0.0   # training seconds so far
    saved_cosine = Cosine.from_dict(state["meta"].get("schedule")) if resumed else None
    del state
    autocast = autocast_factory(rt.dev_kind, not args.no_bf16 and (rt.dev_kind == "cuda" or args.bf16))

    if args.background_pairs == "on" or (args.background_pairs == "auto" and rt.dev_kind == "cuda"):
        sampler.start_background()
    evaluator = recipe.evaluator(sampler, args, source)
    metrics_path, png = out / "metrics.jsonl", out / "training.png"

    def log(rec):
        if rt.main:
            with open(metrics_path, "a") as f:
                f.write(json.dumps(rec) + "\n")

    bar = None
    if rt.main and not args.quiet:
        from tqdm import tqdm
        bar = tqdm(total=args.steps or None, initial=step, desc="train", dynamic_ncols=True, mininterval=1.0)
    t0 = clock()
    w0 = time.perf_counter()
    start_step = step
    # the learning rate's cosine: continued from the checkpoint, or over this run's budget (model.schedule)
    cosine = choose_cosine(saved_cosine, step, prev_elapsed,
                           budget_steps=max(0, args.steps - step) if args.steps else 0,
                           budget_s=max(0.0, args.max_seconds - (t0 - t_start)) if args.max_seconds else 0.0,
                           steps=args.schedule_steps, seconds=args.schedule_seconds, warm_restart=args.warm_restart)

    def trained_s() -> float:
        return prev_elapsed + clock() - t0

    if rt.main:
        counts = sampler.counts("train")
        print(f"train: {raw_model.n_params() / 1e6:.2f}M parameters, device {rt.device}, "
              f"{len(sampler.entry_ids)} entries read in {t_load:.1f} s, train pairs {counts}, "
              f"held-out pairs {sampler.counts('heldout')}, resuming at step {step}", flush=True)
        if resumed:
            how = ("a warm restart (--warm-restart)" if args.warm_restart else
                   "continued from the checkpoint" if saved_cosine is not None else
                   "new: the checkpoint records none")
            print(f"train: learning rate: {describe(cosine)}, {how}; "
                  f"{min(cosine.progress(step, prev_elapsed), 1.0):.0%} done", flush=True)
        log({"kind": "start", "step": step, "params": raw_model.n_params(), "config": config.to_dict(),
             "entries": len(sampler.entry_ids), "pairs": counts, "device": str(rt.device), "time": time.time(),
             "schedule": cosine.to_dict()})

    keys = recipe.metric_keys
    acc = {**dict.fromkeys(keys, 0.0), "n": 0}
    t_data = t_model = 0.0
    last_eval = None
    stop_signal = StopSignal(args.steps, args.max_seconds, t_start, lambda s: cosine.progress(s, trained_s()), rt,
                             clock)

    def do_eval():
        nonlocal last_eval
        if not rt.main:
            return
        te = time.perf_counter()
        r = evaluator.run(raw_model, rt.device, autocast)
        if r is None:
            return
        r.update(kind="eval", step=step, seconds=time.perf_counter() - te, time=time.time(), elapsed_s=trained_s())
        log(r)
        last_eval = r
        recipe.plot(metrics_path, png)
        if bar is not None:
            bar.write(f"step {step}: {recipe.describe_eval(r)}")

    def save():
        if rt.main:
            checkpoint.save(out, raw_model, tokenizer, step, opt,
                            meta={"elapsed_s": trained_s(), "last_id": sampler.last_id,
                                  "schedule": cosine.to_dict(),
                                  "eval": {k: v for k, v in (last_eval or {}).items()
                                           if isinstance(v, (int, float, str))}},
                            keep=args.keep)

    try:
        while True:
            stop, frac = stop_signal(step)
            if stop:
                break
            td = time.perf_counter()
            if step > start_step and step % args.refresh_every == 0:
                n_before = len(tokenizer)
                sampler.refresh()
                if len(tokenizer) != n_before:
                    check_vocab(tokenizer, config, grown=True)
                    raw_model.set_vocab_size(len(tokenizer))
            batch = sampler.batch(args.batch_size, "train", rt.device)
            batch.pop("b_entry", None)
            tm = time.perf_counter()
            t_data += tm - td
            for g in opt.param_groups:
                g["lr"] = args.lr * lr_factor(step, frac, args.warmup, args.min_lr)
            met = train_step(model, opt, batch, autocast, args.clip, loss_fn=recipe.loss)
            step += 1
            for k in keys:
                acc[k] += met.get(k, 0.0)
            acc["n"] += 1
            t_model += time.perf_counter() - tm
            if bar is not None:
                bar.update(1)
            if step % args.log_every == 0:
                n = acc["n"]
                el = time.perf_counter() - w0
                rec = {"kind": "train", "step": step, **{k: float(acc[k]) / n for k in keys},
                       "lr": opt.param_groups[0]["lr"],
                       "samples_per_s": (step - start_step) * args.batch_size / max(el, 1e-9),
                       "data_frac": t_data / max(t_data + t_model, 1e-9), "entries": len(sampler.entry_ids),
                       "time": time.time()}
                log(rec)
                if bar is not None:
                    bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec[keys[1]]:.3f}")
                acc = {**dict.fromkeys(keys, 0.0), "n": 0}
            if step % args.eval_every == 0:
                do_eval()
            if step % args.ckpt_every == 0:
                save()
    except KeyboardInterrupt:
        if rt.main:
            print("train: interrupted; saving", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
    sampler.close()
    if step % args.eval_every != 0:
        do_eval()
    save()
    if rt.distributed and not rt.main:
        print(f"train: rank {rt.rank} stopped at step {step}", file=sys.stderr, flush=True)
    if rt.main:
        el = time.perf_counter() - w0
        print(f"train: stopped at step {step} after {el:.0f} s "
              f"({(step - start_step) * args.batch_size / max(el, 1e-9):.0f} samples/s, data "
              f"{100 * t_data / max(t_data + t_model, 1e-9):.0f}% of the loop)", flush=True)
        if last_eval and "reproduces" in last_eval:
            print(f"train: held-out edits reproduce B: {last_eval['reproduces']:.3f}", flush=True)
        elif last_eval:
            print(f"train: {recipe.describe_eval(last_eval)}", flush=True)
    if rt.distributed:
        torch.distributed.destroy_process_group()
    return 0
