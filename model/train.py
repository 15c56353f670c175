"""`train`: train the edit model on pairs from the program-image database.

    train --db runs/db.sqlite --out runs/ckpt [--preset tiny|small|default] [--max-seconds 600]

Resumes from the latest checkpoint in --out; follows the database while another process inserts
(re-reads new entries every --refresh-every steps); evaluates on held-out pairs every --eval-every
steps (teacher-forced loss and token accuracy, greedy exact-script accuracy, and the rate at which the
greedy edits applied to A draw B); logs JSONL (`OUT/metrics.jsonl`), writes `OUT/training.png`, and
saves checkpoints atomically. Multi-GPU: `torchrun --nproc-per-node N -m model.train ...` (DDP).

Pairs (see `model.pairs`): edit pairs between stored heads within --max-dist token edits, de novo pairs
(A empty), lateral pairs (A a stored longer equivalent of B) and mutation pairs (A a random mutation
of a stored B), and the step kinds (`model.step_pairs`): far-target steps, prefix steps and, with
--hindsight LOG/found.jsonl, the steps of the search paths a dreamer logged. An entry is held out by a hash of its id; a pair is held out when its B is.
"Edits reproduce B": the greedy script applied to A parses, runs and draws B (`data.novelty.same_image`
under the database's threshold); for lateral pairs (A already draws B) the result must also be
shorter than A. `a_draws_b` in the log is the rate at which A itself already draws B (a baseline).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

import logo
from data.memory import MemorySource
from data.novelty import same_image
from logo.cli_errors import UsageError, add_debug_flag, check_output_dir, debug_requested, run_guarded
from logo.files import atomic_write
from . import checkpoint
from .hindsight import check_log
from .step_pairs import STEP_KINDS, step_closer
from .edits import EditError, apply_edits
from .generate import decode, scripts_from
from .network import EditModel, ModelConfig, loss_and_metrics, preset, unwrap
from .pairs import KINDS, PairSampler
from .tokenizer import Tokenizer, join


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_argument_group("data")
    src.add_argument("--db", help="program-image database (SQLite) to train on")
    src.add_argument("--random-programs", type=int, default=0,
                     help="instead of --db: train on N random programs plus the DreamCoder tasks, in memory")
    src.add_argument("--image-size", type=int, default=32, help="image size for --random-programs")
    src.add_argument("--max-dist", type=int, default=6, help="largest token edit distance of an edit pair")
    src.add_argument("--heldout", type=float, default=0.1, help="fraction of entries held out for evaluation")
    src.add_argument("--refresh-every", type=int, default=200, help="steps between reads of new database entries")
    src.add_argument("--mutations", type=int, default=1024, help="mutation pairs made per refresh")
    src.add_argument("--far-chains", type=int, default=256,
                     help="far-target mutation chains built per refresh (model.step_pairs)")
    src.add_argument("--pair-weights", default=None,
                     help="pair kind mixture (default: model.pairs.DEFAULT_WEIGHTS), e.g. "
                          "edit=0.25,denovo=0.1,lateral=0.05,mutation=0.15,far=0.3,prefix=0.1,hindsight=0.15")
    src.add_argument("--hindsight", default=None, metavar="LOG/found.jsonl",
                     help="dream log to follow: its search paths become hindsight pairs (model.hindsight)")
    src.add_argument("--target-noise", type=float, default=0.0,
                     help="probability a training pair's target image is jittered (thicker stroke, 1-px "
                          "shift, skeleton noise; model.target_noise). Default off: not yet measured to help")
    p.add_argument("--out", required=True, help="checkpoint / log directory (resumes from it)")
    m = p.add_argument_group("model")
    m.add_argument("--preset", default=None, choices=["tiny", "small", "default"],
                   help="model size (default: 'default' on CUDA, 'tiny' on the CPU)")
    m.add_argument("--d-model", type=int)
    m.add_argument("--layers", type=int, help="layers of each of the three stacks")
    m.add_argument("--heads", type=int)
    m.add_argument("--max-tokens", type=int, help="context: tokens of program A")
    m.add_argument("--max-edits", type=int, help="longest edit script (de novo pairs need about len(B))")
    m.add_argument("--vocab-capacity", type=int, help="token rows (room for library procedure names)")
    o = p.add_argument_group("optimisation")
    o.add_argument("--batch-size", type=int, default=None,
                   help="per process (default: 128 on CUDA, 32 on the CPU)")
    o.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    o.add_argument("--max-seconds", type=float, default=0, help="stop after this wall time (0: no limit)")
    o.add_argument("--lr", type=float, default=1e-3)
    o.add_argument("--min-lr", type=float, default=0.05, help="final learning rate, as a fraction of --lr")
    o.add_argument("--warmup", type=int, default=500, help="linear warm-up steps")
    o.add_argument("--weight-decay", type=float, default=0.01)
    o.add_argument("--clip", type=float, default=1.0, help="gradient norm clipping")
    o.add_argument("--seed", type=int, default=0)
    r = p.add_argument_group("runtime")
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    r.add_argument("--compile", action="store_true", help="torch.compile the model")
    r.add_argument("--background-pairs", choices=["auto", "on", "off"], default="auto",
                   help="make mutation pairs in a background thread (auto: on with CUDA)")
    r.add_argument("--no-bf16", action="store_true", help="no bf16 autocast on CUDA")
    r.add_argument("--bf16", action="store_true", help="bf16 autocast on the CPU too (on CUDA it is on by default)")
    r.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: cores - 1, at least 1)")
    r.add_argument("--eval-every", type=int, default=500)
    r.add_argument("--eval-pairs", type=int, default=128, help="held-out pairs per kind in each evaluation")
    r.add_argument("--ckpt-every", type=int, default=1000)
    r.add_argument("--log-every", type=int, default=50)
    r.add_argument("--keep", type=int, default=3, help="checkpoints kept")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--wait", type=float, default=600.0,
                   help="seconds to wait for entries when the database has none (a message each minute)")
    add_debug_flag(p)
    return p


# (flag, smallest, largest): what check_args accepts; None = no bound
ARG_RANGES = (("random_programs", 0, None), ("image_size", 4, 512), ("max_dist", 0, None),
              ("heldout", 0.0, 0.9), ("refresh_every", 1, None), ("mutations", 0, None), ("far_chains", 0, None),
              ("d_model", 1, None), ("layers", 1, None), ("heads", 1, None), ("max_tokens", 1, None),
              ("max_edits", 1, None), ("vocab_capacity", 1, None), ("batch_size", 1, None), ("steps", 0, None),
              ("max_seconds", 0, None), ("lr", 0.0, None), ("min_lr", 0.0, 1.0), ("warmup", 0, None),
              ("weight_decay", 0.0, None), ("clip", 0.0, None), ("threads", 0, None), ("eval_every", 1, None),
              ("eval_pairs", 1, None), ("ckpt_every", 1, None), ("log_every", 1, None), ("keep", 0, None),
              ("wait", 0, None))


def check_args(args) -> None:
    """`UsageError` (exit status 2) naming the flag of an out-of-range number (0 steps between
    checkpoints, a negative batch, a NaN learning rate...)."""
    for name, lo, hi in ARG_RANGES:
        v = getattr(args, name, None)
        if v is None:
            continue
        if v != v or abs(v) == float("inf") or (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"{lo} to {hi}" if hi is not None else f"at least {lo}"
            raise UsageError(f"--{name.replace('_', '-')}: {v} is out of range ({rng})")


# ---- helpers ---------------------------------------------------------------------------------------

def parse_pair_weights(spec: str | None) -> dict | None:
    """"far=0.5,edit=0.5" -> {"far": 0.5, "edit": 0.5}; unknown kinds and bad numbers are errors."""
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        name, _, value = part.strip().partition("=")
        if name not in KINDS:
            raise SystemExit(f"train: unknown pair kind {name!r} in --pair-weights (kinds: {', '.join(KINDS)})")
        try:
            out[name] = float(value)
        except ValueError:
            raise SystemExit(f"train: bad weight {value!r} for {name} in --pair-weights") from None
        if out[name] < 0:
            raise SystemExit(f"train: weight for {name} must not be negative")
    if not any(out.values()):
        raise SystemExit("train: --pair-weights gives every kind weight 0")
    return out


def check_probability(value: float, flag: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise SystemExit(f"train: {flag} must be between 0 and 1 (got {value})")
    return value


def lr_factor(step: int, frac: float, warmup: int, min_frac: float) -> float:
    """Linear warm-up over `warmup` steps, then cosine from 1 to `min_frac` as `frac` goes 0 -> 1."""
    if step < warmup:
        return (step + 1) / warmup
    if frac <= 0:
        return 1.0
    return min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))


# What `train` picks when --preset / --batch-size are not given: the large model for CUDA; on the CPU
# one whose step takes well under a second (tiny at batch 32: about 0.4 s on one core), so that a
# first run shows progress at once rather than looking hung (default at 128: ~10 s a step).
DEVICE_DEFAULTS = {"cuda": ("default", 128), "cpu": ("tiny", 32)}


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


def autocast_factory(dev_kind: str, bf16: bool):
    """A function returning the context that training and evaluation steps run under: bf16 autocast on
    `dev_kind` ("cpu" / "cuda") when `bf16`, else a no-op."""
    if not bf16:
        return nullcontext
    return lambda: torch.autocast(dev_kind, dtype=torch.bfloat16)


def config_params(config: ModelConfig) -> int:
    """Parameters of an `EditModel` of this configuration (built on the meta device: no memory, no time)."""
    with torch.device("meta"):
        return EditModel(config, config.vocab_capacity).n_params()


def same_image_fn(threshold: float | None):
    """`data.novelty.same_image` under the database's threshold (its default when there is none)."""
    return (lambda a, b: same_image(a, b, threshold)) if threshold else same_image


def open_source(args):
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


def model_config(args, resumed: dict | None) -> ModelConfig:
    if resumed is not None:
        return ModelConfig.from_dict(resumed)
    over = {}
    if args.d_model:
        over["d_model"] = args.d_model
    if args.layers:
        over.update(img_layers=args.layers, prog_layers=args.layers, dec_layers=args.layers)
    if args.heads:
        over["n_heads"] = args.heads
    for k in ("max_tokens", "max_edits", "vocab_capacity"):
        if getattr(args, k) is not None:
            over[k] = getattr(args, k)
    return preset(args.preset, **over)


def atomic_savefig(fig, path: Path) -> None:
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)


def plot_metrics(jsonl: Path, png: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    train, evals = [], []
    for line in jsonl.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if r.get("kind") == "eval":
            evals.append(r)
        elif r.get("kind") == "train":
            train.append(r)
    if not train and not evals:
        return
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4))
    if train:
        ax1.plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss", lw=1)
    if evals:
        ax1.plot([r["step"] for r in evals], [r["loss"] for r in evals], "o-", label="held-out loss", ms=3)
        s = [r["step"] for r in evals]
        ax2.plot(s, [r["token_acc"] for r in evals], "o-", ms=3, label="edit token accuracy (teacher forced)")
        ax2.plot(s, [r["exact"] for r in evals], "o-", ms=3, label="exact edit script (greedy)")
        ax2.plot(s, [r["reproduces"] for r in evals], "o-", ms=3, lw=2, label="edits reproduce B (greedy)")
        for k in KINDS:
            key = f"reproduces_{k}"
            if any(key in r for r in evals):
                ax2.plot([r["step"] for r in evals if key in r], [r[key] for r in evals if key in r], ":",
                         lw=1, label=f"  reproduces B: {k}")
        # the step kinds: one step toward a far target; "closer" is the search's own measure
        colors = {"far": "C0", "prefix": "C1", "hindsight": "C2"}
        for k in STEP_KINDS:
            for metric, style, what in (("reproduces", "o-", "step reproduced"), ("closer", "s--", "draws closer")):
                key = f"{metric}_{k}"
                pts = [(r["step"], r[key]) for r in evals if key in r]
                if pts:
                    ax3.plot(*zip(*pts), style, ms=3, color=colors.get(k), label=f"{k}: {what}")
    ax3.set_xlabel("step"), ax3.set_ylim(0, 1), ax3.grid(alpha=0.3)
    ax3.set_title("held-out steps toward a far target")
    if ax3.get_legend_handles_labels()[0]:
        ax3.legend(fontsize=7)
    ax1.set_xlabel("step"), ax1.set_ylabel("loss"), ax1.set_yscale("log"), ax1.legend(), ax1.grid(alpha=0.3)
    ax2.set_xlabel("step"), ax2.set_ylim(0, 1), ax2.legend(fontsize=7), ax2.grid(alpha=0.3)
    ax2.set_title("held-out pairs")
    fig.tight_layout()
    atomic_savefig(fig, png)
    plt.close(fig)


class Evaluator:
    """A fixed set of held-out pairs (per kind), chosen once there are enough."""

    def __init__(self, sampler: PairSampler, per_kind: int, same_image, seed: int = 1234):
        self.sampler, self.per_kind, self.same_image = sampler, per_kind, same_image
        self.batches: dict[str, dict] | None = None
        self.seed = seed

    def _choose(self):
        s = self.sampler
        counts = s.counts("heldout")
        if sum(counts.values()) == 0:
            return None
        state = s.nrng
        s.nrng = np.random.default_rng(self.seed)
        try:
            out = {}
            for k in KINDS:
                if counts[k]:
                    parts = s.sample_indices(min(self.per_kind, counts[k]), "heldout", kinds=[k], replace=False)
                    out[k] = (parts, min(self.per_kind, counts[k]))
            return out
        finally:
            s.nrng = state

    @torch.no_grad()
    def run(self, model, device, autocast) -> dict | None:
        if self.batches is None or sum(n for _, n in self.batches.values()) < 4 * self.per_kind // 2:
            self.batches = self._choose()
        if not self.batches:
            return None
        core = unwrap(model)
        core.eval()
        s = self.sampler
        totals = {"loss": 0.0, "token_acc": 0.0, "exact": 0.0, "reproduces": 0.0, "parses": 0.0,
                  "a_draws_b": 0.0}
        n_all = 0
        out = {}
        for kind, (parts, n) in self.batches.items():
            rep = exact = parses = base = closer = 0
            loss_sum = tok_sum = 0.0
            for lo in range(0, n, 128):
                sub = [(pool, rows[lo:lo + 128]) for pool, rows in parts]
                sub = [(p, r) for p, r in sub if len(r)]
                b = s.gather(sub, device)
                m = len(b["b_entry"])
                with autocast():
                    _, met = loss_and_metrics(core, b)
                    ty, tk, ps = decode(core, b["images"], b["a_ids"], b["a_len"], b["depth"])
                loss_sum += float(met["loss"]) * m
                tok_sum += float(met["token_acc"]) * m
                got = scripts_from(s.tok, ty.cpu(), tk.cpu(), ps.cpu())
                want = s.target_scripts(b)
                a_toks = s.a_tokens(b)
                texts = []
                for g, w, a in zip(got, want, a_toks):
                    exact += g == w
                    try:
                        texts.append(join(apply_edits(a, g)))
                    except EditError:
                        texts.append("")
                imgs_b = b["images"][:, 1].cpu().numpy()
                progs, ok = [], []
                for t in texts:
                    try:
                        progs.append(logo.parse(t))
                        ok.append(bool(t))
                    except logo.LogoError:
                        progs.append(logo.parse("(move 0 0)"))
                        ok.append(False)
                imgs, drew = logo.render_batch(progs, size=s.size, library=s.library, errors="blank")
                imgs_a = b["images"][:, 0].cpu().numpy()
                if kind in STEP_KINDS:    # B is one step, the image a far target: "reproduces" = draws B
                    imgs_b = logo.render_batch([join(apply_edits(a, w)) for a, w in zip(a_toks, want)],
                                               size=s.size, library=s.library, errors="blank")[0]
                    closer += step_closer(imgs_a, imgs, drew & np.asarray(ok), b["images"][:, 1].cpu().numpy())
                for i in range(m):
                    parses += ok[i]
                    hit = ok[i] and drew[i] and self.same_image(imgs[i], imgs_b[i])
                    a_hit = len(a_toks[i]) > 0 and self.same_image(imgs_a[i], imgs_b[i])
                    if kind == "lateral":      # A already draws B: success means a shorter program
                        hit = hit and len(texts[i].split()) < len(a_toks[i])
                    rep += bool(hit)
                    base += bool(a_hit) and kind != "lateral"
            out[f"reproduces_{kind}"] = rep / n
            out[f"exact_{kind}"] = exact / n
            if kind in STEP_KINDS:
                out[f"closer_{kind}"] = closer / n
            totals["loss"] += loss_sum
            totals["token_acc"] += tok_sum
            totals["exact"] += exact
            totals["reproduces"] += rep
            totals["parses"] += parses
            totals["a_draws_b"] += base
            n_all += n
        out.update({k: v / n_all for k, v in totals.items()})
        out["n_eval"] = n_all
        return out


# ---- main ------------------------------------------------------------------------------------------

def regroup_optimizer_state(saved: dict, opt: torch.optim.Optimizer, model: torch.nn.Module) -> dict:
    """An optimizer state saved with one parameter group (checkpoints from before
    `EditModel.configure_optimizers`: the parameters in `model.parameters()` order) laid out in
    `opt`'s groups, so older runs resume with their Adam moments; any other state is returned as is."""
    groups = opt.state_dict()["param_groups"]
    if len(saved.get("param_groups", ())) != 1 or len(groups) == 1:
        return saved
    old_index = {id(p): i for i, p in enumerate(model.parameters())}
    if len(saved["param_groups"][0]["params"]) != len(old_index):
        return saved
    state, new_i = {}, 0
    for g in opt.param_groups:
        for p in g["params"]:
            old = old_index[id(p)]
            if old in saved["state"]:
                state[new_i] = saved["state"][old]
            new_i += 1
    return {"state": state, "param_groups": groups}


class StopSignal:
    """Whether to stop, and how far along the run is, decided by rank 0 and shared with every rank.

    Each rank has its own clock; if each stopped on its own --max-seconds, one could stop while
    another waits forever in the next gradient all-reduce (and their learning rates, which follow the
    run's progress, would drift apart). So rank 0 decides and broadcasts its decision every step.
    """

    def __init__(self, steps: int, max_seconds: float, t_start: float, distributed: bool, device):
        self.steps, self.max_seconds, self.t_start = steps, max_seconds, t_start
        self.distributed, self.device = distributed, device

    def local(self, step: int) -> tuple[bool, float]:
        fracs = []
        if self.steps:
            fracs.append(step / self.steps)
        if self.max_seconds:
            fracs.append((time.perf_counter() - self.t_start) / self.max_seconds)
        frac = max(fracs) if fracs else 0.0
        return bool((self.steps and step >= self.steps) or (self.max_seconds and frac >= 1.0)), frac

    def __call__(self, step: int) -> tuple[bool, float]:
        """(stop now, fraction of the run done), the same on every rank."""
        stop, frac = self.local(step)
        if not self.distributed:
            return stop, frac
        flag = torch.tensor([float(stop), frac], dtype=torch.float64, device=self.device)
        torch.distributed.broadcast(flag, 0)
        return bool(flag[0].item()), float(flag[1].item())


def main(argv=None) -> int:
    """`train`: errors in the input end in one line on stderr (`logo.cli_errors`); --debug: traceback."""
    argv, debug = debug_requested(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(argv)
    from data.db import DatabaseError
    return run_guarded("train", lambda: train(args), debug=debug,
                       extra=(DatabaseError, checkpoint.CheckpointError), path=args.db)


def train(args) -> int:
    check_args(args)
    t_start = time.perf_counter()          # --max-seconds counts from here (reading the database included)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if args.device == "auto":
        dev_kind = "cuda" if torch.cuda.is_available() else "cpu"
    else:
        dev_kind = args.device
    if dev_kind == "cuda" and not torch.cuda.is_available():
        raise SystemExit("train: --device cuda but CUDA is not available")
    if distributed:
        torch.distributed.init_process_group("nccl" if dev_kind == "cuda" else "gloo")
    device = torch.device(f"cuda:{local_rank}" if dev_kind == "cuda" else "cpu")
    if dev_kind == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 2) - 1))
    main_proc = rank == 0
    torch.manual_seed(args.seed + rank)
    out = Path(args.out)
    check_output_dir(out)                 # refused now, made once the database has been read
    source = open_source(args)

    # resume from the newest checkpoint that loads (a damaged newest one falls back, with a warning)
    checkpoint.remove_stale_temp_files(out)
    state = checkpoint.load_newest_good(out, "cpu", warn=lambda m: print(f"train: {m}", file=sys.stderr, flush=True))
    args.preset, args.batch_size, why = resolve_size(dev_kind, args.preset, args.batch_size)
    if main_proc:
        what = (f"the model of checkpoint step {state['step']}" if state is not None else
                f"preset {args.preset} ({config_params(model_config(args, None)) / 1e6:.1f}M params)")
        print(f"train: device {dev_kind}, {what}, batch {args.batch_size} ({why})", flush=True)
    tokenizer = Tokenizer(state["vocab"]) if state else Tokenizer()
    config = model_config(args, state["config"] if state else None)
    if getattr(source, "image_size", config.image_size) != config.image_size and state is None:
        config = ModelConfig.from_dict({**config.to_dict(), "image_size": source.image_size})
    sampler = PairSampler(source, tokenizer, max_tokens=config.max_tokens, max_edits=config.max_edits,
                          max_dist=args.max_dist, heldout=args.heldout, seed=args.seed + 1000 * rank,
                          mutations_per_refresh=args.mutations, round_to=16 if args.compile else 1,
                          far_chains=args.far_chains, weights=parse_pair_weights(args.pair_weights),
                          hindsight=check_log(args.hindsight) if args.hindsight else None,
                          target_noise=check_probability(args.target_noise, "--target-noise"))
    t_load = time.perf_counter()
    while sampler.refresh() > 0:
        pass
    where = args.db or "the programs"
    t_wait, last_note = time.perf_counter(), None
    while sum(sampler.counts("train").values()) == 0:     # an empty database: wait for a writer, said each minute
        now = time.perf_counter()
        waited = now - t_wait
        if main_proc and (last_note is None or now - last_note >= 60):
            print(f"train: {where}: no training pairs yet ({len(sampler.entry_ids)} entries); waiting for entries "
                  f"({waited:.0f} of --wait {args.wait:g} s)", file=sys.stderr, flush=True)
            last_note = now
        if args.max_seconds and now - t_start >= args.max_seconds or waited >= args.wait:
            print(f"train: {where}: no training pairs after waiting {waited:.0f} s "
                  f"({len(sampler.entry_ids)} entries); nothing to train on", file=sys.stderr)
            return 1
        time.sleep(max(0.0, min(2.0, args.wait - waited)))
        sampler.refresh()
    out.mkdir(parents=True, exist_ok=True)    # (a damaged or empty database has left nothing behind)
    t_load = time.perf_counter() - t_load
    if len(tokenizer) > config.vocab_capacity:
        raise SystemExit(f"train: the vocabulary has {len(tokenizer)} tokens, more than the model's capacity "
                         f"{config.vocab_capacity}; start a new --out with a larger --vocab-capacity")
    model = EditModel(config, len(tokenizer))
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        model.set_vocab_size(len(tokenizer))
        step = int(state["step"])
    model.to(device)
    raw_model = model             # the EditModel itself; `model` becomes the compiled / DDP wrapper
    opt = raw_model.configure_optimizers(args.weight_decay, args.lr, (0.9, 0.98), dev_kind)
    if state is not None and state.get("optimizer"):
        try:
            opt.load_state_dict(regroup_optimizer_state(state["optimizer"], opt, raw_model))
        except (ValueError, KeyError) as e:
            print(f"train: optimizer state not restored ({e})", file=sys.stderr)
    prev_elapsed = float(state["meta"].get("elapsed_s", 0.0)) if state else 0.0
    del state
    if args.compile:
        model = torch.compile(model, dynamic=True)
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[local_rank] if dev_kind == "cuda" else None)
    autocast = autocast_factory(dev_kind, not args.no_bf16 and (dev_kind == "cuda" or args.bf16))

    if args.background_pairs == "on" or (args.background_pairs == "auto" and dev_kind == "cuda"):
        sampler.start_background()
    evaluator = Evaluator(sampler, args.eval_pairs, same_image_fn(getattr(source, "threshold", None)))
    metrics_path, png = out / "metrics.jsonl", out / "training.png"

    def log(rec):
        if main_proc:
            with open(metrics_path, "a") as f:
                f.write(json.dumps(rec) + "\n")

    if main_proc:
        counts = sampler.counts("train")
        print(f"train: {raw_model.n_params() / 1e6:.2f}M parameters, device {device}, "
              f"{len(sampler.entry_ids)} entries read in {t_load:.1f} s, train pairs {counts}, "
              f"held-out pairs {sampler.counts('heldout')}, resuming at step {step}", flush=True)
        log({"kind": "start", "step": step, "params": raw_model.n_params(), "config": config.to_dict(),
             "entries": len(sampler.entry_ids), "pairs": counts, "device": str(device), "time": time.time()})

    bar = None
    if main_proc and not args.quiet:
        from tqdm import tqdm
        bar = tqdm(total=args.steps or None, initial=step, desc="train", dynamic_ncols=True, mininterval=1.0)
    t0 = time.perf_counter()
    start_step = step
    acc = {"loss": 0.0, "token_acc": 0.0, "exact_tf": 0.0, "n": 0}
    t_data = t_model = 0.0
    last_eval = None

    stop_signal = StopSignal(args.steps, args.max_seconds, t_start, distributed, device)

    def do_eval():
        nonlocal last_eval
        if not main_proc:
            return
        te = time.perf_counter()
        r = evaluator.run(raw_model, device, autocast)
        if r is None:
            return
        r.update(kind="eval", step=step, seconds=time.perf_counter() - te, time=time.time(),
                 elapsed_s=prev_elapsed + time.perf_counter() - t0)
        log(r)
        last_eval = r
        plot_metrics(metrics_path, png)
        if bar is not None:
            bar.write(f"step {step}: held-out loss {r['loss']:.3f} token acc {r['token_acc']:.3f} "
                      f"exact {r['exact']:.3f} reproduces B {r['reproduces']:.3f}")

    def save():
        if main_proc:
            checkpoint.save(out, raw_model, tokenizer, step, opt,
                            meta={"elapsed_s": prev_elapsed + time.perf_counter() - t0, "last_id": sampler.last_id,
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
                    if len(tokenizer) > config.vocab_capacity:
                        raise SystemExit(f"train: the library grew the vocabulary to {len(tokenizer)} tokens, "
                                         f"past the model's capacity {config.vocab_capacity}")
                    raw_model.set_vocab_size(len(tokenizer))
            batch = sampler.batch(args.batch_size, "train", device)
            batch.pop("b_entry")
            tm = time.perf_counter()
            t_data += tm - td
            for g in opt.param_groups:
                g["lr"] = args.lr * lr_factor(step, frac, args.warmup, args.min_lr)
            model.train()
            with autocast():
                loss, met = loss_and_metrics(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip:
                torch.nn.utils.clip_grad_norm_(raw_model.parameters(), args.clip)
            opt.step()
            step += 1
            for k in ("loss", "token_acc", "exact_tf"):
                acc[k] += met[k].detach()
            acc["n"] += 1
            t_model += time.perf_counter() - tm
            if bar is not None:
                bar.update(1)
            if step % args.log_every == 0:
                n = acc["n"]
                el = time.perf_counter() - t0
                rec = {"kind": "train", "step": step, "loss": float(acc["loss"]) / n,
                       "token_acc": float(acc["token_acc"]) / n, "exact_tf": float(acc["exact_tf"]) / n, "lr": opt.param_groups[0]["lr"],
                       "samples_per_s": (step - start_step) * args.batch_size / max(el, 1e-9),
                       "data_frac": t_data / max(t_data + t_model, 1e-9), "entries": len(sampler.entry_ids),
                       "time": time.time()}
                log(rec)
                if bar is not None:
                    bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec['token_acc']:.3f}")
                acc = {"loss": 0.0, "token_acc": 0.0, "exact_tf": 0.0, "n": 0}
            if step % args.eval_every == 0:
                do_eval()
            if step % args.ckpt_every == 0:
                save()
    except KeyboardInterrupt:
        if main_proc:
            print("train: interrupted; saving", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
    sampler.close()
    if step % args.eval_every != 0:
        do_eval()
    save()
    if distributed and not main_proc:
        print(f"train: rank {rank} stopped at step {step}", file=sys.stderr, flush=True)
    if main_proc:
        el = time.perf_counter() - t0
        print(f"train: stopped at step {step} after {el:.0f} s "
              f"({(step - start_step) * args.batch_size / max(el, 1e-9):.0f} samples/s, data "
              f"{100 * t_data / max(t_data + t_model, 1e-9):.0f}% of the loop)", flush=True)
        if last_eval:
            print(f"train: held-out edits reproduce B: {last_eval['reproduces']:.3f}", flush=True)
    if distributed:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
